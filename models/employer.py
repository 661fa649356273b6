"""Employers (用人单位, rule A2) and the employments that bind persons to them."""

from tortoise import fields
from tortoise.models import Model

from domain.enums import EmployerStatus, EmploymentStatus
from domain.identifiers import normalise_credit_code
from models.base import IdentifierValidator, check, enum_check, enum_field, money_field, month_check, month_field, num


class Employer(Model):
    id = fields.IntField(primary_key=True)
    credit_code = fields.CharField(max_length=18, unique=True, validators=[IdentifierValidator(normalise_credit_code)])
    name = fields.CharField(max_length=128, db_index=True)
    district = fields.ForeignKeyField("models.District", related_name="employers", on_delete=fields.RESTRICT)
    address = fields.CharField(max_length=200, null=True)
    status = enum_field(EmployerStatus, default=EmployerStatus.ACTIVE)
    registered_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "employer"
        constraints = (
            enum_check("employer", "status", EmployerStatus),
            check("employer", "credit_code_length", "length(credit_code) = 18"),
        )


class Employment(Model):
    id = fields.IntField(primary_key=True)
    person = fields.ForeignKeyField("models.Person", related_name="employments", on_delete=fields.RESTRICT)
    employer = fields.ForeignKeyField("models.Employer", related_name="employments", on_delete=fields.RESTRICT)
    start_month = month_field()
    end_month = month_field(null=True, description="last month employed, null while employed")
    declared_wage = money_field(description="monthly wage declared for the contribution base (E3)")
    status = enum_field(EmploymentStatus, default=EmploymentStatus.ACTIVE)

    class Meta:
        table = "employment"
        unique_together = (("person", "employer", "start_month"),)
        constraints = (
            enum_check("employment", "status", EmploymentStatus),
            month_check("employment", "start_month"),
            month_check("employment", "end_month", nullable=True),
            check("employment", "months_ordered", "end_month IS NULL OR end_month >= start_month"),
            check("employment", "wage_not_negative", f"{num('declared_wage')} >= 0"),
        )

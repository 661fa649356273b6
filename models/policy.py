"""A person's insurance of one type through one channel (flexible or employer)."""

from tortoise import fields
from tortoise.models import Model

from domain.enums import Channel, InsuranceType, PolicyStatus
from models.base import check, enum_check, enum_field, month_check, month_field, num, rate_field


class Policy(Model):
    id = fields.IntField(primary_key=True)
    person = fields.ForeignKeyField("models.Person", related_name="policies", on_delete=fields.RESTRICT)
    insurance_type = enum_field(InsuranceType)
    channel = enum_field(Channel)
    employer = fields.ForeignKeyField(
        "models.Employer",
        related_name="policies",
        null=True,
        on_delete=fields.RESTRICT,
        description="the paying employer on the employer channel",
    )
    status = enum_field(PolicyStatus, default=PolicyStatus.ACTIVE)
    grade = rate_field(null=True, description="flexible pension grade, a share of the average wage (P2)")
    start_month = month_field()
    end_month = month_field(null=True, description="last month due, null while active")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "policy"
        indexes = (("person_id", "insurance_type"),)
        constraints = (
            enum_check("policy", "insurance_type", InsuranceType),
            enum_check("policy", "channel", Channel),
            enum_check("policy", "status", PolicyStatus),
            month_check("policy", "start_month"),
            month_check("policy", "end_month", nullable=True),
            check("policy", "months_ordered", "end_month IS NULL OR end_month >= start_month"),
            check("policy", "employer_channel", "(channel = 'EMPLOYER') = (employer_id IS NOT NULL)"),
            check("policy", "grade_range", f"grade IS NULL OR ({num('grade')} >= 0.6 AND {num('grade')} <= 3.0)"),
        )

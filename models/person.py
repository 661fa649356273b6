"""The insured person (参保人), identified by a resident ID number (rule A1)."""

from tortoise import fields
from tortoise.exceptions import ValidationError
from tortoise.models import Model
from tortoise.validators import Validator

from domain.enums import Gender, PersonCategory, RetirementClass
from domain.identifiers import InvalidIdentifier, parse_resident_id
from models.base import check, enum_check, enum_field


class ResidentIdValidator(Validator):
    """Refuses to store an ID number that fails A1 or is not in its upper-case form."""

    def __call__(self, value: str) -> None:
        try:
            normal = parse_resident_id(value).number
        except InvalidIdentifier as exc:
            raise ValidationError(str(exc)) from None
        if normal != value:
            raise ValidationError("an ID number is stored with an upper-case X")


class Person(Model):
    id = fields.IntField(primary_key=True)
    id_number = fields.CharField(max_length=18, unique=True, validators=[ResidentIdValidator()])
    name = fields.CharField(max_length=64, db_index=True)
    gender = enum_field(Gender)
    birth_date = fields.DateField(description="as on the ID card")
    archive_birth_date = fields.DateField(null=True, description="as in the archive, when it differs (Q3)")
    retirement_class = enum_field(RetirementClass, default=RetirementClass.WORKER)
    category = enum_field(PersonCategory, db_index=True)
    district = fields.ForeignKeyField("models.District", related_name="persons", on_delete=fields.RESTRICT)
    community = fields.ForeignKeyField("models.Community", related_name="persons", on_delete=fields.RESTRICT)
    phone = fields.CharField(max_length=20, null=True)
    address = fields.CharField(max_length=200, null=True)
    registered_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "person"
        constraints = (
            enum_check("person", "gender", Gender),
            enum_check("person", "retirement_class", RetirementClass),
            enum_check("person", "category", PersonCategory),
            # length(...) = 18 holds on every engine; the full A1 check is the field validator.
            check("person", "id_number_length", "length(id_number) = 18"),
        )

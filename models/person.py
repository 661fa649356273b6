"""The insured person (参保人), identified by a resident ID number (rule A1)."""

from tortoise import fields
from tortoise.models import Model

from domain.enums import Gender, PersonCategory, RetirementClass
from domain.identifiers import normalise_resident_id
from models.base import IdentifierValidator, check, enum_check, enum_field


class Person(Model):
    id = fields.IntField(primary_key=True)
    id_number = fields.CharField(max_length=18, unique=True, validators=[IdentifierValidator(normalise_resident_id)])
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

"""Districts (each with one service office) and the communities inside them."""

from tortoise import fields
from tortoise.models import Model


class District(Model):
    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=6, unique=True, description="GB/T 2260 area code")
    name = fields.CharField(max_length=64)

    class Meta:
        table = "district"


class Community(Model):
    id = fields.IntField(primary_key=True)
    district: fields.ForeignKeyRelation[District] = fields.ForeignKeyField(
        "models.District", related_name="communities", on_delete=fields.RESTRICT
    )
    code = fields.CharField(max_length=12, unique=True)
    name = fields.CharField(max_length=64)

    class Meta:
        table = "community"

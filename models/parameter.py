"""Effective-dated parameters (P1-P7). A new value is a new row taking effect from its month; only a
year's published average wage is corrected in place (P1), and the correction re-prices that year."""

from tortoise import fields
from tortoise.models import Model

from domain.enums import ParameterCode
from models.base import check, enum_check, enum_field, month_check, month_field, num


class Parameter(Model):
    id = fields.IntField(primary_key=True)
    code = enum_field(ParameterCode)
    effective_from = month_field(description="first month the value applies to")
    value = fields.DecimalField(max_digits=14, decimal_places=4, null=True)
    value_json = fields.JSONField(null=True, description="for structured parameters such as P7")
    note = fields.CharField(max_length=255, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "parameter"
        unique_together = (("code", "effective_from"),)
        constraints = (
            enum_check("parameter", "code", ParameterCode),
            month_check("parameter", "effective_from"),
            check("parameter", "has_value", "(value IS NULL) <> (value_json IS NULL)"),
            check("parameter", "value_positive", f"value IS NULL OR {num('value')} > 0"),
        )

"""The audit trail (A6): who did what, when, from where, and what changed."""

from tortoise import fields
from tortoise.models import Model

from domain.enums import AuditOutcome, Role
from models.base import enum_check, enum_field


class AuditEvent(Model):
    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField()
    account = fields.ForeignKeyField(
        "models.Account", related_name="audit_events", null=True, on_delete=fields.RESTRICT
    )
    role = enum_field(Role, null=True)
    client_address = fields.CharField(max_length=64, null=True)
    request_id = fields.CharField(max_length=64, null=True)
    operation = fields.CharField(max_length=64)
    input = fields.JSONField(default=dict, description="secrets removed")
    outcome = enum_field(AuditOutcome)
    detail = fields.TextField(null=True)
    before = fields.JSONField(null=True)
    after = fields.JSONField(null=True)

    class Meta:
        table = "audit_event"
        indexes = (("account_id", "at"), ("operation", "at"))
        constraints = (
            enum_check("audit_event", "role", Role, nullable=True),
            enum_check("audit_event", "outcome", AuditOutcome),
        )

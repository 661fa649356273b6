"""Every business done in the hall is a BusinessTransaction (docs/api.md 4)."""

from tortoise import fields
from tortoise.models import Model

from domain.enums import BusinessType, ServiceChannel, TransactionStatus
from models.base import enum_check, enum_field, month_check, month_field


class BusinessTransaction(Model):
    id = fields.BigIntField(primary_key=True)
    business_type = enum_field(BusinessType)
    status = enum_field(TransactionStatus, default=TransactionStatus.SUBMITTED)
    channel = enum_field(ServiceChannel, default=ServiceChannel.ONLINE)
    actor = fields.ForeignKeyField("models.Account", related_name="transactions", null=True, on_delete=fields.RESTRICT)
    person = fields.ForeignKeyField("models.Person", related_name="transactions", null=True, on_delete=fields.RESTRICT)
    employer = fields.ForeignKeyField(
        "models.Employer", related_name="transactions", null=True, on_delete=fields.RESTRICT
    )
    district = fields.ForeignKeyField("models.District", related_name="transactions", on_delete=fields.RESTRICT)
    submitted_at = fields.DatetimeField()
    effective_month = month_field(null=True)
    details = fields.JSONField(default=dict, description="the business's own input, secrets removed")
    decided_at = fields.DatetimeField(null=True)
    decided_by = fields.ForeignKeyField(
        "models.Account", related_name="decisions", null=True, on_delete=fields.RESTRICT
    )
    decision_reason = fields.TextField(null=True)

    class Meta:
        table = "business_transaction"
        indexes = (
            ("person_id", "submitted_at"),
            ("employer_id", "submitted_at"),
            ("district_id", "status"),
            ("business_type", "submitted_at"),
        )
        constraints = (
            enum_check("business_transaction", "business_type", BusinessType),
            enum_check("business_transaction", "status", TransactionStatus),
            enum_check("business_transaction", "channel", ServiceChannel),
            month_check("business_transaction", "effective_month", nullable=True),
        )


class IdempotencyRecord(Model):
    """The first answer to a mutation retried with the same key by the same account (docs/api.md 3)."""

    id = fields.BigIntField(primary_key=True)
    account = fields.ForeignKeyField("models.Account", related_name="idempotency_records", on_delete=fields.CASCADE)
    key = fields.CharField(max_length=128)
    operation = fields.CharField(max_length=64)
    input_hash = fields.CharField(max_length=64)
    response = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "idempotency_record"
        unique_together = (("account", "key"),)

"""The contribution passbook (缴费存折) at the postal savings bank and its ledger (M4, F9)."""

from tortoise import fields
from tortoise.models import Model

from domain.enums import LedgerKind
from models.base import check, enum_check, enum_field, money_field, month_check, month_field, num


class Passbook(Model):
    id = fields.IntField(primary_key=True)
    person = fields.OneToOneField("models.Person", related_name="passbook", on_delete=fields.RESTRICT)
    account_number = fields.CharField(max_length=32, unique=True)
    balance = money_field(default=0)
    opened_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "passbook"
        constraints = (check("passbook", "balance_not_negative", f"{num('balance')} >= 0"),)


class LedgerEntry(Model):
    """A movement of a passbook. Unique per period and kind: a month is never debited twice."""

    id = fields.BigIntField(primary_key=True)
    passbook = fields.ForeignKeyField("models.Passbook", related_name="entries", on_delete=fields.RESTRICT)
    kind = enum_field(LedgerKind)
    amount = money_field(description="always positive, the kind says which way it moves")
    balance_after = money_field()
    month = month_field(description="the month the movement belongs to")
    period = fields.ForeignKeyField(
        "models.ContributionPeriod", related_name="ledger_entries", null=True, on_delete=fields.RESTRICT
    )
    payment_order = fields.ForeignKeyField(
        "models.PaymentOrder", related_name="ledger_entries", null=True, on_delete=fields.RESTRICT
    )
    bank_reference = fields.CharField(max_length=64, null=True, unique=True, description="the bank's deposit reference")
    booked_at = fields.DatetimeField()

    class Meta:
        table = "ledger_entry"
        unique_together = (("period", "kind"), ("payment_order", "kind"))
        indexes = (("passbook_id", "booked_at"),)
        constraints = (
            enum_check("ledger_entry", "kind", LedgerKind),
            month_check("ledger_entry", "month"),
            check("ledger_entry", "amount_positive", f"{num('amount')} > 0"),
            check("ledger_entry", "balance_not_negative", f"{num('balance_after')} >= 0"),
            check("ledger_entry", "deposit_has_reference", "(kind = 'DEPOSIT') = (bank_reference IS NOT NULL)"),
        )

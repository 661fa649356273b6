"""Arrears (欠费): what a month-end could not collect, and the orders that pay them (F6-F8)."""

from tortoise import fields
from tortoise.models import Model

from domain.enums import ArrearStatus, InsuranceType, PaymentOrderKind, PaymentOrderStatus
from models.base import check, enum_check, enum_field, money_field, month_check, month_field, num


class Arrear(Model):
    id = fields.BigIntField(primary_key=True)
    period = fields.OneToOneField("models.ContributionPeriod", related_name="arrear", on_delete=fields.RESTRICT)
    person = fields.ForeignKeyField("models.Person", related_name="arrears", on_delete=fields.RESTRICT)
    month = month_field(description="the month the contribution was due")
    insurance_type = enum_field(InsuranceType)
    principal = money_field()
    status = enum_field(ArrearStatus, default=ArrearStatus.OPEN)
    interest = money_field(default=0, description="interest to interest_as_of (P5), kept fresh by a daily job")
    interest_as_of = month_field(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    resolved_at = fields.DatetimeField(null=True, description="when paid or cancelled")

    class Meta:
        table = "arrear"
        indexes = (("person_id", "status"),)
        constraints = (
            enum_check("arrear", "insurance_type", InsuranceType),
            enum_check("arrear", "status", ArrearStatus),
            month_check("arrear", "month"),
            check("arrear", "principal_positive", f"{num('principal')} > 0"),
        )


class PaymentOrder(Model):
    """Money ordered by the person, collected from the passbook at the next month-end (F6, F8)."""

    id = fields.BigIntField(primary_key=True)
    person = fields.ForeignKeyField("models.Person", related_name="payment_orders", on_delete=fields.RESTRICT)
    kind = enum_field(PaymentOrderKind)
    status = enum_field(PaymentOrderStatus, default=PaymentOrderStatus.OPEN)
    principal = money_field()
    interest = money_field()
    total = money_field()
    collection_month = month_field(description="the month-end run that collects it")
    transaction = fields.ForeignKeyField(
        "models.BusinessTransaction", related_name="payment_orders", null=True, on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    settled_at = fields.DatetimeField(null=True)

    class Meta:
        table = "payment_order"
        indexes = (("collection_month", "status"),)
        constraints = (
            enum_check("payment_order", "kind", PaymentOrderKind),
            enum_check("payment_order", "status", PaymentOrderStatus),
            month_check("payment_order", "collection_month"),
            check(
                "payment_order",
                "amounts",
                f"{num('principal')} >= 0 AND {num('interest')} >= 0 AND {num('total')} >= {num('principal')}",
            ),
        )


class PaymentOrderLine(Model):
    """One month inside an order: an arrear (F6) or an interruption month (F8)."""

    id = fields.BigIntField(primary_key=True)
    order = fields.ForeignKeyField("models.PaymentOrder", related_name="lines", on_delete=fields.CASCADE)
    arrear = fields.ForeignKeyField("models.Arrear", related_name="order_lines", null=True, on_delete=fields.RESTRICT)
    month = month_field()
    insurance_type = enum_field(InsuranceType)
    base = money_field()
    principal = money_field()
    interest = money_field()

    class Meta:
        table = "payment_order_line"
        unique_together = (("order", "month", "insurance_type"),)
        constraints = (
            enum_check("payment_order_line", "insurance_type", InsuranceType),
            month_check("payment_order_line", "month"),
            check(
                "payment_order_line",
                "amounts",
                f"{num('base')} >= 0 AND {num('principal')} > 0 AND {num('interest')} >= 0",
            ),
        )

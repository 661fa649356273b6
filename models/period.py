"""One month's contribution of one policy: the unit that is priced, collected and counted."""

from tortoise import fields
from tortoise.models import Model

from domain.enums import Channel, InsuranceType, PaidVia, PeriodStatus
from models.base import check, enum_check, enum_field, money_field, month_check, month_field, num, rate_field


class ContributionPeriod(Model):
    id = fields.BigIntField(primary_key=True)
    policy = fields.ForeignKeyField("models.Policy", related_name="periods", on_delete=fields.RESTRICT)
    person = fields.ForeignKeyField("models.Person", related_name="periods", on_delete=fields.RESTRICT)
    month = month_field()
    insurance_type = enum_field(InsuranceType)
    channel = enum_field(Channel)
    grade = rate_field(null=True, description="the flexible pension grade the month was priced at (P2)")
    base = money_field()
    rate = rate_field(description="the person's rate on the flexible channel, both shares' sum otherwise")
    amount = money_field(description="total due for the month, employer share included")
    employer_amount = money_field(default=0)
    status = enum_field(PeriodStatus, default=PeriodStatus.DUE)
    paid_via = enum_field(PaidVia, null=True)
    paid_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "contribution_period"
        unique_together = (("policy", "month"),)
        indexes = (("person_id", "month"), ("status", "month"))
        constraints = (
            enum_check("contribution_period", "insurance_type", InsuranceType),
            enum_check("contribution_period", "channel", Channel),
            enum_check("contribution_period", "status", PeriodStatus),
            enum_check("contribution_period", "paid_via", PaidVia, nullable=True),
            month_check("contribution_period", "month"),
            check(
                "contribution_period",
                "amounts_not_negative",
                f"{num('base')} >= 0 AND {num('rate')} >= 0 AND {num('amount')} >= 0"
                f" AND {num('employer_amount')} >= 0 AND {num('employer_amount')} <= {num('amount')}",
            ),
            check("contribution_period", "paid_has_way", "(status = 'PAID') = (paid_via IS NOT NULL)"),
        )

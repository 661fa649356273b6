"""Rollups of the dashboard statistics (Q4), kept fresh by the REFRESH_STATISTICS job.

They are derived data: rewritten month by month by the job (jobs/statistics.py), read by
services.statistics when they hold the months asked, and never written by a business. District
ids are plain integers, not foreign keys, so that a rollup never stands in the way of a change
to the districts; a district missing from a rollup reads as none counted.
"""

from tortoise import fields
from tortoise.models import Model

from domain.enums import BusinessType, Channel, InsuranceType, PolicyStatus, ServiceChannel, TransactionStatus
from models.base import check, enum_check, enum_field, month_check, month_field

# The bit of each enrollment dimension in EnrollmentRollup.grouping_set.
GROUP_INSURANCE_TYPE, GROUP_CHANNEL, GROUP_DISTRICT, GROUP_STATUS = 1, 2, 4, 8
ALL_GROUPING_SETS = range(16)


class RollupMonth(Model):
    """A month whose rollups are written: its enrollment and business-volume rows were computed
    together at ``computed_at``, in one transaction with this row."""

    id = fields.IntField(primary_key=True)
    month = month_field(unique=True)
    computed_at = fields.DatetimeField()

    class Meta:
        table = "rollup_month"
        constraints = (month_check("rollup_month", "month"),)


class EnrollmentRollup(Model):
    """Insured persons in force in a month, counted once a group, for every one of the 16 grouping
    sets of (insurance type, channel, district, status): distinct persons do not add up across
    groups, so each set is counted on its own. ``grouping_set`` has the bit of each dimension
    grouped by (1 insurance type, 2 channel, 4 district, 8 status); the others are NULL (all)."""

    id = fields.BigIntField(primary_key=True)
    month = month_field()
    grouping_set = fields.SmallIntField()
    insurance_type = enum_field(InsuranceType, null=True)
    channel = enum_field(Channel, null=True)
    district_id = fields.IntField(null=True)
    status = enum_field(PolicyStatus, null=True, description="the policy's status when computed")
    persons = fields.IntField()

    class Meta:
        table = "enrollment_rollup"
        indexes = (("month", "grouping_set"),)
        constraints = (
            month_check("enrollment_rollup", "month"),
            enum_check("enrollment_rollup", "insurance_type", InsuranceType, nullable=True),
            enum_check("enrollment_rollup", "channel", Channel, nullable=True),
            enum_check("enrollment_rollup", "status", PolicyStatus, nullable=True),
            check("enrollment_rollup", "grouping_set_range", "grouping_set BETWEEN 0 AND 15"),
            check(
                "enrollment_rollup",
                "grouped_insurance_type",
                f"((grouping_set & {GROUP_INSURANCE_TYPE}) = 0) = (insurance_type IS NULL)",
            ),
            check(
                "enrollment_rollup", "grouped_channel", f"((grouping_set & {GROUP_CHANNEL}) = 0) = (channel IS NULL)"
            ),
            check(
                "enrollment_rollup",
                "grouped_district",
                f"((grouping_set & {GROUP_DISTRICT}) = 0) = (district_id IS NULL)",
            ),
            check("enrollment_rollup", "grouped_status", f"((grouping_set & {GROUP_STATUS}) = 0) = (status IS NULL)"),
            check("enrollment_rollup", "persons_counted", "persons >= 0"),
        )


class BusinessVolumeRollup(Model):
    """Business transactions submitted in a month (local time, M2) per business type, status,
    channel and district: counts of transactions add up, so one row a combination serves every
    grouping, summed when read."""

    id = fields.BigIntField(primary_key=True)
    month = month_field()
    business_type = enum_field(BusinessType)
    status = enum_field(TransactionStatus, description="the transaction's status when computed")
    channel = enum_field(ServiceChannel)
    district_id = fields.IntField()
    transactions = fields.IntField()

    class Meta:
        table = "business_volume_rollup"
        indexes = (("month", "business_type"),)
        constraints = (
            month_check("business_volume_rollup", "month"),
            enum_check("business_volume_rollup", "business_type", BusinessType),
            enum_check("business_volume_rollup", "status", TransactionStatus),
            enum_check("business_volume_rollup", "channel", ServiceChannel),
            check("business_volume_rollup", "transactions_counted", "transactions > 0"),
        )


class OnlineAdoptionRollup(Model):
    """Per district, as at ``computed_at``: registered persons and those with an active person
    account, active employers and those with at least one active agent account (A3)."""

    id = fields.IntField(primary_key=True)
    district_id = fields.IntField(unique=True)
    persons = fields.IntField()
    persons_online = fields.IntField()
    employers = fields.IntField()
    employers_online = fields.IntField()
    computed_at = fields.DatetimeField()

    class Meta:
        table = "online_adoption_rollup"
        constraints = (
            check(
                "online_adoption_rollup", "persons_online_range", "persons_online >= 0 AND persons_online <= persons"
            ),
            check(
                "online_adoption_rollup",
                "employers_online_range",
                "employers_online >= 0 AND employers_online <= employers",
            ),
        )

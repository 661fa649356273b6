"""Information (Q2, Q3) and statistics for dashboards (Q4): read-only, aggregate where it says so."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import strawberry

from domain.retirement import Scenario
from resolvers.inputs import decode_int_id, encode_id
from schema.enums import BusinessType, Channel, InsuranceType, PolicyStatus, ServiceChannel, TransactionStatus
from schema.errors import refused_as_error
from schema.flexible import person_in_reach
from schema.records import Duration, Retirement, retirement_of
from schema.scalars import ExactDecimal, Money, MonthScalar
from services import information, statistics

StatsDimension = strawberry.enum(
    statistics.Dimension, name="StatsDimension", description="What a statistic is grouped by."
)

PENSION_FORMULA = (
    "The basic pension of China's pension formula: a month's pension = W x (1 + I) / 2 x Y x 1%, plus "
    "the personal account A / D. W is the average monthly wage in the year of retirement (today's, "
    "grown by annualWageGrowth a year when given); I the mean of each paid month's base over that "
    "year's average wage (the grade, for flexible employment); Y the contribution years, to the "
    "month; A the personal account, 8% of each paid month's base, without interest; D the divisor "
    "of the retirement age (139 at 60, 170 at 55, 195 at 50). Keep paying: the current flexible "
    "pension grade every month from next month to retirement. Stop now: the months paid so far. "
    "A scenario short of the minimum contribution months (15 years, rising from 2030 to 20) pays no "
    "pension and says how many months it lacks."
)


@strawberry.type(description="One way the future may go, priced with the formula of pensionEstimate.")
class PensionScenario:
    contribution_months: int = strawberry.field(description="Months paid by retirement.")
    contribution_years: Duration = strawberry.field(description="The same in years and months.")
    minimum_months: int = strawberry.field(description="The minimum months at that retirement (Q3).")
    eligible: bool = strawberry.field(description="Whether the minimum is reached.")
    months_short: int = strawberry.field(description="Months missing to the minimum; 0 when eligible.")
    mean_index: ExactDecimal = strawberry.field(description="I: the mean base over the average wage.")
    account_at_retirement: Money = strawberry.field(description="A: the personal account at retirement.")
    average_wage_at_retirement: Money = strawberry.field(description="W: the average monthly wage at retirement.")
    divisor: ExactDecimal = strawberry.field(description="D: the months the account is spread over.")
    basic_pension: Money | None = strawberry.field(
        description="W x (1 + I) / 2 x Y x 1% a month; null when not eligible."
    )
    account_pension: Money | None = strawberry.field(description="A / D a month; null when not eligible.")
    total: Money | None = strawberry.field(description="The monthly pension; null when not eligible.")

    @classmethod
    def of(cls, scenario: Scenario | None) -> PensionScenario | None:
        if scenario is None:
            return None
        return cls(
            contribution_months=scenario.contribution_months,
            contribution_years=Duration.of(scenario.contribution_years),
            minimum_months=scenario.minimum_months,
            eligible=scenario.eligible,
            months_short=scenario.months_short,
            mean_index=scenario.mean_index,
            account_at_retirement=scenario.account_at_retirement,
            average_wage_at_retirement=scenario.average_wage_at_retirement,
            divisor=scenario.divisor,
            basic_pension=scenario.basic_pension,
            account_pension=scenario.account_pension,
            total=scenario.total,
        )


@strawberry.type(description="The inputs the estimate was computed from, as the record holds them.")
class PensionEstimateInputs:
    paid_months: int = strawberry.field(description="Pension months paid so far.")
    mean_index: ExactDecimal = strawberry.field(description="I so far.")
    account_balance: Money = strawberry.field(description="A so far.")
    average_wage: Money = strawberry.field(description="Today's average monthly wage (P1).")
    pension_grade: ExactDecimal | None = strawberry.field(
        description="The flexible pension grade paid now; null when not paying."
    )
    annual_wage_growth: ExactDecimal = strawberry.field(description="The yearly growth of the average wage assumed.")


@strawberry.type(
    description=(
        "May I stop paying? The monthly pension at retirement if the person keeps paying at the current grade, and if "
        "they stop now. "
    )
    + PENSION_FORMULA
)
class PensionEstimate:
    retirement: Retirement = strawberry.field(description="Retirement age and month (Q3).")
    months_to_retirement: int = strawberry.field(
        description="Months from next month to the retirement month, both included."
    )
    inputs: PensionEstimateInputs = strawberry.field(description="What the estimate used.")
    keep_paying: PensionScenario | None = strawberry.field(
        description="Paying the current grade until retirement; null when not paying now."
    )
    stop_now: PensionScenario = strawberry.field(description="Paying nothing more.")
    monthly_difference: Money | None = strawberry.field(
        description="Keep paying minus stop now, a month, when both are eligible."
    )


@strawberry.type(
    description=(
        "One group of a statistic. Groups of fewer than 5 are suppressed: count null and suppressed true, never 0; "
        "so are other groups wherever their counts, with any other answer, would let a suppressed one be worked "
        "out. Persons in force in any month of a range (enrollmentStats over a range, not grouped by MONTH) are "
        "listed without counts."
    )
)
class StatsGroup:
    count: int | None = strawberry.field(description="How many; null when suppressed.")
    suppressed: bool = strawberry.field(
        description="True when the group is too small to show, or would give a small one away."
    )
    insurance_type: InsuranceType | None = strawberry.field(default=None, description="When grouped by INSURANCE_TYPE.")
    business_type: BusinessType | None = strawberry.field(default=None, description="When grouped by BUSINESS_TYPE.")
    channel: str | None = strawberry.field(
        default=None,
        description="When grouped by CHANNEL: FLEXIBLE or EMPLOYER for enrollment, ONLINE or COUNTER for business.",
    )
    district_id: strawberry.ID | None = strawberry.field(
        default=None, description="When grouped by DISTRICT: the district's global id."
    )
    status: str | None = strawberry.field(
        default=None, description="When grouped by STATUS: the policy's or the transaction's."
    )
    month: MonthScalar | None = strawberry.field(default=None, description="When grouped by MONTH.")


@strawberry.type(description="A statistic's groups, and when its counts were made.")
class Statistic:
    as_of: dt.datetime = strawberry.field(
        description="When the counts were made: the nightly rollups' time, or now when counted live."
    )
    groups: list[StatsGroup] = strawberry.field(description="The groups, in the order of their values.")


@strawberry.type(description="A share of online access; counts under 5 are suppressed.")
class Adoption:
    total: int | None = strawberry.field(description="How many in all; null when suppressed.")
    online: int | None = strawberry.field(description="How many with online access; null when suppressed.")
    share: ExactDecimal | None = strawberry.field(description="online / total, when both are shown.")


@strawberry.type(description="Online adoption in one district.")
class DistrictAdoption:
    district_code: str = strawberry.field(description="The district's code.")
    district_name: str = strawberry.field(description="The district's name.")
    persons: Adoption = strawberry.field(description="Registered persons, and those with a person account.")
    employers: Adoption = strawberry.field(description="Active employers, and those with an agent account.")


@strawberry.type(description="The share of persons and employers with online access, by district and city-wide (Q4).")
class OnlineAdoption:
    as_of: dt.datetime = strawberry.field(
        description="When the counts were made: the nightly rollup's time, or now when counted live."
    )
    districts: list[DistrictAdoption] = strawberry.field(description="Every district.")
    persons: Adoption = strawberry.field(description="City-wide, from the districts whose counts are shown.")
    employers: Adoption = strawberry.field(description="City-wide, from the districts whose counts are shown.")


def _adoption(value: statistics.Adoption) -> Adoption:
    return Adoption(total=value.total, online=value.online, share=value.share)


def _group(group: statistics.Group) -> StatsGroup:
    return StatsGroup(
        count=group.count,
        suppressed=group.suppressed,
        insurance_type=group.insurance_type,
        business_type=group.business_type,
        channel=group.channel.value if group.channel else None,
        district_id=encode_id("District", group.district_id) if group.district_id is not None else None,
        status=group.status.value if group.status else None,
        month=group.month,
    )


async def pension_estimate(
    info: strawberry.Info, person_id: strawberry.ID | None, annual_wage_growth: Decimal
) -> PensionEstimate | None:
    """Null when the person is out of the viewer's reach; refusals are top-level errors."""
    person = await refused_as_error(person_in_reach(info, person_id))
    if person is None:
        return None
    done = await refused_as_error(information.pension_estimate(person.db_id, annual_wage_growth))
    inputs, estimate = done.inputs, done.estimate
    return PensionEstimate(
        retirement=retirement_of(done.retirement),
        months_to_retirement=estimate.months_to_retirement,
        inputs=PensionEstimateInputs(
            paid_months=inputs.paid_months,
            mean_index=inputs.mean_index,
            account_balance=inputs.account_balance,
            average_wage=inputs.average_wage,
            pension_grade=inputs.grade,
            annual_wage_growth=inputs.annual_wage_growth,
        ),
        keep_paying=PensionScenario.of(estimate.keep_paying),
        stop_now=PensionScenario.of(estimate.stop_now),
        monthly_difference=estimate.monthly_difference,
    )


async def enrollment_stats(
    group_by: list[statistics.Dimension],
    month: MonthScalar | None,
    from_month: MonthScalar | None,
    to_month: MonthScalar | None,
    insurance_type: InsuranceType | None,
    channel: Channel | None,
    district_id: strawberry.ID | None,
    status: PolicyStatus | None,
) -> Statistic:
    district = None if district_id is None else decode_int_id(district_id, "District", "districtId")
    groups = await refused_as_error(
        statistics.enrollment_stats(
            group_by,
            month,
            from_month=from_month,
            to_month=to_month,
            insurance_type=insurance_type,
            channel=channel,
            district_id=district,
            status=status,
        )
    )
    return Statistic(as_of=groups.as_of, groups=[_group(group) for group in groups])


async def business_volume_stats(
    group_by: list[statistics.Dimension],
    from_month: MonthScalar,
    to_month: MonthScalar,
    business_type: BusinessType | None,
    status: TransactionStatus | None,
    channel: ServiceChannel | None,
    district_id: strawberry.ID | None,
) -> Statistic:
    district = None if district_id is None else decode_int_id(district_id, "District", "districtId")
    groups = await refused_as_error(
        statistics.business_volume_stats(
            group_by,
            from_month,
            to_month,
            business_type=business_type,
            status=status,
            channel=channel,
            district_id=district,
        )
    )
    return Statistic(as_of=groups.as_of, groups=[_group(group) for group in groups])


async def online_adoption_stats() -> OnlineAdoption:
    adoption = await statistics.online_adoption_stats()
    return OnlineAdoption(
        as_of=adoption.as_of,
        districts=[
            DistrictAdoption(
                district_code=d.district_code,
                district_name=d.district_name,
                persons=_adoption(d.persons),
                employers=_adoption(d.employers),
            )
            for d in adoption.districts
        ],
        persons=_adoption(adoption.persons),
        employers=_adoption(adoption.employers),
    )

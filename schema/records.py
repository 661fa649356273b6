"""A person's contribution record (Q2, Q3): months paid per insurance type and the retirement
month; Person.contributionRecord and pensionEstimate share these types."""

from __future__ import annotations

import datetime as dt

import strawberry

from domain.retirement import YearsMonths
from schema.enums import InsuranceType
from schema.scalars import MonthScalar
from services import information


@strawberry.type(description="Years and months.")
class Duration:
    years: int = strawberry.field(description="Whole years.")
    months: int = strawberry.field(description="Months beyond them, 0 to 11.")

    @classmethod
    def of(cls, value: YearsMonths) -> Duration:
        return cls(years=value.years, months=value.months)


@strawberry.type(
    description=(
        "When the person retires under Q3: from the archive birth date when it differs from the ID card, with the 2025 "
        "reform."
    )
)
class Retirement:
    birth_date: dt.date = strawberry.field(
        description="The birth date that decides: the archive's, else the ID card's."
    )
    age: Duration = strawberry.field(description="The retirement age.")
    month: MonthScalar = strawberry.field(
        description="The month the person reaches it: the last month whose contribution counts."
    )


@strawberry.type(
    description=(
        "Actual contribution months of one insurance type: paid and back-paid months only; cancelled months never "
        "count (F7)."
    )
)
class InsuranceContribution:
    insurance_type: InsuranceType = strawberry.field(description="The insurance type.")
    months: int = strawberry.field(description="Distinct months paid.")
    years: Duration = strawberry.field(description="The same in years and months.")
    minimum_months: int | None = strawberry.field(
        description="Pension: the minimum months for a pension at the person's retirement (Q3)."
    )
    months_needed: int | None = strawberry.field(
        description="Pension: months still to pay for the minimum; 0 once reached."
    )


@strawberry.type(description="Where a person stands (Q2, Q3).")
class ContributionRecord:
    retirement: Retirement = strawberry.field(description="Retirement age and month.")
    types: list[InsuranceContribution] = strawberry.field(description="Every insurance type, pension first.")


def retirement_of(value: information.Retirement) -> Retirement:
    return Retirement(birth_date=value.birth_date, age=Duration.of(value.age), month=value.month)


def record_of(value: information.ContributionRecord) -> ContributionRecord:
    return ContributionRecord(
        retirement=retirement_of(value.retirement),
        types=[
            InsuranceContribution(
                insurance_type=t.insurance_type,
                months=t.months,
                years=Duration.of(t.years),
                minimum_months=t.minimum_months,
                months_needed=t.months_needed,
            )
            for t in value.types
        ],
    )


async def contribution_record(person_id: int) -> ContributionRecord:
    """One person's record, read on its own; a page of persons reads theirs through the request's
    loader (Loaders.contribution_record), computed alike."""
    return record_of(await information.contribution_record(person_id))

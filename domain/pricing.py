"""What a month of contribution costs (rules P2, P3, P4), exact to the fen (M1).

The rates are arguments, not constants: parameters are effective-dated in the database, so the
caller builds the ``Rates`` in force for the month it prices (``rates_from_values``), and
``default_rates`` gives the defaults of docs/rules.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from domain.enums import InsuranceType, ParameterCode
from domain.money import to_fen
from domain.parameters import DEFAULT_VALUES

FULL_AVERAGE_WAGE = Decimal("1")  # P3: the medical base is 100% of the average wage


class InvalidPensionGrade(ValueError):
    """A flexible pension grade that is not one of the allowed steps (P2)."""


class InvalidPricingInput(ValueError):
    """A wage that cannot be priced: an average wage that is not positive, a negative wage."""


@dataclass(frozen=True, slots=True)
class Shares:
    """The employer's and the person's rate of one insurance type on the employer channel (P4)."""

    employer: Decimal
    person: Decimal = Decimal("0")

    @property
    def total(self) -> Decimal:
        return self.employer + self.person


@dataclass(frozen=True, slots=True)
class Rates:
    """The pricing parameters in force for one month (P2, P3, P4)."""

    flex_pension_rate: Decimal
    pension_grade_min: Decimal
    pension_grade_max: Decimal
    pension_grade_step: Decimal
    flex_medical_rate: Decimal
    flex_medical_top_up: Decimal
    employer_base_floor: Decimal
    employer_base_ceiling: Decimal
    employer_shares: Mapping[InsuranceType, Shares] = field(hash=False)

    def shares(self, insurance_type: InsuranceType) -> Shares:
        return self.employer_shares[insurance_type]


@dataclass(frozen=True, slots=True)
class FlexiblePrice:
    """A flexible-channel month: the base, the person's rate and the amount due (P2, P3)."""

    base: Decimal
    rate: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class EmployerPrice:
    """An employer-channel month of one insurance type (P4); ``rate`` is both shares' sum."""

    base: Decimal
    employer_amount: Decimal
    person_amount: Decimal
    total: Decimal
    rate: Decimal


def rates_from_values(values: Mapping[ParameterCode, Decimal]) -> Rates:
    """Build the rates from parameter values keyed by code (rows in force, or the defaults)."""
    p = ParameterCode
    return Rates(
        flex_pension_rate=values[p.FLEX_PENSION_RATE],
        pension_grade_min=values[p.FLEX_PENSION_GRADE_MIN],
        pension_grade_max=values[p.FLEX_PENSION_GRADE_MAX],
        pension_grade_step=values[p.FLEX_PENSION_GRADE_STEP],
        flex_medical_rate=values[p.FLEX_MEDICAL_RATE],
        flex_medical_top_up=values[p.FLEX_MEDICAL_TOP_UP],
        employer_base_floor=values[p.EMPLOYER_BASE_FLOOR],
        employer_base_ceiling=values[p.EMPLOYER_BASE_CEILING],
        employer_shares={
            InsuranceType.PENSION: Shares(values[p.PENSION_RATE_EMPLOYER], values[p.PENSION_RATE_PERSON]),
            InsuranceType.MEDICAL: Shares(values[p.MEDICAL_RATE_EMPLOYER], values[p.MEDICAL_RATE_PERSON]),
            InsuranceType.UNEMPLOYMENT: Shares(
                values[p.UNEMPLOYMENT_RATE_EMPLOYER], values[p.UNEMPLOYMENT_RATE_PERSON]
            ),
            InsuranceType.WORK_INJURY: Shares(values[p.WORK_INJURY_RATE_EMPLOYER]),
            InsuranceType.MATERNITY: Shares(values[p.MATERNITY_RATE_EMPLOYER]),
        },
    )


def default_rates() -> Rates:
    """The rates of docs/rules.md P2-P4, as the first migration stores them."""
    return rates_from_values(DEFAULT_VALUES)


def pension_grades(rates: Rates) -> tuple[Decimal, ...]:
    """Every allowed flexible pension grade, lowest first (P2: 0.60, 0.70, ... 3.00)."""
    steps = int((rates.pension_grade_max - rates.pension_grade_min) / rates.pension_grade_step)
    return tuple(rates.pension_grade_min + rates.pension_grade_step * i for i in range(steps + 1))


def check_pension_grade(grade: Decimal, rates: Rates) -> Decimal:
    """Return ``grade`` when it is an allowed step (P2); refuse anything else, floats included."""
    if not isinstance(grade, Decimal) or not grade.is_finite():
        raise InvalidPensionGrade(f"a pension grade is a decimal such as 0.60, not {grade!r}")
    low, high, step = rates.pension_grade_min, rates.pension_grade_max, rates.pension_grade_step
    if not low <= grade <= high:
        raise InvalidPensionGrade(f"the pension grade {grade} is outside {low}..{high}")
    if (grade - low) % step != 0:
        raise InvalidPensionGrade(f"the pension grade {grade} is not a step of {step} from {low}")
    return grade


def flexible_pension(average_wage: Decimal, grade: Decimal, rates: Rates) -> FlexiblePrice:
    """P2: base = grade x average wage, rounded; amount = the pension rate of the base, rounded."""
    _require_positive_average(average_wage)
    check_pension_grade(grade, rates)
    base = to_fen(grade * average_wage)
    return FlexiblePrice(base=base, rate=rates.flex_pension_rate, amount=to_fen(base * rates.flex_pension_rate))


def flexible_medical(average_wage: Decimal, rates: Rates) -> FlexiblePrice:
    """P3: the medical rate of 100% of the average wage, rounded, plus the large-claim top-up."""
    _require_positive_average(average_wage)
    base = to_fen(FULL_AVERAGE_WAGE * average_wage)
    amount = to_fen(base * rates.flex_medical_rate) + to_fen(rates.flex_medical_top_up)
    return FlexiblePrice(base=base, rate=rates.flex_medical_rate, amount=amount)


def employer_base(declared_wage: Decimal, average_wage: Decimal, rates: Rates) -> Decimal:
    """P4 and E3: the declared wage held within floor..ceiling of the average wage, rounded."""
    _require_positive_average(average_wage)
    if declared_wage < 0:
        raise InvalidPricingInput(f"a declared wage cannot be negative ({declared_wage})")
    floor = to_fen(average_wage * rates.employer_base_floor)
    ceiling = to_fen(average_wage * rates.employer_base_ceiling)
    return min(max(to_fen(declared_wage), floor), ceiling)


def employer_contribution(
    declared_wage: Decimal, average_wage: Decimal, insurance_type: InsuranceType, rates: Rates
) -> EmployerPrice:
    """P4: each share is rounded on its own, and the total is their sum, so the parts add up."""
    base = employer_base(declared_wage, average_wage, rates)
    shares = rates.shares(insurance_type)
    employer_amount = to_fen(base * shares.employer)
    person_amount = to_fen(base * shares.person)
    return EmployerPrice(
        base=base,
        employer_amount=employer_amount,
        person_amount=person_amount,
        total=employer_amount + person_amount,
        rate=shares.total,
    )


def _require_positive_average(average_wage: Decimal) -> None:
    if not isinstance(average_wage, Decimal) or not average_wage.is_finite() or average_wage <= 0:
        raise InvalidPricingInput(f"the average monthly wage must be a positive decimal, not {average_wage!r}")

"""A person's contribution years, retirement and pension estimate (Q2, Q3, F7), worked by hand.

The clock stands at 2026-11-10 (conftest). Retirement by the 2025 reform (Q3): men born 1965-01
retire at 60 years 1 month, one month more every 4 months of birth date, up to 63; women cadres
from 55, women workers from 50 years 1 month for those born 1975-01, one month more every 2 months.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from tortoise.expressions import Q

import models
from domain.enums import (
    Channel,
    InsuranceType,
    PaidVia,
    PeriodStatus,
    PersonCategory,
    PolicyStatus,
    RetirementClass,
)
from domain.errors import BusinessError, ErrorCode
from domain.months import Month
from domain.retirement import YearsMonths
from services import information
from tests import factories

pytestmark = pytest.mark.usefixtures("db")

D = Decimal
PENSION, MEDICAL = InsuranceType.PENSION, InsuranceType.MEDICAL


async def _home() -> models.Community:
    return await factories.community(await factories.district())


async def _mark(person: models.Person, first: Month, count: int, **changes) -> None:
    months = [first.plus(i).to_int() for i in range(count)]
    await models.ContributionPeriod.filter(person_id=person.id, month__in=months).update(**changes)


async def _employer_pension(person: models.Person, first: Month, count: int, base: str) -> None:
    home = await models.District.get(id=person.district_id)
    policy = await models.Policy.create(
        person=person,
        insurance_type=PENSION,
        channel=Channel.EMPLOYER,
        employer=await factories.employer(home),
        status=PolicyStatus.TERMINATED,
        start_month=first.to_int(),
        end_month=first.plus(count - 1).to_int(),
    )
    rows = await factories.periods(policy, first, count, base, "0.2400", str((D(base) * D("0.24")).quantize(D("0.01"))))
    await models.ContributionPeriod.filter(id__in=[r.id for r in rows]).update(paid_via=PaidVia.EMPLOYER)


# Contribution record (Q2)


async def test_contribution_months_count_paid_and_back_paid_months_once_and_never_cancelled_ones() -> None:
    person = await factories.person(await _home())  # a man born 1980-05-17
    pension = await factories.flexible_pension(person, Month(2024, 1))
    await factories.periods(pension, Month(2024, 1), 12, "8000.00", "0.2000", "1600.00")
    await factories.periods(pension, Month(2025, 1), 3, "8000.00", "0.2000", "1600.00", PeriodStatus.CANCELLED)
    # 2025-04..06 were arrears, cancelled (F7), then back-paid as an interruption (F8): they count.
    await factories.periods(pension, Month(2025, 4), 3, "8000.00", "0.2000", "1600.00")
    await _mark(person, Month(2025, 4), 3, paid_via=PaidVia.INTERRUPTION_BACK_PAY)
    await factories.periods(pension, Month(2025, 7), 1, "8000.00", "0.2000", "1600.00", PeriodStatus.ARREARS)
    await factories.periods(pension, Month(2025, 8), 1, "8000.00", "0.2000", "1600.00", PeriodStatus.DUE)
    # An employer paid 2023-12 and 2024-01; 2024-01 is also a flexible month: it counts once.
    await _employer_pension(person, Month(2023, 12), 2, "9000.00")
    medical = await factories.flexible_medical(person, Month(2024, 1))
    await factories.periods(medical, Month(2024, 1), 10, "8000.00", "0.0600", "487.00")
    await factories.periods(medical, Month(2024, 11), 2, "8000.00", "0.0600", "487.00", PeriodStatus.CANCELLED)

    record = await information.contribution_record(person.id)

    # 12 (2024) + 3 back-paid + 1 (2023-12 by the employer) = 16 months; cancelled, owed and due do not count.
    assert record.of(PENSION).months == 16
    assert record.of(PENSION).years == YearsMonths(1, 4)
    # Born 1980-05 (after 1976-09): 63 years, retiring 2043-05, when the minimum is 20 years.
    assert record.retirement.age == YearsMonths(63, 0)
    assert record.retirement.month == Month(2043, 5)
    assert record.of(PENSION).minimum_months == 240
    assert record.of(PENSION).months_needed == 224
    assert record.of(MEDICAL).months == 10
    assert record.of(MEDICAL).years == YearsMonths(0, 10)
    assert record.of(MEDICAL).minimum_months is None and record.of(MEDICAL).months_needed is None
    assert record.of(InsuranceType.UNEMPLOYMENT).months == 0
    assert [r.insurance_type for r in record.types] == list(InsuranceType)


async def test_months_needed_is_zero_once_the_minimum_is_reached() -> None:
    person = await factories.person(await _home(), birth=dt.date(1967, 3, 8))
    pension = await factories.flexible_pension(person, Month(2010, 1))
    await factories.periods(pension, Month(2010, 1), 185, "4000.00", "0.2000", "800.00")

    record = await information.contribution_record(person.id)

    # Born 1967-03: 26 months after 1965-01, 26 // 4 + 1 = 7 months more: 60 years 7 months, 2027-10.
    assert record.retirement.month == Month(2027, 10)
    assert record.of(PENSION).minimum_months == 180
    assert record.of(PENSION).years == YearsMonths(15, 5)
    assert record.of(PENSION).months_needed == 0


@pytest.mark.parametrize(
    ("birth", "male", "retirement_class", "archive", "age", "month", "minimum"),
    [
        # A man born 1965-05: 4 months after 1965-01, 4 // 4 + 1 = 2 months more.
        (dt.date(1965, 5, 20), True, RetirementClass.WORKER, None, YearsMonths(60, 2), Month(2025, 7), 180),
        # A man born before 1965 keeps 60 whatever his class.
        (dt.date(1964, 12, 31), True, RetirementClass.CADRE, None, YearsMonths(60, 0), Month(2024, 12), 180),
        # A woman cadre born 1972-03: 26 months after 1970-01, 26 // 4 + 1 = 7.
        (dt.date(1972, 3, 1), False, RetirementClass.CADRE, None, YearsMonths(55, 7), Month(2027, 10), 180),
        # A woman worker: the archive (1979-02) decides, not the card (1980-01, which would be 52y7m, 2032-08):
        # 49 months after 1975-01, 49 // 2 + 1 = 25 months more: 52 years 1 month; 2031 needs 16 years.
        (
            dt.date(1980, 1, 5),
            False,
            RetirementClass.WORKER,
            dt.date(1979, 2, 10),
            YearsMonths(52, 1),
            Month(2031, 3),
            192,
        ),
        # A woman worker born 1990: the final 55; 2045 needs 20 years.
        (dt.date(1990, 7, 14), False, RetirementClass.WORKER, None, YearsMonths(55, 0), Month(2045, 7), 240),
    ],
)
async def test_retirement_month_follows_the_archive_birth_date_gender_and_class(
    birth, male, retirement_class, archive, age, month, minimum
) -> None:
    person = await factories.person(await _home(), birth=birth, male=male)
    person.retirement_class, person.archive_birth_date = retirement_class, archive
    await person.save()

    record = await information.contribution_record(person.id)

    assert record.retirement.birth_date == (archive or birth)
    assert record.retirement.age == age
    assert record.retirement.month == month
    assert record.of(PENSION).minimum_months == minimum
    assert record.of(PENSION).months == 0 and record.of(PENSION).months_needed == minimum


async def test_an_unknown_person_is_not_found() -> None:
    with pytest.raises(BusinessError) as raised:
        await information.contribution_record(987654)
    assert raised.value.code is ErrorCode.NOT_FOUND
    with pytest.raises(BusinessError) as raised:
        await information.pension_estimate(987654)
    assert raised.value.code is ErrorCode.NOT_FOUND


async def test_the_records_of_many_persons_are_those_read_one_by_one_in_two_queries(count_queries) -> None:
    home = await _home()
    payer = await factories.person(home, name="郭强")  # a man born 1980-05-17
    pension = await factories.flexible_pension(payer, Month(2024, 1))
    await factories.periods(pension, Month(2024, 1), 12, "8000.00", "0.2000", "1600.00")
    await factories.periods(pension, Month(2025, 1), 2, "8000.00", "0.2000", "1600.00", PeriodStatus.CANCELLED)
    await _employer_pension(payer, Month(2023, 12), 2, "9000.00")  # 2024-01 paid twice: counted once
    medical = await factories.flexible_medical(payer, Month(2024, 1))
    await factories.periods(medical, Month(2024, 1), 5, "8000.00", "0.0600", "487.00")
    cadre = await factories.person(home, name="王芳", birth=dt.date(1972, 3, 1), male=False)
    cadre.retirement_class, cadre.archive_birth_date = RetirementClass.CADRE, dt.date(1971, 6, 1)
    await cadre.save()
    await factories.periods(
        await factories.flexible_pension(cadre, Month(2010, 1)), Month(2010, 1), 200, "4000.00", "0.2000", "800.00"
    )
    uninsured = await factories.person(home, name="李明")  # no policy at all
    count_queries.statements.clear()

    records = await information.contribution_records([cadre.id, 987654, payer.id, uninsured.id, payer.id])

    # the persons, and their paid months counted per person and type
    assert len(count_queries.statements) == 2, count_queries.statements
    assert set(records) == {payer.id, cadre.id, uninsured.id}  # the missing id is absent
    for person in (payer, cadre, uninsured):
        assert records[person.id] == await information.contribution_record(person.id)
    assert records[payer.id].of(PENSION).months == 13 and records[payer.id].of(MEDICAL).months == 5
    assert records[cadre.id].retirement.birth_date == dt.date(1971, 6, 1)
    assert records[cadre.id].of(PENSION).months == 200 and records[cadre.id].of(PENSION).months_needed == 0
    assert [t.months for t in records[uninsured.id].types] == [0] * len(InsuranceType)
    assert records[uninsured.id].of(PENSION).months_needed == records[uninsured.id].of(PENSION).minimum_months
    assert await information.contribution_records([]) == {}
    within = await information.contribution_records([payer.id, cadre.id], within=Q(id=cadre.id))
    assert set(within) == {cadre.id}


# Pension estimate (Q3)


async def _worked_history() -> models.Person:
    """A man born 1967-03-08 (retiring 2027-10 at 60 years 7 months), flexible since 2011.

    Average wage: 4000.00 for 2011-2020, 6000.00 for 2021-2025, 8000.00 in 2026.
    - 2011-01..2020-09, 117 months at grade 1.00 (base 4000.00, index 1.0); 2015-01..06 of them
      back-paid (F8): they count;
    - 2020-10..12 cancelled (F7): they do not count;
    - 2021-01..2025-12, 60 months at grade 1.50 (base 9000.00, index 1.5);
    - 2026-01..10, 10 months at grade 1.00 (base 8000.00, index 1.0); 2026-11 is still due.
    """
    await factories.average_wage(2011, "4000.00")
    await factories.average_wage(2021, "6000.00")
    await factories.average_wage(2026, "8000.00")
    person = await factories.person(await _home(), birth=dt.date(1967, 3, 8))
    policy = await factories.flexible_pension(person, Month(2011, 1), grade="1.00")
    await factories.periods(policy, Month(2011, 1), 117, "4000.00", "0.2000", "800.00")
    await _mark(person, Month(2015, 1), 6, paid_via=PaidVia.INTERRUPTION_BACK_PAY)
    await factories.periods(policy, Month(2020, 10), 3, "4000.00", "0.2000", "800.00", PeriodStatus.CANCELLED)
    await factories.periods(policy, Month(2021, 1), 60, "9000.00", "0.2000", "1800.00")
    await factories.periods(policy, Month(2026, 1), 10, "8000.00", "0.2000", "1600.00")
    await factories.periods(policy, Month(2026, 11), 1, "8000.00", "0.2000", "1600.00", PeriodStatus.DUE)
    return person


async def test_pension_estimate_of_a_known_history_worked_by_hand() -> None:
    person = await _worked_history()

    result = await information.pension_estimate(person.id)

    given = result.inputs
    assert given.today == Month(2026, 11) and given.retirement == Month(2027, 10)
    assert given.retirement_age == YearsMonths(60, 7)
    assert given.paid_months == 117 + 60 + 10 == 187
    # (117 x 1.0 + 60 x 1.5 + 10 x 1.0) / 187 = 217 / 187 = 1.16043 -> 1.1604
    assert given.mean_index == D("1.1604")
    # 117 x 320.00 + 60 x 720.00 + 10 x 640.00 = 37440.00 + 43200.00 + 6400.00
    assert given.account_balance == D("87040.00")
    assert given.average_wage == D("8000.00")
    assert given.grade == D("1.0000")
    assert given.annual_wage_growth == D("0")

    estimate = result.estimate
    assert estimate.months_to_retirement == 11  # 2026-12 .. 2027-10
    stop = estimate.stop_now
    assert stop.eligible and stop.minimum_months == 180 and stop.contribution_years == YearsMonths(15, 7)
    # divisor at 60y7m: 139 + (132 - 139) x 7 / 12 = 134.9167 -> 134.92
    assert stop.divisor == D("134.92")
    # 8000 x (1 + 1.1604) / 2 x 187 / 12 x 1% = 1346.6493 -> 1346.65; 87040.00 / 134.92 = 645.12
    assert (stop.basic_pension, stop.account_pension, stop.total) == (D("1346.65"), D("645.12"), D("1991.77"))
    keep = estimate.keep_paying
    # 11 more months at grade 1.00: 198 months, index (1.1604 x 187 + 11) / 198 = 1.15149 -> 1.1515,
    # account 87040.00 + 11 x 640.00 = 94080.00
    assert keep.contribution_months == 198 and keep.mean_index == D("1.1515")
    assert keep.account_at_retirement == D("94080.00")
    # 8000 x 2.1515 / 2 x 198 / 12 x 1% = 1419.99; 94080.00 / 134.92 = 697.30
    assert (keep.basic_pension, keep.account_pension, keep.total) == (D("1419.99"), D("697.30"), D("2117.29"))
    assert estimate.monthly_difference == D("125.52")


async def test_pension_estimate_with_wage_growth() -> None:
    person = await _worked_history()

    result = await information.pension_estimate(person.id, annual_wage_growth=D("0.05"))

    # 2027's wage: 8000.00 x 1.05 = 8400.00; keep paying: 2026-12 adds 640.00, 2027-01..10 add 672.00 each.
    assert result.estimate.stop_now.average_wage_at_retirement == D("8400.00")
    assert result.estimate.keep_paying.account_at_retirement == D("87040.00") + D("640.00") + 10 * D("672.00")
    # 8400 x 2.1604 / 2 x 187 / 12 x 1% = 1413.9818 -> 1413.98
    assert result.estimate.stop_now.basic_pension == D("1413.98")


async def test_a_person_not_paying_a_grade_has_no_keep_paying_scenario() -> None:
    person = await _worked_history()
    await models.Policy.filter(person_id=person.id).update(status=PolicyStatus.SUSPENDED, end_month=202611)

    result = await information.pension_estimate(person.id)

    assert result.inputs.grade is None
    assert result.estimate.keep_paying is None and result.estimate.monthly_difference is None
    assert result.estimate.stop_now.total == D("1991.77")


async def test_short_of_the_minimum_gives_the_months_missing() -> None:
    await factories.average_wage(2026, "8000.00")
    person = await factories.person(await _home(), birth=dt.date(1966, 7, 1))  # retires 2026-12
    policy = await factories.flexible_pension(person, Month(2026, 1), grade="2.00")
    await factories.periods(policy, Month(2026, 1), 10, "16000.00", "0.2000", "3200.00")

    result = await information.pension_estimate(person.id)

    assert result.inputs.mean_index == D("2.0000") and result.inputs.account_balance == D("12800.00")
    assert result.estimate.months_to_retirement == 1
    assert not result.estimate.stop_now.eligible and result.estimate.stop_now.months_short == 170
    assert result.estimate.keep_paying.months_short == 169
    assert result.estimate.stop_now.total is None


@pytest.mark.parametrize(
    ("birth", "category"),
    [
        (dt.date(1965, 5, 20), PersonCategory.FLEXIBLE),  # retired in 2025-07
        (dt.date(1966, 6, 30), PersonCategory.FLEXIBLE),  # 60 years 5 months: retires this month, 2026-11
        (dt.date(1975, 1, 1), PersonCategory.RETIRED),  # retired early (the category says so)
    ],
)
async def test_an_already_retired_person_is_refused(birth, category) -> None:
    await factories.average_wage(2026, "8000.00")
    person = await factories.person(await _home(), birth=birth, category=category)

    with pytest.raises(BusinessError) as raised:
        await information.pension_estimate(person.id)

    assert raised.value.code is ErrorCode.PERSON_RETIRED
    assert raised.value.message.startswith("already retired: ")


@pytest.mark.parametrize("growth", [D("-0.01"), D("0.21"), D("NaN"), 0.03, "0.03"])
async def test_an_unreasonable_wage_growth_is_refused(growth) -> None:
    person = await _worked_history()
    with pytest.raises(BusinessError) as raised:
        await information.pension_estimate(person.id, annual_wage_growth=growth)
    assert raised.value.code is ErrorCode.INVALID_INPUT and raised.value.field == "annualWageGrowth"

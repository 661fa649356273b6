"""The demo city: valid identifiers (A1, A2), one city per seed, and figures the rules reproduce."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from demo.city import CityAlreadySeeded, SeedReport, seed_city
from domain.enums import (
    ArrearStatus,
    BusinessType,
    Channel,
    InsuranceType,
    LedgerKind,
    PaidVia,
    ParameterCode,
    PaymentOrderStatus,
    PeriodStatus,
    PersonCategory,
)
from domain.identifiers import normalise_credit_code, parse_resident_id
from domain.interest import back_pay_interest
from domain.months import LOCAL_TZ, Month, month_range
from domain.pricing import default_rates, employer_contribution, flexible_medical, flexible_pension
from models import (
    AppointmentSlot,
    Arrear,
    BusinessTransaction,
    ContributionPeriod,
    Employer,
    Employment,
    LedgerEntry,
    Office,
    Parameter,
    Passbook,
    PaymentOrder,
    PaymentOrderLine,
    Person,
    Policy,
)
from tests.conftest import empty_tables

PERSONS = 300
SEED = 20121
NOW = dt.datetime(2026, 11, 27, 10, 30, tzinfo=LOCAL_TZ)
LAST_MONTH = Month(2026, 10)
RATES = default_rates()


async def seeded_snapshot(seed: int) -> dict:
    """Seed the emptied test database and keep what determinism is judged on."""
    await empty_tables()
    await seed_city(PERSONS, seed, now=NOW)
    return {
        "id_numbers": await Person.all().order_by("id").values_list("id_number", flat=True),
        "balances": await Passbook.all().order_by("person_id").values_list("person_id", "balance"),
        "periods": await ContributionPeriod.all().count(),
    }


@pytest.fixture(scope="module")
async def city(test_settings) -> AsyncIterator[dict]:
    """A city of 300 persons in the test database, after two more seeded there for comparison."""
    same_seed = await seeded_snapshot(SEED)
    other_seed = await seeded_snapshot(SEED + 1)
    await empty_tables()
    report = await seed_city(PERSONS, SEED, now=NOW)
    yield {"report": report, "same_seed": same_seed, "other_seed": other_seed}
    await empty_tables()


async def average_wages() -> dict[int, Decimal]:
    rows = await Parameter.filter(code=ParameterCode.AVERAGE_MONTHLY_WAGE).values_list("effective_from", "value")
    return {effective_from // 100: value for effective_from, value in rows}


# The report and the refusal to seed twice


async def test_report_counts_what_was_written(city):
    report: SeedReport = city["report"]
    assert report.persons == PERSONS == await Person.all().count()
    assert sum(report.persons_by_category.values()) == PERSONS
    assert report.districts == 13
    assert report.periods == await ContributionPeriod.all().count()
    assert report.ledger_entries == await LedgerEntry.all().count()
    assert report.average_wages_published == [2024, 2025, 2026]
    assert report.elapsed_seconds > 0


async def test_a_second_seed_into_the_same_database_is_refused(city):
    with pytest.raises(CityAlreadySeeded):
        await seed_city(10, SEED, now=NOW)
    assert await Person.all().count() == PERSONS


async def test_average_wages_rise_about_five_percent_a_year(city):
    wages = await average_wages()
    assert wages == {2024: Decimal("8000.00"), 2025: Decimal("8400.00"), 2026: Decimal("8820.00")}


# Identifiers (A1, A2)


async def test_every_id_number_passes_a1_and_matches_the_person(city):
    district_codes = dict(await Person.all().values_list("id", "district__code"))
    rows = await Person.all().values("id", "id_number", "gender", "birth_date")
    for row in rows:
        parsed = parse_resident_id(row["id_number"])
        assert parsed.number == row["id_number"]
        assert parsed.area_code == district_codes[row["id"]]
        assert parsed.birth_date == row["birth_date"]
        assert 1960 <= parsed.birth_date.year <= 2004
        assert parsed.is_male == (row["gender"] == "MALE")


async def test_every_credit_code_passes_a2(city):
    codes = await Employer.all().values_list("credit_code", flat=True)
    assert codes
    for code in codes:
        assert normalise_credit_code(code) == code


# Determinism


async def test_the_same_seed_gives_the_same_city(city):
    same = city["same_seed"]
    assert same["id_numbers"] == await Person.all().order_by("id").values_list("id_number", flat=True)
    assert same["balances"] == await Passbook.all().order_by("person_id").values_list("person_id", "balance")
    assert same["periods"] == city["report"].periods


async def test_another_seed_gives_another_city(city):
    other = city["other_seed"]
    assert other["id_numbers"] != await Person.all().order_by("id").values_list("id_number", flat=True)
    assert other["balances"] != await Passbook.all().order_by("person_id").values_list("person_id", "balance")


# Passbooks (M4, F9)


async def test_each_passbook_balance_is_its_deposits_less_its_debits(city):
    entries = defaultdict(list)
    for entry in await LedgerEntry.all().order_by("id").values("passbook_id", "kind", "amount", "balance_after"):
        entries[entry["passbook_id"]].append(entry)
    passbooks = await Passbook.all().values("id", "balance")
    assert passbooks
    for passbook in passbooks:
        running = Decimal("0.00")
        for entry in entries[passbook["id"]]:
            running += entry["amount"] if entry["kind"] == LedgerKind.DEPOSIT else -entry["amount"]
            assert running == entry["balance_after"] >= 0
        assert passbook["balance"] == running


async def test_bank_references_are_unique_and_only_on_deposits(city):
    rows = await LedgerEntry.all().values("kind", "bank_reference")
    references = [row["bank_reference"] for row in rows if row["kind"] == LedgerKind.DEPOSIT]
    assert references and len(set(references)) == len(references)
    assert all(row["bank_reference"] is None for row in rows if row["kind"] != LedgerKind.DEPOSIT)


async def test_every_passbook_debit_pays_exactly_its_period(city):
    periods = {row["id"]: row for row in await ContributionPeriod.all().values("id", "amount", "paid_via")}
    debits = await LedgerEntry.filter(kind=LedgerKind.CONTRIBUTION_DEBIT).values("period_id", "amount")
    for debit in debits:
        assert debit["amount"] == periods[debit["period_id"]]["amount"]
        assert periods[debit["period_id"]]["paid_via"] == PaidVia.PASSBOOK_DEBIT
    paid_from_passbook = [p for p in periods.values() if p["paid_via"] == PaidVia.PASSBOOK_DEBIT]
    assert len(debits) == len(paid_from_passbook)


# Prices (P2, P3, P4, P5)


async def test_every_paid_flexible_period_is_priced_by_the_rules(city):
    wages = await average_wages()
    policies = {row["id"]: row for row in await Policy.filter(channel=Channel.FLEXIBLE).values("id", "grade")}
    changes = {
        row["person_id"]: row
        for row in await BusinessTransaction.filter(business_type=BusinessType.CHANGE_PENSION_GRADE).values(
            "person_id", "effective_month", "details"
        )
    }
    periods = await ContributionPeriod.filter(channel=Channel.FLEXIBLE, status=PeriodStatus.PAID).values(
        "policy_id", "person_id", "month", "insurance_type", "base", "rate", "amount"
    )
    assert periods
    for period in periods:
        wage = wages[period["month"] // 100]
        if period["insurance_type"] == InsuranceType.PENSION:
            grade = policies[period["policy_id"]]["grade"]
            change = changes.get(period["person_id"])
            if change and period["month"] < change["effective_month"]:
                grade = Decimal(change["details"]["from_grade"])
            price = flexible_pension(wage, grade, RATES)
        else:
            price = flexible_medical(wage, RATES)
        assert (period["base"], period["rate"], period["amount"]) == (price.base, price.rate, price.amount)


async def test_some_pension_grades_changed_and_periods_follow_them(city):
    changes = await BusinessTransaction.filter(business_type=BusinessType.CHANGE_PENSION_GRADE).count()
    assert changes > 0


async def test_every_employer_period_is_priced_by_p4(city):
    wages = await average_wages()
    declared = {
        (row["person_id"], row["employer_id"]): row["declared_wage"]
        for row in await Employment.all().values("person_id", "employer_id", "declared_wage")
    }
    employers = dict(await Policy.filter(channel=Channel.EMPLOYER).values_list("id", "employer_id"))
    periods = await ContributionPeriod.filter(channel=Channel.EMPLOYER).values(
        "policy_id", "person_id", "month", "insurance_type", "base", "rate", "amount", "employer_amount", "status"
    )
    assert periods
    for period in periods:
        wage = declared[period["person_id"], employers[period["policy_id"]]]
        price = employer_contribution(
            wage, wages[period["month"] // 100], InsuranceType(period["insurance_type"]), RATES
        )
        assert (period["base"], period["rate"], period["amount"], period["employer_amount"]) == (
            price.base,
            price.rate,
            price.total,
            price.employer_amount,
        )
        assert period["status"] == PeriodStatus.PAID


async def test_arrears_paid_late_carry_interest_to_the_collection_month(city):
    lines = await PaymentOrderLine.all().values(
        "month", "principal", "interest", "order__collection_month", "arrear__principal"
    )
    assert lines
    for line in lines:
        assert line["principal"] == line["arrear__principal"]
        due, paid = Month.from_int(line["month"]), Month.from_int(line["order__collection_month"])
        assert line["interest"] == back_pay_interest(line["principal"], due, paid)


async def test_a_collected_order_is_one_debit_of_its_principal_and_interest(city):
    orders = await PaymentOrder.all().prefetch_related("lines")
    debits = dict(await LedgerEntry.filter(kind=LedgerKind.ARREARS_DEBIT).values_list("payment_order_id", "amount"))
    assert any(order.status == PaymentOrderStatus.COLLECTED for order in orders)
    assert any(order.status == PaymentOrderStatus.OPEN for order in orders)
    for order in orders:
        assert order.principal == sum(line.principal for line in order.lines)
        assert order.interest == sum(line.interest for line in order.lines)
        assert order.total == order.principal + order.interest
        assert debits.get(order.id) == (order.total if order.status == PaymentOrderStatus.COLLECTED else None)


# The shape of the history


async def test_open_arrears_exist_and_match_their_periods(city):
    arrears = await Arrear.all().values(
        "status", "principal", "period__amount", "period__status", "month", "period__month"
    )
    assert any(a["status"] == ArrearStatus.OPEN for a in arrears)
    for arrear in arrears:
        assert arrear["principal"] == arrear["period__amount"]
        assert arrear["month"] == arrear["period__month"]
        expected_period_status = {
            ArrearStatus.OPEN: PeriodStatus.ARREARS,
            ArrearStatus.ORDERED: PeriodStatus.ARREARS,
            ArrearStatus.PAID: PeriodStatus.PAID,
            ArrearStatus.CANCELLED: PeriodStatus.CANCELLED,
        }[ArrearStatus(arrear["status"])]
        assert arrear["period__status"] == expected_period_status


async def test_cancelled_months_exist(city):
    assert await ContributionPeriod.filter(status=PeriodStatus.CANCELLED).count() > 0
    assert await Arrear.filter(status=ArrearStatus.CANCELLED).count() > 0


async def test_interruptions_exist(city):
    """F8: pension months with no period at all, between a person's first pension month and now."""
    months = defaultdict(set)
    for person_id, month in await ContributionPeriod.filter(insurance_type=InsuranceType.PENSION).values_list(
        "person_id", "month"
    ):
        months[person_id].add(month)
    interrupted = [
        person_id
        for person_id, paid in months.items()
        if any(m.to_int() not in paid for m in month_range(Month.from_int(min(paid)), LAST_MONTH))
    ]
    assert interrupted


async def test_no_period_is_duplicated(city):
    keys = await ContributionPeriod.all().values_list("person_id", "insurance_type", "month")
    assert len(keys) == len(set(keys))


async def test_no_month_is_insured_through_both_channels(city):
    """F1: a flexible policy never covers a month the person is insured for through an employer."""
    channels = defaultdict(set)
    for person_id, insurance_type, month, channel in await ContributionPeriod.all().values_list(
        "person_id", "insurance_type", "month", "channel"
    ):
        channels[person_id, insurance_type, month].add(channel)
    assert all(len(found) == 1 for found in channels.values())


async def test_no_period_is_later_than_last_month(city):
    assert await ContributionPeriod.filter(month__gt=LAST_MONTH.to_int()).count() == 0


async def test_categories_follow_the_histories(city):
    categories = dict(await Person.all().values_list("id", "category"))
    active_flexible = set(
        await Policy.filter(channel=Channel.FLEXIBLE, end_month__isnull=True).values_list("person_id", flat=True)
    )
    active_employed = set(await Employment.filter(end_month__isnull=True).values_list("person_id", flat=True))
    assert {p for p, c in categories.items() if c == PersonCategory.FLEXIBLE} == active_flexible
    assert {p for p, c in categories.items() if c == PersonCategory.EMPLOYED} == active_employed


async def test_business_of_many_kinds_is_on_record(city):
    kinds = set(await BusinessTransaction.all().values_list("business_type", "status"))
    for expected in [
        ("ENROLL_FLEXIBLE", "COMPLETED"),
        ("PAY_ARREARS", "COMPLETED"),
        ("CANCEL_ARREARS", "COMPLETED"),
        ("ADD_EMPLOYEES", "COMPLETED"),
        ("ADD_EMPLOYEES", "SUBMITTED"),
        ("SUSPEND_FLEXIBLE", "COMPLETED"),
    ]:
        assert expected in kinds
    assert all(at <= NOW for at in await BusinessTransaction.all().values_list("submitted_at", flat=True))


async def test_every_office_has_slots_for_the_next_five_working_days(city):
    slots = await AppointmentSlot.all().values("office_id", "starts_at", "capacity", "booked")
    days = sorted({slot["starts_at"].astimezone(LOCAL_TZ).date() for slot in slots})
    # NOW is Friday 2026-11-27: Monday to Friday of the next week, 9:00 to 17:00, hourly, two categories.
    assert days == [
        dt.date(2026, 11, 30),
        dt.date(2026, 12, 1),
        dt.date(2026, 12, 2),
        dt.date(2026, 12, 3),
        dt.date(2026, 12, 4),
    ]
    assert len(slots) == await Office.all().count() * 5 * 2 * 8
    assert {(slot["capacity"], slot["booked"]) for slot in slots} == {(10, 0)}

"""The city-wide jobs (M4, P1, P5): started once, run in chunks, resumable, and exact to the fen."""

from __future__ import annotations

from decimal import Decimal

import pytest

import models
from domain.enums import (
    ArrearStatus,
    Channel,
    InsuranceType,
    JobKind,
    JobStatus,
    LedgerKind,
    PeriodStatus,
    PersonCategory,
    Role,
)
from domain.months import Month
from jobs import batch as batch_jobs
from jobs.cron import (
    month_end_on_last_day,
    nightly_arrears_interest,
    nightly_statistics_refresh,
    roll_over_unaccepted_filings,
)
from resolvers.inputs import encode_id
from schema.context import Context
from schema.root import schema
from services.common import clock
from services.employer import staffing
from services.employer.staffing import AddLine
from tests import factories
from tests.graphql_client import data

pytestmark = pytest.mark.usefixtures("db")


async def as_admin(query: str, **variables):
    return await data(query, viewer=await factories.viewer(Role.ADMIN), **variables)


D = Decimal

RUN = """mutation ($input: RunMonthEndInput!) { runMonthEnd(input: $input) {
  job { id kind status result } errors { field code message } } }"""
PUBLISH = """mutation ($input: PublishAverageWageInput!) { publishAverageWage(input: $input) {
  parameter { code effectiveFrom value } job { id kind status params } errors { field code message } } }"""
REFRESH = """mutation { recalculateArrears(input: {}) { job { id kind } errors { code } } }"""


def expected_after(balance: Decimal) -> tuple[Decimal, int]:
    """A month of pension 1600.00 then medical 487.00 (P6), each in full or not at all."""
    paid = 0
    for amount in (D("1600.00"), D("487.00")):
        if amount <= balance:
            balance, paid = balance - amount, paid + 1
    return balance, paid


@pytest.fixture
async def city():
    """Twelve flexible persons insured since January at grade 1.00, with passbooks of various sizes."""
    await factories.average_wage(2026, "8000.00")
    home = await factories.community(await factories.district())
    balances = [
        D(b)
        for b in (
            "0.00",
            "486.99",
            "487.00",
            "1599.99",
            "1600.00",
            "2086.99",
            "2087.00",
            "5000.00",
            "1700.00",
            "100.00",
            "2500.00",
            "1600.01",
        )
    ]
    people = []
    for number, balance in enumerate(balances):
        person = await factories.person(home, name=f"居民{number}", category=PersonCategory.FLEXIBLE)
        await factories.flexible_pension(person, Month(2026, 1))
        await factories.flexible_medical(person, Month(2026, 1))
        book = await factories.passbook(person, [(f"OPEN-{number}", str(balance))] if balance else [])
        people.append((person, book, balance))
    return people


async def assert_month_collected(people) -> None:
    for person, book, opening in people:
        balance, paid = expected_after(opening)
        assert (await models.Passbook.get(id=book.id)).balance == balance, person.name
        debits = await models.LedgerEntry.filter(passbook_id=book.id, kind=LedgerKind.CONTRIBUTION_DEBIT).count()
        owed = await models.Arrear.filter(person_id=person.id, month=202611).count()
        assert (debits, owed) == (paid, 2 - paid), person.name


async def test_month_end_runs_once_for_the_whole_city(city, held_jobs):
    clock.freeze("2026-11-30T23:30:00+08:00")
    started = (await as_admin(RUN, input={"month": "2026-11"}))["runMonthEnd"]
    assert started["errors"] == [] and started["job"]["status"] == "QUEUED"
    await held_jobs.run_all()
    await assert_month_collected(city)
    job = await models.Job.get(kind="MONTH_END")
    assert job.status is JobStatus.SUCCEEDED
    assert job.result == {
        "month": "2026-11",
        "persons": 12,
        "paid_periods": 12,
        "periods_in_arrears": 12,
        "collected_orders": 0,
        "lapsed_orders": 0,
    }
    again = (await as_admin(RUN, input={"month": "2026-11"}))["runMonthEnd"]
    assert [e["code"] for e in again["errors"]] == ["JOB_ALREADY_STARTED"] and again["job"]["id"] == started["job"][
        "id"
    ]
    assert held_jobs.job_ids == []


@pytest.mark.parametrize(
    ("now", "month"),
    [
        ("2026-11-10T10:00:00+08:00", "2026-11"),  # not ended
        ("2026-11-30T23:30:00+08:00", "2026-12"),  # in the future
        ("2026-11-30T23:30:00+08:00", "2025-10"),  # thirteen months back
    ],
)
async def test_a_month_end_for_a_month_not_ended_or_long_past_is_refused(now, month):
    clock.freeze(now)
    refused = (await as_admin(RUN, input={"month": month}))["runMonthEnd"]
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [("month", "INVALID_MONTH")]
    assert await models.Job.all().count() == 0


async def test_a_month_end_that_failed_half_way_goes_on_from_its_last_chunk(city, held_jobs, monkeypatch):
    clock.freeze("2026-11-30T23:30:00+08:00")
    real_collect, chunks = batch_jobs.collect_persons, []

    async def failing_on_the_third_chunk(first_id, last_id, month, tariff):
        chunks.append((first_id, last_id))
        if len(chunks) == 3:  # a fault no retry mends (a lost connection is retried: test_outages.py)
            raise ValueError("a period priced at no tariff")
        return await real_collect(first_id, last_id, month, tariff)

    monkeypatch.setattr(batch_jobs, "collect_persons", failing_on_the_third_chunk)
    monkeypatch.setattr(batch_jobs, "MONTH_END_CHUNK", 4)
    await as_admin(RUN, input={"month": "2026-11"})
    await held_jobs.run_all()
    job = await models.Job.get(kind="MONTH_END")
    failed, cursor = chunks[2], job.result["after"]
    assert job.status is JobStatus.FAILED and cursor < failed[0]
    assert await models.LedgerEntry.filter(kind=LedgerKind.CONTRIBUTION_DEBIT).count() > 0
    restarted = (await as_admin(RUN, input={"month": "2026-11"}))["runMonthEnd"]
    assert restarted["errors"] == [] and restarted["job"]["status"] == "QUEUED"
    await held_jobs.run_all()
    rerun = chunks[3:]
    assert failed in rerun and all(first > cursor for first, _ in rerun)  # on from the cursor
    assert (await models.Job.get(id=job.id)).status is JobStatus.SUCCEEDED
    await assert_month_collected(city)


async def test_the_cron_starts_the_month_end_on_the_last_day_only(city, held_jobs):
    clock.freeze("2026-11-29T23:30:00+08:00")
    assert await month_end_on_last_day({}) is None
    clock.freeze("2026-11-30T23:30:00+08:00")
    job = await month_end_on_last_day({})
    assert job.params == {"month": 202611}
    assert await month_end_on_last_day({}) is None  # a second worker's cron finds it started
    assert await models.Job.filter(kind="MONTH_END").count() == 1


async def test_the_cron_rolls_filings_not_accepted_by_the_20th_over_to_next_month_once():
    from jobs.worker import WorkerSettings  # the schedule: daily at 00:10 local time (M2)

    assert [
        (job.hour, job.minute) for job in WorkerSettings.cron_jobs if job.coroutine is roll_over_unaccepted_filings
    ] == [(0, 10)]
    await factories.average_wage(2026, "8000.00")
    home = await factories.district()
    employer = await factories.employer(home)
    person = await factories.person(await factories.community(home), category=PersonCategory.UNINSURED)
    agent = await factories.viewer(Role.EMPLOYER_AGENT, employer=employer)
    clock.freeze("2026-11-18T10:00:00+08:00")
    filing = await staffing.add_employees(agent, employer.id, [AddLine(person.id_number, D("7000.00"))])

    clock.freeze("2026-11-21T00:10:00+08:00")
    assert await roll_over_unaccepted_filings({}) == 1
    assert await roll_over_unaccepted_filings({}) == 0  # a second run the same day moves nothing
    moved = await models.BusinessTransaction.get(id=filing.id)
    assert moved.effective_month == 202612
    assert [move["reason"] for move in moved.details["effective_month_moves"]] == [
        "not accepted by the 20th: takes effect from 2026-12"
    ]


@pytest.fixture
async def unpaid():
    """A pension at 1.00 and a medical: September paid, October in arrears (one arrear open, one
    ordered), November due; an employee whose declared wage is under the floor."""
    await factories.average_wage(2026, "8000.00")
    home = await factories.community(await factories.district())
    person = await factories.person(home, name="何伟", category=PersonCategory.FLEXIBLE)
    pension = await factories.flexible_pension(person, Month(2026, 9))
    medical = await factories.flexible_medical(person, Month(2026, 9))
    await factories.periods(pension, Month(2026, 9), 1, "8000.00", "0.20", "1600.00")
    october = await factories.periods(
        pension, Month(2026, 10), 1, "8000.00", "0.20", "1600.00", status=PeriodStatus.ARREARS
    )
    await factories.arrears(october)
    october_medical = await factories.periods(
        medical, Month(2026, 10), 1, "8000.00", "0.06", "487.00", status=PeriodStatus.ARREARS
    )
    await factories.arrears(october_medical, status=ArrearStatus.ORDERED)
    await factories.periods(pension, Month(2026, 11), 1, "8000.00", "0.20", "1600.00", status=PeriodStatus.DUE)
    await factories.periods(medical, Month(2026, 11), 1, "8000.00", "0.06", "487.00", status=PeriodStatus.DUE)
    staff = await factories.person(home, name="马强", category=PersonCategory.EMPLOYED)
    employer = await factories.employer(await factories.district())
    await models.Employment.create(person=staff, employer=employer, start_month=202601, declared_wage=D("3000.00"))
    policy = await models.Policy.create(
        person=staff,
        insurance_type=InsuranceType.PENSION,
        channel=Channel.EMPLOYER,
        employer=employer,
        start_month=202601,
    )
    await models.ContributionPeriod.create(
        policy=policy,
        person=staff,
        month=202611,
        insurance_type=InsuranceType.PENSION,
        channel=Channel.EMPLOYER,
        base=D("4800.00"),
        rate=D("0.24"),
        amount=D("1152.00"),
        employer_amount=D("768.00"),
    )
    return person, staff


async def period(person, month: int, insurance_type=InsuranceType.PENSION):
    return await models.ContributionPeriod.get(person_id=person.id, month=month, insurance_type=insurance_type)


async def test_a_corrected_average_wage_reprices_what_is_not_yet_paid(unpaid, held_jobs):
    person, staff = unpaid
    done = (await as_admin(PUBLISH, input={"year": 2026, "averageWage": "8200.00"}))["publishAverageWage"]
    assert done["errors"] == [] and done["parameter"] == {
        "code": "AVERAGE_MONTHLY_WAGE",
        "effectiveFrom": "2026-01",
        "value": "8200",
    }
    assert done["job"]["params"] == {"year": 2026, "average_wage": "8200.00", "first_month": 202601, "last_month": None}
    pending = "{ parameters(code: AVERAGE_MONTHLY_WAGE) { edges { node { pendingJob { id } } } } }"
    assert (await as_admin(pending))["parameters"]["edges"][0]["node"]["pendingJob"] == {"id": done["job"]["id"]}
    await held_jobs.run_all()
    assert (await as_admin(pending))["parameters"]["edges"][0]["node"]["pendingJob"] is None
    assert (await period(person, 202609)).amount == D("1600.00")  # paid: stays
    assert (await period(person, 202610)).amount == D("1640.00")  # 20% of 1.00 x 8200.00
    assert (await models.Arrear.get(person_id=person.id, insurance_type=InsuranceType.PENSION)).principal == D(
        "1640.00"
    )
    assert (await period(person, 202610, InsuranceType.MEDICAL)).amount == D("487.00")  # in a payment order: stays
    assert (await period(person, 202611)).amount == D("1640.00")
    assert (await period(person, 202611, InsuranceType.MEDICAL)).amount == D("499.00")  # 6% of 8200.00 + 7.00
    employed = await period(staff, 202611)
    # 3000.00 is under 60% of 8200.00: the base is 4920.00; 24% of it, 16% the employer's (P4).
    assert (employed.base, employed.amount, employed.employer_amount) == (D("4920.00"), D("1180.80"), D("787.20"))
    job = await models.Job.get(kind="REPRICE_YEAR")
    assert job.result == {"first_month": "2026-01", "last_month": None, "periods_priced_again": 5}


@pytest.mark.parametrize(
    ("year", "amount", "field", "code"),
    [
        (2026, "0.00", "averageWage", "INVALID_AMOUNT"),
        (2026, "-8000.00", "averageWage", "INVALID_AMOUNT"),
        (2026, "8000.00", "averageWage", "INVALID_AMOUNT"),  # already the published value
        (2026, "1000000.01", "averageWage", "INVALID_AMOUNT"),
        (2031, "9000.00", "year", "INVALID_INPUT"),
        (1900, "9000.00", "year", "INVALID_INPUT"),
    ],
)
async def test_bad_wages_are_refused_and_nothing_is_repriced(unpaid, year, amount, field, code):
    refused = (await as_admin(PUBLISH, input={"year": year, "averageWage": amount}))["publishAverageWage"]
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [(field, code)]
    assert await models.Job.all().count() == 0
    assert (await models.Parameter.get(code="AVERAGE_MONTHLY_WAGE", effective_from=202601)).value == D("8000.00")


async def test_arrears_interest_is_refreshed_once_a_day(unpaid, held_jobs):
    started = (await as_admin(REFRESH))["recalculateArrears"]
    assert started["errors"] == []
    await held_jobs.run_all()
    # October to November: one month at 1.5% a year, on 1600.00 and on 487.00 (P5).
    refreshed = {a.insurance_type: (a.interest, a.interest_as_of) for a in await models.Arrear.all()}
    assert refreshed == {InsuranceType.PENSION: (D("2.00"), 202611), InsuranceType.MEDICAL: (D("0.61"), 202611)}
    assert [e["code"] for e in (await as_admin(REFRESH))["recalculateArrears"]["errors"]] == ["JOB_ALREADY_STARTED"]
    clock.freeze("2026-11-11T01:00:00+08:00")
    assert (await nightly_arrears_interest({})).params == {"as_of": 202611}


async def test_job_updates_follow_a_job_until_it_ends(city, held_jobs):
    clock.freeze("2026-11-30T23:30:00+08:00")
    job_id = (await as_admin(RUN, input={"month": "2026-11"}))["runMonthEnd"]["job"]["id"]
    admin = await factories.viewer(Role.ADMIN)
    updates = await schema.subscribe(
        "subscription ($id: ID!) { jobUpdates(id: $id) { status progress } }",
        variable_values={"id": job_id},
        context_value=Context(viewer=admin),
    )
    first = await anext(updates)
    assert first.data == {"jobUpdates": {"status": "QUEUED", "progress": 0.0}}
    await held_jobs.run_all()
    last = await anext(updates)
    assert last.data == {"jobUpdates": {"status": "SUCCEEDED", "progress": 1.0}}
    with pytest.raises(StopAsyncIteration):
        await anext(updates)
    clerk = await factories.viewer(Role.CLERK, community=await factories.community(await factories.district()))
    refused = await schema.subscribe(
        "subscription ($id: ID!) { jobUpdates(id: $id) { status } }",
        variable_values={"id": job_id},
        context_value=Context(viewer=clerk),
    )
    result = refused if not hasattr(refused, "__aiter__") else await anext(refused)
    assert [e.extensions["code"] for e in result.errors] == ["FORBIDDEN"]
    assert encode_id("Job", (await models.Job.get()).id) == job_id


async def test_the_nightly_cron_refreshes_the_dashboards_once_a_day(held_jobs):
    clock.freeze("2026-11-11T02:00:00+08:00")
    job = await nightly_statistics_refresh({})
    assert (job.kind, job.dedupe_key) == (JobKind.REFRESH_STATISTICS, "statistics:2026-11-11")
    assert await nightly_statistics_refresh({}) is None  # another worker's cron found it started

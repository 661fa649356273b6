"""The nightly refresh of the dashboard rollups (Q4): started once a day, the whole window the first
time and then this month and last month, a month at a time, resumable."""

from __future__ import annotations

import pytest
from tortoise.transactions import in_transaction

import models
from domain.enums import InsuranceType, JobKind, JobStatus, Role
from domain.months import Month
from jobs.queue import create_job
from jobs.registry import run_job
from services import statistics
from services.collection import batch
from services.common import clock
from services.statistics import Dimension
from tests import factories

pytestmark = pytest.mark.usefixtures("db")

NOVEMBER = Month(2026, 11)
WINDOW = statistics.rollup_window(NOVEMBER)  # 2023-12 .. 2026-11


@pytest.fixture
async def city():
    """Six flexible pension persons in one district since 2025-06, one of them with an account."""
    district = await factories.district()
    home = await factories.community(district)
    for i in range(6):
        person = await factories.person(home, name=f"居民{i}")
        await factories.flexible_pension(person, Month(2025, 6))
        if i == 0:
            await models.Account.create(username="jumin0", password_hash="x", role=Role.PERSON, person=person)
    return district


async def computed_at() -> dict[int, object]:
    return dict(await models.RollupMonth.all().values_list("month", "computed_at"))


async def test_the_first_run_fills_the_window_and_later_runs_this_month_and_last(city, held_jobs):
    clock.freeze("2026-11-10T02:00:00+08:00")
    job = await batch.start_statistics_refresh(None)
    assert (job.kind, job.status, job.params) == (JobKind.REFRESH_STATISTICS, JobStatus.QUEUED, {"month": 202611})
    await held_jobs.run_all()

    job = await models.Job.get(id=job.id)
    assert job.status is JobStatus.SUCCEEDED, job.error
    assert job.result == {"month": "2026-11", "window": ["2023-12", "2026-11"], "months_held": 36, "districts": 1}
    first = await computed_at()
    assert sorted(first) == [m.to_int() for m in WINDOW]
    assert set(first.values()) == {clock.now()}
    groups = await statistics.enrollment_stats([Dimension.INSURANCE_TYPE])
    assert groups == [statistics.Group(count=6, suppressed=False, insurance_type=InsuranceType.PENSION)]
    assert groups.as_of == clock.now()
    # Months before anyone was insured hold a row of none for the whole city, and nothing else.
    assert await models.EnrollmentRollup.filter(month=202505).values_list("grouping_set", "persons") == [(0, 0)]
    assert await models.OnlineAdoptionRollup.all().values_list("persons", "persons_online") == [(6, 1)]

    with pytest.raises(batch.JobRunning):  # once a day
        await batch.start_statistics_refresh(None)

    clock.freeze("2026-11-11T02:00:00+08:00")
    await batch.start_statistics_refresh(None)
    await held_jobs.run_all()
    second = await computed_at()
    again = {m for m in second if second[m] != first[m]}
    assert again == {202610, 202611}
    assert (
        await statistics.enrollment_stats([Dimension.MONTH], from_month=Month(2026, 9), to_month=NOVEMBER)
    ).as_of == first[202609]


async def test_a_new_month_is_added_and_a_missing_month_filled(city, held_jobs):
    clock.freeze("2026-11-10T02:00:00+08:00")
    await batch.start_statistics_refresh(None)
    await held_jobs.run_all()
    await models.RollupMonth.filter(month=202501).delete()  # as if that month had been lost

    clock.freeze("2026-12-01T02:00:00+08:00")
    await batch.start_statistics_refresh(None)
    await held_jobs.run_all()

    refreshed = {m for m, at in (await computed_at()).items() if at == clock.now()}
    assert refreshed == {202501, 202611, 202612}
    assert (await models.Job.filter(kind=JobKind.REFRESH_STATISTICS).order_by("-created_at").first()).result[
        "window"
    ] == ["2024-01", "2026-12"]


async def test_a_refresh_killed_half_way_goes_on_from_the_last_month_committed(city, held_jobs, monkeypatch):
    clock.freeze("2026-11-10T02:00:00+08:00")
    real_refresh, done = statistics.refresh_month, []

    async def failing_on_the_tenth_month(month):
        done.append(month)
        if len(done) == 10:
            raise ValueError("a month counted twice")  # no retry mends it, unlike a lost connection
        return await real_refresh(month)

    monkeypatch.setattr(statistics, "refresh_month", failing_on_the_tenth_month)
    job = await batch.start_statistics_refresh(None)
    await held_jobs.run_all()
    job = await models.Job.get(id=job.id)
    failed, cursor = done[9], job.result["after"]
    assert job.status is JobStatus.FAILED and cursor < failed.to_int()
    assert await models.RollupMonth.all().count() >= 8  # the months committed stay

    clock.freeze("2026-11-10T02:30:00+08:00")
    restarted = await batch.start_statistics_refresh(None)  # the failed job, queued again
    assert restarted.id == job.id
    await held_jobs.run_all()
    rerun = done[10:]
    assert failed in rerun and all(month.to_int() > cursor for month in rerun)
    assert (await models.Job.get(id=job.id)).status is JobStatus.SUCCEEDED
    assert sorted(await computed_at()) == [m.to_int() for m in WINDOW]


async def test_a_month_is_replaced_whole_or_not_at_all(city, monkeypatch):
    clock.freeze("2026-11-10T02:00:00+08:00")
    async with in_transaction():
        await statistics.refresh_month(NOVEMBER)
    before = await models.EnrollmentRollup.filter(month=202611).values_list("grouping_set", "persons")
    person = await factories.person(await models.Community.first(), name="新人")
    await factories.flexible_pension(person, Month(2026, 10))

    def broken(*args):
        raise ConnectionError("the database went away")

    monkeypatch.setattr(statistics, "_submitted_in", broken)  # after the month's persons, before its volume
    clock.freeze("2026-11-11T02:00:00+08:00")
    with pytest.raises(ConnectionError):
        async with in_transaction():
            await statistics.refresh_month(NOVEMBER)

    assert await models.EnrollmentRollup.filter(month=202611).values_list("grouping_set", "persons") == before
    assert (await models.RollupMonth.get(month=202611)).computed_at == clock.parse_moment("2026-11-10T02:00:00+08:00")
    assert (await statistics.enrollment_stats([])).as_of < clock.now()


async def test_the_whole_window_is_counted_again_when_asked(city, held_jobs):
    clock.freeze("2026-11-10T02:00:00+08:00")
    await batch.start_statistics_refresh(None)
    await held_jobs.run_all()

    clock.freeze("2026-11-10T14:00:00+08:00")  # after a correction of older records
    job = await create_job(JobKind.REFRESH_STATISTICS, {"month": 202611, "whole_window": True})
    await run_job({}, str(job.id))

    assert set((await computed_at()).values()) == {clock.now()}
    assert len(await computed_at()) == 36

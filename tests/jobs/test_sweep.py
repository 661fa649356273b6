"""The database is the jobs' source of truth: a change is answered as done once it has committed,
whatever the queue says (docs/api.md 12); a job the queue never got, or lost, is queued by a worker's
sweep; a silent job is taken over, in real time even with the application clock held; an attempt
failing for a transient reason is tried again up to JOB_MAX_TRIES."""

from __future__ import annotations

import asyncio
import datetime as dt

import asyncpg
import pytest

import models
from domain.enums import JobKind, JobStatus, PersonCategory, Role
from jobs import registry, runner
from jobs.cron import nightly_statistics_refresh
from jobs.queue import ArqQueue, InProcessQueue, start_job, use_queue
from jobs.runner import queue_waiting_jobs, wall_clock
from services.common import clock
from settings import Settings
from tests import factories
from tests.graphql_client import data

pytestmark = pytest.mark.usefixtures("db")

REDIS_DOWN = "redis://127.0.0.1:1/0"
PUBLISH = """mutation ($input: PublishAverageWageInput!) { publishAverageWage(input: $input) {
  parameter { value } job { status } errors { code } } }"""
RUN = """mutation ($input: RunMonthEndInput!) { runMonthEnd(input: $input) { job { status } errors { code } } }"""
REFRESH = """mutation { recalculateArrears(input: {}) { job { status } errors { code } } }"""
ENROLL = """mutation ($input: EnrollFlexibleInput!) { enrollFlexible(input: $input) {
  cardApplication { status } errors { code } } }"""
CARD = """mutation ($input: ApplyMedicalCardInput!) { applyMedicalCard(input: $input) {
  cardApplication { status } errors { code } } }"""


@pytest.fixture
def job_function(monkeypatch):
    """Run RECALCULATE_ARREARS jobs with the function given, for this test only."""
    return lambda function: monkeypatch.setitem(registry.JOB_FUNCTIONS, JobKind.RECALCULATE_ARREARS, function)


@pytest.fixture
def in_process(monkeypatch):
    monkeypatch.setattr(runner, "retry_delay", lambda attempt: 0)
    queue = InProcessQueue(registry.run_job)
    use_queue(queue)
    yield queue
    use_queue(None)


async def statuses() -> dict[str, str]:
    return {job.kind.value: job.status.value for job in await models.Job.all()}


async def test_every_change_is_answered_done_while_redis_is_down_and_its_job_is_swept_later(held_jobs, job_settings):
    clock.freeze("2026-11-30T10:00:00+08:00")  # a month's last day: its month-end may start
    await factories.average_wage(2026, "8000.00")
    home = await factories.community(await factories.district())
    person = await factories.person(home, name="陈静", category=PersonCategory.UNINSURED)
    me, admin = await factories.viewer(Role.PERSON, person=person), await factories.viewer(Role.ADMIN)
    down = ArqQueue(Settings(database_url="sqlite://:memory:", redis_url=REDIS_DOWN))
    use_queue(down)

    published = await data(PUBLISH, viewer=admin, input={"year": 2026, "averageWage": "8200.00"})
    month_end = await data(RUN, viewer=admin, input={"month": "2026-11"})
    interest = await data(REFRESH, viewer=admin)
    enrolled = await data(ENROLL, viewer=me, input={"insuranceTypes": ["MEDICAL"], "photo": factories.photo()})
    card = await data(CARD, viewer=me, input={"photo": factories.photo("PNG")})
    statistics = await nightly_statistics_refresh({})

    done_with_its_job_queued = {"job": {"status": "QUEUED"}, "errors": []}
    assert published["publishAverageWage"] == {"parameter": {"value": "8200"}, **done_with_its_job_queued}
    assert month_end["runMonthEnd"] == interest["recalculateArrears"] == done_with_its_job_queued
    photo_to_check = {"cardApplication": {"status": "PHOTO_PENDING"}, "errors": []}
    assert enrolled["enrollFlexible"] == card["applyMedicalCard"] == photo_to_check
    assert statistics.status is JobStatus.QUEUED
    assert await models.Job.filter(status=JobStatus.QUEUED).count() == 6

    use_queue(held_jobs)  # Redis is back
    job_settings(job_sweep_seconds=0)
    assert await queue_waiting_jobs() == 6
    await held_jobs.run_all()
    assert set((await statuses()).values()) == {"SUCCEEDED"}


async def test_a_stalled_redis_does_not_hold_a_committed_change(held_jobs):
    """A Redis that takes connections and answers nothing, as a paused one does."""
    silent = await asyncio.start_server(lambda reader, writer: None, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    stalled = ArqQueue(Settings(database_url="sqlite://:memory:", redis_url=f"redis://127.0.0.1:{port}/0"))
    use_queue(stalled)
    admin = await factories.viewer(Role.ADMIN)
    try:
        async with asyncio.timeout(30):  # a bound: before the fix the request waited for ever
            published = await data(PUBLISH, viewer=admin, input={"year": 2026, "averageWage": "8200.00"})
    finally:
        use_queue(held_jobs)
        await stalled.close()
        silent.close()
    assert published["publishAverageWage"]["errors"] == []
    assert published["publishAverageWage"]["job"] == {"status": "QUEUED"}


async def test_a_job_the_queue_lost_is_queued_again_by_the_sweep(held_jobs, job_function, job_settings):
    async def quick(job, progress):
        return {"ran": True}

    job_function(quick)
    job = await start_job(JobKind.RECALCULATE_ARREARS, {})
    held_jobs.job_ids.clear()  # Redis flushed
    assert await queue_waiting_jobs() == 0  # waiting less than a sweep: its own enqueue is trusted
    job_settings(job_sweep_seconds=0)
    assert await queue_waiting_jobs() == 1
    await held_jobs.run_all()
    assert (await models.Job.get(id=job.id)).status is JobStatus.SUCCEEDED


async def start_and_kill(job: models.Job) -> None:
    """Run the job until its first heartbeat, then kill its runner, as a SIGKILL would: the row
    stays RUNNING with the heartbeat of the dead attempt."""
    runner_task = asyncio.create_task(registry.run_job({}, str(job.id)))

    async def beating():
        return (await models.Job.get(id=job.id)).progress > 0

    for _ in range(200):
        if await beating():
            break
        await asyncio.sleep(0.01)
    runner_task.cancel()
    await asyncio.gather(runner_task, return_exceptions=True)


async def test_a_silent_job_is_taken_over_though_the_application_clock_is_held(held_jobs, job_function, job_settings):
    """The conftest holds the clock at 2026-11-10 10:00 (as SHEBAO_NOW does): heartbeats and
    staleness are in real time, so that a dead attempt's heartbeat ages all the same."""
    attempts = []

    async def dies_the_first_time(job, progress):
        attempts.append(job.attempts)
        await progress(0.5)
        if job.attempts == 1:
            await asyncio.Event().wait()  # until killed
        return {"finished_by_attempt": job.attempts}

    job_function(dies_the_first_time)
    job = await start_job(JobKind.RECALCULATE_ARREARS, {})
    held_jobs.job_ids.clear()
    await start_and_kill(job)
    assert (await models.Job.get(id=job.id)).status is JobStatus.RUNNING
    assert await queue_waiting_jobs() == 0  # silent for less than JOB_STALE_SECONDS (120)

    job_settings(job_stale_seconds=0)  # any silence is death
    assert await queue_waiting_jobs() == 1
    await held_jobs.run_all()
    done = await models.Job.get(id=job.id)
    assert (done.status, done.attempts, done.result) == (JobStatus.SUCCEEDED, 2, {"finished_by_attempt": 2})
    assert attempts == [1, 2]


async def test_a_runner_whose_job_was_taken_over_stops_and_writes_nothing(held_jobs, job_function, job_settings):
    first_may_go_on = asyncio.Event()
    steps = []

    async def two_halves(job, progress):
        await progress(0.5)
        steps.append((job.attempts, "first half"))
        if job.attempts == 1:
            await first_may_go_on.wait()
        await progress(1.0)  # the first attempt learns here that the job was taken over
        steps.append((job.attempts, "second half"))
        return {"finished_by_attempt": job.attempts}

    job_function(two_halves)
    job = await start_job(JobKind.RECALCULATE_ARREARS, {})
    held_jobs.job_ids.clear()
    first = asyncio.create_task(registry.run_job({}, str(job.id)))
    while not steps:
        await asyncio.sleep(0.01)
    job_settings(job_stale_seconds=0)  # the first attempt is taken to be dead, though it is not
    assert await queue_waiting_jobs() == 1
    await held_jobs.run_all()
    first_may_go_on.set()
    assert await first == "RUNNING"

    done = await models.Job.get(id=job.id)
    assert (done.status, done.attempts, done.result) == (JobStatus.SUCCEEDED, 2, {"finished_by_attempt": 2})
    assert steps == [(1, "first half"), (2, "first half"), (2, "second half")]


def lost_in_a_transaction() -> Exception:
    """What a chunk's transaction raises when PostgreSQL goes away: its rollback fails on the
    connection whose loss failed the work."""
    try:
        raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")
    except asyncpg.ConnectionDoesNotExistError:
        try:
            raise asyncpg.InterfaceError("cannot call Transaction.rollback(): the underlying connection is closed")
        except asyncpg.InterfaceError as rollback:
            return rollback


@pytest.mark.parametrize(
    "failure",
    [
        ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        lost_in_a_transaction(),
    ],
    ids=["refused", "starting-up", "lost-in-a-transaction"],
)
async def test_an_attempt_failing_for_a_transient_reason_is_tried_again(in_process, job_function, failure):
    async def fails_once(job, progress):
        if job.attempts == 1:
            raise failure
        return {"ok": True}

    job_function(fails_once)
    job = await start_job(JobKind.RECALCULATE_ARREARS, {})
    await in_process.drain()
    done = await models.Job.get(id=job.id)
    assert (done.status, done.attempts, done.result) == (JobStatus.SUCCEEDED, 2, {"ok": True})


async def test_a_transient_failure_is_tried_job_max_tries_times_then_the_job_fails(in_process, job_function):
    async def database_gone(job, progress):
        raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")

    job_function(database_gone)
    job = await start_job(JobKind.RECALCULATE_ARREARS, {})
    await in_process.drain()
    done = await models.Job.get(id=job.id)
    assert (done.status, done.attempts) == (JobStatus.FAILED, 5)
    assert done.error == "gave up after 5 attempts: [Errno 111] Connect call failed ('127.0.0.1', 5432)"


async def test_a_silent_job_without_attempts_left_fails_with_the_reason(held_jobs, job_settings):
    job = await models.Job.create(
        kind=JobKind.RECALCULATE_ARREARS,
        status=JobStatus.RUNNING,
        attempts=5,
        heartbeat_at=wall_clock() - dt.timedelta(hours=1),
    )
    assert await queue_waiting_jobs() == 0
    failed = await models.Job.get(id=job.id)
    assert (failed.status, failed.attempts) == (JobStatus.FAILED, 5)
    assert failed.error == "gave up after 5 attempts: the last one stopped answering"
    assert held_jobs.job_ids == []


async def test_a_job_given_back_for_a_retry_waits_out_its_delay_before_the_sweep_hands_it_on(held_jobs, job_settings):
    job_settings(job_sweep_seconds=0)
    given_back = await models.Job.create(
        kind=JobKind.RECALCULATE_ARREARS, attempts=3, heartbeat_at=wall_clock(), error="attempt 3 failed, will retry"
    )
    assert await queue_waiting_jobs() == 0  # arq holds its retry, 8 s off
    await models.Job.filter(id=given_back.id).update(heartbeat_at=wall_clock() - dt.timedelta(seconds=9))
    assert await queue_waiting_jobs() == 1 and held_jobs.job_ids == [str(given_back.id)]

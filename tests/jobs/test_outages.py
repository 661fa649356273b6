"""The database is the jobs' source of truth, whatever befalls the workers, Redis or PostgreSQL:
on PostgreSQL and Redis, with real arq worker processes killed, paused and cut off, Redis flushed
or down (a Redis of the test's own), and PostgreSQL cut off through a proxy of the test's own."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from starlette.applications import Starlette

import models
from domain.enums import (
    CardApplicationStatus,
    JobKind,
    JobStatus,
    LedgerKind,
    ParameterCode,
    PeriodStatus,
    PersonCategory,
    Role,
)
from domain.months import Month
from jobs.queue import ArqQueue, start_job, use_queue
from server.health import health_routes
from settings import Settings
from tests import factories
from tests.graphql_client import data
from tests.jobs.faults import OwnRedis, TcpProxy, needs_postgres_and_redis, wait_for, worker_environment, workers
from tests.jobs.test_batch_jobs import expected_after

pytestmark = [
    pytest.mark.usefixtures("db"),
    pytest.mark.skipif(not needs_postgres_and_redis(), reason="needs PostgreSQL and Redis"),
]
D = Decimal
PERSONS = 100
OUTAGE_PERSONS = 60
HELD_CLOCK = "2026-11-10T10:00:00+08:00"  # SHEBAO_NOW: the application clock held, as in a demo
PUBLISH = """mutation ($input: PublishAverageWageInput!) { publishAverageWage(input: $input) {
  parameter { value } job { id status } errors { code message } } }"""
CARD = """mutation Card($input: ApplyMedicalCardInput!) { applyMedicalCard(input: $input) {
  cardApplication { id status } errors { field code message } } }"""

needs_own_redis = pytest.mark.skipif(not OwnRedis.available(), reason="needs redis-server to start a Redis of its own")


async def job_state(job_id) -> models.Job:
    return await models.Job.get(id=job_id)


def finished(job_id):
    async def condition() -> models.Job | None:
        job = await job_state(job_id)
        return job if job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED) else None

    return condition


def running_past(job_id, share: float):
    async def condition() -> models.Job | None:
        job = await job_state(job_id)
        return job if job.status is JobStatus.RUNNING and job.progress >= share else None

    return condition


@pytest.fixture
async def unpaid_year():
    """Persons whose eleven months of 2026 are DUE, priced at an average wage of 8000.00."""
    await factories.average_wage(2026, "8000.00")
    home = await factories.community(await factories.district())
    for number in range(PERSONS):
        person = await factories.person(home, name=f"居民{number}", category=PersonCategory.FLEXIBLE)
        pension = await factories.flexible_pension(person, Month(2026, 1))
        await factories.periods(pension, Month(2026, 1), 11, "8000.00", "0.20", "1600.00", status=PeriodStatus.DUE)


async def assert_repriced() -> None:
    """Every month priced again at the corrected wage of 8200.00: 20% of it."""
    amounts = await models.ContributionPeriod.all().values_list("amount", flat=True)
    assert len(amounts) == 11 * PERSONS and set(amounts) == {D("1640.00")}


@pytest.fixture
def arq_queue(arq_settings):
    queue = ArqQueue(arq_settings)
    use_queue(queue)
    yield queue
    use_queue(None)


async def test_a_live_worker_takes_over_a_repricing_whose_worker_was_killed(
    unpaid_year, arq_settings, arq_queue, tmp_path: Path
):
    """The second worker was up before the first died, and the clock is held (SHEBAO_NOW): its
    periodic sweep finds the silent job all the same, and the job ends as a clean run would."""
    environment = worker_environment(
        arq_settings.database_url,
        arq_settings.redis_url,
        arq_settings.job_queue_name,
        job_stale_seconds=1,
        job_sweep_seconds=0.2,
        shebao_now=HELD_CLOCK,
    )
    await models.Parameter.filter(code=ParameterCode.AVERAGE_MONTHLY_WAGE, effective_from=202601).update(
        value=D("8200.00")
    )
    async with workers(environment, tmp_path) as start_worker:
        first, second = start_worker(), start_worker()
        await first.started()
        await second.started()
        second.pause()  # so that the first takes the job
        params = {"year": 2026, "average_wage": "8200.00", "first_month": 202601, "last_month": None, "chunk": 5}
        job = await start_job(JobKind.REPRICE_YEAR, params)
        await wait_for(running_past(job.id, 0.2))
        second.resume()
        await first.kill()
        killed = await job_state(job.id)
        assert killed.status is JobStatus.RUNNING and killed.progress < 1.0

        done = await wait_for(finished(job.id))

    assert (done.status, done.attempts) == (JobStatus.SUCCEEDED, 2)
    assert done.result["periods_priced_again"] == 11 * PERSONS
    await assert_repriced()


def through(database_url: str, port: int) -> str:
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{port}"))


async def test_a_month_end_cut_off_from_the_database_is_retried_and_ends_exact(arq_settings, arq_queue, tmp_path: Path):
    """PostgreSQL goes away under a running month-end: the attempt fails, the job says it will
    retry once the database answers again, and the next attempt ends it with the ledger of a clean run."""
    await factories.average_wage(2026, "8000.00")
    home = await factories.community(await factories.district())
    people = []
    for number in range(OUTAGE_PERSONS):
        person = await factories.person(home, name=f"居民{number}", category=PersonCategory.FLEXIBLE)
        await factories.flexible_pension(person, Month(2026, 1))
        await factories.flexible_medical(person, Month(2026, 1))
        opening = Decimal(number * 37 % 3000)
        book = await factories.passbook(person, [(f"OPEN-{number}", str(opening))] if opening else [])
        people.append((book, opening.quantize(Decimal("0.01"))))

    proxy = TcpProxy(urlsplit(arq_settings.database_url).port or 5432)
    await proxy.start()
    environment = worker_environment(
        through(arq_settings.database_url, proxy.port),
        arq_settings.redis_url,
        arq_settings.job_queue_name,
        job_stale_seconds=60,  # no sweep takes the job over during this test: the retry must
        job_sweep_seconds=0.2,
    )
    try:
        async with workers(environment, tmp_path) as start_worker:
            start_worker()
            job = await start_job(JobKind.MONTH_END, {"month": 202611, "chunk": 1}, dedupe_key="month-end:202611")
            await wait_for(running_past(job.id, 0.2))
            await proxy.cut()
            cut_off = await job_state(job.id)
            await asyncio.sleep(1.5)  # the outage lasts a moment: the worker finds it down
            await proxy.restore()

            async def given_back() -> models.Job | None:
                found = await job_state(job.id)
                return found if found.status is not JobStatus.RUNNING else None

            retrying = await wait_for(given_back)
            done = await wait_for(finished(job.id))
    finally:
        await proxy.close()

    assert cut_off.status is JobStatus.RUNNING and cut_off.progress < 1.0
    assert (retrying.status, retrying.attempts) == (JobStatus.QUEUED, 1)
    assert retrying.error.startswith("attempt 1 failed, will retry: ")
    assert (done.status, done.attempts, done.error) == (JobStatus.SUCCEEDED, 2, None)
    paid_total = 0
    for book, opening in people:
        balance, paid = expected_after(opening)
        paid_total += paid
        assert (await models.Passbook.get(id=book.id)).balance == balance
    debits = await models.LedgerEntry.filter(kind=LedgerKind.CONTRIBUTION_DEBIT, month=202611).count()
    assert debits == paid_total
    assert await models.Arrear.filter(month=202611).count() == 2 * OUTAGE_PERSONS - paid_total


def own_settings(test_settings: Settings, redis: OwnRedis, **overrides) -> Settings:
    return Settings(
        database_url=test_settings.database_url,
        redis_url=redis.url,
        job_queue_name=f"shebao:test:{uuid.uuid4().hex}",
        **overrides,
    )


async def readiness(settings: Settings) -> dict:
    app = Starlette(routes=health_routes(settings))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hall") as client:
        response = await client.get("/readyz")
    assert response.status_code == 200
    return response.json()


@needs_own_redis
async def test_a_photo_check_lost_in_a_redis_flush_is_run_and_readiness_shows_it_waiting(
    test_settings: Settings, tmp_path: Path
):
    home = await factories.community(await factories.district())
    person = await factories.person(home, name="林娜", male=False, category=PersonCategory.FLEXIBLE)
    await factories.flexible_medical(person, Month(2026, 1))
    me = await factories.viewer(Role.PERSON, person=person)
    redis = OwnRedis()
    await redis.start()
    settings = own_settings(test_settings, redis, job_queued_degraded_seconds=0)
    queue = ArqQueue(settings)
    use_queue(queue)
    environment = worker_environment(settings.database_url, redis.url, settings.job_queue_name, job_sweep_seconds=0.2)
    try:
        async with workers(environment, tmp_path) as start_worker:
            worker = start_worker()
            await worker.started()
            worker.pause()
            applied = (await data(CARD, viewer=me, input={"photo": factories.face_photo()}))["applyMedicalCard"]
            assert applied["errors"] == [] and applied["cardApplication"]["status"] == "PHOTO_PENDING"
            job = await models.Job.get(kind=JobKind.CARD_PHOTO)
            async with redis.client() as client:
                assert await client.zcard(settings.job_queue_name) == 1
            await redis.flushall()
            async with redis.client() as client:
                assert await client.zcard(settings.job_queue_name) == 0
            lost = await readiness(settings)
            worker.resume()
            done = await wait_for(finished(job.id))
            after = await readiness(settings)
    finally:
        use_queue(None)
        await queue.close()
        redis.stop()

    assert lost["status"] == "degraded" and lost["checks"]["jobs"]["status"] == "degraded"
    assert lost["checks"]["jobs"]["oldestQueuedSeconds"] >= 0
    assert (done.status, done.result["status"]) == (JobStatus.SUCCEEDED, "PHOTO_ACCEPTED")
    application = await models.MedicalCardApplication.get(person_id=person.id)
    assert application.status is CardApplicationStatus.PHOTO_ACCEPTED
    assert after["status"] == "ok" and after["checks"]["jobs"] == {"status": "ok", "oldestQueuedSeconds": None}


@needs_own_redis
async def test_a_wage_published_while_redis_is_down_is_answered_done_and_repriced_once_redis_is_back(
    unpaid_year, test_settings: Settings, tmp_path: Path
):
    admin = await factories.viewer(Role.ADMIN)
    redis = OwnRedis()  # not started yet: Redis is down
    settings = own_settings(test_settings, redis)
    queue = ArqQueue(settings)
    use_queue(queue)
    try:
        published = (await data(PUBLISH, viewer=admin, input={"year": 2026, "averageWage": "8200.00"}))[
            "publishAverageWage"
        ]
        job = await models.Job.get(kind=JobKind.REPRICE_YEAR)
        waiting = job.status
        await redis.start()
        environment = worker_environment(
            settings.database_url, redis.url, settings.job_queue_name, job_sweep_seconds=0.2
        )
        async with workers(environment, tmp_path) as start_worker:
            start_worker()
            done = await wait_for(finished(job.id))
    finally:
        use_queue(None)
        await queue.close()
        redis.stop()

    assert published["errors"] == [] and published["parameter"] == {"value": "8200"}
    assert published["job"]["status"] == "QUEUED" and waiting is JobStatus.QUEUED
    assert (done.status, done.attempts) == (JobStatus.SUCCEEDED, 1)
    await assert_repriced()

"""The job layer: a Job record follows its work, in-process and through a real arq worker."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

import models
from domain.enums import JobKind, JobStatus
from jobs import registry, runner
from jobs.queue import ArqQueue, InProcessQueue, JobAlreadyStarted, start_job, use_queue
from resolvers.inputs import encode_id
from tests.graphql_client import data

pytestmark = pytest.mark.usefixtures("db")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def in_process():
    queue = InProcessQueue(registry.run_job)
    use_queue(queue)
    yield queue
    use_queue(None)


@pytest.fixture
def job_function(monkeypatch):
    """Run RECALCULATE_ARREARS jobs with the function given, for this test only."""
    return lambda function: monkeypatch.setitem(registry.JOB_FUNCTIONS, JobKind.RECALCULATE_ARREARS, function)


async def test_a_job_reports_progress_and_its_result(in_process, job_function):
    seen = []

    async def count_to_four(job, progress):
        for step in range(1, 5):
            await progress(step / 4)
            seen.append((await models.Job.get(id=job.id)).progress)
        return {"counted": 4, "asked": job.params["upto"]}

    job_function(count_to_four)
    job = await start_job(JobKind.RECALCULATE_ARREARS, {"upto": 4})
    await in_process.drain()

    assert seen == [0.25, 0.5, 0.75, 1.0]
    read = (
        await data(
            "query($id: ID!) { job(id: $id) { kind status progress result error attempts } }",
            id=encode_id("Job", job.id),
        )
    )["job"]
    assert read == {
        "kind": "RECALCULATE_ARREARS",
        "status": "SUCCEEDED",
        "progress": 1.0,
        "result": {"counted": 4, "asked": 4},
        "error": None,
        "attempts": 1,
    }


async def test_a_transient_failure_is_retried_then_succeeds(in_process, job_function, monkeypatch):
    monkeypatch.setattr(runner, "retry_delay", lambda attempt: 0)
    attempts = []

    async def flaky(job, progress):
        attempts.append(job.attempts)
        if len(attempts) < 3:
            raise runner.TransientJobError("database restarting")
        return {"ok": True}

    job_function(flaky)
    job = await start_job(JobKind.RECALCULATE_ARREARS, {})
    await in_process.drain()
    job = await models.Job.get(id=job.id)
    assert attempts == [1, 2, 3] and job.status == JobStatus.SUCCEEDED and job.attempts == 3


async def test_an_error_fails_the_job_with_a_reason_and_the_runner_goes_on(in_process, job_function):
    async def broken(job, progress):
        raise ValueError("average wage for 2026 is not published")

    job_function(broken)
    failed = await start_job(JobKind.RECALCULATE_ARREARS, {})
    await in_process.drain()
    job = await models.Job.get(id=failed.id)
    assert job.status == JobStatus.FAILED and job.error == "average wage for 2026 is not published"
    assert job.finished_at is not None


async def test_a_deduplicated_job_cannot_start_twice(in_process, job_function):
    async def quick(job, progress):
        return {}

    job_function(quick)
    first = await start_job(JobKind.RECALCULATE_ARREARS, {}, dedupe_key="month-end:2026-10")
    with pytest.raises(JobAlreadyStarted) as refused:
        await start_job(JobKind.RECALCULATE_ARREARS, {}, dedupe_key="month-end:2026-10")
    assert refused.value.job.id == first.id
    await in_process.drain()
    assert await models.Job.all().count() == 1


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (REDIS_URL)")
async def test_a_real_arq_worker_runs_queued_jobs_against_the_database(arq_settings):
    settings = arq_settings
    queue_name = settings.job_queue_name
    environment = {**os.environ, "DATABASE_URL": settings.database_url, "JOB_QUEUE_NAME": queue_name}
    worker = subprocess.Popen(
        [sys.executable, "main.py", "worker"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    queue = ArqQueue(settings)
    use_queue(queue)
    try:
        # Photo checks of applications that do not exist: the worker must take each job, record
        # its failure with the reason, and keep running.
        jobs = [await start_job(JobKind.CARD_PHOTO, {"application_id": n}) for n in (1001, 1002, 1003)]
        for _ in range(100):
            states = {job.status for job in await models.Job.filter(id__in=[j.id for j in jobs])}
            if states == {JobStatus.FAILED}:
                break
            await asyncio.sleep(0.1)
        finished = await models.Job.filter(id__in=[j.id for j in jobs])
        assert sorted(job.error for job in finished) == [
            f"medical-card application {n} does not exist" for n in (1001, 1002, 1003)
        ]
        assert worker.poll() is None, "the worker stopped"
    finally:
        use_queue(None)
        await queue.close()
        worker.terminate()
        worker.wait(timeout=10)

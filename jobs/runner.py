"""Running one Job: the same code under an arq worker and under the in-process runner.

A job function receives its Job and a progress callback, does its work through the services,
and returns a JSON-serialisable result. It must be idempotent: a retried or restarted job runs
it again from the start.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from arq.worker import Retry

import models
from domain.enums import JobKind, JobStatus
from services import clock
from settings import get_settings

log = logging.getLogger(__name__)

Progress = Callable[[float], Awaitable[None]]
JobFunction = Callable[[models.Job, Progress], Awaitable[dict[str, Any]]]
JOB_FUNCTIONS: dict[JobKind, JobFunction] = {}


class TransientJobError(Exception):
    """A failure worth retrying later (a lost connection, a lock timeout)."""


def job_function(kind: JobKind) -> Callable[[JobFunction], JobFunction]:
    def register(function: JobFunction) -> JobFunction:
        JOB_FUNCTIONS[kind] = function
        return function

    return register


def retry_delay(attempt: int) -> int:
    """Seconds before attempt ``attempt + 1``: 2, 4, 8... at most five minutes."""
    return min(2**attempt, 300)


async def run_job(ctx: dict[str, Any], job_id: str) -> str:
    """Run the Job ``job_id`` once; a finished job is left as it is."""
    job = await models.Job.get_or_none(id=job_id)
    if job is None:
        log.warning("job %s does not exist", job_id)
        return "missing"
    if job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
        return job.status.value
    job.status, job.started_at, job.attempts = JobStatus.RUNNING, clock.now(), job.attempts + 1
    await job.save(update_fields=["status", "started_at", "attempts"])

    async def report(progress: float) -> None:
        job.progress = min(max(progress, 0.0), 1.0)
        await job.save(update_fields=["progress"])

    function = JOB_FUNCTIONS.get(job.kind)
    try:
        if function is None:
            raise LookupError(f"no job function runs {job.kind.value} jobs")
        result = await function(job, report)
    except TransientJobError as exc:
        if job.attempts < get_settings().job_max_tries:
            job.status, job.error = JobStatus.QUEUED, f"attempt {job.attempts} failed, will retry: {exc}"
            await job.save(update_fields=["status", "error"])
            raise Retry(defer=retry_delay(job.attempts)) from exc
        await _finish(job, JobStatus.FAILED, error=f"gave up after {job.attempts} attempts: {exc}")
    except Exception as exc:
        log.exception("job %s (%s) failed", job_id, job.kind.value)
        await _finish(job, JobStatus.FAILED, error=str(exc) or type(exc).__name__)
    else:
        await _finish(job, JobStatus.SUCCEEDED, result=result)
    return job.status.value


async def _finish(job: models.Job, status: JobStatus, result: dict | None = None, error: str | None = None) -> None:
    job.status, job.result, job.error, job.finished_at = status, result, error, clock.now()
    if status is JobStatus.SUCCEEDED:
        job.progress = 1.0
    await job.save(update_fields=["status", "result", "error", "finished_at", "progress"])

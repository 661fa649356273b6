"""Running one Job: the same code under an arq worker and under the in-process queue, both given
the table of job functions by jobs.registry (which imports the job modules, which import this one).

A job function receives its Job and a progress callback, does its work through the services,
and returns a JSON-serialisable result. It must be idempotent: a retried or restarted job runs it
again, from the start or from a cursor it keeps in its result. Each progress report is also the
attempt's heartbeat: a RUNNING job silent for JOB_STALE_SECONDS is taken to be dead, and the next
worker to start runs it again: ``queue_waiting_jobs`` queues it, and the claim lets one runner have it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from arq.worker import Retry
from tortoise.expressions import F, Q

import models
from domain.enums import JobKind, JobStatus
from jobs.queue import job_queue
from services.common import clock
from settings import get_settings

log = logging.getLogger(__name__)

Progress = Callable[[float], Awaitable[None]]
JobFunction = Callable[[models.Job, Progress], Awaitable[dict[str, Any]]]
JobFunctions = Mapping[JobKind, JobFunction]


class TransientJobError(Exception):
    """A failure worth retrying later (a lost connection, a lock timeout)."""


def retry_delay(attempt: int) -> int:
    """Seconds before attempt ``attempt + 1``: 2, 4, 8... at most five minutes."""
    return min(2**attempt, 300)


async def run_job(job_id: str, functions: JobFunctions) -> str:
    """Run the Job ``job_id`` once with its kind's function in ``functions``, unless it is finished
    or another runner has it alive."""
    job = await models.Job.get_or_none(id=job_id)
    if job is None:
        log.warning("job %s does not exist", job_id)
        return "missing"
    if not await _claim(job):
        return job.status.value

    async def report(progress: float) -> None:
        job.progress, job.heartbeat_at = min(max(progress, 0.0), 1.0), clock.now()
        await job.save(update_fields=["progress", "heartbeat_at", "result"])  # the result holds a cursor

    function = functions.get(job.kind)
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


def stale_before() -> dt.datetime:
    """A RUNNING attempt silent since before this moment is taken to be dead (its worker killed)."""
    return clock.now() - dt.timedelta(seconds=get_settings().job_stale_seconds)


def claimable() -> Q:
    """Jobs waiting for a runner: QUEUED, or RUNNING without a sign of life."""
    return Q(status=JobStatus.QUEUED) | Q(status=JobStatus.RUNNING, heartbeat_at__lt=stale_before())


async def queue_waiting_jobs() -> int:
    """Queue again every job still QUEUED (its enqueue failed, or Redis lost it) or RUNNING without
    a sign of life (its worker was killed). Running a job twice is refused by the claim."""
    waiting = await models.Job.filter(claimable()).values_list("id", "attempts")
    for job_id, attempts in waiting:
        await job_queue().enqueue(str(job_id), attempts)
    return len(waiting)


async def _claim(job: models.Job) -> bool:
    """Take the job for this runner if it is claimable. One conditional update, so that two runners
    handed the same job never both run it."""
    now = clock.now()
    taken = await models.Job.filter(claimable(), id=job.id).update(
        status=JobStatus.RUNNING, started_at=now, heartbeat_at=now, attempts=F("attempts") + 1
    )
    await job.refresh_from_db()
    return taken == 1


async def _finish(job: models.Job, status: JobStatus, result: dict | None = None, error: str | None = None) -> None:
    """A failed job keeps the cursor in its result, so that a restart goes on from there."""
    job.status, job.error, job.finished_at = status, error, clock.now()
    if result is not None:
        job.result = result
    if status is JobStatus.SUCCEEDED:
        job.progress = 1.0
    await job.save(update_fields=["status", "result", "error", "finished_at", "progress"])

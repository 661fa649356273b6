"""Running one Job: the same code under an arq worker and under the in-process queue, both given
the table of job functions by jobs.registry (which imports the job modules, which import this one).

A job function receives its Job and a progress callback, does its work through the services,
and returns a JSON-serialisable result. It must be idempotent: a retried or restarted job runs it
again, from the start or from a cursor it keeps in its result. Each progress report is also the
attempt's heartbeat, in real time (SHEBAO_NOW holds the application clock, and a held heartbeat
would never age): a RUNNING job silent for JOB_STALE_SECONDS is taken to be dead. The database is
the source of truth: every worker sweeps it (``sweep_forever``) and queues again the jobs waiting
for a runner, whatever Redis holds; the claim lets one runner have each, and a runner whose job
was taken over stops at its next heartbeat.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import asyncpg
from arq.worker import Retry
from tortoise.expressions import F, Q
from tortoise.queryset import QuerySet

import models
from domain.enums import JobKind, JobStatus
from domain.months import LOCAL_TZ
from jobs.queue import job_queue
from models.database import says_database_unavailable
from settings import get_settings

log = logging.getLogger(__name__)

Progress = Callable[[float], Awaitable[None]]
JobFunction = Callable[[models.Job, Progress], Awaitable[dict[str, Any]]]
JobFunctions = Mapping[JobKind, JobFunction]

SETTLE_RETRY_SECONDS = 1.0


class TransientJobError(Exception):
    """A failure worth retrying later (a lost connection, a lock timeout)."""


class JobTakenOver(Exception):
    """This attempt was taken to be dead and another runner has the job: stop, writing nothing."""


# Besides the database being unavailable (models.database): a transaction that lost a race, or a
# job saying so itself. An attempt failing so may succeed later.
TRANSIENT_ERRORS = (
    TransientJobError,
    asyncpg.TransactionRollbackError,  # 40: serialization failure, deadlock
)


def transient_cause(error: BaseException | None) -> BaseException | None:
    """The error, or the one it was raised from or while handling, that makes it transient: a
    transaction's rollback fails on the connection whose loss failed the work."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, TRANSIENT_ERRORS) or says_database_unavailable(error):
            return error
        error = error.__cause__ or error.__context__
    return None


def wall_clock() -> dt.datetime:
    """Real time, for the jobs' own timestamps, heartbeats and staleness."""
    return dt.datetime.now(LOCAL_TZ)


def retry_delay(attempt: int) -> int:
    """Seconds before attempt ``attempt + 1``: 2, 4, 8... at most five minutes."""
    return min(2**attempt, 300)


async def run_job(job_id: str, functions: JobFunctions) -> str:
    """Run the Job ``job_id`` once with its kind's function in ``functions``, unless it is finished
    or another runner has it alive. Should the database not answer, arq (or the in-process queue)
    runs this again later."""
    try:
        return await _run(job_id, functions)
    except Retry:
        raise
    except Exception as exc:
        cause = transient_cause(exc)
        if cause is None:
            raise
        log.warning("job %s waits for the database: %s", job_id, _reason(cause))
        raise Retry(defer=retry_delay(1)) from exc


async def _run(job_id: str, functions: JobFunctions) -> str:
    job = await models.Job.get_or_none(id=job_id)
    if job is None:
        log.warning("job %s does not exist", job_id)
        return "missing"
    if not await _claim(job):
        return job.status.value
    attempt = job.attempts

    async def report(progress: float) -> None:
        job.progress, job.heartbeat_at = min(max(progress, 0.0), 1.0), wall_clock()
        saved = await _this_attempt(job, attempt).update(
            progress=job.progress,
            heartbeat_at=job.heartbeat_at,
            result=job.result,  # the result holds a cursor
        )
        if not saved:
            raise JobTakenOver(f"attempt {attempt} of job {job.id} was taken over")

    function = functions.get(job.kind)
    try:
        if function is None:
            raise LookupError(f"no job function runs {job.kind.value} jobs")
        result = await function(job, report)
    except JobTakenOver as taken:
        log.warning("%s: this runner stops", taken)
        return JobStatus.RUNNING.value
    except Exception as exc:
        cause = transient_cause(exc)
        if cause is not None and attempt < get_settings().job_max_tries:
            await _release(job, attempt, f"attempt {attempt} failed, will retry: {_reason(cause)}")
            raise Retry(defer=retry_delay(attempt)) from exc
        if cause is not None:
            await _finish(job, attempt, JobStatus.FAILED, error=f"gave up after {attempt} attempts: {_reason(cause)}")
        else:
            log.exception("job %s (%s) failed", job_id, job.kind.value)
            await _finish(job, attempt, JobStatus.FAILED, error=str(exc) or type(exc).__name__)
    else:
        await _finish(job, attempt, JobStatus.SUCCEEDED, result=result)
    return job.status.value


def stale_before(now: dt.datetime) -> dt.datetime:
    """A RUNNING attempt silent since before this moment is taken to be dead (its worker killed)."""
    return now - dt.timedelta(seconds=get_settings().job_stale_seconds)


def silent_with_attempts_left(now: dt.datetime) -> Q:
    return Q(status=JobStatus.RUNNING, heartbeat_at__lt=stale_before(now), attempts__lt=get_settings().job_max_tries)


def claimable(now: dt.datetime) -> Q:
    """Jobs waiting for a runner: QUEUED, or RUNNING without a sign of life and attempts left."""
    return Q(status=JobStatus.QUEUED) | silent_with_attempts_left(now)


async def queue_waiting_jobs() -> int:
    """Queue every job waiting for a runner, whatever Redis holds: QUEUED for longer than a sweep
    (its enqueue failed, Redis lost it) and past its retry delay, or RUNNING without a sign of life
    (its worker was killed or cut off). Each is queued under the arq id of its next attempt, so that
    one the queue holds already is not queued twice; a silent job with no attempts left fails.
    Returns how many were queued."""
    settings = get_settings()
    now = wall_clock()
    await _fail_silent_jobs_out_of_attempts(now)
    swept = now - dt.timedelta(seconds=settings.job_sweep_seconds)
    waiting = await (
        models.Job.filter(
            Q(status=JobStatus.QUEUED, heartbeat_at__lt=swept)
            | Q(status=JobStatus.QUEUED, heartbeat_at=None, created_at__lt=swept)
            | silent_with_attempts_left(now)
        )
        .order_by("created_at")
        .values_list("id", "attempts", "status", "heartbeat_at")
    )
    due = [
        (job_id, attempts)
        for job_id, attempts, status, heartbeat_at in waiting
        # a job given back for a retry waits out its delay (arq holds the retry meanwhile)
        if status == JobStatus.RUNNING
        or heartbeat_at is None
        or heartbeat_at < now - dt.timedelta(seconds=retry_delay(attempts))
    ]
    for job_id, attempts in due:
        await job_queue().enqueue(str(job_id), attempts)
    return len(due)


async def sweep_forever(interval: float) -> None:
    """Sweep now, then every ``interval`` seconds, in every worker: several sweeping at once queue
    no attempt twice, and the claim lets one runner have each job."""
    while True:
        try:
            handed = await queue_waiting_jobs()
            if handed:
                log.info("%d waiting job(s) handed to the queue", handed)
        except Exception as exc:  # Redis or the database away: the next sweep tries again
            cause = transient_cause(exc)
            if cause is None:
                log.warning("the job sweep failed; the next one tries again", exc_info=True)
            else:
                log.warning("the job sweep failed (%s); the next one tries again", _reason(cause))
        await asyncio.sleep(interval)


async def oldest_queued_seconds() -> float | None:
    """How long the job waiting longest for a runner has waited: since it was recorded, or since its
    last attempt gave it back. None when no job waits."""
    waiting = models.Job.filter(status=JobStatus.QUEUED)
    since = [
        moment
        for moment in (
            await waiting.filter(heartbeat_at=None).order_by("created_at").first().values_list("created_at", flat=True),
            await waiting.filter(heartbeat_at__not_isnull=True)
            .order_by("heartbeat_at")
            .first()
            .values_list("heartbeat_at", flat=True),
        )
        if moment is not None
    ]
    return max((wall_clock() - min(since)).total_seconds(), 0.0) if since else None


async def _fail_silent_jobs_out_of_attempts(now: dt.datetime) -> None:
    settings = get_settings()
    silent = models.Job.filter(
        status=JobStatus.RUNNING, heartbeat_at__lt=stale_before(now), attempts__gte=settings.job_max_tries
    )
    for job_id, attempts in await silent.values_list("id", "attempts"):
        await silent.filter(id=job_id, attempts=attempts).update(
            status=JobStatus.FAILED,
            finished_at=now,
            error=f"gave up after {attempts} attempts: the last one stopped answering",
        )


async def _claim(job: models.Job) -> bool:
    """Take the job for this runner if it is claimable. One conditional update, so that two runners
    handed the same job never both run it."""
    now = wall_clock()
    taken = await models.Job.filter(claimable(now), id=job.id).update(
        status=JobStatus.RUNNING, started_at=now, heartbeat_at=now, attempts=F("attempts") + 1
    )
    await job.refresh_from_db()
    return taken == 1


def _this_attempt(job: models.Job, attempt: int) -> QuerySet[models.Job]:
    """The job, while this attempt still has it: a write through this changes nothing once another
    runner has taken the job over."""
    return models.Job.filter(id=job.id, status=JobStatus.RUNNING, attempts=attempt)


async def _settle(job: models.Job, attempt: int, changes: Callable[[], dict[str, Any]]) -> None:
    """Write what became of this attempt, stamped when written. The database may be what failed it:
    try again each second for JOB_STALE_SECONDS; after that the attempt is silent, and a sweep
    takes the job over."""
    give_up_at = time.monotonic() + get_settings().job_stale_seconds
    while True:
        try:
            await _this_attempt(job, attempt).update(**changes())
            return
        except Exception as exc:
            if transient_cause(exc) is None or time.monotonic() >= give_up_at:
                raise
            await asyncio.sleep(SETTLE_RETRY_SECONDS)


async def _release(job: models.Job, attempt: int, error: str) -> None:
    """Give the job back, QUEUED, for a later attempt; its heartbeat says since when it waits."""
    job.status, job.error = JobStatus.QUEUED, error

    def changes() -> dict[str, Any]:
        job.heartbeat_at = wall_clock()
        return {"status": job.status, "error": error, "heartbeat_at": job.heartbeat_at, "result": job.result}

    await _settle(job, attempt, changes)


async def _finish(
    job: models.Job, attempt: int, status: JobStatus, result: dict | None = None, error: str | None = None
) -> None:
    """A failed job keeps the cursor in its result, so that a restart goes on from there."""
    job.status, job.error = status, error
    if result is not None:
        job.result = result
    if status is JobStatus.SUCCEEDED:
        job.progress = 1.0

    def changes() -> dict[str, Any]:
        job.finished_at = wall_clock()
        return {
            "status": status,
            "result": job.result,
            "error": error,
            "finished_at": job.finished_at,
            "progress": job.progress,
        }

    await _settle(job, attempt, changes)


def _reason(error: BaseException) -> str:
    return str(error) or type(error).__name__

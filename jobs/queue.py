"""The queue interface: arq on Redis when REDIS_URL is set, else an in-process queue that runs the
very same job functions in the server's event loop.

The services import this module to record and queue jobs, so it imports nothing else of ``jobs``:
arq's worker finds the function that runs a job by its name ("run_job", jobs.registry.run_job),
and the in-process queue is handed that function where the process opens its queue.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from arq import ArqRedis, create_pool
from arq.connections import RedisSettings
from arq.worker import Retry
from tortoise.exceptions import IntegrityError

import models
from domain.enums import JobKind
from settings import Settings

RunJob = Callable[[dict[str, Any], str], Awaitable[Any]]
RUN_JOB = "run_job"  # the arq worker's function that runs a Job (jobs.worker)
# A stalled Redis must not hold a request whose change has committed: past this, the job waits
# QUEUED in the database for a worker's sweep (jobs.runner.queue_waiting_jobs).
ENQUEUE_TIMEOUT_SECONDS = 2.0

log = logging.getLogger(__name__)


class JobQueue(Protocol):
    async def enqueue(self, job_id: str, attempt: int = 0) -> None: ...
    async def close(self) -> None: ...


class InProcessQueue:
    """Runs each job as a task of this process; only for a single process (the embedded defaults).
    ``run_job`` runs one Job as arq's worker would: ``run_job(ctx, job_id)``."""

    def __init__(self, run_job: RunJob) -> None:
        self._run_job = run_job
        self._tasks: set[asyncio.Task] = set()

    async def enqueue(self, job_id: str, attempt: int = 0) -> None:
        task = asyncio.create_task(self._run(job_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, job_id: str) -> None:
        while True:
            try:
                await self._run_job({}, job_id)
                return
            except Retry as retry:  # as arq does: run again after the delay the job asked for
                await asyncio.sleep((retry.defer_score or 0) / 1000)

    async def drain(self) -> None:
        """Wait until every job started so far has finished."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        await self.drain()


class ArqQueue:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._pool: ArqRedis | None = None

    async def pool(self) -> ArqRedis:
        if self._pool is None:
            redis = RedisSettings.from_dsn(self._settings.redis_url or "")
            redis.conn_retries = 0  # arq's default waits 5 s for a Redis that is down; the sweep retries
            self._pool = await create_pool(redis, default_queue_name=self._settings.job_queue_name)
        return self._pool

    async def enqueue(self, job_id: str, attempt: int = 0) -> None:
        # arq's job id is the Job's and its attempts: the same attempt enqueued twice runs once,
        # and a dead attempt, whose arq job Redis still holds as in progress, can be queued again.
        async with asyncio.timeout(ENQUEUE_TIMEOUT_SECONDS):
            await (await self.pool()).enqueue_job(RUN_JOB, job_id, _job_id=f"{job_id}:{attempt}")

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None


_queue: JobQueue | None = None


def job_queue() -> JobQueue:
    if _queue is None:
        raise RuntimeError("no job queue: the server's lifespan or the worker's startup opens it")
    return _queue


def open_job_queue(settings: Settings, run_job: RunJob) -> JobQueue:
    """The process's queue, opened at start-up: arq on Redis with REDIS_URL, else in-process with
    ``run_job``. One already in place (a test's) is kept."""
    global _queue
    if _queue is None:
        _queue = ArqQueue(settings) if settings.redis_url else InProcessQueue(run_job)
    return _queue


def use_queue(queue: JobQueue | None) -> None:
    """Replace the process's queue (tests, benchmarks)."""
    global _queue
    _queue = queue


async def close_job_queue() -> None:
    """Let in-process jobs finish, or release the Redis pool."""
    global _queue
    if _queue is not None:
        await _queue.close()
        _queue = None


class JobAlreadyStarted(Exception):
    def __init__(self, job: models.Job) -> None:
        super().__init__(f"a {job.kind.value} job for this already exists ({job.id})")
        self.job = job


async def create_job(
    kind: JobKind, params: dict[str, Any], *, dedupe_key: str | None = None, created_by_id: int | None = None
) -> models.Job:
    """Record a QUEUED job; with ``dedupe_key`` a second one for the same key is impossible."""
    try:
        return await models.Job.create(kind=kind, params=params, dedupe_key=dedupe_key, created_by_id=created_by_id)
    except IntegrityError:
        existing = await models.Job.get_or_none(dedupe_key=dedupe_key) if dedupe_key else None
        if existing is None:
            raise
        raise JobAlreadyStarted(existing) from None


async def queue_committed(job: models.Job) -> bool:
    """Queue a job whose row has committed; call it after the transaction. The change is done
    whatever the queue answers (docs/api.md 12): should Redis be down, the job stays QUEUED and a
    worker's sweep queues it. Says whether the queue took it."""
    try:
        await job_queue().enqueue(str(job.id), job.attempts)
    except Exception:
        log.warning("job %s (%s) not queued: a worker's sweep will queue it", job.id, job.kind.value, exc_info=True)
        return False
    return True


async def start_job(kind: JobKind, params: dict[str, Any], **options: Any) -> models.Job:
    """Record a job and enqueue it. Call it outside any transaction: the worker must see the row."""
    job = await create_job(kind, params, **options)
    await queue_committed(job)
    return job

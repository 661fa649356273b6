"""The queue interface: arq on Redis when REDIS_URL is set, else an in-process runner that
executes the very same job functions in the server's event loop."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from arq import ArqRedis, create_pool
from arq.connections import RedisSettings
from arq.worker import Retry
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

import models
from domain.enums import JobKind, JobStatus
import jobs.batch  # noqa: F401  these register their job functions
import jobs.card_photo  # noqa: F401
import jobs.statistics  # noqa: F401
from jobs.runner import run_job, stale_before
from settings import Settings, get_settings


class JobQueue(Protocol):
    async def enqueue(self, job_id: str, attempt: int = 0) -> None: ...
    async def close(self) -> None: ...


class InProcessQueue:
    """Runs each job as a task of this process; only for a single process (the embedded defaults)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task] = set()

    async def enqueue(self, job_id: str, attempt: int = 0) -> None:
        task = asyncio.create_task(self._run(job_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _run(job_id: str) -> None:
        while True:
            try:
                await run_job({}, job_id)
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
            self._pool = await create_pool(
                RedisSettings.from_dsn(self._settings.redis_url or ""),
                default_queue_name=self._settings.job_queue_name,
            )
        return self._pool

    async def enqueue(self, job_id: str, attempt: int = 0) -> None:
        # arq's job id is the Job's and its attempts: the same attempt enqueued twice runs once,
        # and a dead attempt, whose arq job Redis still holds as in progress, can be queued again.
        await (await self.pool()).enqueue_job("run_job", job_id, _job_id=f"{job_id}:{attempt}")

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None


_queue: JobQueue | None = None


def job_queue() -> JobQueue:
    global _queue
    if _queue is None:
        settings = get_settings()
        _queue = ArqQueue(settings) if settings.redis_url else InProcessQueue()
    return _queue


def use_queue(queue: JobQueue | None) -> None:
    """Replace the process's queue (tests)."""
    global _queue
    _queue = queue


async def close_job_queue() -> None:
    """Let in-process jobs finish, or release the Redis pool."""
    global _queue
    if _queue is not None:
        await _queue.close()
        _queue = None


async def queue_waiting_jobs() -> int:
    """Queue again every job still QUEUED (its enqueue failed, or Redis lost it) or RUNNING without
    a sign of life (its worker was killed). Running a job twice is refused by the runner's claim."""
    waiting = await models.Job.filter(
        Q(status=JobStatus.QUEUED) | Q(status=JobStatus.RUNNING, heartbeat_at__lt=stale_before())
    ).values_list("id", "attempts")
    for job_id, attempts in waiting:
        await job_queue().enqueue(str(job_id), attempts)
    return len(waiting)


class JobAlreadyStarted(Exception):
    def __init__(self, job: models.Job) -> None:
        super().__init__(f"a {job.kind.value} job for this already exists ({job.id})")
        self.job = job


async def create_job(kind: JobKind, params: dict[str, Any], *, dedupe_key: str | None = None,
                     created_by_id: int | None = None) -> models.Job:
    """Record a QUEUED job; with ``dedupe_key`` a second one for the same key is impossible."""
    try:
        return await models.Job.create(kind=kind, params=params, dedupe_key=dedupe_key, created_by_id=created_by_id)
    except IntegrityError:
        existing = await models.Job.get_or_none(dedupe_key=dedupe_key) if dedupe_key else None
        if existing is None:
            raise
        raise JobAlreadyStarted(existing) from None


async def start_job(kind: JobKind, params: dict[str, Any], **options: Any) -> models.Job:
    """Record a job and enqueue it. Call it outside any transaction: the worker must see the row."""
    job = await create_job(kind, params, **options)
    await job_queue().enqueue(str(job.id))
    return job

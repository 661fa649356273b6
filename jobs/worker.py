"""arq's WorkerSettings: `python main.py worker` runs these against REDIS_URL."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

from arq.connections import RedisSettings
from arq.cron import cron
from arq.worker import func

from domain.months import LOCAL_TZ
from jobs.cron import (
    month_end_on_last_day,
    nightly_arrears_interest,
    nightly_statistics_refresh,
    roll_over_unaccepted_filings,
)
from jobs.queue import RUN_JOB, ArqQueue, close_job_queue, use_queue
from jobs.registry import run_job
from jobs.runner import sweep_forever
from models.database import close_database, open_database
from settings import get_settings

_settings = get_settings()
log = logging.getLogger(__name__)


async def startup(ctx: dict[str, Any]) -> None:
    await open_database(_settings, shared_with_other_tasks=True)
    use_queue(ArqQueue(_settings))  # where the cron's jobs and the waiting ones are queued
    # Not only at start: a job dies, or Redis loses one, while every worker is up.
    ctx["sweeper"] = asyncio.create_task(sweep_forever(_settings.job_sweep_seconds))
    log.info("worker ready: it sweeps the jobs every %s s", _settings.job_sweep_seconds)


async def shutdown(ctx: dict[str, Any]) -> None:
    sweeper = ctx.pop("sweeper", None)
    if sweeper is not None:
        sweeper.cancel()
        await asyncio.gather(sweeper, return_exceptions=True)
    await close_job_queue()
    await close_database()


class WorkerSettings:
    functions: ClassVar[list] = [func(run_job, name=RUN_JOB)]
    # Local time (M2): the debit after the day's deposits are in, the interest before the day begins,
    # the roll-over of filings just after midnight, as the 21st begins.
    cron_jobs: ClassVar[list] = [
        cron(month_end_on_last_day, hour=23, minute=30, run_at_startup=False),
        cron(nightly_arrears_interest, hour=1, minute=0, run_at_startup=False),
        cron(nightly_statistics_refresh, hour=2, minute=0, run_at_startup=False),
        cron(roll_over_unaccepted_filings, hour=0, minute=10, run_at_startup=False),
    ]
    timezone = LOCAL_TZ
    on_startup = startup
    on_shutdown = shutdown
    queue_name = _settings.job_queue_name
    redis_settings = RedisSettings.from_dsn(_settings.redis_url or "redis://127.0.0.1:6379")
    max_tries = _settings.job_max_tries
    job_timeout = 6 * 3600  # a city-wide month-end may take hours
    keep_result = 0  # a job's outcome is its row in the database; arq's copy would only fill Redis
    health_check_interval = 30

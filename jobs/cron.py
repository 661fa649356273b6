"""What the workers start on their own (arq's cron): the month-end debit on a month's last day
(M4), and the arrears interest refresh every night (P5). Started once whatever the number of
workers: each job's key allows one."""

from __future__ import annotations

import logging
from typing import Any

import models
from services import batch, clock

log = logging.getLogger(__name__)


async def month_end_on_last_day(ctx: dict[str, Any]) -> models.Job | None:
    this_month = clock.this_month()
    if clock.today() != batch.last_day(this_month):
        return None
    return await _started(batch.start_month_end(None, this_month))


async def nightly_arrears_interest(ctx: dict[str, Any]) -> models.Job | None:
    return await _started(batch.start_arrears_interest(None))


async def _started(start) -> models.Job | None:
    try:
        return await start
    except batch.JobRunning as running:  # another worker's cron was first
        log.info("%s", running.message)
        return None

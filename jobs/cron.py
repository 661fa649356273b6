"""What the workers start on their own (arq's cron): the month-end debit on a month's last day
(M4), the arrears interest refresh every night (P5), the dashboards' rollups every night (Q4), and
the daily roll-over of staff filings not accepted by the 20th (M3, E2). Started once whatever the
number of workers: each job's key allows one, and the roll-over moves a filing once whoever runs it."""

from __future__ import annotations

import logging
from typing import Any

import models
from services.collection import batch
from services.common import clock
from services.employer import staffing

log = logging.getLogger(__name__)


async def month_end_on_last_day(ctx: dict[str, Any]) -> models.Job | None:
    this_month = clock.this_month()
    if clock.today() != batch.last_day(this_month):
        return None
    return await _started(batch.start_month_end(None, this_month))


async def nightly_arrears_interest(ctx: dict[str, Any]) -> models.Job | None:
    return await _started(batch.start_arrears_interest(None))


async def nightly_statistics_refresh(ctx: dict[str, Any]) -> models.Job | None:
    return await _started(batch.start_statistics_refresh(None))


async def roll_over_unaccepted_filings(ctx: dict[str, Any]) -> int:
    """M3, E2: a staff filing still awaiting review after the 20th takes effect a month later; run
    daily, a second run the same day moves nothing. Returns how many filings moved."""
    moved = await staffing.roll_over_unaccepted(clock.today())
    if moved:
        log.info("%d staff filing(s) not accepted by the 20th now take effect a month later", moved)
    return moved


async def _started(start) -> models.Job | None:
    try:
        return await start
    except batch.JobRunning as running:  # another worker's cron was first
        log.info("%s", running.message)
        return None

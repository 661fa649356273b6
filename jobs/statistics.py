"""The dashboard rollups (Q4): counted again every night, so that the statistics answer in
milliseconds at city scale (services.statistics reads them when they hold the months asked).

This month and last month are counted again, and every month of the 36-month window the rollups
do not hold yet: all of them on the first run. Each month is its own transaction, replacing that
month's enrollment and business-volume rows together, so that a dashboard never reads a month
half written; the job keeps the last month committed as its cursor, and a killed run goes on
from there. Online adoption, which has no months, is counted again first, in one transaction.
With ``whole_window`` in its parameters the job counts every month of the window again.
"""

from __future__ import annotations

from typing import Any

import models
from domain.months import Month
from jobs.batch import in_chunks
from jobs.runner import Progress
from services import statistics
from services.common import clock


async def run_refresh_statistics(job: models.Job, progress: Progress) -> dict[str, Any]:
    this_month = Month.from_int(job.params["month"]) if job.params.get("month") else clock.this_month()
    districts = await statistics.refresh_online_adoption()
    months = [m.to_int() for m in await statistics.months_to_refresh(this_month, bool(job.params.get("whole_window")))]
    await in_chunks(job, progress, months, 1, lambda chunk: statistics.refresh_month(Month.from_int(chunk[0])))
    window = statistics.rollup_window(this_month)
    held = await models.RollupMonth.filter(month__gte=window[0].to_int(), month__lte=this_month.to_int()).count()
    return {
        "month": str(this_month),
        "window": [str(window[0]), str(window[-1])],
        "months_held": held,
        "districts": districts,
    }

"""Which function runs each kind of job: the one table that the arq worker (jobs.worker) and the
in-process queue (opened by main.py) both run jobs from."""

from __future__ import annotations

from typing import Any

from domain.enums import JobKind
from jobs import batch, card_photo, runner, statistics

JOB_FUNCTIONS: dict[JobKind, runner.JobFunction] = {
    JobKind.MONTH_END: batch.run_month_end,
    JobKind.REPRICE_YEAR: batch.run_reprice,
    JobKind.RECALCULATE_ARREARS: batch.run_arrears_interest,
    JobKind.REFRESH_STATISTICS: statistics.run_refresh_statistics,
    JobKind.CARD_PHOTO: card_photo.check_card_photo,
}


async def run_job(ctx: dict[str, Any], job_id: str) -> str:
    """Run the Job ``job_id`` with its kind's function: the arq worker's function, which the
    queue enqueues by name, and the in-process queue's."""
    return await runner.run_job(job_id, JOB_FUNCTIONS)

"""Starting the city-wide jobs (docs/api.md 5): checked here, once only, and run by the job layer."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

import models
from domain.enums import JobKind, JobStatus, ParameterCode
from domain.errors import BusinessError, ErrorCode
from domain.months import Month
from jobs.queue import JobAlreadyStarted, create_job, queue_committed
from services.common import clock
from services.common.viewer import Viewer

FAR_PAST_MONTHS = 12  # older months are settled by the persons' own back-payments (F6, F8)
FIRST_WAGE_YEAR = 1992
MAX_AVERAGE_WAGE = Decimal("1000000.00")


class JobRunning(BusinessError):
    """The job asked for is already queued, running or done; it comes with the refusal."""

    def __init__(self, job: models.Job, message: str) -> None:
        super().__init__(ErrorCode.JOB_ALREADY_STARTED, message, None)
        self.job = job


def last_day(month: Month) -> dt.date:
    return month.plus(1).first_day() - dt.timedelta(days=1)


async def start_month_end(actor: Viewer | None, month: Month) -> models.Job:
    """M4: a month's debit runs once, on its last day or later, and not for months long past."""
    this_month, today = clock.this_month(), clock.today()
    if month > this_month or (month == this_month and today < last_day(month)):
        raise BusinessError(
            ErrorCode.INVALID_MONTH,
            f"{month} has not ended: its month-end runs on {last_day(month).isoformat()}",
            "month",
        )
    if month < this_month.plus(-FAR_PAST_MONTHS):
        raise BusinessError(
            ErrorCode.INVALID_MONTH,
            f"{month} is more than {FAR_PAST_MONTHS} months past: its arrears are settled by back-payment",
            "month",
        )
    return await _start_once(actor, JobKind.MONTH_END, {"month": month.to_int()}, f"month-end:{month.to_int()}")


async def start_arrears_interest(actor: Viewer | None) -> models.Job:
    """P5: the interest of every owed arrear to this month, once a day."""
    today = clock.today()
    return await _start_once(
        actor,
        JobKind.RECALCULATE_ARREARS,
        {"as_of": clock.this_month().to_int()},
        f"arrears-interest:{today.isoformat()}",
    )


async def start_statistics_refresh(actor: Viewer | None) -> models.Job:
    """Q4: the dashboard rollups counted again (jobs/statistics.py), once a day."""
    return await _start_once(
        actor,
        JobKind.REFRESH_STATISTICS,
        {"month": clock.this_month().to_int()},
        f"statistics:{clock.today().isoformat()}",
    )


async def publish_average_wage(actor: Viewer, year: int, amount: Decimal) -> tuple[models.Parameter, models.Job]:
    """P1: publish (or correct) a year's average monthly wage, and re-price every month it prices
    that is not yet paid: the year's, and later ones until the next published year."""
    if not FIRST_WAGE_YEAR <= year <= clock.this_month().year + 1:
        raise BusinessError(
            ErrorCode.INVALID_INPUT, f"a wage is published for a year from {FIRST_WAGE_YEAR} to next year", "year"
        )
    if amount <= 0 or amount > MAX_AVERAGE_WAGE:
        raise BusinessError(
            ErrorCode.INVALID_AMOUNT,
            f"an average monthly wage is more than 0.00 and at most {MAX_AVERAGE_WAGE}",
            "averageWage",
        )
    first = Month(year, 1)
    try:
        parameter, job = await _publish(actor, first, amount)
    except IntegrityError:  # the same year published by another administrator at the same moment
        raise BusinessError(
            ErrorCode.INVALID_INPUT, f"{year}'s average wage was published meanwhile: read it and retry", "year"
        ) from None
    await queue_committed(job)  # the wage is published even should the queue be down (docs/api.md 12)
    return parameter, job


async def _publish(actor: Viewer, first: Month, amount: Decimal) -> tuple[models.Parameter, models.Job]:
    year = first.year
    async with in_transaction():
        parameter = await models.Parameter.select_for_update(no_key=True).get_or_none(
            code=ParameterCode.AVERAGE_MONTHLY_WAGE, effective_from=first.to_int()
        )
        if parameter is not None and parameter.value == amount:
            raise BusinessError(ErrorCode.INVALID_AMOUNT, f"{year}'s average wage is already {amount}", "averageWage")
        note = f"published by {actor.username} on {clock.today().isoformat()}"
        if parameter is None:
            parameter = await models.Parameter.create(
                code=ParameterCode.AVERAGE_MONTHLY_WAGE, effective_from=first.to_int(), value=amount, note=note
            )
        else:  # a correction (P1): the year's single value changes, and so do its prices
            parameter.value, parameter.note = amount, note
            await parameter.save(update_fields=["value", "note"])
        following = (
            await models.Parameter.filter(code=ParameterCode.AVERAGE_MONTHLY_WAGE, effective_from__gt=first.to_int())
            .order_by("effective_from")
            .first()
        )
        revision = await models.Job.filter(kind=JobKind.REPRICE_YEAR, dedupe_key__startswith=f"reprice:{year}:").count()
        job = await create_job(
            JobKind.REPRICE_YEAR,
            {
                "year": year,
                "average_wage": str(amount),
                "first_month": first.to_int(),
                "last_month": Month.from_int(following.effective_from).plus(-1).to_int() if following else None,
            },
            dedupe_key=f"reprice:{year}:{revision + 1}",
            created_by_id=actor.account_id,
        )
    return parameter, job


async def _start_once(actor: Viewer | None, kind: JobKind, params: dict, key: str) -> models.Job:
    """Record and queue the job; a second start finds the first. A failed one is queued again and
    goes on from its cursor."""
    try:
        job = await create_job(kind, params, dedupe_key=key, created_by_id=actor.account_id if actor else None)
    except JobAlreadyStarted as started:
        job = started.job
        if job.status is not JobStatus.FAILED:
            raise JobRunning(job, f"this {kind.value} job is already {job.status.value.lower()}") from None
        job.status, job.error, job.finished_at = JobStatus.QUEUED, None, None
        await job.save(update_fields=["status", "error", "finished_at"])
    await queue_committed(job)
    return job

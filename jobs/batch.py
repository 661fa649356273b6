"""The city-wide jobs: the month-end debit (M4), re-pricing after a new average wage (P1), and the
daily refresh of arrears interest (P5). Each works in chunks, one transaction a chunk, and keeps
its cursor and totals in its result inside that transaction: a job killed half-way and run again
goes on after the last chunk that committed, and a chunk run twice changes nothing the second time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any

from tortoise.transactions import in_transaction

import models
from domain.enums import Channel, JobKind, PaymentOrderStatus, PeriodStatus
from domain.months import Month
from jobs.runner import Progress, job_function
from services import repricing
from services.collection import collect_persons
from services.periods import in_force
from services.tariff import load_tariff

MONTH_END_CHUNK = 2000
REPRICE_CHUNK = 5000
INTEREST_CHUNK = 5000

Totals = dict[str, Any]


async def in_chunks(job: models.Job, progress: Progress, keys: Sequence[int], size: int,
                    work: Callable[[list[int]], Awaitable[Totals]]) -> Totals:
    """Run ``work`` over ``keys`` (ascending) a chunk at a time, resuming after the job's cursor."""
    state = job.result or {}
    after, totals = state.get("after"), dict(state.get("totals", {}))
    todo = [key for key in keys if after is None or key > after]
    done = len(keys) - len(todo)
    for start in range(0, len(todo), size):
        chunk = todo[start:start + size]
        async with in_transaction():
            for name, value in (await work(chunk)).items():
                totals[name] = _add(totals.get(name), value)
            job.result = {"after": chunk[-1], "totals": totals}
            await job.save(update_fields=["result"])
        done += len(chunk)
        await progress(done / len(keys))
    return totals


def _add(total: Any, value: Any) -> Any:
    if isinstance(value, Decimal):  # money travels in JSON as a string
        return str(Decimal(total or "0.00") + value)
    return (total or 0) + value


async def month_end_persons(month: Month) -> list[int]:
    """Everyone with something to collect: a flexible policy in force, a month still DUE, or an order."""
    m = month.to_int()
    owing = set(await models.Policy.filter(in_force(month)).values_list("person_id", flat=True))
    owing.update(await models.ContributionPeriod.filter(channel=Channel.FLEXIBLE, status=PeriodStatus.DUE,
                                                        month__lte=m).values_list("person_id", flat=True))
    owing.update(await models.PaymentOrder.filter(status=PaymentOrderStatus.OPEN, collection_month__lte=m)
                 .values_list("person_id", flat=True))
    return sorted(owing)


@job_function(JobKind.MONTH_END)
async def run_month_end(job: models.Job, progress: Progress) -> Totals:
    month = Month.from_int(job.params["month"])
    tariff = await load_tariff()
    persons = await month_end_persons(month)

    async def collect(chunk: list[int]) -> Totals:
        done = await collect_persons(chunk, month, tariff)
        return {"persons": done.persons, "paid_periods": done.paid_periods, "new_arrears": done.new_arrears,
                "collected_orders": done.collected_orders, "lapsed_orders": done.lapsed_orders,
                "debited": done.debited}

    totals = await in_chunks(job, progress, persons, job.params.get("chunk", MONTH_END_CHUNK), collect)
    return {"month": str(month), **totals}


@job_function(JobKind.REPRICE_YEAR)
async def run_reprice(job: models.Job, progress: Progress) -> Totals:
    first = Month.from_int(job.params["first_month"])
    last = Month.from_int(job.params["last_month"]) if job.params.get("last_month") else None
    tariff = await load_tariff()
    periods = await repricing.unpaid_period_ids(first, last)
    totals = await in_chunks(job, progress, periods, job.params.get("chunk", REPRICE_CHUNK),
                             lambda chunk: repricing.reprice_periods(chunk, tariff))
    return {"first_month": str(first), "last_month": str(last) if last else None, **totals}


@job_function(JobKind.RECALCULATE_ARREARS)
async def run_arrears_interest(job: models.Job, progress: Progress) -> Totals:
    as_of = Month.from_int(job.params["as_of"])
    tariff = await load_tariff()
    arrears = await repricing.owed_arrear_ids()
    totals = await in_chunks(job, progress, arrears, job.params.get("chunk", INTEREST_CHUNK),
                             lambda chunk: repricing.refresh_interest(chunk, tariff, as_of))
    return {"as_of": str(as_of), **totals}

"""The city-wide jobs: the month-end debit (M4), re-pricing after a new average wage (P1), and the
daily refresh of arrears interest (P5). Each works in chunks, one transaction a chunk, two chunks at
a time (while one waits for the database the other computes), and keeps in the job the point up to
which every chunk has committed: a job killed half-way and run again goes on from there, and a
chunk run twice changes nothing the second time. Results describe the database after the run, so
that a resumed job reports what a clean run would."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from tortoise.transactions import in_transaction

import models
from domain.enums import Channel, PaymentOrderStatus, PeriodStatus
from domain.months import Month
from jobs.runner import Progress
from services.collection import repricing
from services.collection.month_end import collect_persons
from services.collection.periods import in_force
from services.collection.tariff import load_tariff

MONTH_END_CHUNK = 2000
REPRICE_CHUNK = 5000
INTEREST_CHUNK = 5000
STREAMS = 2


async def in_chunks(
    job: models.Job,
    progress: Progress,
    keys: Sequence[int],
    size: int,
    work: Callable[[list[int]], Awaitable[Any]],
    streams: int = STREAMS,
) -> None:
    """Run ``work`` over ``keys`` (ascending) a chunk at a time, each in its own transaction,
    resuming after the job's cursor: the last key of the chunks that all committed in order."""
    after = (job.result or {}).get("after")
    todo = [key for key in keys if after is None or key > after]
    chunks = [todo[start : start + size] for start in range(0, len(todo), size)]
    committed: set[int] = set()
    state = {"next": 0, "taken": 0, "done": len(keys) - len(todo)}

    async def stream() -> None:
        while state["taken"] < len(chunks):
            index = state["taken"]
            state["taken"] += 1
            async with in_transaction():
                await work(chunks[index])
            committed.add(index)
            state["done"] += len(chunks[index])
            while state["next"] in committed:
                state["next"] += 1
            if state["next"]:
                job.result = {"after": chunks[state["next"] - 1][-1]}
            await progress(state["done"] / len(keys))  # saves the cursor with the heartbeat

    tasks = [asyncio.create_task(stream()) for _ in range(streams)]
    try:
        await asyncio.gather(*tasks)
    finally:  # one stream failed: stop the other, its chunk rolled back
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def month_end_persons(month: Month) -> list[int]:
    """Everyone with something to collect: a flexible policy in force, a month still DUE, or an order."""
    m = month.to_int()
    owing = set(await models.Policy.filter(in_force(month)).values_list("person_id", flat=True))
    owing.update(
        await models.ContributionPeriod.filter(
            channel=Channel.FLEXIBLE, status=PeriodStatus.DUE, month__lte=m
        ).values_list("person_id", flat=True)
    )
    owing.update(
        await models.PaymentOrder.filter(status=PaymentOrderStatus.OPEN, collection_month__lte=m).values_list(
            "person_id", flat=True
        )
    )
    return sorted(owing)


async def run_month_end(job: models.Job, progress: Progress) -> dict[str, Any]:
    month = Month.from_int(job.params["month"])
    tariff = await load_tariff()
    persons = await month_end_persons(month)
    await in_chunks(
        job,
        progress,
        persons,
        job.params.get("chunk", MONTH_END_CHUNK),
        lambda chunk: collect_persons(chunk[0], chunk[-1], month, tariff),
    )
    flexible = models.ContributionPeriod.filter(channel=Channel.FLEXIBLE, month=month.to_int())
    orders = models.PaymentOrder.filter(collection_month=month.to_int())
    return {
        "month": str(month),
        "persons": len(persons),
        "paid_periods": await flexible.filter(status=PeriodStatus.PAID).count(),
        "periods_in_arrears": await flexible.filter(status=PeriodStatus.ARREARS).count(),
        "collected_orders": await orders.filter(status=PaymentOrderStatus.COLLECTED).count(),
        "lapsed_orders": await orders.filter(status=PaymentOrderStatus.LAPSED).count(),
    }


async def run_reprice(job: models.Job, progress: Progress) -> dict[str, Any]:
    first = Month.from_int(job.params["first_month"])
    last = Month.from_int(job.params["last_month"]) if job.params.get("last_month") else None
    tariff = await load_tariff()
    periods = await repricing.unpaid_period_ids(first, last)
    await in_chunks(
        job,
        progress,
        periods,
        job.params.get("chunk", REPRICE_CHUNK),
        lambda chunk: repricing.reprice_periods(chunk[0], chunk[-1], first, last, tariff),
    )
    return {"first_month": str(first), "last_month": str(last) if last else None, "periods_priced_again": len(periods)}


async def run_arrears_interest(job: models.Job, progress: Progress) -> dict[str, Any]:
    as_of = Month.from_int(job.params["as_of"])
    tariff = await load_tariff()
    arrears = await repricing.owed_arrear_ids()
    await in_chunks(
        job,
        progress,
        arrears,
        job.params.get("chunk", INTEREST_CHUNK),
        lambda chunk: repricing.refresh_interest(chunk[0], chunk[-1], tariff, as_of),
    )
    return {"as_of": str(as_of), "arrears": len(arrears)}

"""A month-end whose worker is killed half-way is finished by the next worker, with exactly the
ledger of a clean run (M4): on PostgreSQL and Redis, with real arq worker processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

import models
from domain.enums import JobKind, JobStatus, LedgerKind, PersonCategory
from domain.months import Month
from jobs.queue import ArqQueue, start_job, use_queue
from tests import factories
from tests.jobs.test_batch_jobs import expected_after

pytestmark = [
    pytest.mark.usefixtures("db"),
    pytest.mark.skipif(
        not (os.environ.get("REDIS_URL") and os.environ.get("DATABASE_URL", "").startswith("postgres")),
        reason="needs PostgreSQL and Redis",
    ),
]
ROOT = Path(__file__).resolve().parents[2]
PERSONS = 300


async def wait_for(condition, seconds: float = 60.0):
    for _ in range(int(seconds / 0.05)):
        found = await condition()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_a_killed_worker_leaves_a_month_end_the_next_one_finishes_exactly(arq_settings):
    await factories.average_wage(2026, "8000.00")
    home = await factories.community(await factories.district())
    people = []
    for number in range(PERSONS):
        person = await factories.person(home, name=f"居民{number}", category=PersonCategory.FLEXIBLE)
        await factories.flexible_pension(person, Month(2026, 1))
        await factories.flexible_medical(person, Month(2026, 1))
        opening = Decimal(number * 37 % 3000)
        book = await factories.passbook(person, [(f"OPEN-{number}", str(opening))] if opening else [])
        people.append((book, opening.quantize(Decimal("0.01"))))

    settings = arq_settings
    queue_name = settings.job_queue_name
    environment = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "JOB_QUEUE_NAME": queue_name,
        "JOB_STALE_SECONDS": "1",
    }
    queue = ArqQueue(settings)
    use_queue(queue)
    workers = []

    def start_worker() -> subprocess.Popen:
        worker = subprocess.Popen(
            [sys.executable, "main.py", "worker"],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        workers.append(worker)
        return worker

    try:
        first = start_worker()
        job = await start_job(JobKind.MONTH_END, {"month": 202611, "chunk": 10}, dedupe_key="month-end:202611")

        async def half_way():
            found = await models.Job.get(id=job.id)
            return found if found.status is JobStatus.RUNNING and found.progress >= 0.3 else None

        await wait_for(half_way)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed = await models.Job.get(id=job.id)
        assert killed.status is JobStatus.RUNNING and killed.progress < 1.0
        await asyncio.sleep(1.5)  # the dead attempt's heartbeat goes stale
        start_worker()

        async def finished():
            found = await models.Job.get(id=job.id)
            return found if found.status in (JobStatus.SUCCEEDED, JobStatus.FAILED) else None

        done = await wait_for(finished)
        assert done.status is JobStatus.SUCCEEDED and done.attempts == 2
        assert done.result["month"] == "2026-11"
    finally:
        use_queue(None)
        await queue.close()
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
                worker.wait(timeout=10)

    paid_total = 0
    for book, opening in people:
        balance, paid = expected_after(opening)
        paid_total += paid
        assert (await models.Passbook.get(id=book.id)).balance == balance
    debits = await models.LedgerEntry.filter(kind=LedgerKind.CONTRIBUTION_DEBIT, month=Month(2026, 11).to_int()).count()
    assert debits == paid_total
    assert await models.Arrear.filter(month=202611).count() == 2 * PERSONS - paid_total

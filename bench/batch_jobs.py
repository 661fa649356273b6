"""City-wide jobs against one hand-written set-based SQL statement, on the same data in the same run.

A city of flexible-employment persons (pension for all, medical for three in five, passbooks of
every size) is loaded once into a PostgreSQL database and copied (CREATE DATABASE ... TEMPLATE).
The job runs in one copy through real arq workers on Redis, from enqueue to SUCCEEDED; the SQL
statement does the same work in the other copy. Both copies must end alike. Creates and drops
its own databases and Redis queue.

    python -m bench.batch_jobs --job month-end --persons 900000 [--workers 2]
    python -m bench.batch_jobs --job reprice --persons 900000

month-end (M4, P6): the month's periods made, debited pension first, arrears for the rest.
reprice (P1): the year's average wage corrected from 8000.00 to 8200.00; every DUE period and
every OPEN arrear re-priced.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

import asyncpg
from tortoise import Tortoise

import models
from bench.machine import machine_line
from domain.enums import JobKind, JobStatus
from domain.identifiers import make_resident_id
from jobs.queue import ArqQueue, create_job, use_queue
from models.database import apply_migrations
from settings import Settings

ROOT = Path(__file__).resolve().parents[1]
MONTH = 202611
WAGE, CORRECTED_WAGE = Decimal("8000.00"), Decimal("8200.00")
GRADES = (
    Decimal("0.60"),
    Decimal("0.60"),
    Decimal("0.60"),
    Decimal("0.80"),
    Decimal("1.00"),
    Decimal("1.50"),
    Decimal("2.00"),
    Decimal("3.00"),
)
BALANCES = (
    Decimal("5000.00"),
    Decimal("3000.00"),
    Decimal("2500.00"),
    Decimal("1000.00"),
    Decimal("500.00"),
    Decimal("0.00"),
    Decimal("8000.00"),
    Decimal("1700.00"),
    Decimal("487.00"),
    Decimal("12000.00"),
)

MONTH_END_SQL = """
WITH due AS (
  SELECT nextval(pg_get_serial_sequence('contribution_period', 'id')) AS id, p.id AS policy_id, p.person_id,
         p.insurance_type, p.grade, priced.base, priced.rate, priced.amount
  FROM policy p
  CROSS JOIN LATERAL (SELECT CASE WHEN p.insurance_type = 'PENSION' THEN round(p.grade * $2, 2) ELSE round($2, 2) END AS base) b
  CROSS JOIN LATERAL (SELECT b.base,
      CASE WHEN p.insurance_type = 'PENSION' THEN 0.20 ELSE 0.06 END AS rate,
      CASE WHEN p.insurance_type = 'PENSION' THEN round(b.base * 0.20, 2) ELSE round(b.base * 0.06, 2) + 7.00 END AS amount) priced
  WHERE p.channel = 'FLEXIBLE' AND p.start_month <= $1 AND ((p.status = 'ACTIVE' AND p.end_month IS NULL) OR p.end_month >= $1)
    AND NOT EXISTS (SELECT 1 FROM contribution_period c WHERE c.policy_id = p.id AND c.month = $1)
), owed AS (
  SELECT person_id,
         max(id) FILTER (WHERE insurance_type = 'PENSION') AS pension_id,
         max(amount) FILTER (WHERE insurance_type = 'PENSION') AS pension,
         max(id) FILTER (WHERE insurance_type = 'MEDICAL') AS medical_id,
         max(amount) FILTER (WHERE insurance_type = 'MEDICAL') AS medical
  FROM due GROUP BY person_id
), decided AS (
  SELECT o.*, b.id AS passbook_id, coalesce(b.balance, 0) AS opening,
         (o.pension IS NOT NULL AND b.id IS NOT NULL AND o.pension <= b.balance) AS pension_paid
  FROM owed o LEFT JOIN passbook b ON b.person_id = o.person_id
), settled AS (
  SELECT d.*, d.opening - CASE WHEN d.pension_paid THEN d.pension ELSE 0 END AS after_pension,
         (d.medical IS NOT NULL AND d.passbook_id IS NOT NULL
          AND d.medical <= d.opening - CASE WHEN d.pension_paid THEN d.pension ELSE 0 END) AS medical_paid
  FROM decided d
), paid AS (
  SELECT pension_id AS period_id FROM settled WHERE pension_paid
  UNION ALL SELECT medical_id FROM settled WHERE medical_paid
), made AS (
  INSERT INTO contribution_period (id, policy_id, person_id, month, insurance_type, channel, grade, base, rate, amount,
                                   employer_amount, status, paid_via, paid_at, created_at)
  SELECT d.id, d.policy_id, d.person_id, $1, d.insurance_type, 'FLEXIBLE', d.grade, d.base, d.rate, d.amount, 0,
         CASE WHEN p.period_id IS NULL THEN 'ARREARS' ELSE 'PAID' END,
         CASE WHEN p.period_id IS NULL THEN NULL ELSE 'PASSBOOK_DEBIT' END,
         CASE WHEN p.period_id IS NULL THEN NULL ELSE now() END, now()
  FROM due d LEFT JOIN paid p ON p.period_id = d.id
), debits AS (
  INSERT INTO ledger_entry (passbook_id, kind, amount, balance_after, month, period_id, booked_at)
  SELECT passbook_id, 'CONTRIBUTION_DEBIT', pension, after_pension, $1, pension_id, now() FROM settled WHERE pension_paid
  UNION ALL
  SELECT passbook_id, 'CONTRIBUTION_DEBIT', medical, after_pension - medical, $1, medical_id, now() FROM settled WHERE medical_paid
), arrears AS (
  INSERT INTO arrear (period_id, person_id, month, insurance_type, principal, status, interest, created_at)
  SELECT pension_id, person_id, $1, 'PENSION', pension, 'OPEN', 0, now() FROM settled WHERE pension_id IS NOT NULL AND NOT pension_paid
  UNION ALL
  SELECT medical_id, person_id, $1, 'MEDICAL', medical, 'OPEN', 0, now() FROM settled WHERE medical_id IS NOT NULL AND NOT medical_paid
)
UPDATE passbook b SET balance = s.after_pension - CASE WHEN s.medical_paid THEN s.medical ELSE 0 END, updated_at = now()
FROM settled s WHERE b.id = s.passbook_id AND (s.pension_paid OR s.medical_paid)
"""

REPRICE_SQL = """
WITH repriced AS (
  UPDATE contribution_period c SET
    base = CASE WHEN c.insurance_type = 'PENSION' THEN round(coalesce(c.grade, p.grade) * $2, 2) ELSE round($2, 2) END,
    amount = CASE WHEN c.insurance_type = 'PENSION' THEN round(round(coalesce(c.grade, p.grade) * $2, 2) * 0.20, 2)
                  ELSE round(round($2, 2) * 0.06, 2) + 7.00 END
  FROM policy p
  WHERE p.id = c.policy_id AND c.channel = 'FLEXIBLE' AND c.month >= $1 AND c.month <= $1 + 11
    AND (c.status = 'DUE' OR (c.status = 'ARREARS' AND EXISTS (
         SELECT 1 FROM arrear a WHERE a.period_id = c.id AND a.status = 'OPEN')))
  RETURNING c.id, c.amount
)
UPDATE arrear a SET principal = r.amount FROM repriced r WHERE a.period_id = r.id AND a.status = 'OPEN'
"""


async def load_city(dsn: str, persons: int, job: str) -> dict[str, int]:
    """Rows straight into the tables with COPY: a district, its communities, the persons, their
    passbooks and policies; for re-pricing, December due and a tenth owing three months."""
    connection = await asyncpg.connect(dsn)
    try:
        now = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
        await connection.execute("INSERT INTO district (id, code, name) VALUES (1, '420102', '江岸区')")
        await connection.copy_records_to_table(
            "community",
            columns=["id", "district_id", "code", "name"],
            records=[(c, 1, f"420102{c:03d}", f"社区{c}") for c in range(1, 101)],
        )
        await connection.execute(
            "INSERT INTO parameter (code, effective_from, value, note, created_at) "
            "VALUES ('AVERAGE_MONTHLY_WAGE', 202601, $1, 'bench', now())",
            WAGE,
        )
        people, books, policies, periods, arrears = [], [], [], [], []
        for n in range(1, persons + 1):
            birth = dt.date(1960, 1, 1) + dt.timedelta(days=n // 900)
            people.append(
                (
                    n,
                    make_resident_id("420102", birth, n % 900 + 1),
                    f"居民{n}",
                    "MALE" if n % 2 else "FEMALE",
                    birth,
                    None,
                    "WORKER",
                    "FLEXIBLE",
                    1,
                    n % 100 + 1,
                    None,
                    None,
                    now,
                    now,
                )
            )
            books.append((n, n, f"6221{n:012d}", BALANCES[n % len(BALANCES)], now, now))
            grade = GRADES[n % len(GRADES)]
            policies.append((2 * n - 1, n, "PENSION", "FLEXIBLE", None, "ACTIVE", grade, 202401, None, now))
            if n % 5 < 3:
                policies.append((2 * n, n, "MEDICAL", "FLEXIBLE", None, "ACTIVE", None, 202401, None, now))
            if job == "reprice":
                months = [202612] + ([202608, 202609, 202610] if n % 10 == 0 else [])
                for month in months:
                    for policy_id, kind, rate, amount, base in (
                        (2 * n - 1, "PENSION", Decimal("0.20"), None, grade),
                        (2 * n, "MEDICAL", Decimal("0.06"), None, None),
                    ):
                        if kind == "MEDICAL" and n % 5 >= 3:
                            continue
                        base = (grade * WAGE).quantize(Decimal("0.01")) if kind == "PENSION" else WAGE
                        amount = (base * rate).quantize(Decimal("0.01")) + (Decimal("7.00") if kind == "MEDICAL" else 0)
                        period_id = len(periods) + 1
                        status = "DUE" if month == 202612 else "ARREARS"
                        periods.append(
                            (
                                period_id,
                                policy_id,
                                n,
                                month,
                                kind,
                                "FLEXIBLE",
                                grade if kind == "PENSION" else None,
                                base,
                                rate,
                                amount,
                                Decimal("0.00"),
                                status,
                                None,
                                None,
                                now,
                            )
                        )
                        if status == "ARREARS":
                            arrears.append(
                                (
                                    len(arrears) + 1,
                                    period_id,
                                    n,
                                    month,
                                    kind,
                                    amount,
                                    "OPEN",
                                    Decimal("0.00"),
                                    None,
                                    now,
                                    None,
                                )
                            )
        await connection.copy_records_to_table(
            "person",
            records=people,
            columns=[
                "id",
                "id_number",
                "name",
                "gender",
                "birth_date",
                "archive_birth_date",
                "retirement_class",
                "category",
                "district_id",
                "community_id",
                "phone",
                "address",
                "registered_at",
                "updated_at",
            ],
        )
        await connection.copy_records_to_table(
            "passbook",
            records=books,
            columns=["id", "person_id", "account_number", "balance", "opened_at", "updated_at"],
        )
        await connection.copy_records_to_table(
            "policy",
            records=policies,
            columns=[
                "id",
                "person_id",
                "insurance_type",
                "channel",
                "employer_id",
                "status",
                "grade",
                "start_month",
                "end_month",
                "created_at",
            ],
        )
        await connection.copy_records_to_table(
            "contribution_period",
            records=periods,
            columns=[
                "id",
                "policy_id",
                "person_id",
                "month",
                "insurance_type",
                "channel",
                "grade",
                "base",
                "rate",
                "amount",
                "employer_amount",
                "status",
                "paid_via",
                "paid_at",
                "created_at",
            ],
        )
        await connection.copy_records_to_table(
            "arrear",
            records=arrears,
            columns=[
                "id",
                "period_id",
                "person_id",
                "month",
                "insurance_type",
                "principal",
                "status",
                "interest",
                "interest_as_of",
                "created_at",
                "resolved_at",
            ],
        )
        for table in ("person", "passbook", "policy", "contribution_period", "arrear"):
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f'(SELECT coalesce(max(id), 0) + 1 FROM "{table}"), false)'
            )
        await connection.execute("VACUUM ANALYZE")
        return {"persons": persons, "policies": len(policies), "periods": len(periods), "arrears": len(arrears)}
    finally:
        await connection.close()


async def outcome(dsn: str) -> tuple:
    """What both copies must agree on."""
    connection = await asyncpg.connect(dsn)
    try:
        return tuple(
            await connection.fetchrow("""SELECT
            (SELECT count(*) FROM contribution_period WHERE status = 'PAID') AS paid,
            (SELECT count(*) FROM contribution_period WHERE status = 'ARREARS') AS in_arrears,
            (SELECT coalesce(sum(amount), 0) FROM contribution_period) AS priced,
            (SELECT count(*) FROM ledger_entry) AS debits,
            (SELECT coalesce(sum(balance), 0) FROM passbook) AS balances,
            (SELECT count(*) FROM arrear) AS arrears,
            (SELECT coalesce(sum(principal), 0) FROM arrear) AS owed""")
        )
    finally:
        await connection.close()


async def run_sql(dsn: str, job: str) -> float:
    connection = await asyncpg.connect(dsn)
    try:
        start = time.perf_counter()
        async with connection.transaction():
            if job == "month-end":
                await connection.execute(MONTH_END_SQL, MONTH, WAGE)
            else:
                await connection.execute(REPRICE_SQL, 202601, CORRECTED_WAGE)
        return time.perf_counter() - start
    finally:
        await connection.close()


async def run_job(database_url: str, redis_url: str, job: str, workers: int) -> tuple[float, dict]:
    """Through arq: the Job recorded, enqueued, and run by ``workers`` worker processes."""
    queue_name = f"shebao:bench:{uuid.uuid4().hex}"
    settings = Settings(database_url=database_url, redis_url=redis_url, job_queue_name=queue_name)
    environment = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "JOB_QUEUE_NAME": queue_name}
    processes = [
        subprocess.Popen(
            [sys.executable, "main.py", "worker"],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    await Tortoise.init(config=settings.tortoise_config())
    queue = ArqQueue(settings)
    use_queue(queue)
    try:
        await asyncio.sleep(2)  # the workers connect
        if job == "month-end":
            record = await create_job(JobKind.MONTH_END, {"month": MONTH})
        else:
            await models.Parameter.filter(code="AVERAGE_MONTHLY_WAGE", effective_from=202601).update(
                value=CORRECTED_WAGE
            )
            record = await create_job(
                JobKind.REPRICE_YEAR,
                {"year": 2026, "first_month": 202601, "last_month": None, "average_wage": str(CORRECTED_WAGE)},
            )
        start = time.perf_counter()
        await queue.enqueue(str(record.id))
        while True:
            await asyncio.sleep(0.2)
            found = await models.Job.get(id=record.id)
            if found.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
                break
        elapsed = time.perf_counter() - start
        assert found.status is JobStatus.SUCCEEDED, found.error
        return elapsed, found.result
    finally:
        use_queue(None)
        await queue.close()
        await Tortoise.close_connections()
        for process in processes:
            process.terminate()
            process.wait(timeout=30)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job", choices=("month-end", "reprice"), default="month-end")
    parser.add_argument("--persons", type=int, default=900_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()

    base = args.server.rsplit("/", 1)[0]
    names = {kind: f"shebao_bench_{kind}_{uuid.uuid4().hex[:8]}" for kind in ("job", "sql")}
    admin = await asyncpg.connect("postgresql://" + args.server.split("://", 1)[1])
    try:
        await admin.execute(f'CREATE DATABASE "{names["job"]}"')
        job_url = f"{base}/{names['job']}"
        await apply_migrations(Settings(database_url=job_url))
        started = time.perf_counter()
        sizes = await load_city("postgresql://" + job_url.split("://", 1)[1], args.persons, args.job)
        loaded = time.perf_counter() - started
        await admin.execute(f'CREATE DATABASE "{names["sql"]}" TEMPLATE "{names["job"]}"')
        sql_url = f"{base}/{names['sql']}"
        sql_seconds = await run_sql("postgresql://" + sql_url.split("://", 1)[1], args.job)
        job_seconds, result = await run_job(job_url, args.redis, args.job, args.workers)
        by_job = await outcome("postgresql://" + job_url.split("://", 1)[1])
        by_sql = await outcome("postgresql://" + sql_url.split("://", 1)[1])
    finally:
        for name in names.values():
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    print(f"machine: {machine_line()}")
    print(f"data: {sizes} (loaded in {loaded:.0f} s)")
    print(f"job result: {result}")
    print(f"both copies alike: {by_job == by_sql} {by_job if by_job == by_sql else (by_job, by_sql)}")
    print(
        f"{args.job}: hand-written SQL {sql_seconds:.1f} s; job through {args.workers} arq worker(s) {job_seconds:.1f} s; "
        f"ratio {job_seconds / sql_seconds:.2f}x"
    )


if __name__ == "__main__":
    asyncio.run(main())

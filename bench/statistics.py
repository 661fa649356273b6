"""Dashboard statistics (Q4) at city scale: answers from the rollups against counting live.

A city is COPY-loaded into a PostgreSQL database of its own: persons across Wuhan's 13
districts, about 1.8 policies each (pension for all, medical for four in five; employer and
flexible channels; active, suspended and terminated; starting and ending over the three years to
the month asked and before), about 3 transactions a person over the 36 months, employers, and
online accounts for three persons in ten and nine employers in ten. The REFRESH_STATISTICS job
function is run directly, twice: the first run fills the 36-month window, the second is a
night's run (this month and last). Then each dashboard question is asked through the service
functions, from the rollups (and through the GraphQL schema as an ANALYST), and, as the baseline
in the same run, counted live as before the rollups; both answers must be equal. Drops its
database at the end.

    python -m bench.statistics [--persons 1000000] [--rounds 50] [--live-rounds 5] [--server postgres://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from functools import partial
from statistics import median, quantiles
from typing import Any

import asyncpg
from tortoise import Tortoise

import models
from bench.machine import machine_line
from bench.read_path import timed
from domain.enums import BusinessType, JobKind, Role, TransactionStatus
from domain.identifiers import make_credit_code, make_resident_id
from domain.months import Month, month_range
from jobs.statistics import run_refresh_statistics
from models.database import apply_migrations
from schema.context import Context
from schema.root import schema as product_schema
from services import statistics as service
from services.common import clock
from services.common.viewer import Viewer
from services.statistics import Dimension
from settings import Settings

NOW = "2026-11-10T02:00:00+08:00"  # the first run; the questions are asked about this month
NIGHT = "2026-11-11T02:00:00+08:00"  # the next night's run
THIS_MONTH = Month(2026, 11)
LOCAL = dt.timezone(dt.timedelta(hours=8))
DISTRICTS = (
    ("420102", "江岸区"),
    ("420103", "江汉区"),
    ("420104", "硚口区"),
    ("420105", "汉阳区"),
    ("420106", "武昌区"),
    ("420107", "青山区"),
    ("420111", "洪山区"),
    ("420112", "东西湖区"),
    ("420113", "汉南区"),
    ("420114", "蔡甸区"),
    ("420115", "江夏区"),
    ("420116", "黄陂区"),
    ("420117", "新洲区"),
)
DISTRICT_WEIGHTS = (10, 8, 7, 7, 12, 6, 14, 6, 2, 5, 8, 8, 7)  # persons, by district
COMMUNITIES_A_DISTRICT = 40
PERSONS_AN_EMPLOYER = 50
TRANSACTIONS_A_PERSON = 3
WINDOW = service.rollup_window(THIS_MONTH)  # 2023-12 .. 2026-11
BUSINESS_TYPES = tuple(BusinessType)
STATUSES = (TransactionStatus.COMPLETED,) * 6 + (
    TransactionStatus.ACCEPTED,
    TransactionStatus.SUBMITTED,
    TransactionStatus.REJECTED,
    TransactionStatus.CANCELLED,
)


def _districts_of(persons: int) -> list[int]:
    """District id (1..13) of each person, in proportion to DISTRICT_WEIGHTS."""
    rng = random.Random(1)
    return rng.choices(range(1, len(DISTRICTS) + 1), weights=DISTRICT_WEIGHTS, k=persons)


async def load_city(dsn: str, persons: int) -> dict[str, int]:
    connection = await asyncpg.connect(dsn)
    rng = random.Random(2026)
    now = dt.datetime(2026, 11, 1, 9, 0, tzinfo=LOCAL)
    try:
        await connection.copy_records_to_table(
            "district",
            columns=["id", "code", "name"],
            records=[(i, code, name) for i, (code, name) in enumerate(DISTRICTS, 1)],
        )
        communities = [
            (d * 1000 + c, d, f"{DISTRICTS[d - 1][0]}{c:03d}", f"社区{d}-{c}")
            for d in range(1, len(DISTRICTS) + 1)
            for c in range(1, COMMUNITIES_A_DISTRICT + 1)
        ]
        await connection.copy_records_to_table(
            "community", columns=["id", "district_id", "code", "name"], records=communities
        )
        district_of = _districts_of(persons)
        employers = max(persons // PERSONS_AN_EMPLOYER, len(DISTRICTS))
        employer_district = [
            rng.choices(range(1, len(DISTRICTS) + 1), weights=DISTRICT_WEIGHTS)[0] for _ in range(employers)
        ]
        await connection.copy_records_to_table(
            "employer",
            columns=["id", "credit_code", "name", "district_id", "address", "status", "registered_at"],
            records=(
                (
                    e,
                    make_credit_code(f"9142{DISTRICTS[employer_district[e - 1] - 1][0][2:6]}", f"{e:08d}"),
                    f"单位{e}",
                    employer_district[e - 1],
                    None,
                    "CLOSED" if e % 25 == 0 else "ACTIVE",
                    now,
                )
                for e in range(1, employers + 1)
            ),
        )

        def people() -> Iterator[tuple]:
            for n in range(1, persons + 1):
                d = district_of[n - 1]
                birth = dt.date(1960, 1, 1) + dt.timedelta(days=n // 900)
                yield (
                    n,
                    make_resident_id(DISTRICTS[d - 1][0], birth, n % 900 + 1),
                    f"居民{n}",
                    "MALE" if n % 2 else "FEMALE",
                    birth,
                    None,
                    "WORKER",
                    "EMPLOYED" if n % 5 < 3 else "FLEXIBLE",
                    d,
                    d * 1000 + n % COMMUNITIES_A_DISTRICT + 1,
                    None,
                    None,
                    now,
                    now,
                )

        await connection.copy_records_to_table(
            "person",
            records=people(),
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

        months = month_range(Month(2019, 1), THIS_MONTH.plus(1))
        recent = [m for m in months if m >= WINDOW[0]]
        counted = {"policies": 0}

        def policies() -> Iterator[tuple]:
            policy_id = 0
            for n in range(1, persons + 1):
                employed = n % 5 < 3
                employer = n % employers + 1 if employed else None
                start = rng.choice(months) if rng.random() < 0.3 else rng.choice(recent)
                ending = rng.random()
                for insurance_type in ("PENSION", "MEDICAL"):
                    if insurance_type == "MEDICAL" and n % 5 == 4:
                        continue
                    if ending < 0.80:
                        status, end = "ACTIVE", None
                    else:
                        status = "SUSPENDED" if ending < 0.92 else "TERMINATED"
                        later = [m for m in months if start <= m <= THIS_MONTH]
                        end = rng.choice(later).to_int() if later else None
                    grade = "1.00" if insurance_type == "PENSION" and not employed else None
                    policy_id += 1
                    yield (
                        policy_id,
                        n,
                        insurance_type,
                        "EMPLOYER" if employed else "FLEXIBLE",
                        employer,
                        status,
                        None if grade is None else Decimal(grade),
                        start.to_int(),
                        end,
                        now,
                    )
            counted["policies"] = policy_id

        await connection.copy_records_to_table(
            "policy",
            records=policies(),
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

        first = dt.datetime.combine(WINDOW[0].first_day(), dt.time(), LOCAL)
        span = (dt.datetime.combine(THIS_MONTH.plus(1).first_day(), dt.time(), LOCAL) - first).total_seconds()
        transactions = persons * TRANSACTIONS_A_PERSON

        def business() -> Iterator[tuple]:
            for t in range(1, transactions + 1):
                moment = first + dt.timedelta(seconds=int(rng.random() * span))
                person = rng.randint(1, persons)
                yield (
                    t,
                    rng.choice(BUSINESS_TYPES).value,
                    rng.choice(STATUSES).value,
                    "COUNTER" if rng.random() < 0.15 else "ONLINE",
                    None,
                    person,
                    None,
                    district_of[person - 1],
                    moment,
                    None,
                    "{}",
                    None,
                    None,
                    None,
                )

        await connection.copy_records_to_table(
            "business_transaction",
            records=business(),
            columns=[
                "id",
                "business_type",
                "status",
                "channel",
                "actor_id",
                "person_id",
                "employer_id",
                "district_id",
                "submitted_at",
                "effective_month",
                "details",
                "decided_at",
                "decided_by_id",
                "decision_reason",
            ],
        )

        def accounts() -> Iterator[tuple]:
            account_id = 0
            for n in range(1, persons + 1):
                if n % 10 < 3:
                    account_id += 1
                    yield (account_id, f"p{n}", "x", "PERSON", n, None, n % 40 != 0, now)
            for e in range(1, employers + 1):
                if e % 10 != 0:
                    account_id += 1
                    yield (account_id, f"e{e}", "x", "EMPLOYER_AGENT", None, e, True, now)

        await connection.copy_records_to_table(
            "account",
            records=accounts(),
            columns=["id", "username", "password_hash", "role", "person_id", "employer_id", "is_active", "created_at"],
        )
        for table in ("person", "policy", "employer", "business_transaction", "account", "community", "district"):
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f'(SELECT coalesce(max(id), 0) + 1 FROM "{table}"), false)'
            )
        await connection.execute("VACUUM ANALYZE")
        return {
            "persons": persons,
            "policies": counted["policies"],
            "transactions": transactions,
            "employers": employers,
        }
    finally:
        await connection.close()


async def refresh() -> tuple[float, dict]:
    """The job function itself, as a worker runs it (progress saved with each month)."""
    job = await models.Job.create(kind=JobKind.REFRESH_STATISTICS, params={"month": THIS_MONTH.to_int()})

    async def progress(value: float) -> None:
        job.progress = min(max(value, 0.0), 1.0)
        await job.save(update_fields=["progress", "result"])

    started = time.perf_counter()
    result = await run_refresh_statistics(job, progress)
    return time.perf_counter() - started, result


SERIES = dict(from_month=THIS_MONTH.plus(-11), to_month=THIS_MONTH)
QUESTIONS: list[tuple[str, Callable[..., Awaitable[Any]], dict, str]] = [
    (
        "enrollment by insurance type",
        service.enrollment_stats,
        dict(group_by=[Dimension.INSURANCE_TYPE]),
        "enrollmentStats(groupBy: [INSURANCE_TYPE]) { asOf groups { count suppressed insuranceType } }",
    ),
    (
        "enrollment by district",
        service.enrollment_stats,
        dict(group_by=[Dimension.DISTRICT]),
        "enrollmentStats(groupBy: [DISTRICT]) { asOf groups { count suppressed districtId } }",
    ),
    (
        "enrollment by all four",
        service.enrollment_stats,
        dict(group_by=[Dimension.INSURANCE_TYPE, Dimension.CHANNEL, Dimension.DISTRICT, Dimension.STATUS]),
        "enrollmentStats(groupBy: [INSURANCE_TYPE, CHANNEL, DISTRICT, STATUS]) { asOf groups { count suppressed insuranceType channel districtId status } }",
    ),
    (
        "enrollment 12-month series by district",
        service.enrollment_stats,
        dict(group_by=[Dimension.DISTRICT, Dimension.MONTH], **SERIES),
        'enrollmentStats(groupBy: [DISTRICT, MONTH], fromMonth: "2025-12", toMonth: "2026-11") { asOf groups { count suppressed districtId month } }',
    ),
    (
        "enrollment pension, flexible, by district",
        service.enrollment_stats,
        dict(group_by=[Dimension.DISTRICT], insurance_type="PENSION", channel="FLEXIBLE"),
        "enrollmentStats(groupBy: [DISTRICT], insuranceType: PENSION, channel: FLEXIBLE) { asOf groups { count suppressed districtId } }",
    ),
    (
        "volume 1 month by business type",
        service.business_volume_stats,
        dict(group_by=[Dimension.BUSINESS_TYPE], from_month=THIS_MONTH, to_month=THIS_MONTH),
        'businessVolumeStats(groupBy: [BUSINESS_TYPE], fromMonth: "2026-11", toMonth: "2026-11") { asOf groups { count suppressed businessType } }',
    ),
    (
        "volume 12 months by business type",
        service.business_volume_stats,
        dict(group_by=[Dimension.BUSINESS_TYPE], **SERIES),
        'businessVolumeStats(groupBy: [BUSINESS_TYPE], fromMonth: "2025-12", toMonth: "2026-11") { asOf groups { count suppressed businessType } }',
    ),
    (
        "volume 12-month series by type",
        service.business_volume_stats,
        dict(group_by=[Dimension.BUSINESS_TYPE, Dimension.MONTH], **SERIES),
        'businessVolumeStats(groupBy: [BUSINESS_TYPE, MONTH], fromMonth: "2025-12", toMonth: "2026-11") { asOf groups { count suppressed businessType month } }',
    ),
    (
        "online adoption",
        service.online_adoption_stats,
        {},
        "onlineAdoptionStats { districts { districtCode persons { total online share } employers { total online share } }"
        " persons { total online share } employers { total online share } }",
    ),
]


def ms(seconds: list[float]) -> tuple[float, float]:
    """Median and 95th percentile, in milliseconds."""
    p95 = quantiles(seconds, n=20)[18] if len(seconds) >= 2 else seconds[0]
    return median(seconds) * 1000, p95 * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=50, help="rounds of each question from the rollups")
    parser.add_argument("--live-rounds", type=int, default=5, help="rounds of each question counted live")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()

    name = f"shebao_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect("postgresql://" + args.server.split("://", 1)[1])
    version = await admin.fetchval("SHOW server_version")
    await admin.execute(f'CREATE DATABASE "{name}"')
    database_url = args.server.rsplit("/", 1)[0] + f"/{name}"
    rows = []
    try:
        settings = Settings(database_url=database_url)
        await apply_migrations(settings)
        started = time.perf_counter()
        sizes = await load_city("postgresql://" + database_url.split("://", 1)[1], args.persons)
        loaded = time.perf_counter() - started
        await Tortoise.init(config=settings.tortoise_config())
        clock.freeze(NOW)
        first_seconds, first_result = await refresh()
        clock.freeze(NIGHT)
        night_seconds, night_result = await refresh()
        clock.freeze("2026-11-11T10:00:00+08:00")
        context = Context(viewer=Viewer(0, "bench", Role.ANALYST))

        for label, function, arguments, field in QUESTIONS:
            from_rollups = await function(**arguments)
            counted = await function(**arguments, live=True)
            assert from_rollups.as_of in (clock.parse_moment(NOW), clock.parse_moment(NIGHT)), label
            if isinstance(counted, list):
                assert from_rollups == counted and any(not g.suppressed for g in counted), label
            else:
                assert (from_rollups.districts, from_rollups.persons) == (counted.districts, counted.persons), label

            async def through_graph(field=field) -> None:
                result = await product_schema.execute("{ " + field + " }", context_value=context)
                assert not result.errors, result.errors

            fast = await timed(partial(function, **arguments), args.rounds, warmup=2)
            graph = await timed(through_graph, args.rounds, warmup=2)
            live = await timed(partial(function, **arguments, live=True), args.live_rounds, warmup=1)
            rows.append((label, ms(fast), ms(graph), ms(live)))
        # Not served by the rollups: persons in force in any month of a range do not add up.
        any_month = dict(group_by=[Dimension.DISTRICT], **SERIES)
        assert (await service.enrollment_stats(**any_month)).as_of == clock.now()
        anywhere = ms(await timed(lambda: service.enrollment_stats(**any_month), args.live_rounds, warmup=1))
        counts = {
            model.__name__: await model.all().count()
            for model in (
                models.EnrollmentRollup,
                models.BusinessVolumeRollup,
                models.OnlineAdoptionRollup,
                models.RollupMonth,
            )
        }
    finally:
        clock.freeze(None)
        await Tortoise.close_connections()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    print(f"machine: {machine_line()}, PostgreSQL {version}")
    print(f"data: {sizes} (loaded in {loaded:.0f} s); rollup rows: {counts}")
    print(f"refresh, first run (36 months + adoption): {first_seconds:.1f} s  {first_result}")
    print(f"refresh, a night's run (2 months + adoption): {night_seconds:.1f} s  {night_result}")
    print(f"{args.rounds} rounds from the rollups, {args.live_rounds} counted live; median / p95 in ms")
    print(f"{'question':44} {'rollups':>17} {'GraphQL (ANALYST)':>19} {'live (before)':>19} {'ratio':>7}")
    for label, fast, graph, live in rows:
        print(
            f"{label:44} {fast[0]:7.1f} / {fast[1]:7.1f} {graph[0]:8.1f} / {graph[1]:8.1f} "
            f"{live[0]:8.1f} / {live[1]:8.1f} {live[0] / fast[0]:6.0f}x"
        )
    print(
        f"{'enrollment in any month of 12, by district':44} {'(always live)':>17} {'':>19} "
        f"{anywhere[0]:8.1f} / {anywhere[1]:8.1f}"
    )


if __name__ == "__main__":
    asyncio.run(main())

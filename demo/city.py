"""A deterministic synthetic city shaped like Wuhan, for demos and benchmarks (``main.py seed``).

The same seed gives the same city. Every figure is priced by domain.pricing and domain.interest
with the parameters in force in the database, and every identifier passes its standard (A1, A2).
Rows are written in bulk inside one transaction, so a failed seed leaves nothing behind; a
database that already holds a city is refused rather than filled twice.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from dataclasses import dataclass, field
from itertools import accumulate

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from demo.bulk import (
    ARREAR,
    COMMUNITY,
    DISTRICT,
    EMPLOYER,
    EMPLOYMENT,
    LEDGER_ENTRY,
    OFFICE,
    PASSBOOK,
    PAYMENT_ORDER,
    PERIOD,
    POLICY,
    TRANSACTION,
    BulkWriter,
)
from demo.calendar import Calendar, published_average_wage, wage_years
from demo.names import (
    DISTRICTS,
    community_name,
    credit_code,
    employer_name,
    office_name,
    street_address,
)
from demo.people import EmployerRef, PersonBuilder, Place
from domain.enums import (
    BusinessCategory,
    BusinessType,
    EmployerStatus,
    ParameterCode,
    ServiceChannel,
    TransactionStatus,
)
from domain.months import LOCAL_TZ, Month
from models import District, Office, Parameter, Person
from services import appointments
from services.collection.tariff import parameter_rows
from services.common import clock

PERSONS_PER_FLUSH = 2_000
PERSONS_PER_EMPLOYER = 40
DEMO_SLOT_DAYS = 5  # working days of appointment slots opened ahead (Q1)
DEMO_SLOT_CATEGORIES = (BusinessCategory.REGISTRATION, BusinessCategory.BACK_PAYMENT)
DEMO_SLOT_CAPACITY = 10
# Rough shares of the city's population by district (the central and the big new districts lead).
DISTRICT_WEIGHTS = {
    "420102": 9,
    "420103": 7,
    "420104": 7,
    "420105": 6,
    "420106": 12,
    "420107": 5,
    "420111": 14,
    "420112": 5,
    "420113": 1.5,
    "420114": 5,
    "420115": 7,
    "420116": 9,
    "420117": 7,
}


class CityAlreadySeeded(RuntimeError):
    """The database already holds a city; seeding again would duplicate it."""


@dataclass(frozen=True)
class SeedReport:
    seed: int
    persons: int
    persons_by_category: dict[str, int]
    districts: int
    communities: int
    offices: int
    employers: int
    employments: int
    policies: int
    periods: int
    arrears: int
    payment_orders: int
    passbooks: int
    ledger_entries: int
    transactions: int
    average_wages_published: list[int] = field(default_factory=list)
    elapsed_seconds: float = 0.0


async def seed_city(persons: int, seed: int, *, now: dt.datetime | None = None) -> SeedReport:
    """Write a city of ``persons`` persons, the same for the same ``seed``, with history up to ``now``.

    Tortoise must be initialised and the migrations applied. Raises CityAlreadySeeded when the
    database already has districts or persons.
    """
    if persons < 1:
        raise ValueError("a city needs at least one person")
    started = time.perf_counter()
    moment = _local(now or clock.now())
    rng = random.Random(seed)
    async with in_transaction() as connection:
        await _refuse_existing_city(connection)
        published = await _publish_average_wages(connection, moment)
        calendar = Calendar.build(moment, await parameter_rows(connection))
        writer = BulkWriter(connection)
        await writer.start_ids()
        places = _write_geography(rng, writer)
        employers = _write_employers(rng, writer, calendar, places, max(3, persons // PERSONS_PER_EMPLOYER))
        builder = PersonBuilder(
            rng=rng,
            writer=writer,
            calendar=calendar,
            places=places,
            place_cumulative=tuple(accumulate(DISTRICT_WEIGHTS[p.district.code] for p in places)),
            employers=employers,
            employer_cumulative=tuple(accumulate(rng.paretovariate(1.2) for _ in employers)),
        )
        for index in range(persons):
            builder.add_person()
            if (index + 1) % PERSONS_PER_FLUSH == 0:
                await writer.flush()
        await writer.flush()
        await writer.move_sequences_past_ids()
    await _open_offices(moment.date())
    return _report(seed, persons, builder, writer, published, time.perf_counter() - started)


async def _open_offices(today: dt.date) -> None:
    """Appointment slots (Q1) at every office for the next working days, so the demo can book."""
    days = [day for day in (today + dt.timedelta(days=n) for n in range(1, 10)) if day.weekday() < 5][:DEMO_SLOT_DAYS]
    for office_id in await Office.all().values_list("id", flat=True):
        for day in days:
            for category in DEMO_SLOT_CATEGORIES:
                await appointments.open_day(office_id, day, category, 9, 17, 60, DEMO_SLOT_CAPACITY)


def _local(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=LOCAL_TZ) if moment.tzinfo is None else moment.astimezone(LOCAL_TZ)


async def _refuse_existing_city(connection: BaseDBAsyncClient) -> None:
    districts = await District.all().using_db(connection).count()
    persons = await Person.all().using_db(connection).count()
    if districts or persons:
        raise CityAlreadySeeded(
            f"the database already holds a city ({districts} districts, {persons} persons);"
            " seed an empty database instead"
        )


async def _publish_average_wages(connection: BaseDBAsyncClient, now: dt.datetime) -> list[int]:
    """P1: publish the average wage of each recent year that has none yet (YYYY01 onwards)."""
    years = wage_years(Month.of(now.date()))
    published = set(
        await Parameter.filter(code=ParameterCode.AVERAGE_MONTHLY_WAGE)
        .using_db(connection)
        .values_list("effective_from", flat=True)
    )
    missing = [year for year in years if year * 100 + 1 not in published]
    await Parameter.bulk_create(
        [
            Parameter(
                code=ParameterCode.AVERAGE_MONTHLY_WAGE,
                effective_from=year * 100 + 1,
                value=published_average_wage(year),
                note="demo city (P1)",
            )
            for year in missing
        ],
        using_db=connection,
    )
    return missing


def _write_geography(rng: random.Random, writer: BulkWriter) -> list[Place]:
    """The 13 districts, a community per street, and one service office per district."""
    places = []
    for district in DISTRICTS:
        district_id = writer.new_id(DISTRICT)
        writer.add(DISTRICT, (district_id, district.code, district.name))
        writer.add(OFFICE, (writer.new_id(OFFICE), district_id, office_name(district), street_address(rng, district)))
        for index, street in enumerate(district.streets):
            community_id = writer.new_id(COMMUNITY)
            code = f"{district.code}{index + 1:03d}001"
            writer.add(COMMUNITY, (community_id, district_id, code, community_name(street, index)))
            places.append(Place(district_id, community_id, district))
    return places


def _write_employers(
    rng: random.Random, writer: BulkWriter, calendar: Calendar, places: list[Place], count: int
) -> list[EmployerRef]:
    """Employers with valid credit codes (A2), each having declared this year's bases (E3)."""
    district_ids = {place.district.code: place.district_id for place in places}
    codes: set[str] = set()
    this_year = calendar.this_month.year * 100 + 1
    employers = []
    for _ in range(count):
        district = rng.choice(DISTRICTS)
        employer = EmployerRef(writer.new_id(EMPLOYER), district_ids[district.code])
        registered = calendar.now - dt.timedelta(days=rng.randint(900, 9000))
        writer.add(
            EMPLOYER,
            (
                employer.id,
                credit_code(rng, district.code, codes),
                employer_name(rng),
                employer.district_id,
                street_address(rng, district),
                EmployerStatus.ACTIVE.value,
                registered,
            ),
        )
        declared = calendar.office_hours(rng, this_year, last_day=20)
        writer.add(
            TRANSACTION,
            (
                writer.new_id(TRANSACTION),
                BusinessType.DECLARE_CONTRIBUTION_BASE.value,
                TransactionStatus.COMPLETED.value,
                ServiceChannel.ONLINE.value,
                None,
                employer.id,
                employer.district_id,
                declared,
                this_year,
                json.dumps({"year": calendar.this_month.year}),
                declared,
                None,
            ),
        )
        employers.append(employer)
    return employers


def _report(
    seed: int, persons: int, builder: PersonBuilder, writer: BulkWriter, published: list[int], elapsed: float
) -> SeedReport:
    return SeedReport(
        seed=seed,
        persons=persons,
        persons_by_category=dict(sorted(builder.categories.items())),
        districts=writer.count(DISTRICT),
        communities=writer.count(COMMUNITY),
        offices=writer.count(OFFICE),
        employers=writer.count(EMPLOYER),
        employments=writer.count(EMPLOYMENT),
        policies=writer.count(POLICY),
        periods=writer.count(PERIOD),
        arrears=writer.count(ARREAR),
        payment_orders=writer.count(PAYMENT_ORDER),
        passbooks=writer.count(PASSBOOK),
        ledger_entries=writer.count(LEDGER_ENTRY),
        transactions=writer.count(TRANSACTION),
        average_wages_published=published,
        elapsed_seconds=round(elapsed, 2),
    )

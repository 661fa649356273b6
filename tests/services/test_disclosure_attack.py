"""An attacker against the dashboard statistics (A6, Q4): every grouping, with and without filters,
every month and range, then every equation the shown counts give (tests/attacker.py).

A generated city with small groups holds the probe's case: in one district in 2026-11, 1 flexible
and 10 employer persons with medical insurance, so that MEDICAL 11 less EMPLOYER 10 would give
FLEXIBLE 1. The attacker's units are exact: transactions in their finest cell and month; persons
of a district with a given set of policies in force (up to three, as employer staff and persons
changing channel within a month hold), one month at a time, since the months' counts share no
person's history (a range's persons in force in any month are listed without counts).
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections import OrderedDict
from dataclasses import dataclass

import pytest
from tortoise.transactions import in_transaction

import models
from domain import disclosure
from domain.enums import BusinessType, Channel, InsuranceType, PolicyStatus, ServiceChannel, TransactionStatus
from domain.months import LOCAL_TZ, Month
from services import statistics
from services.statistics import Dimension
from tests import factories
from tests.attacker import pinned

pytestmark = pytest.mark.usefixtures("db")

OCTOBER, NOVEMBER = Month(2026, 10), Month(2026, 11)
MONTHS = (OCTOBER, NOVEMBER)
RANGES = ((OCTOBER, OCTOBER), (NOVEMBER, NOVEMBER), (OCTOBER, NOVEMBER))
P, M, U = InsuranceType.PENSION, InsuranceType.MEDICAL, InsuranceType.UNEMPLOYMENT
F, E = Channel.FLEXIBLE, Channel.EMPLOYER
ACTIVE, SUSPENDED = PolicyStatus.ACTIVE, PolicyStatus.SUSPENDED
ENROLLMENT_AXES = (Dimension.INSURANCE_TYPE, Dimension.CHANNEL, Dimension.DISTRICT, Dimension.STATUS)
VOLUME_AXES = (Dimension.BUSINESS_TYPE, Dimension.STATUS, Dimension.CHANNEL, Dimension.DISTRICT)
FIELD = {
    Dimension.INSURANCE_TYPE: "insurance_type",
    Dimension.BUSINESS_TYPE: "business_type",
    Dimension.CHANNEL: "channel",
    Dimension.DISTRICT: "district_id",
    Dimension.STATUS: "status",
}


@dataclass(frozen=True)
class Held:
    """A policy as the generator made it."""

    kind: InsuranceType
    channel: Channel
    status: PolicyStatus
    start: Month
    end: Month | None = None

    def in_force(self, month: Month) -> bool:
        return self.start <= month and (self.end >= month if self.end else self.status is ACTIVE)


@dataclass
class City:
    districts: list[int]
    persons: list[tuple[int, list[Held]]]
    transactions: list[tuple[str, str, str, int, Month]]
    probe: int  # the district of the probe's case


def subsets(dimensions):
    return [list(chosen) for size in range(len(dimensions) + 1) for chosen in itertools.combinations(dimensions, size)]


def coarser(cell: tuple) -> set[tuple]:
    grouped = [d for d, value in enumerate(cell) if value is not None]
    return {
        tuple(value if d in kept else None for d, value in enumerate(cell))
        for size in range(len(grouped) + 1)
        for kept in itertools.combinations(grouped, size)
    }


def cells_of_person(district: int, policies) -> set[tuple]:
    return {cell for kind, channel, status in policies for cell in coarser((kind, channel, district, status))}


def generate(seed: int, others: int = 48, moves: int = 150) -> tuple[list[tuple[str, list[Held]]], list[tuple]]:
    """Persons (by district key) with their policies, and transactions, with many small groups."""
    rng = random.Random(seed)
    since = Month(2025, 1)
    persons: list[tuple[str, list[Held]]] = []
    # The probe's case, in district A: medical persons in 2026-11, 10 employer and 1 flexible.
    persons += [("A", [Held(P, E, ACTIVE, since), Held(M, E, ACTIVE, since)]) for _ in range(10)]
    persons.append(("A", [Held(P, F, ACTIVE, Month(2026, 1)), Held(M, F, ACTIVE, Month(2026, 1))]))
    for _ in range(others):
        district = rng.choice("AABBBC")
        start = rng.choice([since, since, OCTOBER, NOVEMBER])
        status, end = rng.choice([(ACTIVE, None)] * 5 + [(SUSPENDED, OCTOBER), (SUSPENDED, NOVEMBER)])
        if end and end < start:
            start = end
        shape = rng.choice(["flexible pension", "flexible both", "employer", "employer", "switching"])
        if district == "A" and shape == "flexible both":  # the probe's district keeps its 1
            shape = "flexible pension"
        if shape == "flexible pension":
            held = [Held(P, F, status, start, end)]
        elif shape == "flexible both":
            held = [Held(P, F, status, start, end), Held(M, F, status, start, end)]
        elif shape == "employer":
            kinds = (P, M, U) if rng.random() < 0.4 else (P, M)
            held = [Held(kind, E, status, start, end) for kind in kinds]
        else:  # flexible until 2026-11, employed from 2026-11: both in force that month
            held = [Held(P, F, SUSPENDED, since, NOVEMBER), Held(P, E, ACTIVE, NOVEMBER), Held(M, E, ACTIVE, NOVEMBER)]
        persons.append((district, held))
    types = [BusinessType.ENROLL_FLEXIBLE.value, BusinessType.PAY_ARREARS.value, BusinessType.ADD_EMPLOYEES.value]
    statuses = [TransactionStatus.COMPLETED.value] * 3 + [
        TransactionStatus.SUBMITTED.value,
        TransactionStatus.REJECTED.value,
    ]
    transactions = []
    for n in range(moves):
        transactions.append(
            (
                rng.choice(types[:2] if n % 4 else types),
                rng.choice(statuses),
                ServiceChannel.COUNTER.value if n % 3 == 0 else ServiceChannel.ONLINE.value,
                rng.choice("AAABBC"),
                rng.choice(MONTHS),
            )
        )
    return persons, transactions


async def build(seed: int, **sizes) -> City:
    districts = {
        "A": await factories.district("420102", "江岸区"),
        "B": await factories.district("420103", "江汉区"),
        "C": await factories.district("420104", "硚口区"),
    }
    homes = {key: await factories.community(district) for key, district in districts.items()}
    employers = {key: await factories.employer(district, name=f"单位{key}") for key, district in districts.items()}
    generated, moves = generate(seed, **sizes)
    persons = []
    for n, (key, held) in enumerate(generated):
        person = await factories.person(homes[key], name=f"居民{n}", birth=dt.date(1970, 1, 1) + dt.timedelta(days=n))
        for policy in held:
            await models.Policy.create(
                person=person,
                insurance_type=policy.kind,
                channel=policy.channel,
                employer=employers[key] if policy.channel is E else None,
                status=policy.status,
                grade="1.00" if policy.kind is P and policy.channel is F else None,
                start_month=policy.start.to_int(),
                end_month=policy.end.to_int() if policy.end else None,
            )
        persons.append((districts[key].id, held))
    transactions = []
    for n, (kind, status, channel, key, month) in enumerate(moves):
        moment = dt.datetime(month.year, month.month, 1 + n % 28, 9 + n % 12, tzinfo=LOCAL_TZ)
        transactions.append((kind, status, channel, districts[key].id, month))
        await models.BusinessTransaction.create(
            business_type=kind, status=status, channel=channel, district=districts[key], submitted_at=moment
        )
    async with in_transaction():
        for month in MONTHS:
            await statistics.refresh_month(month)
    return City(sorted(d.id for d in districts.values()), persons, transactions, districts["A"].id)


def true_enrollment(city: City, month: Month) -> dict[tuple, int]:
    cube: dict[tuple, int] = {}
    for district, held in city.persons:
        policies = {(h.kind.value, h.channel.value, h.status.value) for h in held if h.in_force(month)}
        for cell in cells_of_person(district, policies):
            cube[cell] = cube.get(cell, 0) + 1
    return cube


def true_volume(city: City) -> dict[tuple, int]:
    """By (first month, last month) of each range, and cell."""
    cube: dict[tuple, int] = {}
    for kind, status, channel, district, month in city.transactions:
        for first, last in RANGES:
            if first <= month <= last:
                for cell in coarser((kind, status, channel, district)):
                    cube[((first, last), cell)] = cube.get(((first, last), cell), 0) + 1
    return cube


def raw(value):
    return getattr(value, "value", value)


class Published:
    """What the attacker collects: each (period, cell) shown with its count or listed suppressed;
    the same cell must read the same in every answer."""

    def __init__(self) -> None:
        self.seen: dict[tuple, int | None] = {}

    def add(self, key: tuple, count: int | None) -> None:
        assert self.seen.setdefault(key, count) == count, (key, self.seen[key], count)

    def shown(self) -> dict[tuple, int]:
        return {key: count for key, count in self.seen.items() if count is not None}

    def listed(self) -> set[tuple]:
        return {key for key, count in self.seen.items() if count is None}


def cell_of(group, axes, filters: dict) -> tuple:
    return tuple(
        raw(getattr(group, FIELD[axis])) if getattr(group, FIELD[axis]) is not None else raw(filters.get(axis))
        for axis in axes
    )


def filter_sets(values: dict, pairs: bool) -> list[dict]:
    singles = [{axis: value} for axis, options in values.items() for value in options]
    sets = [{}, *singles]
    if pairs:
        for (a, first), (b, second) in itertools.combinations(values.items(), 2):
            sets += [{a: x, b: y} for x in first for y in second]
    return sets


ENROLLMENT_ARGUMENT = {
    Dimension.INSURANCE_TYPE: "insurance_type",
    Dimension.CHANNEL: "channel",
    Dimension.DISTRICT: "district_id",
    Dimension.STATUS: "status",
}
VOLUME_ARGUMENT = {
    Dimension.BUSINESS_TYPE: "business_type",
    Dimension.STATUS: "status",
    Dimension.CHANNEL: "channel",
    Dimension.DISTRICT: "district_id",
}


async def ask_enrollment(city: City) -> tuple[Published, dict]:
    """Every grouping, with no filter, each one, and (one month) each two; one month and a series
    of both; and the persons in force in either month."""
    values = {
        Dimension.INSURANCE_TYPE: [P, M, U],
        Dimension.CHANNEL: [F, E],
        Dimension.DISTRICT: city.districts,
        Dimension.STATUS: [ACTIVE, SUSPENDED],
    }
    published, unions = Published(), {}
    for grouped in subsets(ENROLLMENT_AXES):
        for filters in filter_sets(values, pairs=True):
            arguments = {ENROLLMENT_ARGUMENT[axis]: value for axis, value in filters.items()}
            for group in await statistics.enrollment_stats(grouped, NOVEMBER, **arguments):
                published.add((NOVEMBER, cell_of(group, ENROLLMENT_AXES, filters)), group.count)
        for filters in filter_sets(values, pairs=False):
            arguments = {ENROLLMENT_ARGUMENT[axis]: value for axis, value in filters.items()}
            series = await statistics.enrollment_stats(
                [*grouped, Dimension.MONTH], from_month=OCTOBER, to_month=NOVEMBER, **arguments
            )
            for group in series:
                published.add((group.month, cell_of(group, ENROLLMENT_AXES, filters)), group.count)
            union = await statistics.enrollment_stats(grouped, from_month=OCTOBER, to_month=NOVEMBER, **arguments)
            for group in union:
                unions[cell_of(group, ENROLLMENT_AXES, filters)] = group
    return published, unions


async def ask_volume(city: City) -> Published:
    values = {
        Dimension.BUSINESS_TYPE: sorted({t[0] for t in city.transactions}),
        Dimension.STATUS: sorted({t[1] for t in city.transactions}),
        Dimension.CHANNEL: sorted({t[2] for t in city.transactions}),
        Dimension.DISTRICT: city.districts,
    }
    published = Published()
    for grouped in subsets(VOLUME_AXES):
        for filters in filter_sets(values, pairs=False):
            arguments = {VOLUME_ARGUMENT[axis]: value for axis, value in filters.items()}
            for first, last in RANGES:
                for group in await statistics.business_volume_stats(grouped, first, last, **arguments):
                    published.add(((first, last), cell_of(group, VOLUME_AXES, filters)), group.count)
                by_month = await statistics.business_volume_stats([*grouped, Dimension.MONTH], first, last, **arguments)
                for group in by_month:
                    published.add(((group.month, group.month), cell_of(group, VOLUME_AXES, filters)), group.count)
    return published


def attack_enrollment(city: City, published: Published, month: Month) -> dict:
    truth = true_enrollment(city, month)
    shown = {cell: count for (when, cell), count in published.shown().items() if when == month}
    listed = {cell for when, cell in published.listed() if when == month and truth.get(cell)}
    assert {cell: truth[cell] for cell in shown} == shown  # the counts shown are true
    assert shown.keys() | listed == truth.keys()  # and every group with someone in it is seen
    policies = sorted({(cell[0], cell[1], cell[3]) for cell in truth if None not in cell})
    kinds = [frozenset(held) for size in (1, 2, 3) for held in itertools.combinations(policies, size)]
    cells_of = {(d, held): cells_of_person(d, held) for d in city.districts for held in kinds}
    return pinned(cells_of, shown, listed, listed, truth)


def attack_volume(city: City, published: Published) -> dict:
    truth = true_volume(city)
    shown, listed = published.shown(), {key for key in published.listed() if truth.get(key)}
    assert {key: truth[key] for key in shown} == shown
    assert shown.keys() | listed == truth.keys()
    finest = sorted({cell for (_, cell) in truth if None not in cell})
    cells_of = {
        (month, cell): {((first, last), c) for first, last in RANGES if first <= month <= last for c in coarser(cell)}
        for month in MONTHS
        for cell in finest
    }
    return pinned(cells_of, shown, listed, listed, truth)


async def test_no_suppressed_group_can_be_worked_out_from_every_answer_together() -> None:
    city = await build(20261110)
    published, unions = await ask_enrollment(city)

    probe = (NOVEMBER, (M.value, F.value, city.probe, None))
    assert true_enrollment(city, NOVEMBER)[probe[1]] == 1 and probe in published.listed()
    assert true_enrollment(city, NOVEMBER)[(M.value, E.value, city.probe, None)] >= 10
    for month in MONTHS:
        assert attack_enrollment(city, published, month) == {}, month
    # Persons in force in either month: every group with someone in some month, none with a count.
    seen_in_months = {cell for (_, cell) in published.seen}
    assert all(group.suppressed and group.count is None for group in unions.values())
    assert set(unions) <= seen_in_months
    assert attack_volume(city, await ask_volume(city)) == {}


async def test_the_attacker_pins_the_probe_where_only_small_groups_are_suppressed(monkeypatch) -> None:
    # As before secondary suppression: the same questions give FLEXIBLE 1 away.
    def small_only(counts, threshold, **units):
        return disclosure.Disclosure(frozenset(cell for cell, count in counts.items() if count < threshold))

    monkeypatch.setattr(disclosure, "protect", small_only)
    monkeypatch.setattr(statistics, "_PROTECTED", OrderedDict())
    city = await build(20261110)
    published, _ = await ask_enrollment(city)

    found = attack_enrollment(city, published, NOVEMBER)
    assert found[(M.value, F.value, city.probe, None)] == (1, 1)


def test_persons_in_force_in_any_month_of_a_range_would_give_a_hidden_month_away() -> None:
    # Two months; each person's policies and the months they are in force. Each month's cube is
    # protected, and a range's group is suppressed whenever it is in either month (or small). Even
    # so, the persons in force in either month pin a hidden group of the second month: persons are
    # the same from one month to the next, which no suppression of the months accounts for.
    both, second = (1, 2), (2, 2)
    persons = [
        (0, {("P", "F", "A")}, both),
        (0, {("P", "E", "A")}, both),
        (1, {("P", "E", "A"), ("M", "E", "A")}, both),
        (1, {("P", "E", "A")}, both),
        (0, {("P", "E", "A"), ("M", "E", "A")}, second),
        (0, {("P", "F", "A"), ("M", "F", "A")}, second),
        (0, {("P", "F", "A")}, both),
    ]
    ranges = [(1, 1), (2, 2), (1, 2)]
    cubes = {span: {} for span in ranges}
    for district, held, (start, end) in persons:
        for first, last in ranges:
            if start <= last and end >= first:
                for cell in cells_of_person(district, held):
                    cubes[(first, last)][cell] = cubes[(first, last)].get(cell, 0) + 1
    units = disclosure.Persons(layer=0, partition=2)
    hidden = {month: disclosure.protect(cubes[(month, month)], 5, units=units).suppressed for month in (1, 2)}
    hidden[(1, 2)] = {cell for cell, count in cubes[(1, 2)].items() if count < 5 or cell in hidden[1] | hidden[2]}
    shown, listed, truth = {}, set(), {}
    for span, cube in cubes.items():
        for cell, count in cube.items():
            truth[(span, cell)] = count
            if cell in hidden[span[0] if span[0] == span[1] else span]:
                listed.add((span, cell))
            else:
                shown[(span, cell)] = count
    policies = sorted({policy for _, held, _ in persons for policy in held})
    kinds = [frozenset(held) for size in (1, 2) for held in itertools.combinations(policies, size)]
    cells_of = {
        (district, held, span): {
            (r, cell) for r in ranges if span[0] <= r[1] and span[1] >= r[0] for cell in cells_of_person(district, held)
        }
        for district in (0, 1)
        for held in kinds
        for span in ranges
    }
    months = [key for key in listed if key[0][0] == key[0][1]]

    found = pinned(cells_of, shown, listed, months, truth)
    assert found[((2, 2), ("M", "F", 0, "A"))] == (1, 1)

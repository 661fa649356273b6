"""Aggregate statistics for dashboards (Q4): insured counts, business volume and online adoption.

Analysts see aggregates only (A6): every count is of a group, and a group of fewer than
``MIN_GROUP`` persons, transactions or employers is suppressed: returned with ``suppressed`` set
and no count, never as a zero. So are the enrollment and volume groups that would let a suppressed
one be worked out from other answers (see "Which groups are suppressed" below). Shares are
computed from shown counts only.

Every figure is counted by the database in GROUP BY statements, never row by row in Python.
The statements are written by hand because grouping by month needs a join to a list of months
(enrollment) or the month of a moment in local time (business volume, M2), which differ between
PostgreSQL and SQLite; everything else is plain SQL both understand. Only integers the code itself
made and enum values are written into the text; the rest are bound parameters.

At city scale counting live takes seconds (a million persons, three million transactions), so
the REFRESH_STATISTICS job (jobs/statistics.py) keeps rollups (models/statistics.py): every
night this month and last month are counted again, and every month of the 36-month window the
rollups do not hold yet. A question is answered from the rollups when they hold every month it
asks about, with the same groups, counts and suppression as counting live; otherwise it is
counted live. Either way every grouping of each month asked is read, since suppression is decided
on a month's whole cube. Each answer says ``as_of``: when the rollups it read were computed (the oldest of
its months), or now when counted live. STATUS and DISTRICT in a rollup are as they were then.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum
from typing import Any

from tortoise import connections
from tortoise.transactions import in_transaction

import models
from domain import disclosure
from domain.enums import (
    BusinessType,
    Channel,
    EmployerStatus,
    InsuranceType,
    PolicyStatus,
    Role,
    ServiceChannel,
    TransactionStatus,
)
from domain.errors import BusinessError, ErrorCode
from domain.months import LOCAL_TZ, Month, month_range
from models.bulk import dialect_of
from models.statistics import GROUP_CHANNEL, GROUP_DISTRICT, GROUP_INSURANCE_TYPE, GROUP_STATUS
from services.common import clock

MIN_GROUP = 5  # A6: smaller groups are suppressed
MAX_RANGE_MONTHS = 36  # three years of months a query, both ends included
ROLLUP_WINDOW_MONTHS = MAX_RANGE_MONTHS  # the months kept in the rollups, to this month
SHARE_PLACES = Decimal("0.0001")
# SQLite has no time zones: a moment is shifted to local time by the offset. Asia/Shanghai has
# kept UTC+8 without daylight saving since 1991, long before any business recorded here.
SQLITE_LOCAL_SHIFT = "+8 hours"


class Dimension(str, Enum):
    """What a statistic may be grouped by; each statistic takes some of them."""

    INSURANCE_TYPE = "INSURANCE_TYPE"
    BUSINESS_TYPE = "BUSINESS_TYPE"
    CHANNEL = "CHANNEL"
    DISTRICT = "DISTRICT"
    STATUS = "STATUS"
    MONTH = "MONTH"


ENROLLMENT_DIMENSIONS = (
    Dimension.INSURANCE_TYPE,
    Dimension.CHANNEL,
    Dimension.DISTRICT,
    Dimension.STATUS,
    Dimension.MONTH,
)
VOLUME_DIMENSIONS = (Dimension.BUSINESS_TYPE, Dimension.STATUS, Dimension.MONTH, Dimension.CHANNEL, Dimension.DISTRICT)


@dataclass(frozen=True, slots=True)
class Group:
    """One group of a statistic: the values of the dimensions grouped by (the others are None)
    and its count, or ``suppressed`` and no count when the group is smaller than MIN_GROUP."""

    count: int | None
    suppressed: bool
    insurance_type: InsuranceType | None = None
    business_type: BusinessType | None = None
    channel: Channel | ServiceChannel | None = None  # Channel for enrollment, ServiceChannel for volume
    district_id: int | None = None
    status: PolicyStatus | TransactionStatus | None = None  # PolicyStatus for enrollment
    month: Month | None = None


class Groups(list):
    """The groups of a statistic, a list of Group, and ``as_of``: the moment its counts describe
    (when the rollups read were computed, or now when counted live)."""

    def __init__(self, groups: Iterable[Group] = (), as_of: dt.datetime | None = None) -> None:
        super().__init__(groups)
        self.as_of = as_of


@dataclass(frozen=True, slots=True)
class Adoption:
    """How many there are and how many have online access (A3); ``share`` only when both are shown."""

    total: int | None
    total_suppressed: bool
    online: int | None
    online_suppressed: bool
    share: Decimal | None


@dataclass(frozen=True, slots=True)
class DistrictAdoption:
    district_id: int
    district_code: str
    district_name: str
    persons: Adoption
    employers: Adoption


@dataclass(frozen=True, slots=True)
class OnlineAdoption:
    """Per district, and for the city summed over the districts whose two counts are both shown,
    so that no suppressed count can be worked out by subtraction."""

    districts: tuple[DistrictAdoption, ...]
    persons: Adoption
    employers: Adoption
    as_of: dt.datetime | None = None  # when the counts were made: the rollup's time, or now


@dataclass(frozen=True, slots=True)
class _Column:
    """How a dimension is selected, and how its database value becomes the Group's."""

    sql: str
    field: str
    convert: Any


class _Statement:
    """Bound parameters in the dialect's own style."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.params: list[Any] = []

    def param(self, value: Any) -> str:
        self.params.append(value)
        return f"${len(self.params)}" if self.dialect == "postgres" else "?"


# Validation


def _dimensions(group_by: Iterable[Dimension | str], allowed: Sequence[Dimension], statistic: str) -> list[Dimension]:
    if isinstance(group_by, str):
        raise BusinessError(ErrorCode.INVALID_INPUT, "group by a list of dimensions", "groupBy")
    chosen: list[Dimension] = []
    for value in group_by:
        try:
            dimension = Dimension(value)
        except ValueError:
            raise BusinessError(ErrorCode.INVALID_INPUT, f"{value!r} is not a dimension", "groupBy") from None
        if dimension not in allowed:
            names = ", ".join(d.value for d in allowed)
            raise BusinessError(
                ErrorCode.INVALID_INPUT, f"{statistic} is grouped by {names}, not {dimension.value}", "groupBy"
            )
        if dimension not in chosen:
            chosen.append(dimension)
    return chosen


def _months(first: Month, last: Month) -> list[Month]:
    """A range of at most MAX_RANGE_MONTHS months, both ends included."""
    if last < first:
        raise BusinessError(ErrorCode.INVALID_MONTH, f"the range ends ({last}) before it starts ({first})", "toMonth")
    count = first.months_until(last) + 1
    if count > MAX_RANGE_MONTHS:
        raise BusinessError(
            ErrorCode.INVALID_MONTH,
            f"a range is at most {MAX_RANGE_MONTHS} months; {first} to {last} is {count} months",
            "toMonth",
        )
    return month_range(first, last)


def _enum(enum_type: type[Enum], value: Any, field: str) -> Any:
    if value is None:
        return None
    try:
        return enum_type(value)
    except ValueError:
        raise BusinessError(ErrorCode.INVALID_INPUT, f"{value!r} is not a {enum_type.__name__}", field) from None


def _tally(count: int) -> tuple[int | None, bool]:
    """A6: a count below MIN_GROUP is withheld, and so is a zero."""
    return (None, True) if count < MIN_GROUP else (count, False)


async def _select(build: Callable[[_Statement], str]) -> list[dict]:
    connection = connections.get("default")
    statement = _Statement(dialect_of(connection))
    sql = build(statement)
    return list(await connection.execute_query_dict(sql, statement.params))


# Which groups are suppressed (A6)
#
# A month's counts form a cube: every grouping of a statistic's dimensions but MONTH, each cell a
# tuple of database values (None where not grouped by). Every answer is a choice of its cells (a
# filter picks a value), so its suppression is decided once for the whole cube by
# domain.disclosure, from the counts alone: the same month gets the same suppression whatever is
# asked, from the rollups or counted live. A range adds months up (business volume): its group is
# suppressed when that group is in any of its months, since the range less the other months would
# give the month. Persons in force in any month of a range are not a sum of months: a person
# counted in several months links them, and no suppression of months keeps such a union from
# showing a hidden month (tests/services/test_disclosure_attack.py shows one), so their groups are
# listed, each suppressed.


@dataclass(slots=True)
class _Cube:
    """One month's counts and the cells suppressed: every cell, or, for counts that add up, the
    finest cells only (the others are their sums)."""

    counts: dict[tuple, int]
    suppressed: frozenset
    adding_up: bool = False


# A month's suppression by the digest of its counts: a rollup month is protected once a process.
_PROTECTED: OrderedDict[bytes, frozenset] = OrderedDict()
_PROTECTED_KEPT = 256


def _suppressed(kind: str, counts: dict[tuple, int], protect: Callable[[], frozenset]) -> frozenset:
    digest = hashlib.sha256("\n".join([kind, *sorted(map(repr, counts.items()))]).encode()).digest()
    if digest in _PROTECTED:
        _PROTECTED.move_to_end(digest)
        return _PROTECTED[digest]
    suppressed = _PROTECTED[digest] = protect()
    if len(_PROTECTED) > _PROTECTED_KEPT:
        _PROTECTED.popitem(last=False)
    return suppressed


def _asked(cube: _Cube, axes: Sequence[Dimension], grouped: set[Dimension], filters: dict[Dimension, Any]) -> dict:
    """The month's cells asked for: grouped by exactly what is grouped by or filtered on, with the
    filters' values; for counts that add up, the finest cells summed into them."""
    kept = [axis in grouped or axis in filters for axis in axes]
    wanted = [(i, filters[axis]) for i, axis in enumerate(axes) if axis in filters]
    if not cube.adding_up:
        return {
            cell: count
            for cell, count in cube.counts.items()
            if all((value is not None) == keep for value, keep in zip(cell, kept))
            and all(cell[i] == value for i, value in wanted)
        }
    cells: dict[tuple, int] = {}
    for cell, count in cube.counts.items():
        if all(cell[i] == value for i, value in wanted):
            key = tuple(value if keep else None for value, keep in zip(cell, kept))
            cells[key] = cells.get(key, 0) + count
    return cells


def _answer(
    cubes: dict[int, _Cube],
    axes: Sequence[Dimension],
    columns: dict[Dimension, _Column],
    dimensions: list[Dimension],
    filters: dict[Dimension, Any],
    union: bool = False,
) -> list[Group]:
    """The groups asked, from the months' cubes: by month when grouped by MONTH; otherwise the
    months added up, a group suppressed when it is in any month (or, for a ``union`` of persons,
    always)."""
    grouped = {d for d in dimensions if d is not Dimension.MONTH}
    by_month = Dimension.MONTH in dimensions
    found: dict[tuple, tuple[int, bool]] = {}  # (the month, or None, and the cell): count, suppressed
    for month in sorted(cubes):
        cube = cubes[month]
        for cell, count in _asked(cube, axes, grouped, filters).items():
            key = (month if by_month else None, cell)
            total, suppressed = found.get(key, (0, False))
            found[key] = (total + count, suppressed or union or cell in cube.suppressed)
    if not dimensions and not found:  # one total of none: withheld as a small one would be
        found[(None, (None,) * len(axes))] = (0, True)
    position = {axis: i for i, axis in enumerate(axes)}

    def raw(key: tuple, d: Dimension) -> Any:
        return key[0] if d is Dimension.MONTH else key[1][position[d]]

    groups = []
    for key in sorted(found, key=lambda key: tuple(raw(key, d) for d in dimensions)):
        total, suppressed = found[key]
        count, small = _tally(total)
        values = {columns[d].field: columns[d].convert(raw(key, d)) for d in dimensions}
        hidden = suppressed or small
        groups.append(Group(count=None if hidden else count, suppressed=hidden, **values))
    return groups


# Insured counts (Q4)

_ENROLLMENT_COLUMNS = {
    Dimension.INSURANCE_TYPE: _Column("p.insurance_type", "insurance_type", InsuranceType),
    Dimension.CHANNEL: _Column("p.channel", "channel", Channel),
    Dimension.DISTRICT: _Column("pe.district_id", "district_id", int),
    Dimension.STATUS: _Column("p.status", "status", PolicyStatus),
    Dimension.MONTH: _Column("m.month", "month", lambda value: Month.from_int(int(value))),
}
# The dimensions of enrollment_rollup's grouping sets, in the order of a cube's cells, and the bit
# of each in grouping_set.
_GROUPING_BITS = {
    Dimension.INSURANCE_TYPE: GROUP_INSURANCE_TYPE,
    Dimension.CHANNEL: GROUP_CHANNEL,
    Dimension.DISTRICT: GROUP_DISTRICT,
    Dimension.STATUS: GROUP_STATUS,
}
_ENROLLMENT_AXES = tuple(_GROUPING_BITS)
_ENROLLMENT_RAW = {d: int if d is Dimension.DISTRICT else str for d in _ENROLLMENT_AXES}  # a district id, or a value
# Persons, once a group: a layer for all of them (no insurance type) and one for each type; they
# partition by district.
_PERSONS = disclosure.Persons(
    layer=_ENROLLMENT_AXES.index(Dimension.INSURANCE_TYPE), partition=_ENROLLMENT_AXES.index(Dimension.DISTRICT)
)


def _in_force(month: int) -> str:
    """Policy p is in force in ``month``: started, and ACTIVE with no end or ended no earlier."""
    return (
        f"p.start_month <= {int(month)} AND (p.end_month >= {int(month)}"
        f" OR (p.end_month IS NULL AND p.status = '{PolicyStatus.ACTIVE.value}'))"
    )


async def enrollment_stats(
    group_by: Iterable[Dimension | str],
    month: Month | None = None,
    *,
    from_month: Month | None = None,
    to_month: Month | None = None,
    insurance_type: InsuranceType | None = None,
    channel: Channel | None = None,
    district_id: int | None = None,
    status: PolicyStatus | None = None,
    live: bool = False,
) -> Groups:
    """Insured persons (each counted once a group) with a policy in force in ``month`` (this month
    by default), or in a range of months: grouped by MONTH, a series of month counts; otherwise
    the persons with a policy in force in any month of the range, whose groups are listed but
    always suppressed (see above).

    In force is as for collection (services.periods.in_force), on both channels: started, and
    ACTIVE with no end or ended no earlier. STATUS is the policy's status now, and DISTRICT the
    person's district now (as they were when computed, from the rollups).

    Read from the rollups when they hold every month asked, otherwise counted live; ``live``
    counts live whatever the rollups hold. Either way each month's cube (every grouping) is
    read or counted, and its suppression decided on the whole cube.
    """
    dimensions = _dimensions(group_by, ENROLLMENT_DIMENSIONS, "enrollment")
    if month is not None and (from_month is not None or to_month is not None):
        raise BusinessError(ErrorCode.INVALID_INPUT, "ask for one month or for a range, not both", "month")
    if (from_month is None) != (to_month is None):
        raise BusinessError(
            ErrorCode.INVALID_INPUT,
            "a range has both a first and a last month",
            "toMonth" if to_month is None else "fromMonth",
        )
    months = _months(from_month, to_month) if from_month is not None else [month or clock.this_month()]
    filters = {
        Dimension.INSURANCE_TYPE: _enum(InsuranceType, insurance_type, "insuranceType"),
        Dimension.CHANNEL: _enum(Channel, channel, "channel"),
        Dimension.DISTRICT: None if district_id is None else int(district_id),
        Dimension.STATUS: _enum(PolicyStatus, status, "status"),
    }
    filters = {d: v.value if isinstance(v, Enum) else v for d, v in filters.items() if v is not None}
    union = Dimension.MONTH not in dimensions and len(months) > 1

    as_of = None if live or union else await _rollups_as_of(months)
    if as_of is not None:
        rows = await _select(lambda statement: _enrollment_rollup_rows(statement, months))
    else:
        # Persons in force in any month of a range are counted live, as one cube: it shows no count,
        # only which groups have someone, so there is nothing to protect.
        as_of = clock.now()
        rows = await _select(lambda statement: _enrollment_cube_sql(statement, months, union))
    cubes = _enrollment_cubes(rows, protected=not union)
    return Groups(_answer(cubes, _ENROLLMENT_AXES, _ENROLLMENT_COLUMNS, dimensions, filters, union), as_of)


def _enrollment_rollup_rows(statement: _Statement, months: list[Month]) -> str:
    # A month with no one insured has a row of 0 for the whole city: no cell.
    return (
        "SELECT r.month AS month, r.grouping_set AS grouping_set, r.insurance_type AS insurance_type,"
        " r.channel AS channel, r.district_id AS district_id, r.status AS status, r.persons AS persons"
        " FROM enrollment_rollup r"
        f" WHERE r.month >= {statement.param(months[0].to_int())} AND r.month <= {statement.param(months[-1].to_int())}"
        " AND r.persons > 0"
    )


def _enrollment_cube_sql(statement: _Statement, months: list[Month], union: bool = False) -> str:
    """Each month's persons in force, counted for all 16 grouping sets, as enrollment_rollup holds
    them. The work grows with policies x months: the rollups serve it when they hold the months.
    For a ``union``, the persons in force in any of the months, as one cube (of the first month)."""
    active = PolicyStatus.ACTIVE.value
    columns = [_ENROLLMENT_COLUMNS[d].sql for d in _ENROLLMENT_AXES]
    names = [_ENROLLMENT_COLUMNS[d].field for d in _ENROLLMENT_AXES]
    joins = "JOIN person pe ON pe.id = p.person_id"
    month, by_month, prefix = str(int(months[0].to_int())), [], ""
    if not union:  # each month of the range against each policy: in force in that month
        values = ", ".join(f"({int(m.to_int())})" for m in months)
        prefix = f"WITH months(month) AS (VALUES {values}) "
        joins += (
            " JOIN months m ON p.start_month <= m.month"
            f" AND (p.end_month >= m.month OR (p.end_month IS NULL AND p.status = '{active}'))"
        )
        month, by_month = "m.month", ["m.month"]
    # In force in at least one month of the range.
    source = (
        f"FROM policy p {joins} WHERE p.start_month <= {int(months[-1].to_int())}"
        f" AND (p.end_month >= {int(months[0].to_int())} OR (p.end_month IS NULL AND p.status = '{active}'))"
    )
    counted = "COUNT(DISTINCT p.person_id) AS persons"
    if statement.dialect == "postgres":
        # As in _enrollment_rollup_sql: 15 minus GROUPING() of the reversed columns is the bits grouped by.
        grouping = f"15 - GROUPING({', '.join(reversed(columns))})"
        selected = ", ".join(f"{column} AS {name}" for column, name in zip(columns, names))
        cube = "CUBE (" + ", ".join(columns) + ")"
        return (
            f"{prefix}SELECT {month} AS month, {grouping} AS grouping_set, {selected}, {counted} {source}"
            f" GROUP BY {', '.join([*by_month, cube])}"
        )
    branches = []
    for grouping_set in range(16):
        grouped = [(_GROUPING_BITS[d] & grouping_set) != 0 for d in _ENROLLMENT_AXES]
        selected = ", ".join(
            f"{column if chosen else 'NULL'} AS {name}" for column, chosen, name in zip(columns, grouped, names)
        )
        kept = [*by_month, *(column for column, chosen in zip(columns, grouped) if chosen)]
        branch = f"SELECT {month} AS month, {grouping_set} AS grouping_set, {selected}, {counted} {source}"
        branches.append(branch + (f" GROUP BY {', '.join(kept)}" if kept else ""))
    return prefix + " UNION ALL ".join(branches)


def _enrollment_cubes(rows: list[dict], protected: bool = True) -> dict[int, _Cube]:
    counts: dict[int, dict[tuple, int]] = {}
    for row in rows:
        grouping_set = int(row["grouping_set"])
        cell = tuple(
            (_ENROLLMENT_RAW[d](row[_ENROLLMENT_COLUMNS[d].field]) if _GROUPING_BITS[d] & grouping_set else None)
            for d in _ENROLLMENT_AXES
        )
        if int(row["persons"]) > 0:
            counts.setdefault(int(row["month"]), {})[cell] = int(row["persons"])
    cubes = {}
    for month, cells in counts.items():
        suppressed = frozenset(cells)
        if protected:
            suppressed = _suppressed(
                "enrollment", cells, lambda cells=cells: disclosure.protect(cells, MIN_GROUP, units=_PERSONS).suppressed
            )
        cubes[month] = _Cube(cells, suppressed)
    return cubes


async def _rollups_as_of(months: list[Month]) -> dt.datetime | None:
    """When the rollups of ``months`` (consecutive) were computed, the oldest of them; None when
    the rollups do not hold them all."""
    computed = await models.RollupMonth.filter(
        month__gte=months[0].to_int(), month__lte=months[-1].to_int()
    ).values_list("computed_at", flat=True)
    return min(computed) if len(computed) == len(months) else None


# Business volume (Q4)

# The month of a moment in local time (M2): PostgreSQL gives the local first day of the month
# (date_trunc is about twice as fast as formatting the moment as text), SQLite the number YYYYMM.
_POSTGRES_LOCAL_MONTH = "date_trunc('month', t.submitted_at AT TIME ZONE 'Asia/Shanghai')"
_SQLITE_LOCAL_MONTH = f"CAST(strftime('%Y%m', t.submitted_at, '{SQLITE_LOCAL_SHIFT}') AS INTEGER)"


def _month_of(value: dt.datetime | int) -> Month:
    return Month.of(value) if isinstance(value, dt.datetime) else Month.from_int(int(value))


_VOLUME_AXES = (Dimension.BUSINESS_TYPE, Dimension.STATUS, Dimension.CHANNEL, Dimension.DISTRICT)
_VOLUME_COLUMNS = {
    Dimension.BUSINESS_TYPE: _Column("business_type", "business_type", BusinessType),
    Dimension.STATUS: _Column("status", "status", TransactionStatus),
    Dimension.MONTH: _Column("month", "month", Month.from_int),
    Dimension.CHANNEL: _Column("channel", "channel", ServiceChannel),
    Dimension.DISTRICT: _Column("district_id", "district_id", int),
}


def _local_start(month: Month) -> dt.datetime:
    """The first moment of ``month`` in local time (M2)."""
    return dt.datetime.combine(month.first_day(), dt.time(), LOCAL_TZ)


def _submitted_in(statement: _Statement, first: Month, last: Month) -> list[str]:
    """Transaction t was submitted in the months ``first`` to ``last``, local time (M2)."""
    start, end = _local_start(first), _local_start(last.plus(1))
    if statement.dialect == "postgres":
        # A range on the column itself, so that an index on submitted_at can serve it.
        return [f"t.submitted_at >= {statement.param(start)}", f"t.submitted_at < {statement.param(end)}"]
    # SQLite keeps moments as text with their offset: compare them in UTC.
    utc = [moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S") for moment in (start, end)]
    return [
        f"datetime(t.submitted_at) >= {statement.param(utc[0])}",
        f"datetime(t.submitted_at) < {statement.param(utc[1])}",
    ]


async def business_volume_stats(
    group_by: Iterable[Dimension | str],
    from_month: Month,
    to_month: Month,
    *,
    business_type: BusinessType | None = None,
    status: TransactionStatus | None = None,
    channel: ServiceChannel | None = None,
    district_id: int | None = None,
    live: bool = False,
) -> Groups:
    """Business transactions submitted in the months from ``from_month`` to ``to_month`` (local
    time, M2), counted by the groups asked for. STATUS is the transaction's status now (as it was
    when computed, from the rollups). Read from the rollups when they hold every month of the
    range; ``live`` counts live whatever they hold. Either way each month's transactions are read
    at their finest grain, and its suppression decided on the month's whole cube."""
    dimensions = _dimensions(group_by, VOLUME_DIMENSIONS, "business volume")
    months = _months(from_month, to_month)
    filters = {
        Dimension.BUSINESS_TYPE: _enum(BusinessType, business_type, "businessType"),
        Dimension.STATUS: _enum(TransactionStatus, status, "status"),
        Dimension.CHANNEL: _enum(ServiceChannel, channel, "channel"),
        Dimension.DISTRICT: None if district_id is None else int(district_id),
    }
    filters = {d: v.value if isinstance(v, Enum) else v for d, v in filters.items() if v is not None}

    as_of = None if live else await _rollups_as_of(months)
    if as_of is not None:

        def build(statement: _Statement) -> str:
            return (
                "SELECT r.month AS month, r.business_type AS business_type, r.status AS status,"
                " r.channel AS channel, r.district_id AS district_id, r.transactions AS count"
                " FROM business_volume_rollup r"
                f" WHERE r.month >= {statement.param(months[0].to_int())}"
                f" AND r.month <= {statement.param(months[-1].to_int())}"
            )

    else:
        as_of = clock.now()

        def build(statement: _Statement) -> str:
            local = _POSTGRES_LOCAL_MONTH if statement.dialect == "postgres" else _SQLITE_LOCAL_MONTH
            columns = "t.business_type, t.status, t.channel, t.district_id"
            return (
                f"SELECT {local} AS month, t.business_type AS business_type, t.status AS status,"
                " t.channel AS channel, t.district_id AS district_id, COUNT(*) AS count FROM business_transaction t"
                f" WHERE {' AND '.join(_submitted_in(statement, months[0], months[-1]))} GROUP BY {local}, {columns}"
            )

    finest: dict[int, dict[tuple, int]] = {}
    for row in await _select(build):
        cell = (row["business_type"], row["status"], row["channel"], int(row["district_id"]))
        finest.setdefault(_month_of(row["month"]).to_int(), {})[cell] = int(row["count"])
    cubes = {}
    for month, cells in finest.items():
        suppressed = _suppressed(
            "volume", cells, lambda cells=cells: disclosure.protect(disclosure.margins(cells), MIN_GROUP).suppressed
        )
        cubes[month] = _Cube(cells, suppressed, adding_up=True)
    return Groups(_answer(cubes, _VOLUME_AXES, _VOLUME_COLUMNS, dimensions, filters), as_of)


# Online adoption (Q4, A3)


def _adoption(total: int, online: int) -> Adoption:
    shown_total, total_suppressed = _tally(total)
    shown_online, online_suppressed = _tally(online)
    share = None
    if shown_total is not None and shown_online is not None:
        share = (Decimal(shown_online) / Decimal(shown_total)).quantize(SHARE_PLACES, rounding=ROUND_HALF_UP)
    return Adoption(shown_total, total_suppressed, shown_online, online_suppressed, share)


def _city(adoptions: Iterable[Adoption]) -> Adoption:
    shown = [a for a in adoptions if a.total is not None and a.online is not None]
    return _adoption(sum(a.total for a in shown), sum(a.online for a in shown))


@dataclass(frozen=True, slots=True)
class _DistrictCounts:
    persons: int = 0
    persons_online: int = 0
    employers: int = 0
    employers_online: int = 0


async def _adoption_counts() -> dict[int, _DistrictCounts]:
    """Per district: registered persons, and those with online access (an active PERSON account,
    A3); active employers, and those with at least one active EMPLOYER_AGENT account."""

    def persons(statement: _Statement) -> str:
        # One account a person at most (models.Account), so the join does not multiply rows.
        return (
            "SELECT pe.district_id AS district_id, COUNT(*) AS total, COUNT(a.id) AS online FROM person pe"
            f" LEFT JOIN account a ON a.person_id = pe.id AND a.role = '{Role.PERSON.value}' AND a.is_active"
            " GROUP BY pe.district_id"
        )

    def employers(statement: _Statement) -> str:
        # An employer may have several agents: each employer counts once.
        return (
            "SELECT e.district_id AS district_id, COUNT(*) AS total, COUNT(o.employer_id) AS online FROM employer e"
            " LEFT JOIN (SELECT DISTINCT employer_id FROM account"
            f" WHERE role = '{Role.EMPLOYER_AGENT.value}' AND is_active) o ON o.employer_id = e.id"
            f" WHERE e.status = '{EmployerStatus.ACTIVE.value}' GROUP BY e.district_id"
        )

    person_rows = {row["district_id"]: row for row in await _select(persons)}
    employer_rows = {row["district_id"]: row for row in await _select(employers)}
    counts = {}
    for district_id in person_rows.keys() | employer_rows.keys():
        p = person_rows.get(district_id, {"total": 0, "online": 0})
        e = employer_rows.get(district_id, {"total": 0, "online": 0})
        counts[int(district_id)] = _DistrictCounts(int(p["total"]), int(p["online"]), int(e["total"]), int(e["online"]))
    return counts


async def online_adoption_stats(*, live: bool = False) -> OnlineAdoption:
    """Per district: registered persons, and those with online access (an active PERSON account,
    A3); active employers, and those with at least one active EMPLOYER_AGENT account. From the
    rollup when it has been computed (a district it lacks has none counted), unless ``live``."""
    stored = (
        []
        if live
        else await models.OnlineAdoptionRollup.all().values(
            "district_id", "persons", "persons_online", "employers", "employers_online", "computed_at"
        )
    )
    if stored:
        as_of = min(row["computed_at"] for row in stored)
        counts = {
            row["district_id"]: _DistrictCounts(
                row["persons"], row["persons_online"], row["employers"], row["employers_online"]
            )
            for row in stored
        }
    else:
        as_of = clock.now()
        counts = await _adoption_counts()
    districts = []
    for district in await models.District.all().order_by("code").values("id", "code", "name"):
        c = counts.get(district["id"], _DistrictCounts())
        districts.append(
            DistrictAdoption(
                district["id"],
                district["code"],
                district["name"],
                _adoption(c.persons, c.persons_online),
                _adoption(c.employers, c.employers_online),
            )
        )
    return OnlineAdoption(
        tuple(districts), _city(d.persons for d in districts), _city(d.employers for d in districts), as_of
    )


# Keeping the rollups (the REFRESH_STATISTICS job)


def rollup_window(this_month: Month) -> list[Month]:
    """The months the rollups keep: ROLLUP_WINDOW_MONTHS to ``this_month``."""
    return month_range(this_month.plus(1 - ROLLUP_WINDOW_MONTHS), this_month)


async def months_to_refresh(this_month: Month, whole_window: bool = False) -> list[Month]:
    """This month and last month, whose counts still change, and every month of the window the
    rollups do not hold yet (all of them, the first time); or the whole window when asked, after
    a correction of older records."""
    window = rollup_window(this_month)
    if whole_window:
        return window
    held = set(
        await models.RollupMonth.filter(month__gte=window[0].to_int(), month__lte=this_month.to_int()).values_list(
            "month", flat=True
        )
    )
    return [m for m in window if m.to_int() not in held or m >= this_month.plus(-1)]


def _enrollment_rollup_sql(dialect: str, month: int) -> str:
    """One statement counting ``month``'s persons in force for all 16 grouping sets."""
    order = (Dimension.INSURANCE_TYPE, Dimension.CHANNEL, Dimension.DISTRICT, Dimension.STATUS)
    columns = [_ENROLLMENT_COLUMNS[d].sql for d in order]
    source = f"FROM policy p JOIN person pe ON pe.id = p.person_id WHERE {_in_force(month)}"
    insert = (
        "INSERT INTO enrollment_rollup (month, grouping_set, insurance_type, channel, district_id, status, persons) "
    )
    if dialect == "postgres":
        # GROUPING() has the bit of each argument *not* grouped by, the first argument the highest:
        # with the dimensions in reverse, 15 minus it has the bit of each one grouped by.
        grouping = f"15 - GROUPING({', '.join(reversed(columns))})"
        return (
            f"{insert}SELECT {int(month)}, {grouping}, {', '.join(columns)}, COUNT(DISTINCT p.person_id) {source}"
            f" GROUP BY CUBE ({', '.join(columns)})"
        )
    # SQLite has no CUBE: a SELECT for each grouping set, all in one statement.
    branches = []
    for grouping_set in range(16):
        grouped = [(_GROUPING_BITS[d] & grouping_set) != 0 for d in order]
        values = [column if chosen else "NULL" for column, chosen in zip(columns, grouped)]
        branch = f"SELECT {int(month)}, {grouping_set}, {', '.join(values)}, COUNT(DISTINCT p.person_id) {source}"
        if any(grouped):
            branch += " GROUP BY " + ", ".join(column for column, chosen in zip(columns, grouped) if chosen)
        branches.append(branch)
    return insert + " UNION ALL ".join(branches)


async def refresh_month(month: Month) -> None:
    """Count ``month`` again into the enrollment and business-volume rollups. Run it in a
    transaction: the month's rows are replaced together, so a reader sees the old month or the new
    one, never half of each. The month's rollup_month row is updated first, so that a second
    refresh of the same month waits for the first to commit, then replaces its rows in turn."""
    m = month.to_int()
    computed_at = clock.now()
    if not await models.RollupMonth.filter(month=m).update(computed_at=computed_at):
        await models.RollupMonth.create(month=m, computed_at=computed_at)
    await models.EnrollmentRollup.filter(month=m).delete()
    await models.BusinessVolumeRollup.filter(month=m).delete()
    connection = connections.get("default")
    dialect = dialect_of(connection)
    await connection.execute_query(_enrollment_rollup_sql(dialect, m))
    statement = _Statement(dialect)
    conditions = _submitted_in(statement, month, month)
    await connection.execute_query(
        "INSERT INTO business_volume_rollup (month, business_type, status, channel, district_id, transactions)"
        f" SELECT {int(m)}, t.business_type, t.status, t.channel, t.district_id, COUNT(*) FROM business_transaction t"
        f" WHERE {' AND '.join(conditions)} GROUP BY t.business_type, t.status, t.channel, t.district_id",
        statement.params,
    )


async def refresh_online_adoption() -> int:
    """Count online adoption again into its rollup, every district in one transaction. Returns
    how many districts it holds."""
    computed_at = clock.now()
    counts = await _adoption_counts()
    district_ids = await models.District.all().values_list("id", flat=True)
    rows = []
    for district_id in sorted(district_ids):
        c = counts.get(district_id, _DistrictCounts())
        rows.append(
            models.OnlineAdoptionRollup(
                district_id=district_id,
                persons=c.persons,
                persons_online=c.persons_online,
                employers=c.employers,
                employers_online=c.employers_online,
                computed_at=computed_at,
            )
        )
    async with in_transaction():
        await models.OnlineAdoptionRollup.all().delete()
        await models.OnlineAdoptionRollup.bulk_create(rows)
    return len(rows)

"""Aggregate statistics for dashboards (Q4): insured counts, business volume and online adoption.

Analysts see aggregates only (A6): every count is of a group, and a group of fewer than
``MIN_GROUP`` persons, transactions or employers is suppressed: returned with ``suppressed`` set
and no count, never as a zero. Shares are computed from shown counts only.

Every figure is counted by the database in one GROUP BY statement, never row by row in Python.
The statements are written by hand because grouping by month needs a join to a list of months
(enrollment) or the month of a moment in local time (business volume, M2), which differ between
PostgreSQL and SQLite; everything else is plain SQL both understand. Only integers the code itself
made and enum values are written into the text; the rest are bound parameters.

At city scale counting live takes seconds (a million persons, three million transactions), so
the REFRESH_STATISTICS job (jobs/statistics.py) keeps rollups (models/statistics.py): every
night this month and last month are counted again, and every month of the 36-month window the
rollups do not hold yet. A question is answered from the rollups when they hold every month it
asks about, with the same groups, counts and suppression as counting live; otherwise it is
counted live. Each answer says ``as_of``: when the rollups it read were computed (the oldest of
its months), or now when counted live. STATUS and DISTRICT in a rollup are as they were then.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum
from typing import Any

from tortoise import connections
from tortoise.transactions import in_transaction

import models
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


def _groups(rows: list[dict], columns: dict[Dimension, _Column], dimensions: list[Dimension]) -> list[Group]:
    rows.sort(key=lambda row: tuple(row[d.value.lower()] for d in dimensions))
    groups = []
    for row in rows:
        count, suppressed = _tally(int(row["count"]))
        values = {columns[d].field: columns[d].convert(row[d.value.lower()]) for d in dimensions}
        groups.append(Group(count=count, suppressed=suppressed, **values))
    return groups


async def _select(build: Callable[[_Statement], str]) -> list[dict]:
    connection = connections.get("default")
    statement = _Statement(dialect_of(connection))
    sql = build(statement)
    return list(await connection.execute_query_dict(sql, statement.params))


# Insured counts (Q4)

_ENROLLMENT_COLUMNS = {
    Dimension.INSURANCE_TYPE: _Column("p.insurance_type", "insurance_type", InsuranceType),
    Dimension.CHANNEL: _Column("p.channel", "channel", Channel),
    Dimension.DISTRICT: _Column("pe.district_id", "district_id", int),
    Dimension.STATUS: _Column("p.status", "status", PolicyStatus),
    Dimension.MONTH: _Column("m.month", "month", lambda value: Month.from_int(int(value))),
}
# enrollment_rollup names each dimension's column after the Group's field.
_ENROLLMENT_ROLLUP_COLUMNS = {
    dimension: replace(column, sql=f"r.{column.field}") for dimension, column in _ENROLLMENT_COLUMNS.items()
}
# The dimensions of enrollment_rollup's grouping sets, and the bit of each in grouping_set.
_GROUPING_BITS = {
    Dimension.INSURANCE_TYPE: GROUP_INSURANCE_TYPE,
    Dimension.CHANNEL: GROUP_CHANNEL,
    Dimension.DISTRICT: GROUP_DISTRICT,
    Dimension.STATUS: GROUP_STATUS,
}


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
    the persons with a policy in force in any month of the range.

    In force is as for collection (services.periods.in_force), on both channels: started, and
    ACTIVE with no end or ended no earlier. STATUS is the policy's status now, and DISTRICT the
    person's district now (as they were when computed, from the rollups).

    One month, or a series grouped by MONTH, is read from the rollups when they hold its months;
    persons in force in any month of a longer range are always counted live (they do not add up
    month by month). ``live`` counts live whatever the rollups hold.
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
    insurance_type = _enum(InsuranceType, insurance_type, "insuranceType")
    channel = _enum(Channel, channel, "channel")
    status = _enum(PolicyStatus, status, "status")
    series = Dimension.MONTH in dimensions
    needs_person = Dimension.DISTRICT in dimensions or district_id is not None

    if not live and (series or len(months) == 1):
        filters = {
            Dimension.INSURANCE_TYPE: insurance_type,
            Dimension.CHANNEL: channel,
            Dimension.DISTRICT: district_id,
            Dimension.STATUS: status,
        }
        answer = await _enrollment_from_rollups(dimensions, months, {d: v for d, v in filters.items() if v is not None})
        if answer is not None:
            return answer

    def build(statement: _Statement) -> str:
        active = PolicyStatus.ACTIVE.value
        selected = [f"{_ENROLLMENT_COLUMNS[d].sql} AS {d.value.lower()}" for d in dimensions]
        joins, conditions = [], []
        prefix = ""
        if needs_person:
            joins.append("JOIN person pe ON pe.id = p.person_id")
        # In force in at least one month of the range (or the one month).
        conditions.append(f"p.start_month <= {statement.param(months[-1].to_int())}")
        conditions.append(
            f"(p.end_month >= {statement.param(months[0].to_int())} OR (p.end_month IS NULL AND p.status = '{active}'))"
        )
        if series:
            # Then each month of the range against each of those policies: in force in that month.
            # The work grows with policies x months: the rollups serve it when they hold the months.
            values = ", ".join(f"({int(m.to_int())})" for m in months)
            prefix = f"WITH months(month) AS (VALUES {values}) "
            joins.append(
                "JOIN months m ON p.start_month <= m.month"
                f" AND (p.end_month >= m.month OR (p.end_month IS NULL AND p.status = '{active}'))"
            )
        if insurance_type is not None:
            conditions.append(f"p.insurance_type = {statement.param(insurance_type.value)}")
        if channel is not None:
            conditions.append(f"p.channel = {statement.param(channel.value)}")
        if status is not None:
            conditions.append(f"p.status = {statement.param(status.value)}")
        if district_id is not None:
            conditions.append(f"pe.district_id = {statement.param(int(district_id))}")
        sql = (
            f"{prefix}SELECT {', '.join([*selected, 'COUNT(DISTINCT p.person_id) AS count'])}"
            f" FROM policy p {' '.join(joins)}"
        )
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        if dimensions:
            sql += " GROUP BY " + ", ".join(_ENROLLMENT_COLUMNS[d].sql for d in dimensions)
        return sql

    as_of = clock.now()
    rows = await _select(build)
    return Groups(_groups(rows, _ENROLLMENT_COLUMNS, dimensions), as_of)


async def _enrollment_from_rollups(
    dimensions: list[Dimension], months: list[Month], filters: dict[Dimension, Any]
) -> Groups | None:
    """The answer from enrollment_rollup, or None when it does not hold every month. Each month's
    persons are read from the grouping set of the dimensions grouped by and those filtered on:
    a filter picks one value of its dimension, so each group asked is one row of that set."""
    as_of = await _rollups_as_of(months)
    if as_of is None:
        return None
    grouping_set = sum(_GROUPING_BITS[d] for d in {*dimensions, *filters} if d is not Dimension.MONTH)

    def build(statement: _Statement) -> str:
        selected = [f"{_ENROLLMENT_ROLLUP_COLUMNS[d].sql} AS {d.value.lower()}" for d in dimensions]
        conditions = [
            f"r.month >= {statement.param(months[0].to_int())}",
            f"r.month <= {statement.param(months[-1].to_int())}",
            f"r.grouping_set = {int(grouping_set)}",
            "r.persons > 0",
        ]  # a month with no one insured has a row of 0 for the whole city
        for dimension, value in filters.items():
            conditions.append(
                f"{_ENROLLMENT_ROLLUP_COLUMNS[dimension].sql} = "
                f"{statement.param(value.value if isinstance(value, Enum) else int(value))}"
            )
        return (
            f"SELECT {', '.join([*selected, 'r.persons AS count'])} FROM enrollment_rollup r"
            f" WHERE {' AND '.join(conditions)}"
        )

    rows = await _select(build)
    if not dimensions:  # one month, one group: counted live it is a row even when none are insured
        rows = [{"count": sum(int(row["count"]) for row in rows)}]
    return Groups(_groups(rows, _ENROLLMENT_ROLLUP_COLUMNS, dimensions), as_of)


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


def _volume_columns(dialect: str) -> dict[Dimension, _Column]:
    local_month = _POSTGRES_LOCAL_MONTH if dialect == "postgres" else _SQLITE_LOCAL_MONTH
    return {
        Dimension.BUSINESS_TYPE: _Column("t.business_type", "business_type", BusinessType),
        Dimension.STATUS: _Column("t.status", "status", TransactionStatus),
        Dimension.MONTH: _Column(local_month, "month", _month_of),
        Dimension.CHANNEL: _Column("t.channel", "channel", ServiceChannel),
        Dimension.DISTRICT: _Column("t.district_id", "district_id", int),
    }


_VOLUME_ROLLUP_COLUMNS = {
    Dimension.BUSINESS_TYPE: _Column("r.business_type", "business_type", BusinessType),
    Dimension.STATUS: _Column("r.status", "status", TransactionStatus),
    Dimension.MONTH: _Column("r.month", "month", _month_of),
    Dimension.CHANNEL: _Column("r.channel", "channel", ServiceChannel),
    Dimension.DISTRICT: _Column("r.district_id", "district_id", int),
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
    range; ``live`` counts live whatever they hold."""
    dimensions = _dimensions(group_by, VOLUME_DIMENSIONS, "business volume")
    months = _months(from_month, to_month)
    business_type = _enum(BusinessType, business_type, "businessType")
    status = _enum(TransactionStatus, status, "status")
    channel = _enum(ServiceChannel, channel, "channel")
    filters = {
        Dimension.BUSINESS_TYPE: business_type,
        Dimension.STATUS: status,
        Dimension.CHANNEL: channel,
        Dimension.DISTRICT: district_id,
    }
    filters = {d: v.value if isinstance(v, Enum) else int(v) for d, v in filters.items() if v is not None}

    as_of = None if live else await _rollups_as_of(months)
    from_rollups = as_of is not None
    if from_rollups:
        # Transactions add up: the rollup's rows of the months, summed into the groups asked for.
        table, counted, columns = "business_volume_rollup r", "COALESCE(SUM(r.transactions), 0)", _VOLUME_ROLLUP_COLUMNS
    else:
        as_of, table, counted = clock.now(), "business_transaction t", "COUNT(*)"
        columns = _volume_columns(dialect_of(connections.get("default")))

    def build(statement: _Statement) -> str:
        if from_rollups:
            conditions = [
                f"r.month >= {statement.param(months[0].to_int())}",
                f"r.month <= {statement.param(months[-1].to_int())}",
            ]
        else:
            conditions = _submitted_in(statement, months[0], months[-1])
        for dimension, value in filters.items():
            conditions.append(f"{columns[dimension].sql} = {statement.param(value)}")
        selected = [f"{columns[d].sql} AS {d.value.lower()}" for d in dimensions]
        sql = f"SELECT {', '.join([*selected, f'{counted} AS count'])} FROM {table} WHERE {' AND '.join(conditions)}"
        if dimensions:
            sql += " GROUP BY " + ", ".join(columns[d].sql for d in dimensions)
        return sql

    rows = await _select(build)
    return Groups(_groups(rows, columns, dimensions), as_of)


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

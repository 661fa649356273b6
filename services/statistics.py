"""Aggregate statistics for dashboards (Q4): insured counts, business volume and online adoption.

Analysts see aggregates only (A6): every count is of a group, and a group of fewer than
``MIN_GROUP`` persons, transactions or employers is suppressed: returned with ``suppressed`` set
and no count, never as a zero. Shares are computed from shown counts only.

Every figure is counted by the database in one GROUP BY statement, never row by row in Python.
The statements are written by hand because grouping by month needs a join to a list of months
(enrollment) or the month of a moment in local time (business volume, M2), which differ between
PostgreSQL and SQLite; everything else is plain SQL both understand. Only integers the code itself
made and enum values are written into the text; the rest are bound parameters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum
from typing import Any

from tortoise import connections

import models
from domain.enums import (
    BusinessType, Channel, EmployerStatus, InsuranceType, PolicyStatus, Role, ServiceChannel, TransactionStatus,
)
from domain.errors import BusinessError, ErrorCode
from domain.months import LOCAL_TZ, Month, month_range
from services import clock
from services.bulk import dialect_of

MIN_GROUP = 5  # A6: smaller groups are suppressed
MAX_RANGE_MONTHS = 36  # three years of months a query, both ends included
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


ENROLLMENT_DIMENSIONS = (Dimension.INSURANCE_TYPE, Dimension.CHANNEL, Dimension.DISTRICT, Dimension.STATUS,
                         Dimension.MONTH)
VOLUME_DIMENSIONS = (Dimension.BUSINESS_TYPE, Dimension.STATUS, Dimension.MONTH, Dimension.CHANNEL,
                     Dimension.DISTRICT)


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
            raise BusinessError(ErrorCode.INVALID_INPUT,
                                f"{statistic} is grouped by {names}, not {dimension.value}", "groupBy")
        if dimension not in chosen:
            chosen.append(dimension)
    return chosen


def _months(first: Month, last: Month) -> list[Month]:
    """A range of at most MAX_RANGE_MONTHS months, both ends included."""
    if last < first:
        raise BusinessError(ErrorCode.INVALID_MONTH, f"the range ends ({last}) before it starts ({first})", "toMonth")
    count = first.months_until(last) + 1
    if count > MAX_RANGE_MONTHS:
        raise BusinessError(ErrorCode.INVALID_MONTH,
                            f"a range is at most {MAX_RANGE_MONTHS} months; {first} to {last} is {count} months",
                            "toMonth")
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


async def enrollment_stats(
    group_by: Iterable[Dimension | str], month: Month | None = None, *, from_month: Month | None = None,
    to_month: Month | None = None, insurance_type: InsuranceType | None = None, channel: Channel | None = None,
    district_id: int | None = None, status: PolicyStatus | None = None,
) -> list[Group]:
    """Insured persons (each counted once a group) with a policy in force in ``month`` (this month
    by default), or in a range of months: grouped by MONTH, a series of month counts; otherwise
    the persons with a policy in force in any month of the range.

    In force is as for collection (services.periods.in_force), on both channels: started, and
    ACTIVE with no end or ended no earlier. STATUS is the policy's status now, and DISTRICT the
    person's district now.
    """
    dimensions = _dimensions(group_by, ENROLLMENT_DIMENSIONS, "enrollment")
    if month is not None and (from_month is not None or to_month is not None):
        raise BusinessError(ErrorCode.INVALID_INPUT, "ask for one month or for a range, not both", "month")
    if (from_month is None) != (to_month is None):
        raise BusinessError(ErrorCode.INVALID_INPUT, "a range has both a first and a last month",
                            "toMonth" if to_month is None else "fromMonth")
    months = _months(from_month, to_month) if from_month is not None else [month or clock.this_month()]
    insurance_type = _enum(InsuranceType, insurance_type, "insuranceType")
    channel = _enum(Channel, channel, "channel")
    status = _enum(PolicyStatus, status, "status")
    series = Dimension.MONTH in dimensions
    needs_person = Dimension.DISTRICT in dimensions or district_id is not None

    def build(statement: _Statement) -> str:
        active = PolicyStatus.ACTIVE.value
        selected = [f"{_ENROLLMENT_COLUMNS[d].sql} AS {d.value.lower()}" for d in dimensions]
        joins, conditions = [], []
        prefix = ""
        if needs_person:
            joins.append("JOIN person pe ON pe.id = p.person_id")
        # In force in at least one month of the range (or the one month).
        conditions.append(f"p.start_month <= {statement.param(months[-1].to_int())}")
        conditions.append(f"(p.end_month >= {statement.param(months[0].to_int())}"
                          f" OR (p.end_month IS NULL AND p.status = '{active}'))")
        if series:
            # Then each month of the range against each of those policies: in force in that month.
            # The work grows with policies x months; at city scale a monthly rollup should serve it.
            values = ", ".join(f"({int(m.to_int())})" for m in months)
            prefix = f"WITH months(month) AS (VALUES {values}) "
            joins.append("JOIN months m ON p.start_month <= m.month"
                         f" AND (p.end_month >= m.month OR (p.end_month IS NULL AND p.status = '{active}'))")
        if insurance_type is not None:
            conditions.append(f"p.insurance_type = {statement.param(insurance_type.value)}")
        if channel is not None:
            conditions.append(f"p.channel = {statement.param(channel.value)}")
        if status is not None:
            conditions.append(f"p.status = {statement.param(status.value)}")
        if district_id is not None:
            conditions.append(f"pe.district_id = {statement.param(int(district_id))}")
        sql = (f"{prefix}SELECT {', '.join([*selected, 'COUNT(DISTINCT p.person_id) AS count'])}"
               f" FROM policy p {' '.join(joins)}")
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        if dimensions:
            sql += " GROUP BY " + ", ".join(_ENROLLMENT_COLUMNS[d].sql for d in dimensions)
        return sql

    rows = await _select(build)
    return _groups(rows, _ENROLLMENT_COLUMNS, dimensions)


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


def _local_start(month: Month) -> dt.datetime:
    """The first moment of ``month`` in local time (M2)."""
    return dt.datetime.combine(month.first_day(), dt.time(), LOCAL_TZ)


async def business_volume_stats(
    group_by: Iterable[Dimension | str], from_month: Month, to_month: Month, *,
    business_type: BusinessType | None = None, status: TransactionStatus | None = None,
    channel: ServiceChannel | None = None, district_id: int | None = None,
) -> list[Group]:
    """Business transactions submitted in the months from ``from_month`` to ``to_month`` (local
    time, M2), counted by the groups asked for. STATUS is the transaction's status now."""
    dimensions = _dimensions(group_by, VOLUME_DIMENSIONS, "business volume")
    months = _months(from_month, to_month)
    business_type = _enum(BusinessType, business_type, "businessType")
    status = _enum(TransactionStatus, status, "status")
    channel = _enum(ServiceChannel, channel, "channel")
    start, end = _local_start(months[0]), _local_start(months[-1].plus(1))
    columns: dict[Dimension, _Column] = {}

    def build(statement: _Statement) -> str:
        columns.update(_volume_columns(statement.dialect))
        if statement.dialect == "postgres":
            # A range on the column itself, so that an index on submitted_at can serve it.
            conditions = [f"t.submitted_at >= {statement.param(start)}", f"t.submitted_at < {statement.param(end)}"]
        else:
            # SQLite keeps moments as text with their offset: compare them in UTC.
            utc = [moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S") for moment in (start, end)]
            conditions = [f"datetime(t.submitted_at) >= {statement.param(utc[0])}",
                          f"datetime(t.submitted_at) < {statement.param(utc[1])}"]
        if business_type is not None:
            conditions.append(f"t.business_type = {statement.param(business_type.value)}")
        if status is not None:
            conditions.append(f"t.status = {statement.param(status.value)}")
        if channel is not None:
            conditions.append(f"t.channel = {statement.param(channel.value)}")
        if district_id is not None:
            conditions.append(f"t.district_id = {statement.param(int(district_id))}")
        selected = [f"{columns[d].sql} AS {d.value.lower()}" for d in dimensions]
        sql = (f"SELECT {', '.join([*selected, 'COUNT(*) AS count'])} FROM business_transaction t"
               f" WHERE {' AND '.join(conditions)}")
        if dimensions:
            sql += " GROUP BY " + ", ".join(columns[d].sql for d in dimensions)
        return sql

    rows = await _select(build)
    return _groups(rows, columns, dimensions)


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


async def online_adoption_stats() -> OnlineAdoption:
    """Per district: registered persons, and those with online access (an active PERSON account,
    A3); active employers, and those with at least one active EMPLOYER_AGENT account."""
    def persons(statement: _Statement) -> str:
        # One account a person at most (models.Account), so the join does not multiply rows.
        return ("SELECT pe.district_id AS district_id, COUNT(*) AS total, COUNT(a.id) AS online FROM person pe"
                f" LEFT JOIN account a ON a.person_id = pe.id AND a.role = '{Role.PERSON.value}' AND a.is_active"
                " GROUP BY pe.district_id")

    def employers(statement: _Statement) -> str:
        # An employer may have several agents: each employer counts once.
        return ("SELECT e.district_id AS district_id, COUNT(*) AS total, COUNT(o.employer_id) AS online FROM employer e"
                " LEFT JOIN (SELECT DISTINCT employer_id FROM account"
                f" WHERE role = '{Role.EMPLOYER_AGENT.value}' AND is_active) o ON o.employer_id = e.id"
                f" WHERE e.status = '{EmployerStatus.ACTIVE.value}' GROUP BY e.district_id")

    person_rows = {row["district_id"]: row for row in await _select(persons)}
    employer_rows = {row["district_id"]: row for row in await _select(employers)}
    districts = []
    for district in await models.District.all().order_by("code").values("id", "code", "name"):
        p = person_rows.get(district["id"], {"total": 0, "online": 0})
        e = employer_rows.get(district["id"], {"total": 0, "online": 0})
        districts.append(DistrictAdoption(
            district["id"], district["code"], district["name"],
            _adoption(int(p["total"]), int(p["online"])), _adoption(int(e["total"]), int(e["online"]))))
    return OnlineAdoption(tuple(districts), _city(d.persons for d in districts), _city(d.employers for d in districts))

"""Scalars of the API (API.md 6): money as a two-decimal string, months as "YYYY-MM"."""

from __future__ import annotations

from decimal import Decimal
from typing import NewType

import strawberry
from graphql import GraphQLError

from domain.money import InvalidAmount, format_amount, parse_amount
from domain.months import InvalidMonth, Month


def _parse_money(value: object) -> Decimal:
    if not isinstance(value, str):
        raise GraphQLError('Money is a string such as "393.04"')
    try:
        return parse_amount(value)
    except InvalidAmount as exc:
        raise GraphQLError(str(exc)) from None


def _parse_month(value: object) -> Month:
    try:
        return Month.parse(value)  # type: ignore[arg-type]
    except InvalidMonth as exc:
        raise GraphQLError(str(exc)) from None


def _serialize_month(value: Month | int) -> str:
    return str(Month.from_int(value) if isinstance(value, int) else value)


Money = NewType("Money", Decimal)
MonthScalar = NewType("MonthScalar", Month)
ExactDecimal = NewType("ExactDecimal", Decimal)

_MONEY = strawberry.scalar(
    name="Decimal",
    description='Exact yuan with two decimals, as a string ("393.04"), rounded half-up to the fen.',
    serialize=format_amount,
    parse_value=_parse_money,
)

_MONTH = strawberry.scalar(
    name="Month",
    description='A calendar month "YYYY-MM" (local time, Asia/Shanghai).',
    serialize=_serialize_month,
    parse_value=_parse_month,
)


def _parse_exact(value: object) -> Decimal:
    try:
        number = Decimal(value) if isinstance(value, str) else None
    except ArithmeticError:
        number = None
    if number is None or not number.is_finite():
        raise GraphQLError(f"{value!r} is not a decimal number written as a string")
    return number


_EXACT_DECIMAL = strawberry.scalar(
    name="ExactDecimal",
    description='An exact decimal number as a string, such as a rate "0.007" or a grade "1.5".',
    serialize=lambda value: format(value.normalize(), "f"),
    parse_value=_parse_exact,
)

SCALAR_MAP = {Money: _MONEY, MonthScalar: _MONTH, ExactDecimal: _EXACT_DECIMAL}

"""Field helpers shared by every model: money, months, and enums the database itself checks."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

from tortoise import fields
from tortoise.exceptions import ValidationError
from tortoise.migrations.constraints import CheckConstraint
from tortoise.validators import Validator

from domain.identifiers import InvalidIdentifier
from domain.months import FIRST_YEAR, LAST_YEAR, InvalidMonth, Month

ENUM_LENGTH = 32


class IdentifierValidator(Validator):
    """Refuses an identifier that fails its standard (A1, A2) or is not in its stored form."""

    def __init__(self, normalise: Callable[[str], str]) -> None:
        self.normalise = normalise

    def __call__(self, value: str) -> None:
        try:
            normal = self.normalise(value)
        except InvalidIdentifier as exc:
            raise ValidationError(str(exc)) from None
        if normal != value:
            raise ValidationError(f"{value!r} is stored as {normal!r}")


def money_field(**kwargs: Any) -> fields.DecimalField:
    """Yuan with two places (M1), up to 999,999,999,999.99."""
    return fields.DecimalField(max_digits=14, decimal_places=2, **kwargs)


def rate_field(**kwargs: Any) -> fields.DecimalField:
    """A rate or a grade, such as 0.2000 or 1.5000."""
    return fields.DecimalField(max_digits=8, decimal_places=4, **kwargs)


class _MonthValidator(Validator):
    def __call__(self, value: Any) -> None:
        if value is None:
            return
        try:
            Month.from_int(int(value))
        except (InvalidMonth, TypeError, ValueError) as exc:
            raise ValidationError(f"{value!r} is not a month YYYYMM: {exc}") from None


def month_field(**kwargs: Any) -> fields.IntField:
    """A contribution month as the integer YYYYMM (see domain.months)."""
    return fields.IntField(validators=[_MonthValidator()], **kwargs)


def enum_field(enum_type: type[Enum], **kwargs: Any) -> fields.CharEnumFieldInstance:
    return fields.CharEnumField(enum_type, max_length=ENUM_LENGTH, **kwargs)


def enum_check(table: str, column: str, enum_type: type[Enum], nullable: bool = False) -> CheckConstraint:
    values = ", ".join(f"'{member.value}'" for member in enum_type)
    condition = f"{column} IN ({values})"
    if nullable:
        condition = f"{column} IS NULL OR {condition}"
    return CheckConstraint(check=condition, name=f"ck_{table}_{column}")


def month_check(table: str, column: str, nullable: bool = False) -> CheckConstraint:
    low, high = FIRST_YEAR * 100 + 1, LAST_YEAR * 100 + 12
    condition = f"{column} BETWEEN {low} AND {high} AND {column} % 100 BETWEEN 1 AND 12"
    if nullable:
        condition = f"{column} IS NULL OR ({condition})"
    return CheckConstraint(check=condition, name=f"ck_{table}_{column}")


def num(column: str) -> str:
    """A decimal column as a number in a CHECK: SQLite keeps decimals as text."""
    return f"CAST({column} AS NUMERIC)"


def check(table: str, name: str, condition: str) -> CheckConstraint:
    return CheckConstraint(check=condition, name=f"ck_{table}_{name}")

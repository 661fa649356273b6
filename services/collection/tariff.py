"""Reading the parameters in force from the database (P1-P7)."""

from __future__ import annotations

from typing import Any

from domain.enums import ParameterCode
from domain.tariff import ParameterRow, Tariff
from models import Parameter


async def parameter_rows(connection: Any = None) -> list[ParameterRow]:
    """Every decimal parameter row; the table holds a few dozen."""
    rows = await Parameter.filter(value__isnull=False).using_db(connection).values("code", "effective_from", "value")
    return [ParameterRow(ParameterCode(row["code"]), row["effective_from"], row["value"]) for row in rows]


async def load_tariff(connection: Any = None) -> Tariff:
    return Tariff(await parameter_rows(connection))

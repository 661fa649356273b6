"""Money is exact decimal yuan, rounded half-up to the fen at every stored amount (rule M1)."""

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache

FEN = Decimal("0.01")
# The largest amount any single stored figure may hold: DECIMAL(14, 2).
MAX_AMOUNT = Decimal("999999999999.99")


class InvalidAmount(ValueError):
    """An amount that is not a finite decimal number with at most two places."""


def to_fen(value: Decimal | int | str) -> Decimal:
    """Round half-up to 0.01 (M1). Floats are refused: they are never exact."""
    if isinstance(value, float):
        raise InvalidAmount("amounts are never binary floating point")
    try:
        amount = Decimal(value)
    except (InvalidOperation, ValueError, TypeError) as exc:
        raise InvalidAmount(f"{value!r} is not a decimal amount") from exc
    if not amount.is_finite():
        raise InvalidAmount(f"{value!r} is not a finite amount")
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


@cache
def _plain(places: int, integer_digits: int) -> re.Pattern[str]:
    return re.compile(rf"-?(?:0|[1-9][0-9]{{0,{integer_digits - 1}}})(?:\.[0-9]{{1,{places}}})?", re.ASCII)


def plain_decimal(text: object, places: int, integer_digits: int) -> Decimal | None:
    """The number ``text`` writes in ASCII digits, with at most ``places`` decimals after a point and
    ``integer_digits`` before it, and a minus before any number but zero: no plus, space, exponent,
    separator or leading zero. None for any other text: Python's Decimal would also read "１０",
    " 10", "1_0" and "1e3"."""
    if not isinstance(text, str) or _plain(places, integer_digits).fullmatch(text) is None:
        return None
    number = Decimal(text)
    return None if number.is_zero() and number.is_signed() else number


def parse_amount(text: str) -> Decimal:
    """Parse a client-supplied amount (M1): ASCII digits with at most two decimals, such as "393.04",
    at most MAX_AMOUNT (twelve digits before the point). A minus is read: each use's rule refuses
    a negative amount with its own field (and line), as it refuses zero or too much."""
    amount = plain_decimal(text, 2, 12)
    if amount is None:
        raise InvalidAmount(f'{text!r} is not an amount: ASCII digits with at most two decimals, such as "393.04"')
    return amount.quantize(FEN)


def format_amount(amount: Decimal) -> str:
    """The wire form of money: a string with exactly two decimals ("393.04")."""
    return str(to_fen(amount))

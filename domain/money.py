"""Money is exact decimal yuan, rounded half-up to the fen at every stored amount (rule M1)."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

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


def parse_amount(text: str) -> Decimal:
    """Parse a client-supplied amount: a decimal string with at most two places, within range."""
    try:
        amount = Decimal(text.strip())
    except (InvalidOperation, AttributeError) as exc:
        raise InvalidAmount(f"{text!r} is not a decimal amount") from exc
    if not amount.is_finite():
        raise InvalidAmount(f"{text!r} is not a finite amount")
    if amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise InvalidAmount(f"{text!r} has more than two decimal places")
    if abs(amount) > MAX_AMOUNT:
        raise InvalidAmount(f"{text!r} is larger than {MAX_AMOUNT}")
    return amount.quantize(FEN)


def format_amount(amount: Decimal) -> str:
    """The wire form of money: a string with exactly two decimals ("393.04")."""
    return str(to_fen(amount))

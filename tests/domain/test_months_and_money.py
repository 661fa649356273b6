"""Rules M1-M3: exact money, calendar months, the 20th."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.money import InvalidAmount, format_amount, parse_amount, to_fen
from domain.months import InvalidMonth, Month, is_on_time


@pytest.mark.parametrize(
    "text", ["2026-13", "2026-00", "2026-1", "26-01", "2026/01", "", "1949-12", "2026-11\n", " 2026-11"]
)
def test_impossible_months_are_refused(text):
    with pytest.raises(InvalidMonth):
        Month.parse(text)


@given(st.integers(1990, 2150), st.integers(1, 12), st.integers(-400, 400))
def test_month_arithmetic_round_trips(year, month, delta):
    start = Month(year, month)
    later = start.plus(delta)
    assert start.months_until(later) == delta
    assert Month.parse(str(later)) == later and Month.from_int(later.to_int()) == later


def test_the_twentieth_is_on_time_and_the_twenty_first_is_not():
    assert is_on_time(dt.date(2026, 11, 20)) and not is_on_time(dt.date(2026, 11, 21))


def test_rounding_is_half_up_to_the_fen():
    assert to_fen(Decimal("392.035")) == Decimal("392.04")
    assert to_fen(Decimal("392.034")) == Decimal("392.03")
    assert format_amount(Decimal("960")) == "960.00"
    with pytest.raises(InvalidAmount):
        to_fen(0.1)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["1.001", "NaN", "Infinity", "abc", "1000000000000.00"])
def test_client_amounts_with_more_than_two_places_or_out_of_range_are_refused(text):
    with pytest.raises(InvalidAmount):
        parse_amount(text)


def test_a_month_is_written_in_ascii_digits():
    with pytest.raises(InvalidMonth):
        Month.parse("２０２６-01")


@pytest.mark.parametrize(
    "text",
    ["１０.00", "10_000", "1e3", " 10.00", "10.00 ", "+10", "010", "10.", ".5", "-0.00", "1,000", "٣", "", None, 10],
)
def test_a_client_amount_is_written_in_plain_ascii_digits(text):
    with pytest.raises(InvalidAmount):
        parse_amount(text)


@pytest.mark.parametrize(
    ("text", "amount"), [("10", "10.00"), ("0.5", "0.50"), ("-1.25", "-1.25"), ("999999999999.99", "999999999999.99")]
)
def test_plain_amounts_are_read_to_the_fen(text, amount):
    assert parse_amount(text) == Decimal(amount) and str(parse_amount(text)) == amount

"""Rules A1 and A2: resident ID numbers and unified social credit codes."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.identifiers import (
    InvalidIdentifier,
    make_credit_code,
    make_resident_id,
    mask_resident_id,
    normalise_credit_code,
    parse_resident_id,
)


def test_a_published_example_id_number_checks():
    # GB 11643-1999's own example: 11010519491231002X
    parsed = parse_resident_id("11010519491231002x")
    assert parsed.number == "11010519491231002X"  # lower-case x stored as X (A1)
    assert parsed.birth_date == dt.date(1949, 12, 31)
    assert parsed.is_male is False  # sequence 002 is even


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("11010519491231002", "18 characters"),
        ("110105194912310021", "check character"),
        ("11010519490231002X", "does not exist"),
        ("1101051949123100AX", "17 digits"),
        ("11010518491231002X", "before 1900"),
    ],
)
def test_invalid_id_numbers_are_refused_with_a_reason(number, reason):
    with pytest.raises(InvalidIdentifier, match=reason):
        parse_resident_id(number)


@given(st.dates(dt.date(1900, 1, 1), dt.date(2025, 12, 31)), st.integers(0, 999))
def test_composed_id_numbers_always_check(birth, sequence):
    number = make_resident_id("420102", birth, sequence)
    parsed = parse_resident_id(number)
    assert parsed.birth_date == birth and parsed.is_male == (sequence % 2 == 1)


@given(
    st.dates(dt.date(1900, 1, 1), dt.date(2025, 12, 31)),
    st.integers(0, 999),
    st.integers(0, 16),
    st.sampled_from("0123456789"),
)
def test_changing_one_digit_breaks_the_check(birth, sequence, position, digit):
    number = make_resident_id("420102", birth, sequence)
    changed = number[:position] + digit + number[position + 1 :]
    if changed != number:
        with pytest.raises(InvalidIdentifier):
            parse_resident_id(changed)


def test_masking_keeps_area_and_last_four():
    assert mask_resident_id("42010219800517001X") == "420102********001X"


def test_a_real_shaped_credit_code_checks_and_its_organisation_code_too():
    code = make_credit_code("91420100", "MA4K0000")
    assert normalise_credit_code(code.lower()) == code
    for bad, reason in (
        (code[:-1] + ("0" if code[-1] != "0" else "1"), "check character"),
        (code[:8] + "I" + code[9:], "cannot contain I"),
        (code[:10], "18 characters"),
    ):
        with pytest.raises(InvalidIdentifier, match=reason):
            normalise_credit_code(bad)


def test_a_credit_code_whose_organisation_code_fails_is_refused():
    good = make_credit_code("91420100", "12345678")
    organisation = good[8:17]
    wrong_org_check = "0" if organisation[-1] != "0" else "1"
    first17 = good[:16] + wrong_org_check
    from domain.identifiers import credit_check_character

    with pytest.raises(InvalidIdentifier, match="organisation code"):
        normalise_credit_code(first17 + credit_check_character(first17))


def test_digits_of_other_scripts_are_not_digits_of_an_id_number():
    number = make_resident_id("420102", dt.date(1990, 5, 6), 123)
    full_width = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in number[:17]) + number[17]
    with pytest.raises(InvalidIdentifier):
        parse_resident_id(full_width)

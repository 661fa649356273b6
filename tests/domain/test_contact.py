"""Phone numbers are checked alike everywhere a person's phone is given."""

from __future__ import annotations

import pytest

from domain.contact import InvalidPhone, checked_phone


@pytest.mark.parametrize(
    "written", ["13912345678", "139 1234 5678", "+86 139-1234-5678", "027-82345678", "0710-2345678", "010 12345678"]
)
def test_mobiles_and_landlines_with_area_codes_are_taken_as_written(written):
    assert checked_phone(f" {written} ") == written


@pytest.mark.parametrize(
    "written",
    [
        "abc",
        "",
        "12345678",
        "23912345678",
        "1391234567",
        "027-8",
        "82345678",
        "１３９１２３４５６７８",
        "139123456789",
        "0012345678",
    ],
)
def test_anything_else_is_refused(written):
    with pytest.raises(InvalidPhone):
        checked_phone(written)

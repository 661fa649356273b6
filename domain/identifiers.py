"""Resident ID numbers (rule A1, GB 11643-1999) and unified social credit codes (rule A2)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")  # ASCII only: \d would take other scripts' digits

_CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_VALUES = {ch: i for i, ch in enumerate(_CREDIT_ALPHABET)}
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class InvalidIdentifier(ValueError):
    """An ID number or credit code that fails its standard's shape or check character."""


@dataclass(frozen=True, slots=True)
class ResidentId:
    number: str
    area_code: str
    birth_date: dt.date
    is_male: bool


def id_check_character(first17: str) -> str:
    total = sum(int(ch) * w for ch, w in zip(first17, _ID_WEIGHTS))
    return _ID_CHECK[total % 11]


def parse_resident_id(raw: str) -> ResidentId:
    """Validate an 18-character resident ID number (A1); lower-case x becomes X."""
    if not isinstance(raw, str):
        raise InvalidIdentifier("an ID number is a string of 18 characters")
    number = raw.strip().upper()
    if len(number) != 18:
        raise InvalidIdentifier(f"an ID number has 18 characters, this one has {len(number)}")
    if not _ID_SHAPE.match(number):
        raise InvalidIdentifier("an ID number is 17 digits followed by a digit or X")
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidIdentifier(f"the birth date {number[6:14]} in the ID number does not exist") from None
    if birth.year < 1900:
        raise InvalidIdentifier(f"the birth date {number[6:14]} in the ID number is before 1900")
    if number[17] != id_check_character(number[:17]):
        raise InvalidIdentifier("the ID number's check character is wrong")
    return ResidentId(number, number[:6], birth, int(number[16]) % 2 == 1)


def normalise_resident_id(raw: str) -> str:
    return parse_resident_id(raw).number


def mask_resident_id(number: str) -> str:
    """420102********123X: area code and the last four characters stay visible (docs/api.md 8)."""
    return number[:6] + "*" * 8 + number[14:]


def organisation_check_character(first8: str) -> str:
    total = sum(_ORG_ALPHABET.index(ch) * w for ch, w in zip(first8, _ORG_WEIGHTS))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def credit_check_character(first17: str) -> str:
    total = sum(_CREDIT_VALUES[ch] * w for ch, w in zip(first17, _CREDIT_WEIGHTS))
    return _CREDIT_ALPHABET[(31 - total % 31) % 31]


def normalise_credit_code(raw: str) -> str:
    """Validate an 18-character unified social credit code (A2), with its organisation code."""
    if not isinstance(raw, str):
        raise InvalidIdentifier("a credit code is a string of 18 characters")
    code = raw.strip().upper()
    if len(code) != 18:
        raise InvalidIdentifier(f"a credit code has 18 characters, this one has {len(code)}")
    bad = sorted({ch for ch in code if ch not in _CREDIT_VALUES})
    if bad:
        raise InvalidIdentifier(f"a credit code cannot contain {''.join(bad)}")
    if code[17] != credit_check_character(code[:17]):
        raise InvalidIdentifier("the credit code's check character is wrong")
    organisation = code[8:17]
    if organisation[8] != organisation_check_character(organisation[:8]):
        raise InvalidIdentifier("the organisation code inside the credit code fails its check")
    return code


def make_resident_id(area_code: str, birth_date: dt.date, sequence: int) -> str:
    """Compose a valid ID number; an odd sequence is a man's (A1)."""
    first17 = f"{area_code}{birth_date:%Y%m%d}{sequence:03d}"
    return first17 + id_check_character(first17)


def make_credit_code(prefix: str, organisation: str) -> str:
    """Compose a valid credit code from its 8-character prefix (registration authority, kind,
    area) and the first 8 characters of the organisation code (A2)."""
    organisation_code = organisation + organisation_check_character(organisation)
    first17 = prefix + organisation_code
    return first17 + credit_check_character(first17)

"""Contact phone numbers, checked alike wherever a person's phone is given: a mainland mobile
(11 digits from 13 to 19) or a landline with its area code (0, then 2 or 3 more digits, then 7 or 8
digits), written with spaces or dashes as people write them, a mobile with +86 before it too."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[ -]")
_MOBILE = re.compile(r"(?:\+?86)?1[3-9][0-9]{9}")
_LANDLINE = re.compile(r"0[1-9][0-9]{1,2}[0-9]{7,8}")
LONGEST = 20
PHONE_RULE = "a mainland mobile number (11 digits) or a landline with its area code, such as 027-82345678"


class InvalidPhone(ValueError):
    pass


def checked_phone(raw: str) -> str:
    """The phone as written, trimmed; InvalidPhone when it is neither a mobile nor a landline."""
    text = raw.strip()
    digits = _SEPARATORS.sub("", text)
    if len(text) > LONGEST or not text.isascii() or not (_MOBILE.fullmatch(digits) or _LANDLINE.fullmatch(digits)):
        raise InvalidPhone(PHONE_RULE)
    return text

"""A person's contact details as every business takes them."""

from __future__ import annotations

from domain.contact import InvalidPhone, checked_phone
from domain.errors import BusinessError, ErrorCode


def phone_of(raw: str) -> str:
    """The phone to record, or INVALID_INPUT on ``phone`` (registration and F5 alike)."""
    try:
        return checked_phone(raw)
    except InvalidPhone as invalid:
        raise BusinessError(ErrorCode.INVALID_INPUT, str(invalid), "phone") from None

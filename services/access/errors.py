"""Refusals of online-service access (A3-A6): a stable code, a message for a person, the input
field; and the checks of typed inputs that raise them."""

from __future__ import annotations

from domain.credentials import (
    InvalidUsername,
    PasswordTooLong,
    WeakPassword,
    check_chosen_password,
    check_password_length,
    normalise_username,
)
from domain.errors import BusinessError, ErrorCode


class AccessError(BusinessError):
    """A refusal of access to show the person; ``field`` names the input at fault in camelCase."""

    def __repr__(self) -> str:
        return f"AccessError({self.code.value}, {self.message!r}, field={self.field!r})"


# --- typed inputs, checked before anything is hashed or stored -----------------------------------

TEXT_MAX_LENGTH = 128  # a commitment place, a device name


def username_input(username: str) -> str:
    """The stored form of a typed username (domain.credentials), or INVALID_USERNAME."""
    try:
        return normalise_username(username)
    except InvalidUsername as exc:
        raise AccessError(ErrorCode.INVALID_USERNAME, str(exc), "username") from None


def password_input(password: str, field: str) -> None:
    """Any password typed in: an absurd length is refused before hashing, and counts as no attempt."""
    try:
        check_password_length(password)
    except PasswordTooLong as exc:
        raise AccessError(ErrorCode.PASSWORD_TOO_LONG, str(exc), field) from None


def chosen_password_input(password: str, username: str, field: str) -> None:
    try:
        check_chosen_password(password, username)
    except PasswordTooLong as exc:
        raise AccessError(ErrorCode.PASSWORD_TOO_LONG, str(exc), field) from None
    except WeakPassword as exc:
        raise AccessError(ErrorCode.WEAK_PASSWORD, str(exc), field) from None


def text_input(text: str, field: str, what: str) -> str:
    cleaned = text.strip() if isinstance(text, str) else ""
    if not cleaned or len(cleaned) > TEXT_MAX_LENGTH or not cleaned.isprintable():
        raise AccessError(
            ErrorCode.INVALID_INPUT,
            f"Give {what}: 1 to {TEXT_MAX_LENGTH} printable characters.",
            field,
        )
    return cleaned

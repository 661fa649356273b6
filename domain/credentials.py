"""Usernames and passwords of online-service accounts (A3): the rules alone, no hashing, no I/O.

Messages never repeat what was typed: a password is a secret, and a username may hold control
characters that would garble a screen or a log.
"""

from __future__ import annotations

import re
import unicodedata

USERNAME_MIN_LENGTH = 3
USERNAME_MAX_LENGTH = 32
USERNAME_CHARACTERS = "letters A-Z and a-z, digits, '_', '.' and '-'"
_USERNAME_SHAPE = re.compile(r"[A-Za-z0-9_.\-]+")

PASSWORD_MIN_LENGTH = 8
# Also the longest input a login accepts: no password can be longer, so nothing longer is hashed.
PASSWORD_MAX_LENGTH = 128
# Control and formatting characters cannot be typed alike on a kiosk and a phone; a lone surrogate
# is no character at all.
_INVISIBLE_CATEGORIES = ("Cc", "Cf", "Cs")


class InvalidUsername(ValueError):
    """A username that cannot exist: wrong length or characters."""


class WeakPassword(ValueError):
    """A chosen password that the policy refuses."""


class PasswordTooLong(ValueError):
    """Any password input longer than a password can be: refused before it is hashed."""


def normalise_username(raw: str) -> str:
    """The stored form of a username: checked, then lower-cased (usernames ignore case)."""
    if not isinstance(raw, str):
        raise TypeError("a username is a str")
    username = raw.strip()
    if not USERNAME_MIN_LENGTH <= len(username) <= USERNAME_MAX_LENGTH:
        raise InvalidUsername(
            f"A username has {USERNAME_MIN_LENGTH} to {USERNAME_MAX_LENGTH} characters: {USERNAME_CHARACTERS}."
        )
    if not _USERNAME_SHAPE.fullmatch(username):
        position = next(i for i, ch in enumerate(username, 1) if not _USERNAME_SHAPE.fullmatch(ch))
        raise InvalidUsername(
            f"Character {position} of the username is not allowed; a username uses only {USERNAME_CHARACTERS}."
        )
    return username.lower()


def check_password_length(password: str) -> None:
    """Refuse an absurdly long input at once, before any hashing spends time on it."""
    if not isinstance(password, str):
        raise TypeError("a password is a str")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise PasswordTooLong(f"A password has at most {PASSWORD_MAX_LENGTH} characters.")


def check_chosen_password(password: str, username: str) -> None:
    """The policy for a password a person chooses: 8-128 characters, a letter and a digit, not the username."""
    check_password_length(password)
    if len(password) < PASSWORD_MIN_LENGTH:
        raise WeakPassword(f"A password needs at least {PASSWORD_MIN_LENGTH} characters.")
    if any(unicodedata.category(ch) in _INVISIBLE_CATEGORIES for ch in password):
        raise WeakPassword("A password cannot contain control or invisible characters.")
    if not any(ch.isalpha() for ch in password) or not any(ch.isdecimal() for ch in password):
        raise WeakPassword("A password needs at least one letter and one digit.")
    if password.strip().lower() == username.strip().lower():
        raise WeakPassword("A password cannot be the username.")

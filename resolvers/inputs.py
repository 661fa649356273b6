"""Arguments checked before they reach a service: global ids (docs/api.md 1), identifiers and name
prefixes. What cannot be read is a BadUserInput naming the argument at fault."""

from __future__ import annotations

import base64
import binascii

from graphql import GraphQLError

from domain.identifiers import InvalidIdentifier, normalise_credit_code, normalise_resident_id


class BadUserInput(GraphQLError):
    """An argument that is well-typed but invalid: an impossible ID number, a cursor not ours."""

    def __init__(self, message: str, argument: str | None = None) -> None:
        extensions = {"code": "BAD_USER_INPUT"}
        if argument:
            extensions["argument"] = argument
        super().__init__(message, extensions=extensions)


def encode_id(kind: str, key: object) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode().rstrip("=")


def decode_id(opaque: str, argument: str = "id") -> tuple[str, str]:
    """The (kind, key) inside an opaque id; anything we did not issue is a BadUserInput."""
    try:
        padded = opaque + "=" * (-len(opaque) % 4)
        kind, _, key = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeError, ValueError):
        raise BadUserInput(f"{opaque!r} is not an id issued by this API", argument) from None
    if not kind or not key:
        raise BadUserInput(f"{opaque!r} is not an id issued by this API", argument)
    return kind, key


def whole_number(key: str, longest: int = 18) -> int | None:
    """The number a key we issued holds: ASCII digits, no leading zero, so each has one spelling."""
    if not (key.isascii() and key.isdigit()) or len(key) > longest or (key != "0" and key.startswith("0")):
        return None
    return int(key)


def decode_int_id(opaque: str, expected_kind: str, argument: str = "id") -> int:
    kind, key = decode_id(opaque, argument)
    number = whole_number(key) if kind == expected_kind else None
    if number is None:
        raise BadUserInput(f"{opaque!r} is not the id of a {expected_kind}", argument)
    return number


def resident_id_argument(raw: str, argument: str = "idNumber") -> str:
    try:
        return normalise_resident_id(raw)
    except InvalidIdentifier as exc:
        raise BadUserInput(f"invalid ID number: {exc}", argument) from None


def credit_code_argument(raw: str, argument: str = "creditCode") -> str:
    try:
        return normalise_credit_code(raw)
    except InvalidIdentifier as exc:
        raise BadUserInput(f"invalid credit code: {exc}", argument) from None


def name_prefix_argument(raw: str, argument: str = "namePrefix") -> str:
    prefix = raw.strip()
    if not 1 <= len(prefix) <= 64:
        raise BadUserInput("a name prefix has 1 to 64 characters", argument)
    return prefix

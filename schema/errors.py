"""Errors raised to the client as top-level GraphQL errors with a stable extensions.code."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from graphql import GraphQLError

from domain.errors import BusinessError

T = TypeVar("T")


class Refused(GraphQLError):
    """A business rule refusing a query (a mutation reports it in its payload instead)."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        extensions = {"code": code}
        if field:
            extensions["field"] = field
        super().__init__(message, extensions=extensions)


async def refused_as_error(call: Awaitable[T]) -> T:
    """A query's answer, or its BusinessError as a top-level error with the rule's code."""
    try:
        return await call
    except BusinessError as error:
        raise Refused(error.code.value, error.message, error.field) from None

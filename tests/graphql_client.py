"""Executing operations against the schema in-process, as a resolver sees them."""

from __future__ import annotations

from typing import Any

from resolvers.context import Context
from schema.root import schema


async def run(query: str, **variables: Any) -> dict[str, Any]:
    """Execute and return {"data": ..., "errors": [...]} as a client would read it."""
    result = await schema.execute(query, variable_values=variables or None, context_value=Context())
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [error.formatted for error in result.errors]
    return body


async def data(query: str, **variables: Any) -> dict[str, Any]:
    """Execute an operation that must succeed."""
    body = await run(query, **variables)
    assert "errors" not in body, body["errors"]
    return body["data"]


def error_codes(body: dict[str, Any]) -> list[str | None]:
    return [error.get("extensions", {}).get("code") for error in body.get("errors", [])]

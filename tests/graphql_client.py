"""Executing operations against the schema in-process, as a resolver sees them."""

from __future__ import annotations

from typing import Any

from domain.enums import Role
from schema.context import Context
from schema.root import schema
from services.common.viewer import Viewer

ADMINISTRATOR = Viewer(account_id=0, username="admin", role=Role.ADMIN)


async def run(query: str, viewer: Viewer | None = ADMINISTRATOR, **variables: Any) -> dict[str, Any]:
    """Execute as ``viewer`` (an administrator unless said) and return {"data", "errors"} as a client
    would read them."""
    result = await schema.execute(query, variable_values=variables or None, context_value=Context(viewer=viewer))
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [error.formatted for error in result.errors]
    return body


async def data(query: str, viewer: Viewer | None = ADMINISTRATOR, **variables: Any) -> dict[str, Any]:
    """Execute an operation that must succeed."""
    body = await run(query, viewer, **variables)
    assert "errors" not in body, body["errors"]
    return body["data"]


def error_codes(body: dict[str, Any]) -> list[str | None]:
    return [error.get("extensions", {}).get("code") for error in body.get("errors", [])]

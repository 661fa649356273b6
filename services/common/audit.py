"""The audit trail (A6): every mutation, allowed or refused: who, when, from where, what, outcome."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from enum import Enum
from typing import Any

import models
from domain.enums import AuditOutcome
from domain.identifiers import mask_resident_id
from domain.months import Month
from services.common import clock

SECRET_WORDS = ("password", "credential", "token", "secret")
MAX_TEXT = 200
_CONTROL_CHARACTERS = {code: "\ufffd" for code in range(32) if chr(code) not in "\t\n"}


def without_secrets(value: Any, key: str = "") -> Any:
    """A JSON-ready copy of mutation input with secrets replaced, ID numbers masked (docs/api.md 8)
    and long texts cut."""
    if any(word in key.lower() for word in SECRET_WORDS):
        return "[removed]"
    if key == "id_number" and isinstance(value, str) and len(value) == 18:
        return mask_resident_id(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): without_secrets(v, str(k)) for k, v in value.items() if v is not None and not _is_unset(v)}
    if isinstance(value, (list, tuple)):
        return [without_secrets(item, key) for item in value[:100]]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (Decimal, Month)):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, str):
        text = value.translate(_CONTROL_CHARACTERS)  # PostgreSQL's JSON refuses NUL
        return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + f"... ({len(text)} characters)"
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return type(value).__name__  # an upload, say: its kind, never its content


def _is_unset(value: Any) -> bool:
    return type(value).__name__ == "UnsetType"


async def record(
    context: Any,
    *,
    operation: str,
    arguments: dict[str, Any],
    outcome: AuditOutcome,
    detail: str | None = None,
    before: Any = None,
    after: Any = None,
) -> models.AuditEvent:
    viewer = context.viewer
    return await models.AuditEvent.create(
        at=clock.now(),
        account_id=viewer.account_id if viewer else None,
        role=viewer.role if viewer else None,
        client_address=(context.client_address or "")[:64] or None,
        request_id=context.request_id,
        operation=operation[:64],
        input=without_secrets(arguments),
        outcome=outcome,
        detail=detail,
        before=before,
        after=after,
    )

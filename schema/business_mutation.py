"""The one way to write a business mutation, after Saleor's base mutation: a payload type declares
its objects and gets the common `transaction` and `errors` fields from ``business_payload``; a
resolver decorated with ``business_mutation`` returns its payload, and everything else every
mutation needs happens here once: uploads read, idempotency keys (docs/api.md 3), business refusals as
typed payload errors (docs/api.md 2) and the audit trail (A6)."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import json
import typing
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import strawberry
from tortoise.exceptions import IntegrityError

import models
from domain.enums import AuditOutcome
from domain.errors import BusinessError, ErrorCode
from resolvers.inputs import BadUserInput, decode_id, encode_id
from schema import nodes
from schema.payloads import UserError
from schema.relay import Node
from services.common.audit import SECRET_WORDS, record

P = TypeVar("P")
NO_CHANGE = "Why nothing changed; empty on success."


def business_payload(
    description: str, *, transaction: str | None = None, errors: str = NO_CHANGE
) -> Callable[[type], type]:
    """A mutation's payload type: the fields the class declares, then the business transaction
    recorded (when ``transaction`` describes it) and the list of typed errors, in that order."""

    def complete(cls: type) -> type:
        annotations = dict(cls.__dict__.get("__annotations__", {}))
        if transaction is not None:
            annotations["transaction"] = nodes.BusinessTransaction | None
            cls.transaction = strawberry.field(default=None, description=transaction)
        annotations["errors"] = list[UserError]
        cls.errors = strawberry.field(default_factory=list, description=errors)
        cls.__annotations__ = annotations
        if not hasattr(cls, "refused"):
            cls.refused = classmethod(_refused)
        return strawberry.type(cls, description=description)

    return complete


def _refused(cls: type[P], error: BusinessError) -> P:
    """The payload of a refusal; a payload type may define its own ``refused`` to say more."""
    return cls(errors=[UserError.of(error)])


def business_mutation(*, description: str, extensions: Sequence[Any] = ()) -> Callable[[Callable], Any]:
    """A business mutation whose resolver only does the business and returns its payload."""

    def field(resolver: Callable[..., Awaitable[Any]]) -> Any:
        hints: dict[str, Any] = {}

        @functools.wraps(resolver)
        async def run(self: Any, info: strawberry.Info, input: Any = None, **arguments: Any) -> Any:
            if not hints:  # known once the module's types all exist
                hints.update(typing.get_type_hints(resolver))
            payload_type = hints["return"]
            if input is None:  # an optional input left out: its defaults
                input = next(kind for kind in typing.get_args(hints["input"]) if kind is not type(None))()
            await _read_uploads(input)
            return await run_mutation(info, input, payload_type, lambda: resolver(self, info, input, **arguments))

        return strawberry.mutation(description=description, extensions=list(extensions))(run)

    return field


async def _read_uploads(input_: Any) -> None:
    """Uploaded files as their bytes, so that the input's fingerprint covers their content; the
    request body is already capped at the upload limit."""
    for field in dataclasses.fields(input_):
        value = getattr(input_, field.name)
        if hasattr(value, "read") and not isinstance(value, bytes):
            setattr(input_, field.name, await value.read())


MAX_KEY_LENGTH = 128
IN_FLIGHT_WAIT_SECONDS = 5.0


def _fingerprint(input_: Any) -> str:
    """A hash of the whole input, secrets included (they are never stored), the key excluded;
    an uploaded file counts by its content."""
    fields = {f.name: getattr(input_, f.name) for f in dataclasses.fields(input_) if f.name != "idempotency_key"}
    text = json.dumps(fields, sort_keys=True, default=_comparable, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _comparable(value: Any) -> str:
    if isinstance(value, bytes):
        return "sha256:" + hashlib.sha256(value).hexdigest()
    return str(value)


def _is_secret(name: str) -> bool:
    return any(word in name.lower() for word in SECRET_WORDS)


def _stored(payload: Any) -> dict[str, Any]:
    """The payload as it can be replayed: objects by global id, secrets left out."""
    stored: dict[str, Any] = {}
    for field in dataclasses.fields(payload):
        value = getattr(payload, field.name)
        if _is_secret(field.name):
            continue
        if isinstance(value, Node):
            stored[field.name] = {"node": encode_id(type(value).__name__, value.db_id)}
        elif isinstance(value, list) and field.name != "errors" and all(isinstance(item, Node) for item in value):
            stored[field.name] = {"nodes": [encode_id(type(item).__name__, item.db_id) for item in value]}
        elif field.name == "errors":
            stored[field.name] = [{"field": e.field, "code": e.code.value, "message": e.message} for e in value]
        elif isinstance(value, (str, int, float, bool)) or value is None:
            stored[field.name] = value
    return stored


async def _replayed(payload_type: type[P], stored: dict[str, Any], context: Any) -> P:
    values: dict[str, Any] = {}
    for name, value in stored.items():
        if isinstance(value, dict) and "node" in value:
            values[name] = await _reloaded(value["node"], context)
        elif isinstance(value, dict) and "nodes" in value:
            values[name] = [await _reloaded(opaque, context) for opaque in value["nodes"]]
        elif name == "errors":
            values[name] = [UserError(field=e["field"], code=ErrorCode(e["code"]), message=e["message"]) for e in value]
        else:
            values[name] = value
    return payload_type(**values)


async def _reloaded(opaque: str, context: Any) -> Any:
    kind, key = decode_id(opaque)
    loader = context.loaders.by_type(kind)
    return await loader.load(loader.parse_key(key))


async def run_mutation(info: Any, input_: Any, payload_type: type[P], action: Callable[[], Awaitable[P]]) -> P:
    """Run ``action`` once per idempotency key; turn BusinessError into payload errors; audit it."""
    context, operation = info.context, info.field_name
    key = getattr(input_, "idempotency_key", None)
    arguments = {"input": input_}
    if key is not None and not (0 < len(key) <= MAX_KEY_LENGTH):
        return payload_type(
            errors=[
                UserError(
                    field="idempotencyKey",
                    code=ErrorCode.INVALID_INPUT,
                    message=f"an idempotency key has 1 to {MAX_KEY_LENGTH} characters",
                )
            ]
        )
    claim = None
    if key is not None and context.viewer is not None:
        claim, earlier = await _claim(context.viewer.account_id, key, operation, _fingerprint(input_))
        if earlier is not None:
            return await _answer_to_retry(earlier, operation, _fingerprint(input_), payload_type, context)
    try:
        payload = await action()
    except BusinessError as error:
        payload = payload_type.refused(error)  # type: ignore[attr-defined]
    except BadUserInput as error:  # a malformed id inside the input
        payload = payload_type(
            errors=[
                UserError(
                    field=(error.extensions or {}).get("argument"), code=ErrorCode.INVALID_INPUT, message=error.message
                )
            ]
        )
    except BaseException:
        if claim is not None:
            await claim.delete()  # nothing happened: a retry may run it
        await record(
            context, operation=operation, arguments=arguments, outcome=AuditOutcome.FAILED, detail="unexpected error"
        )
        raise
    errors = getattr(payload, "errors", [])
    await record(
        context,
        operation=operation,
        arguments=arguments,
        outcome=AuditOutcome.ALLOWED,
        detail=", ".join(e.code.value for e in errors) or None,
    )
    if claim is not None and errors:  # refused before any effect: the corrected request may use the key (docs/api.md 3)
        await claim.delete()
    elif claim is not None:
        claim.response = _stored(payload)
        await claim.save(update_fields=["response"])
    return payload


async def _claim(account_id: int, key: str, operation: str, fingerprint: str):
    """Reserve the key before acting, so that two racing retries cannot both act."""
    try:
        return await models.IdempotencyRecord.create(
            account_id=account_id, key=key, operation=operation, input_hash=fingerprint
        ), None
    except IntegrityError:
        return None, await models.IdempotencyRecord.get(account_id=account_id, key=key)


async def _answer_to_retry(
    earlier: models.IdempotencyRecord, operation: str, fingerprint: str, payload_type: type[P], context: Any
) -> P:
    if earlier.operation != operation or earlier.input_hash != fingerprint:
        return payload_type(
            errors=[
                UserError(
                    field="idempotencyKey",
                    code=ErrorCode.IDEMPOTENCY_KEY_REUSED,
                    message="this idempotency key was used for another request",
                )
            ]
        )
    waited = 0.0
    while earlier.response is None and waited < IN_FLIGHT_WAIT_SECONDS:
        await asyncio.sleep(0.1)
        waited += 0.1
        found = await models.IdempotencyRecord.get_or_none(id=earlier.id)
        if found is None:  # the first attempt failed and released the key
            return payload_type(
                errors=[
                    UserError(
                        field="idempotencyKey",
                        code=ErrorCode.IDEMPOTENCY_KEY_IN_USE,
                        message="the first request with this key failed; send it again",
                    )
                ]
            )
        earlier = found
    if earlier.response is None:
        return payload_type(
            errors=[
                UserError(
                    field="idempotencyKey",
                    code=ErrorCode.IDEMPOTENCY_KEY_IN_USE,
                    message="a request with this key is still running; retry shortly",
                )
            ]
        )
    return await _replayed(payload_type, earlier.response, context)

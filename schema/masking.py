"""Unexpected exceptions reach clients as a bare "Internal server error" and a request id.

The server log carries the same request id with the traceback. Errors raised on purpose (a
``GraphQLError``, e.g. FORBIDDEN or NOT_FOUND from a resolver) and the client's own mistakes
(syntax, validation, variable values) pass through unchanged. An error saying that the database
cannot be reached now is ``SERVICE_UNAVAILABLE`` instead (docs/api.md 12): the HTTP view answers it
with 503 and ``Retry-After``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.exceptions import MissingQueryError
from strawberry.extensions import SchemaExtension
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError

from models.database import says_database_unavailable

INTERNAL_ERROR_MESSAGE = "Internal server error"
INTERNAL_ERROR_CODE = "INTERNAL_SERVER_ERROR"
UNAVAILABLE_MESSAGE = "The service is unavailable for a moment: try again shortly."
UNAVAILABLE_CODE = "SERVICE_UNAVAILABLE"

# Raised through the extensions on purpose: the HTTP view turns them into 400 and 405 responses.
REQUEST_PROTOCOL_ERRORS = (MissingQueryError, CannotGetOperationTypeError, InvalidOperationTypeError)

logger = logging.getLogger("shebao.errors")


def is_unexpected(error: GraphQLError) -> bool:
    """True for an error caused by an exception that is not a GraphQLError."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


def is_unavailable(error: BaseException | None) -> bool:
    """True when ``error``, or an error it was raised from, says a service we depend on cannot
    answer now, so that the same request may succeed later."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, GraphQLError):
            error = error.original_error
            continue
        if says_database_unavailable(error):
            return True
        error = error.__cause__
    return False


def request_id_of(context: object) -> str | None:
    if isinstance(context, dict):
        return context.get("request_id")
    return getattr(context, "request_id", None)


class MaskUnexpectedErrors(SchemaExtension):
    """List it first among the schema's extensions, so that it sees what the others raise."""

    def on_operation(self) -> Iterator[None]:
        try:
            yield
        except (GraphQLError, *REQUEST_PROTOCOL_ERRORS):
            raise
        except Exception as exc:
            # An extension hook failed; the schema reports the exception's text unless replaced.
            raise self.masked(exc) from None
        self.mask_result(self.execution_context.result)

    def on_stream_result(self, result: object) -> Iterator[None]:
        self.mask_result(result)
        yield

    def mask_result(self, result: object) -> None:
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = [  # type: ignore[attr-defined]
                self.masked(error.original_error, error) if is_unexpected(error) else error for error in errors
            ]

    def masked(self, exc: BaseException, located: GraphQLError | None = None) -> GraphQLError:
        """Log ``exc`` with a request id and return the error the client sees in its place."""
        request_id = request_id_of(self.execution_context.context) or uuid.uuid4().hex
        path = located.path if located else None
        if is_unavailable(exc):
            # one line, not a traceback: during an outage every request would log one
            logger.warning(
                "Service unavailable: %s: %s",
                type(exc).__name__,
                exc,
                extra={"request_id": request_id, "graphql_path": path},
            )
            return GraphQLError(
                UNAVAILABLE_MESSAGE,
                nodes=located.nodes if located else None,
                path=path,
                extensions={"code": UNAVAILABLE_CODE, "requestId": request_id},
            )
        logger.error(
            "Unexpected error: %s",
            type(exc).__name__,
            exc_info=exc,
            extra={"request_id": request_id, "graphql_path": path},
        )
        return GraphQLError(
            INTERNAL_ERROR_MESSAGE,
            nodes=located.nodes if located else None,
            path=path,
            extensions={"code": INTERNAL_ERROR_CODE, "requestId": request_id},
        )

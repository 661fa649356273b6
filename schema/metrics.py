"""Prometheus metrics per GraphQL operation: its count, latency and errors by code."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator

from graphql import GraphQLError, get_operation_ast
from prometheus_client import Counter, Histogram
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from schema.masking import INTERNAL_ERROR_CODE, REQUEST_PROTOCOL_ERRORS, is_unexpected

GRAPHQL_OPERATIONS = Counter(
    "shebao_graphql_operations_total", "GraphQL operations by name and type", ["operation", "type"]
)
GRAPHQL_OPERATION_SECONDS = Histogram(
    "shebao_graphql_operation_duration_seconds",
    "GraphQL operation latency by name and type",
    ["operation", "type"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
GRAPHQL_ERRORS = Counter(
    "shebao_graphql_errors_total",
    "Errors returned by GraphQL operations, by name, type and error code",
    ["operation", "type", "code"],
)


class BoundedLabels:
    """Admits the first ``limit`` distinct values, then answers ``other``: clients choose
    operation names, and every distinct label value is a new time series."""

    def __init__(self, limit: int, max_length: int = 64) -> None:
        self.limit = limit
        self.max_length = max_length
        self.seen: set[str] = set()

    def __call__(self, value: str) -> str:
        value = value[: self.max_length]
        if value in self.seen:
            return value
        if len(self.seen) < self.limit:
            self.seen.add(value)
            return value
        return "other"


operation_name_label = BoundedLabels(limit=500)
_ERROR_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,39}")


def operation_labels(context: ExecutionContext) -> tuple[str, str]:
    """(operation name or ``anonymous``, type); ``invalid`` when no operation could be selected."""
    document = context.graphql_document
    operation = get_operation_ast(document, context.operation_name) if document else None
    if operation is None:
        return "invalid", "unknown"
    name = operation_name_label(operation.name.value) if operation.name else "anonymous"
    return name, operation.operation.value


def error_code(error: BaseException) -> str:
    if isinstance(error, GraphQLError):
        code = (error.extensions or {}).get("code")
        if isinstance(code, str) and _ERROR_CODE.fullmatch(code):
            return code
        return INTERNAL_ERROR_CODE if is_unexpected(error) else "BAD_REQUEST"
    return "BAD_REQUEST" if isinstance(error, REQUEST_PROTOCOL_ERRORS) else INTERNAL_ERROR_CODE


class OperationMetrics(SchemaExtension):
    """Counts each GraphQL operation, its latency and its errors."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        self.streamed = False
        try:
            yield
        except Exception as exc:
            self.record(started, [exc])
            raise
        result = self.execution_context.result
        self.record(started, [] if self.streamed else getattr(result, "errors", None) or [])

    def on_stream_result(self, result: object) -> Iterator[None]:
        self.streamed = True
        self.count_errors(getattr(result, "errors", None) or [])
        yield

    def record(self, started: float, errors: Iterable[BaseException]) -> None:
        labels = operation_labels(self.execution_context)
        GRAPHQL_OPERATIONS.labels(*labels).inc()
        GRAPHQL_OPERATION_SECONDS.labels(*labels).observe(time.perf_counter() - started)
        self.count_errors(errors)

    def count_errors(self, errors: Iterable[BaseException]) -> None:
        labels = operation_labels(self.execution_context)
        for error in errors:
            GRAPHQL_ERRORS.labels(*labels, error_code(error)).inc()

"""Prometheus metrics per GraphQL operation: its count, latency and errors by code.

An operation is labelled by what the schema bounds, its type and root field, never by the name
its client gave it: every distinct label value is a new time series, kept until the process ends.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Iterable, Iterator

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    SelectionSetNode,
    get_operation_ast,
)
from prometheus_client import Counter, Histogram
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from schema.masking import INTERNAL_ERROR_CODE, REQUEST_PROTOCOL_ERRORS, is_unexpected

GRAPHQL_OPERATIONS = Counter(
    "shebao_graphql_operations_total", "GraphQL operations by root field and type", ["operation", "type"]
)
GRAPHQL_OPERATION_SECONDS = Histogram(
    "shebao_graphql_operation_duration_seconds",
    "GraphQL operation latency by root field and type",
    ["operation", "type"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
GRAPHQL_ERRORS = Counter(
    "shebao_graphql_errors_total",
    "Errors returned by GraphQL operations, by root field, type and error code",
    ["operation", "type", "code"],
)


# What stands for operations the schema does not bound: a document that does not parse, selects no
# operation or selects a field the schema lacks; and an operation with several root fields.
INVALID = "invalid"
SEVERAL_FIELDS = "multiple"
_META_FIELDS = frozenset({"__typename", "__schema", "__type"})
_ERROR_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,39}")


def operation_labels(context: ExecutionContext) -> tuple[str, str]:
    """(the root field the operation selects, or ``multiple``, or ``invalid``; its type)."""
    document = context.graphql_document
    operation = get_operation_ast(document, context.operation_name) if document else None
    root = context.schema._schema.get_root_type(operation.operation) if operation else None
    if operation is None or root is None:
        return INVALID, "unknown"
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    names = _root_field_names(operation.selection_set, fragments, set())
    if names is None or not names or not names <= (root.fields.keys() | _META_FIELDS):
        return INVALID, operation.operation.value
    return (next(iter(names)) if len(names) == 1 else SEVERAL_FIELDS), operation.operation.value


def _root_field_names(
    selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], spread: set[str]
) -> set[str] | None:
    """The field names of a root selection set, through fragments; None when one is missing."""
    names: set[str] = set()
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            names.add(selection.name.value)
            continue
        if isinstance(selection, FragmentSpreadNode):
            if selection.name.value in spread:
                continue  # a cycle, which validation refuses
            fragment = fragments.get(selection.name.value)
            if fragment is None:
                return None
            spread.add(selection.name.value)
            inner = _root_field_names(fragment.selection_set, fragments, spread)
        else:
            inner = _root_field_names(selection.selection_set, fragments, spread)
        if inner is None:
            return None
        names |= inner
    return names


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

    @functools.cached_property
    def labels(self) -> tuple[str, str]:
        return operation_labels(self.execution_context)

    def record(self, started: float, errors: Iterable[BaseException]) -> None:
        labels = self.labels
        GRAPHQL_OPERATIONS.labels(*labels).inc()
        GRAPHQL_OPERATION_SECONDS.labels(*labels).observe(time.perf_counter() - started)
        self.count_errors(errors)

    def count_errors(self, errors: Iterable[BaseException]) -> None:
        labels = self.labels
        for error in errors:
            GRAPHQL_ERRORS.labels(*labels, error_code(error)).inc()

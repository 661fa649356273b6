"""Scalars of the API (docs/api.md 6): money as a two-decimal string, months as "YYYY-MM".

A value a scalar cannot read is refused before anything runs, with ``extensions.code``
BAD_USER_INPUT and, in ``extensions.argument``, the argument or input field it was given for
(ScalarInputErrors).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any, NewType

import strawberry
from graphql import (
    ArgumentNode,
    BooleanValueNode,
    DocumentNode,
    EnumValueNode,
    FloatValueNode,
    GraphQLError,
    GraphQLScalarType,
    GraphQLSchema,
    IntValueNode,
    Node,
    NullValueNode,
    ObjectFieldNode,
    OperationDefinitionNode,
    StringValueNode,
    TypeInfo,
    TypeInfoVisitor,
    VariableDefinitionNode,
    VariableNode,
    Visitor,
    get_named_type,
    is_input_type,
    type_from_ast,
    validate_input_value,
    visit,
)
from graphql.pyutils import print_path_list
from strawberry.extensions import SchemaExtension

from domain.money import InvalidAmount, format_amount, parse_amount, plain_decimal
from domain.months import InvalidMonth, Month

# Rates and grades are held with four decimals (models.base.rate_field, Parameter.value).
EXACT_PLACES = 4
EXACT_INTEGER_DIGITS = 10


class InvalidScalarValue(GraphQLError):
    """A value one of our scalars cannot read: a typed refusal, whatever the argument."""

    def __init__(self, message: str, nodes: Node | None = None, argument: str | None = None) -> None:
        extensions = {"code": "BAD_USER_INPUT"}
        if argument:
            extensions["argument"] = argument
        super().__init__(message, nodes, extensions=extensions)


def _parse_money(value: object) -> Decimal:
    if not isinstance(value, str):
        raise InvalidScalarValue('Money is a string such as "393.04"')
    try:
        return parse_amount(value)
    except InvalidAmount as exc:
        raise InvalidScalarValue(str(exc)) from None


def _parse_month(value: object) -> Month:
    try:
        return Month.parse(value)  # type: ignore[arg-type]
    except InvalidMonth as exc:
        raise InvalidScalarValue(str(exc)) from None


def _serialize_month(value: Month | int) -> str:
    return str(Month.from_int(value) if isinstance(value, int) else value)


Money = NewType("Money", Decimal)
MonthScalar = NewType("MonthScalar", Month)
ExactDecimal = NewType("ExactDecimal", Decimal)

_MONEY = strawberry.scalar(
    name="Decimal",
    description=(
        'Exact yuan with two decimals, as a string ("393.04"), rounded half-up to the fen; sent in ASCII digits '
        "with at most two decimals."
    ),
    serialize=format_amount,
    parse_value=_parse_money,
)

_MONTH = strawberry.scalar(
    name="Month",
    description='A calendar month "YYYY-MM" (local time, Asia/Shanghai).',
    serialize=_serialize_month,
    parse_value=_parse_month,
)


def _parse_exact(value: object) -> Decimal:
    number = plain_decimal(value, EXACT_PLACES, EXACT_INTEGER_DIGITS)
    if number is None:
        raise InvalidScalarValue(
            f"{value!r} is not an exact decimal: a string of ASCII digits with at most {EXACT_PLACES} decimals, "
            'such as "0.007"'
        )
    return number


_EXACT_DECIMAL = strawberry.scalar(
    name="ExactDecimal",
    description=(
        'An exact decimal number as a string, such as a rate "0.007" or a grade "1.5"; sent in ASCII digits with at '
        "most four decimals."
    ),
    serialize=lambda value: format(value.normalize(), "f"),
    parse_value=_parse_exact,
)

SCALAR_MAP = {Money: _MONEY, MonthScalar: _MONTH, ExactDecimal: _EXACT_DECIMAL}


class ScalarInputErrors(SchemaExtension):
    """Says which argument or input field each value our scalars refused was given for.

    graphql-core reports the refusal without it: a literal as the scalar's own error, without a
    location; a variable under the variable's name, with the path inside the variable only in the
    message. On that rare path the document (or the variable) is read again to find the place.
    The errors are replaced in their lists, which strawberry has already taken.
    """

    def on_validate(self) -> Iterator[None]:
        yield
        context = self.execution_context
        errors = context.pre_execution_errors
        document = context.graphql_document
        if errors and document is not None and any(isinstance(e, InvalidScalarValue) for e in errors):
            literals = _refused_literals(context.schema._schema, document)
            errors[:] = [_located(e, literals) if isinstance(e, InvalidScalarValue) else e for e in errors]

    def on_execute(self) -> Iterator[None]:
        yield
        context = self.execution_context
        errors = getattr(context.result, "errors", None)
        if errors and any(isinstance(e.original_error, InvalidScalarValue) for e in errors):
            schema, document = context.schema._schema, context.graphql_document
            named = _refused_variables(schema, document, context.variables or {}) if document else {}
            errors[:] = [named.get(error.message, error) for error in errors]


def _located(error: GraphQLError, literals: dict[str, tuple[Node, str | None]]) -> GraphQLError:
    node, argument = literals.get(error.message, (None, None))
    return InvalidScalarValue(error.message, node, argument)


_LEAF_VALUES = (StringValueNode, IntValueNode, FloatValueNode, BooleanValueNode, EnumValueNode, NullValueNode)


def _holder(ancestors: Any, node: Node) -> str | None:
    """The name of the argument or input field a value is written in."""
    for ancestor in reversed([*ancestors, node]):
        if isinstance(ancestor, (ArgumentNode, ObjectFieldNode)):
            return ancestor.name.value
    return None


def _refused_literals(schema: GraphQLSchema, document: DocumentNode) -> dict[str, tuple[Node, str | None]]:
    """message -> (value, argument) of every literal our scalars refuse in the document."""
    type_info = TypeInfo(schema)
    found: dict[str, tuple[Node, str | None]] = {}

    class Literals(Visitor):
        def enter(self, node: Node, key: Any, parent: Any, path: Any, ancestors: Any) -> None:
            if not isinstance(node, _LEAF_VALUES):
                return
            scalar = get_named_type(type_info.get_input_type())
            if not isinstance(scalar, GraphQLScalarType) or isinstance(node, NullValueNode):
                return
            try:
                scalar.parse_literal(node)
            except InvalidScalarValue as error:
                found.setdefault(error.message, (node, _holder(ancestors, parent)))
            except (GraphQLError, ValueError, TypeError):
                pass

    visit(document, TypeInfoVisitor(type_info, Literals()))
    return found


def _refused_variables(
    schema: GraphQLSchema, document: DocumentNode, variables: dict[str, Any]
) -> dict[str, GraphQLError]:
    """graphql-core's message -> our error, for every variable value our scalars refuse."""
    used_in: dict[str, str | None] = {}

    class Uses(Visitor):
        def enter_variable(self, node: VariableNode, key: Any, parent: Any, path: Any, ancestors: Any) -> None:
            if not isinstance(parent, VariableDefinitionNode):  # where it is used, not declared
                used_in.setdefault(node.name.value, _holder(ancestors, parent))

    visit(document, Uses())
    found: dict[str, GraphQLError] = {}
    for operation in document.definitions:
        if not isinstance(operation, OperationDefinitionNode):
            continue
        for definition in operation.variable_definitions or ():
            name = definition.variable.name.value
            var_type = type_from_ast(schema, definition.type)
            if name not in variables or var_type is None or not is_input_type(var_type):
                continue

            def refused(error: GraphQLError, path: list[str | int], name: str = name, at: Node = definition) -> None:
                if isinstance(error, InvalidScalarValue):
                    message = f"Variable '${name}' has invalid value{print_path_list(path)}: {error.message}"
                    fields = [step for step in path if isinstance(step, str)]
                    found[message] = InvalidScalarValue(message, at, fields[-1] if fields else used_in.get(name))

            validate_input_value(variables[name], var_type, refused)
    return found

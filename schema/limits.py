"""Rules that refuse an operation before it executes.

Depth, aliases and tokens reuse strawberry's limiters; the cost budget is our own: every field
costs 1, and a field returning a list or a connection multiplies the cost of its selections by
its page size (``first``/``last`` as execution will see it: a literal, or a variable coerced by
graphql-core as it will be, so that ``100.0`` or ``1e2`` count as 100; else the argument's default,
else the connection's default page, or a full page for a plain list). Each refusal carries
``extensions.code``. The limits come from the settings.

Clients send the same few documents again and again, so each process parses and validates a
document once (DocumentCache). The cost is not part of validation: it depends on the variables,
and is decided for every request (counted once per document and coerced page sizes asked).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    VariableNode,
    get_named_type,
    get_nullable_type,
    get_operation_ast,
    get_variable_values,
    is_list_type,
    parse,
    type_from_ast,
)
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, SchemaExtension
from strawberry.extensions.max_aliases import create_validator as create_alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as create_depth_validator
from strawberry.schema.schema import validate_document
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from schema.relay import DEFAULT_PAGE_SIZE
from schema.scalars import ScalarInputErrors
from settings import get_settings

# A plain list whose size the query does not say counts as a full page; a connection without
# first/last returns its default page.
FULL_PAGE = 100

_TYPES_WITH_FIELDS = (GraphQLObjectType, GraphQLInterfaceType)


class _CodedValidationContext:
    """A validation context whose reported errors carry ``extensions.code``."""

    def __init__(self, context: ValidationContext, code: str) -> None:
        self._context = context
        self._code = code

    def report_error(self, error: GraphQLError) -> None:
        error.extensions = {**(error.extensions or {}), "code": self._code}
        self._context.report_error(error)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


def with_error_code(rule: type[ASTValidationRule], code: str) -> type[ASTValidationRule]:
    class CodedRule(rule):  # type: ignore[valid-type, misc]
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(_CodedValidationContext(context, code))  # type: ignore[arg-type]

    CodedRule.__name__ = f"{rule.__name__}Coded"
    return CodedRule


# One rule class per limit value: a ValidationCache keys on the rule classes, so new classes
# for each request would never hit it.
@cache
def depth_rule(max_depth: int) -> type[ASTValidationRule]:
    return with_error_code(create_depth_validator(max_depth, None), "QUERY_TOO_DEEP")


@cache
def alias_rule(max_aliases: int) -> type[ASTValidationRule]:
    return with_error_code(create_alias_validator(max_aliases), "TOO_MANY_ALIASES")


class QueryDepthLimit(AddValidationRules):
    """strawberry's QueryDepthLimiter rule (introspection ignored), at ``max_query_depth``."""

    def __init__(self, max_depth: int | None = None) -> None:
        self.max_depth = get_settings().max_query_depth if max_depth is None else max_depth
        super().__init__([depth_rule(self.max_depth)])


class QueryAliasLimit(AddValidationRules):
    """strawberry's MaxAliasesLimiter rule, at ``max_query_aliases``."""

    def __init__(self, max_aliases: int | None = None) -> None:
        self.max_aliases = get_settings().max_query_aliases if max_aliases is None else max_aliases
        super().__init__([alias_rule(self.max_aliases)])


class QueryTokenLimit(MaxTokensLimiter):
    """The parser stops at ``max_query_tokens`` tokens, before building a huge document."""

    def __init__(self, max_token_count: int | None = None) -> None:
        settings_limit = get_settings().max_query_tokens
        super().__init__(settings_limit if max_token_count is None else max_token_count)

    def on_parse(self) -> Iterator[None]:
        yield
        refusal = f"Document contains more than {self.max_token_count} tokens."
        for error in self.execution_context.pre_execution_errors or ():
            if refusal in error.message:
                error.extensions = {**(error.extensions or {}), "code": "TOO_MANY_TOKENS"}


class _LRU:
    """A small least-recently-used map."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: OrderedDict[Any, Any] = OrderedDict()

    def get(self, key: Any) -> Any:
        value = self.entries.get(key, _LRU)
        if value is not _LRU:
            self.entries.move_to_end(key)
        return value

    def put(self, key: Any, value: Any) -> None:
        self.entries[key] = value
        self.entries.move_to_end(key)
        if len(self.entries) > self.size:
            self.entries.popitem(last=False)


class QueryCostLimit(SchemaExtension):
    """Refuses an operation whose cost exceeds ``max_query_cost``.

    The check runs once the document is valid and before execution starts. It is not a
    validation rule because the cost depends on the variables, which validation (and so a
    ValidationCache) never sees. A document (the same object, as DocumentCache hands out) asked
    with the same Int variables, once coerced, costs the same, so that cost is counted once.
    """

    _costs = _LRU(512)

    def __init__(self, max_cost: int | None = None) -> None:
        self.max_cost = get_settings().max_query_cost if max_cost is None else max_cost

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        assert document is not None
        schema = context.schema._schema
        operation = get_operation_ast(document, context.operation_name)
        sizes = None if operation is None else page_variables(schema, operation, context.variables)
        if operation is None or sizes is None:  # graphql-core refuses the request in a moment: nothing runs
            yield
            return
        key = (id(schema), id(document), context.operation_name, tuple(sorted(sizes.items())))
        known = self._costs.get(key)
        if known is not _LRU and known[0] is schema and known[1] is document:
            cost = known[2]
        else:
            cost = _operation_cost(schema, document, operation, sizes)
            if len(context.query or "") <= DocumentCache.LONGEST_CACHED:
                self._costs.put(key, (schema, document, cost))  # held, so that their ids stay theirs
        if cost > self.max_cost:
            error = GraphQLError(
                f"Query cost {cost} exceeds the budget of {self.max_cost}",
                extensions={"code": "QUERY_TOO_COSTLY", "cost": cost, "budget": self.max_cost},
            )
            if context.operation_type is OperationType.SUBSCRIPTION:
                raise error  # a subscription ignores a result set here; it reports hook errors
            context.result = PreExecutionError(data=None, errors=[error])
        yield


class RequireOperationName(SchemaExtension):
    """A document with several operations must name the one to run (GraphQL's GetOperation).

    strawberry would otherwise run the first one.
    """

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        assert context.graphql_document is not None
        operations = [d for d in context.graphql_document.definitions if isinstance(d, OperationDefinitionNode)]
        # strawberry offers no public accessor for the name the request gave
        if len(operations) > 1 and context._provided_operation_name is None and not context.pre_execution_errors:
            context.pre_execution_errors = [
                GraphQLError(
                    "Must provide operation name if query contains multiple operations.",
                    extensions={"code": "OPERATION_NAME_REQUIRED"},
                )
            ]
        yield


class DocumentCache(SchemaExtension):
    """Parses and validates each distinct document once per process, instead of once per request.

    A document is cached by its text and the parser's options (the token limit), its validation
    by the same and the validation rules in force (the depth and alias limits): what a request
    gets is what parsing and validating it again would give. A document that fails to parse is
    left to strawberry, which reports the error as usual. Listed after the limits that add
    rules and parser options, and after RequireOperationName, whose refusal stands in place of
    validation as it would without the cache. Very long documents are not kept.
    """

    SIZE = 256
    LONGEST_CACHED = 20_000  # characters
    _documents = _LRU(SIZE)
    _validations = _LRU(SIZE)
    _key: tuple | None = None

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query
        if context.graphql_document is None and isinstance(query, str) and len(query) <= self.LONGEST_CACHED:
            key = (context.schema._schema, query, tuple(sorted(context.parse_options.items())))
            document = self._documents.get(key)
            if document is _LRU:
                try:
                    document = parse(query, **context.parse_options)
                except GraphQLError:
                    document = None  # strawberry parses it again and reports the error
                self._documents.put(key, document)
            if document is not None:
                context.graphql_document = document
                self._key = key
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if self._key is not None and context.pre_execution_errors is None:
            key = (self._key, tuple(context.validation_rules))
            errors = self._validations.get(key)
            if errors is _LRU:
                assert context.graphql_document is not None
                errors = tuple(
                    validate_document(context.schema._schema, context.graphql_document, context.validation_rules)
                )
                self._validations.put(key, errors)
            context.pre_execution_errors = list(errors)
        yield


# ScalarInputErrors types the refusals of values our scalars cannot read, made in validation and
# before execution like the limits' own.
QUERY_LIMITS = [
    RequireOperationName,
    QueryTokenLimit,
    QueryDepthLimit,
    QueryAliasLimit,
    QueryCostLimit,
    ScalarInputErrors,
    DocumentCache,
]


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
) -> int:
    """The cost of the operation the request selects (0 when it selects none), for the variables
    as the request sends them (when graphql-core would refuse them, as if none were sent)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0
    return _operation_cost(schema, document, operation, page_variables(schema, operation, variables) or {})


def page_variables(
    schema: GraphQLSchema, operation: OperationDefinitionNode, variables: Mapping[str, Any] | None
) -> dict[str, int | None] | None:
    """The operation's Int variables (the only ones a page size can come from), coerced as
    execution coerces them: a default from the operation when absent, 100 for 100.0 or 1e2. None
    when graphql-core refuses one of them ("100" as a string, 100.5)."""
    definitions = [
        definition
        for definition in operation.variable_definitions or ()
        if _is_int_type(type_from_ast(schema, definition.type))
    ]
    if not definitions:
        return {}
    coerced = get_variable_values(schema, definitions, dict(variables or {}), max_errors=1)
    return None if isinstance(coerced, list) else coerced.coerced


def _is_int_type(variable_type: Any) -> bool:
    named = get_nullable_type(variable_type) if variable_type is not None else None
    return isinstance(named, GraphQLScalarType) and named.name == "Int"


def _operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    sizes: Mapping[str, int | None],
) -> int:
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    return _CostCounter(schema, fragments, sizes).selections(operation.selection_set, root, 1, frozenset())


class _CostCounter:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def selections(
        self,
        selection_set: SelectionSetNode,
        parent: GraphQLNamedType | None,
        multiplier: int,
        spread: frozenset[str],
    ) -> int:
        cost = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                cost += self.field(selection, parent, multiplier, spread)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                fragment_type = self.schema.get_type(condition.name.value) if condition else parent
                cost += self.selections(selection.selection_set, fragment_type, multiplier, spread)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is not None and name not in spread:  # validation reports cycles
                    fragment_type = self.schema.get_type(fragment.type_condition.name.value)
                    cost += self.selections(fragment.selection_set, fragment_type, multiplier, spread | {name})
        return cost

    def field(self, node: FieldNode, parent: GraphQLNamedType | None, multiplier: int, spread: frozenset[str]) -> int:
        if node.name.value.startswith("__"):  # introspection, e.g. GraphiQL's schema query
            return 0
        definition = parent.fields.get(node.name.value) if isinstance(parent, _TYPES_WITH_FIELDS) else None
        if definition is None:
            return multiplier
        cost = multiplier
        if node.selection_set is not None:
            inner = multiplier * self.page_size(node, definition, parent)
            cost += self.selections(node.selection_set, get_named_type(definition.type), inner, spread)
        return cost

    def page_size(self, node: FieldNode, definition: GraphQLField, parent: GraphQLNamedType | None) -> int:
        if is_connection(parent):  # edges and pageInfo: the connection field counted the page
            return 1
        if not (is_list_type(get_nullable_type(definition.type)) or is_connection(get_named_type(definition.type))):
            return 1
        for name in ("first", "last"):
            size = self.argument_int(node, definition, name)
            if size is not None:
                return max(size, 0)
        return DEFAULT_PAGE_SIZE if is_connection(get_named_type(definition.type)) else FULL_PAGE

    def argument_int(self, node: FieldNode, definition: GraphQLField, name: str) -> int | None:
        for argument in node.arguments or ():
            if argument.name.value != name:
                continue
            if isinstance(argument.value, IntValueNode):
                return int(argument.value.value)
            if isinstance(argument.value, VariableNode):
                value = self.variables.get(argument.value.name.value)
                if _is_int(value):
                    return value
        declared = definition.args.get(name)
        if declared is None:
            return None
        default = declared.default.value if declared.default is not None else declared.default_value
        return default if _is_int(default) else None


def is_connection(named_type: GraphQLNamedType | None) -> bool:
    return isinstance(named_type, _TYPES_WITH_FIELDS) and {"edges", "pageInfo"} <= named_type.fields.keys()


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)

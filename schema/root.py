"""The GraphQL schema, assembled from per-area parts."""

from functools import cache

import strawberry
from graphql import (
    GraphQLInterfaceType,
    GraphQLObjectType,
    NoSchemaIntrospectionCustomRule,
    Undefined,
    is_non_null_type,
)
from strawberry.extensions import AddValidationRules
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.name_converter import NameConverter

from schema.limits import QUERY_LIMITS, with_error_code
from schema.masking import MaskUnexpectedErrors
from schema.metrics import OperationMetrics
from schema.mutation import Mutation
from schema.nodes import NODE_KINDS
from schema.permissions import SessionStillValid
from schema.query import Query
from schema.scalars import SCALAR_MAP
from schema.subscription import Subscription


class RememberedNames(NameConverter):
    """Strawberry names each argument of a field again on every call of the field, given or not;
    the schema's names are few, so each is converted once."""

    @cache  # noqa: B019  one converter a process: what it holds lives as long anyway
    def apply_naming_config(self, name: str) -> str:
        return super().apply_naming_config(name)


# One class, so that the document cache (schema.limits) keys on it
NO_INTROSPECTION_RULE = with_error_code(NoSchemaIntrospectionCustomRule, "INTROSPECTION_DISABLED")


class DisableIntrospection(AddValidationRules):
    """strawberry's DisableIntrospection, its refusal coded: __schema and __type are refused."""

    def __init__(self) -> None:
        super().__init__([NO_INTROSPECTION_RULE])


def build_schema(*, introspection: bool = True) -> strawberry.Schema:
    built = strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[kind.node_type for kind in NODE_KINDS],
        config=StrawberryConfig(scalar_map=SCALAR_MAP, name_converter=RememberedNames()),
        # Masking first: it also catches what the other extensions raise, after metrics saw it.
        extensions=[
            MaskUnexpectedErrors,
            OperationMetrics,
            *([] if introspection else [DisableIntrospection]),
            *QUERY_LIMITS,
            SessionStillValid,
        ],
    )
    _leave_out_null_defaults(built)
    return built


def _leave_out_null_defaults(built: strawberry.Schema) -> None:
    """An optional argument whose default is null gets no default instead, so that a request that
    leaves it out leaves it out of the resolver's arguments too, and the resolver's own default,
    the same None, applies. Otherwise graphql-core coerces each such default and strawberry converts
    it, on every call: a page of 50 persons with their policies and months passes 700 of them."""
    for named_type in built._schema.type_map.values():
        if isinstance(named_type, (GraphQLObjectType, GraphQLInterfaceType)):
            for field in named_type.fields.values():
                for argument in field.args.values():
                    if (
                        argument.default_value is None
                        and argument.default is None
                        and not is_non_null_type(argument.type)
                    ):
                        argument.default_value = Undefined


schema = build_schema()


@cache
def schema_without_introspection() -> strawberry.Schema:
    """The same schema refusing introspection (INTROSPECTION=false), built when first asked for."""
    return build_schema(introspection=False)

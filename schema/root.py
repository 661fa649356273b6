"""The GraphQL schema, assembled from per-area parts."""

import strawberry
from strawberry.schema.config import StrawberryConfig

from schema.nodes import NODE_TYPES
from schema.query import Query
from schema.scalars import SCALAR_MAP

schema = strawberry.Schema(
    query=Query, types=list(NODE_TYPES.values()), config=StrawberryConfig(scalar_map=SCALAR_MAP)
)

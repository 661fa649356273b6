"""The GraphQL schema, assembled from per-area parts."""

import strawberry
from strawberry.schema.config import StrawberryConfig

from schema.limits import QUERY_LIMITS
from schema.mutation import Mutation
from schema.masking import MaskUnexpectedErrors
from schema.nodes import NODE_TYPES
from schema.permissions import SessionStillValid
from schema.query import Query
from schema.scalars import SCALAR_MAP
from schema.subscription import Subscription
from server.observability import OperationMetrics

schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    types=list(NODE_TYPES.values()),
    config=StrawberryConfig(scalar_map=SCALAR_MAP),
    # Masking first: it also catches what the other extensions raise, after metrics saw it.
    extensions=[MaskUnexpectedErrors, OperationMetrics, *QUERY_LIMITS, SessionStillValid],
)

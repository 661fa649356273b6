"""A small schema of our own, served by the real application, so that these tests do not
depend on the product schema."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import re
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import NewType

import httpx
import pytest
import strawberry
from graphql import GraphQLError
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.file_uploads import Upload
from strawberry.schema.config import StrawberryConfig

from main import create_app
from schema.limits import QUERY_LIMITS
from schema.masking import MaskUnexpectedErrors
from schema.metrics import OperationMetrics
from settings import Settings

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"


def parse_month(value: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise ValueError(f"{value!r} is not a month (YYYY-MM)")
    return value


Month = NewType("Month", str)


@strawberry.type
class PageInfo:
    has_next_page: bool


@strawberry.type
class Item:
    name: str

    @strawberry.field
    def children(self, first: int = 10) -> ItemConnection:
        return ItemConnection.of(f"{self.name}.", first)


@strawberry.type
class ItemEdge:
    cursor: str
    node: Item


@strawberry.type
class ItemConnection:
    edges: list[ItemEdge]
    page_info: PageInfo
    total_count: int

    @classmethod
    def of(cls, prefix: str, first: int) -> ItemConnection:
        edges = [ItemEdge(cursor=str(i), node=Item(name=f"{prefix}{i}")) for i in range(min(first, 3))]
        return cls(edges=edges, page_info=PageInfo(has_next_page=first < 3), total_count=3)


@strawberry.type
class Nested:
    level: int

    @strawberry.field
    def child(self) -> Nested:
        return Nested(level=self.level + 1)


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "world"

    @strawberry.field
    def greeting(self) -> str:
        return "你好"

    @strawberry.field
    def boom(self) -> str | None:
        raise RuntimeError("SELECT national_id FROM person WHERE id = 1")

    @strawberry.field
    def forbidden(self) -> str | None:
        raise GraphQLError("You may not read this person.", extensions={"code": "FORBIDDEN"})

    @strawberry.field
    def month(self, value: Month) -> Month:
        return value

    @strawberry.field
    def items(self, first: int = 10) -> ItemConnection:
        return ItemConnection.of("", first)

    @strawberry.field
    def recent(self) -> list[Item]:
        return [Item(name="latest")]

    @strawberry.field
    def nested(self) -> Nested:
        return Nested(level=1)

    @strawberry.field
    def request_id(self, info: strawberry.Info) -> str:
        return info.context.request_id


@strawberry.type
class Mutation:
    @strawberry.mutation
    def touch(self) -> bool:
        return True

    @strawberry.mutation
    async def upload(self, file: Upload) -> int:
        return len(await file.read())  # type: ignore[attr-defined]


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def count(self, to: int) -> AsyncGenerator[int, None]:
        for number in range(1, to + 1):
            yield number


SAMPLE_SCHEMA = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    extensions=[MaskUnexpectedErrors, OperationMetrics, *QUERY_LIMITS],
    config=StrawberryConfig(
        scalar_map={Month: strawberry.scalar(name="Month", serialize=str, parse_value=parse_month)}
    ),
)


@pytest.fixture
def sample_schema() -> strawberry.Schema:
    return SAMPLE_SCHEMA


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {"database_url": "sqlite://:memory:", "graphiql": False, "redis_url": None}
    return Settings(**{**values, **overrides})


@pytest.fixture
def make_app() -> Callable[..., Starlette]:
    def build(schema: strawberry.Schema = SAMPLE_SCHEMA, **overrides: object) -> Starlette:
        return create_app(make_settings(**overrides), schema=schema)

    return build


@pytest.fixture
async def client(make_app: Callable[..., Starlette]) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app without its lifespan: enough for everything but the database."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=make_app()), base_url="http://hall") as client:
        yield client


def in_fresh_context(app: Starlette) -> ASGIApp:
    """Each request in a task of its own that inherits no context variables, as under a server."""

    async def isolated(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.create_task(app(scope, receive, send), context=contextvars.Context())

    return isolated


@contextlib.asynccontextmanager
async def running(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """Serve ``app`` with its lifespan, each in tasks of their own, as a server does.

    Nothing leaks either way between the app and the test (e.g. the test database's Tortoise
    context, which a test fixture keeps in a context variable).
    """
    started, stop = asyncio.Event(), asyncio.Event()

    async def lifespan() -> None:
        async with app.router.lifespan_context(app):
            started.set()
            await stop.wait()

    task = asyncio.create_task(lifespan(), context=contextvars.Context())
    startup = asyncio.create_task(started.wait())
    await asyncio.wait({task, startup}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        startup.cancel()
        task.result()  # raises what failed the startup
    try:
        transport = httpx.ASGITransport(app=in_fresh_context(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://hall") as client:
            yield client
    finally:
        stop.set()
        await task


Serve = Callable[..., contextlib.AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def serve(make_app: Callable[..., Starlette]) -> Serve:
    """``async with serve(**settings) as client``: the app started and stopped like in production."""
    return lambda **overrides: running(make_app(**overrides))


@pytest.fixture(params=[GRAPHQL_RESPONSE_JSON, JSON])
def media_type(request: pytest.FixtureRequest) -> str:
    """Each test taking this runs once per response media type."""
    return request.param

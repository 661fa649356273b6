"""Relay conventions (docs/api.md 1): opaque global ids, the Node interface, and connections.

A cursor belongs to the list that gave it (docs/api.md 13): it carries a digest of the list (its field,
its parent, the filters a position depends on), and any other list refuses it as BAD_USER_INPUT.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import strawberry
from tortoise.queryset import QuerySet

from resolvers.inputs import BadUserInput, decode_id, decode_int_id, encode_id, whole_number
from resolvers.loaders import fetch_nodes

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
T = TypeVar("T")


@strawberry.interface(description="An object with a global id, readable through node(id).")
class Node:
    db_id: strawberry.Private[int]

    @strawberry.field(description="Opaque global id; pass it to node(id) to read the object again.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id(type(self).__name__, self.db_id))


@strawberry.type(description="Where a page stands in its list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow the last edge.")
    has_previous_page: bool = strawberry.field(description="Items precede the first edge.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first edge.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last edge.")


@strawberry.type(description="One item of a page, with the cursor to continue from it.")
class Edge(Generic[T]):
    node: T = strawberry.field(description="The item.")
    position: strawberry.Private[tuple[str, object]]  # the cursor's kind (with its list) and key: encoded when asked

    @strawberry.field(description="Opaque position of this item.")
    def cursor(self) -> str:
        return encode_id(*self.position)


@strawberry.type(description="A page of a list, Relay style.")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The items of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many items the whole list holds, with the same filters.")
    async def total_count(self) -> int:
        return await self.count()


@dataclass(frozen=True)
class PageRequest:
    """Validated first/after/last/before; the cursors are decoded by the list, which knows its own.
    ``tag`` names a list paged by code that does not name it itself (list_tag)."""

    first: int | None
    after: str | None
    last: int | None
    before: str | None
    tag: str | None = None

    @property
    def size(self) -> int:
        return self.last if self.last is not None else (self.first if self.first is not None else DEFAULT_PAGE_SIZE)

    @property
    def backwards(self) -> bool:
        return self.last is not None


def list_tag(*identity: object) -> str:
    """A short digest of what makes a list that one: its name, and the parent and filters its
    positions depend on. Cursors stay opaque: the list's name is not readable in them."""
    return hashlib.blake2s(repr(identity).encode(), digest_size=6).hexdigest()


def page_request(
    first: int | None, after: str | None, last: int | None, before: str | None, tag: str | None = None
) -> PageRequest:
    if first is not None and last is not None:
        raise BadUserInput("ask for first or last, not both", "last")
    for name, value in (("first", first), ("last", last)):
        if value is not None and not (0 <= value <= MAX_PAGE_SIZE):
            raise BadUserInput(f"{name} must be between 0 and {MAX_PAGE_SIZE}, not {value}", name)
    return PageRequest(first, after, last, before, tag)


def _decode_cursor(cursor: str | None, kind: str, argument: str) -> int | None:
    if cursor is None:
        return None
    try:
        return decode_int_id(cursor, kind, argument)
    except BadUserInput:
        raise BadUserInput(f"{cursor!r} is not a cursor of this list", argument) from None


def _resolved(value: int) -> Callable[[], Awaitable[int]]:
    async def count() -> int:
        return value

    return count


def _position(cursor: str | None, length: int, argument: str, tag: str) -> int | None:
    """A list cursor as an index: "position" counts from the start, "fromend" from the end."""
    if cursor is None:
        return None
    kind, key = decode_id(cursor, argument)
    mode, _, cursor_tag = kind.partition(".")
    number = whole_number(key, 9) if mode in ("position", "fromend") and cursor_tag == tag else None
    if number is None:
        raise BadUserInput(f"{cursor!r} is not a cursor of this list", argument)
    return number if mode == "position" else length - 1 - number


def connection_from_list(items: Sequence[T], page: PageRequest, tag: str | None = None) -> Connection[T]:
    """Page a whole list held in memory: cursors are positions in the list ``tag`` (else page.tag)
    names."""
    tag = tag or page.tag or list_tag("list")
    start = 0
    end = len(items)
    after = _position(page.after, end, "after", tag)
    before = _position(page.before, end, "before", tag)
    if after is not None:
        start = min(max(after + 1, 0), end)
    if before is not None:
        end = max(min(before, end), start)
    if page.backwards:
        first_index = max(end - page.size, start)
        last_index = end
    else:
        first_index = start
        last_index = min(start + page.size, end)
    edges = [Edge(node=items[i], position=(f"position.{tag}", i)) for i in range(first_index, last_index)]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=last_index < end if not page.backwards else last_index < len(items),
            has_previous_page=first_index > start if page.backwards else first_index > 0,
            start_cursor=edges[0].cursor() if edges else None,
            end_cursor=edges[-1].cursor() if edges else None,
        ),
        count=_resolved(len(items)),
    )


async def nested_connection(loader: Any, parent_id: int, page: PageRequest, **filters: Any) -> Connection:
    """A page of a parent's list (a person's months). A page from either end reads only that page,
    ranked in SQL, and counts only when totalCount is asked; a page after a cursor slices the list.
    Its cursors are this parent's, with these filters: positions mean nothing in another list."""
    active = sorted((name, repr(value)) for name, value in filters.items() if value is not None)
    tag = list_tag(loader.model.__name__, loader.parent, parent_id, active)
    if page.after is not None or page.before is not None:
        return connection_from_list(await loader.load(parent_id, **filters), page, tag)
    rows = await loader.load(parent_id, window=page.size + 1, backwards=page.backwards, **filters)
    more = len(rows) > page.size
    if page.backwards:
        rows = rows[1:] if more else rows
        edges = [Edge(node=row, position=(f"fromend.{tag}", len(rows) - 1 - i)) for i, row in enumerate(rows)]
    else:
        edges = [Edge(node=row, position=(f"position.{tag}", i)) for i, row in enumerate(rows[: page.size])]

    async def count() -> int:
        return await loader.count(parent_id, **filters)

    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=more and not page.backwards,
            has_previous_page=more and page.backwards,
            start_cursor=edges[0].cursor() if edges else None,
            end_cursor=edges[-1].cursor() if edges else None,
        ),
        count=count,
    )


async def connection_from_keyset(
    page: PageRequest,
    fetch: Callable[[int | None, int | None, int, bool], Awaitable[list]],
    count: Callable[[], Awaitable[int]],
    tag: str,
    key: Callable[[object], int] = lambda node: node.db_id,  # type: ignore[attr-defined]
) -> Connection:
    """Page a database list ordered by id, the list ``tag`` names. ``fetch(after_id, before_id,
    limit, descending)``. An id is a place in the list whatever its filters, so the tag names the
    list only."""
    kind = f"cursor.{tag}"
    after = _decode_cursor(page.after, kind, "after")
    before = _decode_cursor(page.before, kind, "before")
    rows = await fetch(after, before, page.size + 1, page.backwards)
    has_more = len(rows) > page.size
    rows = rows[: page.size]
    if page.backwards:
        rows.reverse()
    edges = [Edge(node=row, position=(kind, key(row))) for row in rows]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_more if not page.backwards else before is not None,
            has_previous_page=has_more if page.backwards else after is not None,
            start_cursor=edges[0].cursor() if edges else None,
            end_cursor=edges[-1].cursor() if edges else None,
        ),
        count=count,
    )


async def keyset_page(node_type: type, queryset: QuerySet, page: PageRequest, newest_first: bool = False) -> Connection:
    """A page of ``queryset`` in id order (descending when ``newest_first``)."""

    async def fetch(after: int | None, before: int | None, limit: int, backwards: bool) -> list[Any]:
        window = queryset
        if after is not None:
            window = window.filter(id__lt=after) if newest_first else window.filter(id__gt=after)
        if before is not None:
            window = window.filter(id__gt=before) if newest_first else window.filter(id__lt=before)
        descending = backwards != newest_first
        return await fetch_nodes(node_type, window.order_by("-id" if descending else "id").limit(limit))

    return await connection_from_keyset(page, fetch, queryset.count, list_tag("keyset", node_type.__name__))

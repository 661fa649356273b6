"""The cost budget (docs/api.md 7) counts a page size as execution will read it: 100.0 and 1e2 are the
Int 100 to graphql-core, so they cost what 100 costs."""

from __future__ import annotations

import pytest

from tests.graphql_client import run

pytestmark = pytest.mark.usefixtures("db")

ALIASES = " ".join(
    f"p{i}: persons(first: $a) {{ edges {{ node {{ id periods(first: $b) {{ edges {{ node {{ month amount }} }} }} }} }} }}"
    for i in range(12)
)
DOCUMENT = f"query Bomb($a: Int, $b: Int) {{ {ALIASES} }}"


@pytest.mark.parametrize("size", [100, 100.0, 1e2], ids=["100", "100.0", "1e2"])
async def test_twelve_aliased_pages_of_a_hundred_are_refused_however_a_hundred_is_written(size) -> None:
    expected = (await run(DOCUMENT, a=100, b=100))["errors"][0]["extensions"]

    body = await run(DOCUMENT, a=size, b=size)

    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == expected
    assert expected["code"] == "QUERY_TOO_COSTLY" and expected["cost"] > expected["budget"]


async def test_a_page_size_written_as_a_string_is_refused_as_usual() -> None:
    body = await run(DOCUMENT, a="100", b=100)

    [error] = body["errors"]
    assert error["message"].startswith("Variable '$a' has invalid value")

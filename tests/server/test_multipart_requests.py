"""Malformed multipart requests (GraphQL multipart request spec) are 400 saying what is wrong."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.server.conftest import GRAPHQL_RESPONSE_JSON, JSON

PREFLIGHT = {"GraphQL-Require-Preflight": "1"}
UPLOAD = {"query": "mutation ($p: Upload!) { upload(file: $p) }", "variables": {"p": None}}
UPLOADS = {**UPLOAD, "variables": {"p": None, "more": [None, None]}}


async def send(
    client: httpx.AsyncClient,
    operations: object,
    files_map: object,
    files: dict[str, bytes] | None = None,
    accept: str = JSON,
    text_parts: dict[str, str] | None = None,
) -> httpx.Response:
    data = {
        "operations": operations if isinstance(operations, str) else json.dumps(operations),
        "map": files_map if isinstance(files_map, str) else json.dumps(files_map),
        **(text_parts or {}),
    }
    uploads = {name: (f"{name}.jpg", content, "image/jpeg") for name, content in (files or {}).items()}
    return await client.post("/graphql", data=data, files=uploads or None, headers={**PREFLIGHT, "Accept": accept})


async def test_a_well_formed_upload_is_still_received(client: httpx.AsyncClient) -> None:
    response = await send(client, UPLOAD, {"0": ["variables.p"]}, {"0": b"photo"})

    assert response.status_code == 200
    assert response.json() == {"data": {"upload": 5}}


async def test_files_may_fill_list_items_and_one_file_several_places(client: httpx.AsyncClient) -> None:
    files_map = {"0": ["variables.p", "variables.more.1"], "1": ["variables.more.0"]}

    response = await send(client, UPLOADS, files_map, {"0": b"photo", "1": b"other"})

    assert response.status_code == 200
    assert response.json() == {"data": {"upload": 5}}


MALFORMED = [
    pytest.param(UPLOAD, {"0": ["variables.p.5"]}, {"0": b"x"}, "leads to nothing", id="a path below a null"),
    pytest.param(UPLOAD, {"0": ["variables.q.r"]}, {"0": b"x"}, "leads to nothing", id="a path into nothing"),
    pytest.param(UPLOAD, {"0": ["nothing.p"]}, {"0": b"x"}, "leads to nothing", id="a first step into nothing"),
    pytest.param(UPLOADS, {"0": ["variables.more.2"]}, {"0": b"x"}, "leads to nothing", id="an index past the list"),
    pytest.param(UPLOADS, {"0": ["variables.more.-1"]}, {"0": b"x"}, "leads to nothing", id="a negative index"),
    pytest.param(UPLOADS, {"0": ["variables.more.x"]}, {"0": b"x"}, "leads to nothing", id="a name into a list"),
    pytest.param(UPLOADS, {"0": ["variables.more.²"]}, {"0": b"x"}, "leads to nothing", id="a digit not 0-9"),
    pytest.param(UPLOAD, {"0": ["query"]}, {"0": b"x"}, "points at a value", id="a path at the query"),
    pytest.param(UPLOAD, {"0": ["variables"]}, {"0": b"x"}, "points at a value", id="a path at the variables"),
    pytest.param(
        {**UPLOAD, "variables": {"p": None, "more": ["x"]}},
        {"0": ["variables.more.0"]},
        {"0": b"x"},
        "points at a value",
        id="an index at a value",
    ),
    pytest.param(UPLOAD, ["variables.p"], {"0": b"x"}, "must be a JSON object", id="a map that is a list"),
    pytest.param(UPLOAD, '"variables.p"', {"0": b"x"}, "must be a JSON object", id="a map that is a string"),
    pytest.param(UPLOAD, "null", {"0": b"x"}, "must be a JSON object", id="a map that is null"),
    pytest.param(UPLOAD, {"0": "variables.p"}, {"0": b"x"}, "non-empty list of paths", id="paths not a list"),
    pytest.param(UPLOAD, {"0": [["variables", "p"]]}, {"0": b"x"}, "non-empty list of paths", id="a path not text"),
    pytest.param(UPLOAD, {"0": []}, {"0": b"x"}, "non-empty list of paths", id="no path"),
    pytest.param(UPLOAD, {"1": ["variables.p"]}, {"0": b"x"}, "does not carry", id="a file part missing"),
    pytest.param(UPLOAD, "{not json", {"0": b"x"}, "`map` is not valid JSON", id="a map not JSON"),
    pytest.param(
        "{not json", {"0": ["variables.p"]}, {"0": b"x"}, "`operations` is not valid JSON", id="operations not JSON"
    ),
    pytest.param(
        '"text"', {"0": ["variables.p"]}, {"0": b"x"}, "`operations` must be a JSON object", id="operations a string"
    ),
]


@pytest.mark.parametrize("media_type", [GRAPHQL_RESPONSE_JSON, JSON])
@pytest.mark.parametrize(("operations", "files_map", "files", "message"), MALFORMED)
async def test_a_malformed_multipart_request_is_400(
    client: httpx.AsyncClient,
    media_type: str,
    operations: object,
    files_map: object,
    files: dict[str, bytes],
    message: str,
) -> None:
    response = await send(client, operations, files_map, files, accept=media_type)

    assert response.status_code == 400
    assert response.headers["content-type"] == f"{media_type}; charset=utf-8"
    [error] = response.json()["errors"]
    assert message in error["message"]
    assert "data" not in response.json()


async def test_a_file_named_by_the_map_sent_as_text_is_400(client: httpx.AsyncClient) -> None:
    response = await send(client, UPLOAD, {"0": ["variables.p"]}, {"1": b"x"}, text_parts={"0": "not a file"})

    assert response.status_code == 400
    assert "does not carry" in response.json()["errors"][0]["message"]


async def test_operations_sent_as_a_file_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        data={"map": "{}"},
        files={"operations": ("operations.json", json.dumps(UPLOAD).encode(), "application/json")},
        headers=PREFLIGHT,
    )

    assert response.status_code == 400
    assert "`operations` must be a text part" in response.json()["errors"][0]["message"]


async def test_a_multipart_body_without_operations_is_400(client: httpx.AsyncClient) -> None:
    # cut short: the parser drops the part it never saw the end of
    body = b'--b\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{"query": "{ hello }"}'
    response = await client.post(
        "/graphql", content=body, headers={**PREFLIGHT, "Content-Type": "multipart/form-data; boundary=b"}
    )

    assert response.status_code == 400
    assert "has no `operations` field" in response.json()["errors"][0]["message"]


async def test_a_multipart_body_that_cannot_be_parsed_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", content=b"--b\r\n", headers={**PREFLIGHT, "Content-Type": "multipart/form-data"}
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["message"].startswith("The multipart body cannot be read")

"""GraphiQL works without the internet: the page and everything it loads come from the hall."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
from starlette.applications import Starlette

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
ORIGIN = "http://hall.intranet"


class Assets(HTMLParser):
    """Every address the page makes a browser load: scripts, styles, icons."""

    def __init__(self) -> None:
        super().__init__()
        self.addresses: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src", "iframe": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.addresses.append(value)


async def test_every_asset_of_the_page_is_same_origin_and_served(make_app: Callable[..., Starlette]) -> None:
    app = make_app(graphiql=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN) as client:
        page = await client.get("/graphql", headers={"Accept": BROWSER_ACCEPT})
        assert page.status_code == 200
        parser = Assets()
        parser.feed(page.text)
        scripts_and_styles = [a for a in parser.addresses if not a.startswith("data:")]
        assert len(scripts_and_styles) == 6  # React, ReactDOM, GraphiQL and its explorer, two styles
        for address in scripts_and_styles:
            absolute = urljoin(f"{ORIGIN}/graphql", address)
            assert urlsplit(absolute).netloc == urlsplit(ORIGIN).netloc, address
            served = await client.get(absolute)
            assert served.status_code == 200, address
            kind = "javascript" if address.endswith(".js") else "css"
            assert kind in served.headers["content-type"], address
            assert len(served.content) > 500, address
    # nothing else leaves the machine either: no address of another host anywhere in the page
    assert re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", page.text) == []


async def test_the_page_keeps_the_headers_tab_and_signs_in_subscriptions(make_app: Callable[..., Starlette]) -> None:
    app = make_app(graphiql=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN) as client:
        page = (await client.get("/graphql", headers={"Accept": BROWSER_ACCEPT})).text
    assert "isHeadersEditorEnabled: true" in page
    assert "wsConnectionParams" in page  # the Authorization header rides in connection_init


async def test_no_assets_are_served_when_graphiql_is_off(make_app: Callable[..., Starlette]) -> None:
    app = make_app(graphiql=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN) as client:
        assert (await client.get("/graphiql/graphiql.min.js")).status_code == 404

"""Who is asking: the viewer a bearer token signs in, and the client's address behind our proxies."""

from __future__ import annotations

from services.access import authenticate
from services.common.viewer import Viewer

BEARER = "bearer "
MAX_TOKEN_LENGTH = 256


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None when absent or malformed."""
    if not authorization or not authorization[: len(BEARER)].lower() == BEARER:
        return None
    token = authorization[len(BEARER) :].strip()
    return token if 0 < len(token) <= MAX_TOKEN_LENGTH else None


async def viewer_of(authorization: str | None) -> Viewer | None:
    token = bearer_token(authorization)
    return None if token is None else await authenticate(token)


def client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: list[str]) -> str | None:
    """The client's address: behind our own proxies, the nearest address they were not given by
    another of our proxies (X-Forwarded-For lists the hops, the nearest last)."""
    address = peer
    hops = [hop.strip() for hop in (forwarded_for or "").split(",") if hop.strip()]
    while address in trusted_proxies and hops:
        address = hops.pop()
    return address

"""Browser clients on other origins (docs/api.md 10): admitted by the CORS_ORIGINS list, with Starlette's
middleware. Without a list, no CORS header is sent and a browser keeps to the same origin."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

# What a client sends: the bearer token, its media types and language, a chosen request id, and
# the header that marks a multipart upload as asked for (only a preflighted request can send it).
ALLOWED_HEADERS = [
    "Authorization",
    "Content-Type",
    "Accept",
    "Accept-Language",
    "X-Request-ID",
    "GraphQL-Require-Preflight",
]
# What a client may read besides the simple headers: the request id to quote, when to retry.
EXPOSED_HEADERS = ["X-Request-ID", "Retry-After"]
PREFLIGHT_CACHE_SECONDS = 600


def cors_middleware(origins: list[str]) -> Middleware:
    return Middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=ALLOWED_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        allow_credentials=False,  # tokens travel in Authorization, never in cookies
        max_age=PREFLIGHT_CACHE_SECONDS,
    )

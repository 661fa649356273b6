"""Request ids, structured JSON logs and Prometheus metrics.

Every HTTP request and WebSocket gets a request id: the client's ``X-Request-ID`` when it is a
sane token, else a new one. It is returned in the ``X-Request-ID`` header, kept in a context
variable for the logs, and put in ``scope["state"]`` for the GraphQL context.

``/metrics`` asks for ``Authorization: Bearer METRICS_TOKEN`` when that is set; with
``METRICS_PORT`` it is served on that port instead, by the ``serve`` process itself.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    make_wsgi_app,
    multiprocess,
)
from prometheus_client.exposition import ThreadingWSGIServer
from starlette.datastructures import MutableHeaders
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schema.masking import (
    INTERNAL_ERROR_CODE,
    INTERNAL_ERROR_MESSAGE,
    UNAVAILABLE_CODE,
    UNAVAILABLE_MESSAGE,
    is_unavailable,
)
from settings import Settings

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

access_logger = logging.getLogger("shebao.access")
error_logger = logging.getLogger("shebao.errors")

# Probes poll these every few seconds; their access lines are only useful when debugging.
_QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
CLIENT_CLOSED_REQUEST = 499  # the status proxies log for a client that left before its answer
RETRY_AFTER_SECONDS = 5  # told to clients while the database is out of reach (docs/api.md 12)
_HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

HTTP_REQUESTS = Counter(
    "shebao_http_requests_total", "HTTP requests by route, method and status", ["route", "method", "status"]
)
HTTP_REQUEST_SECONDS = Histogram(
    "shebao_http_request_duration_seconds", "HTTP request latency by route and method", ["route", "method"]
)


def new_request_id() -> str:
    return uuid.uuid4().hex


def incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _SANE_REQUEST_ID.fullmatch(text) else None
    return None


class ObservabilityMiddleware:
    """Request id, access log and HTTP metrics for each request (pure ASGI, so it streams)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = incoming_request_id(scope) or new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        try:
            if scope["type"] == "http":
                await self.observe_http(scope, receive, send, request_id)
            else:
                await self.app(scope, receive, send)
        finally:
            request_id_var.reset(token)

    async def observe_http(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        except ClientDisconnect:  # gone while its request was read: no one to answer, nothing failed here
            status = CLIENT_CLOSED_REQUEST
        except Exception as error:
            if is_unavailable(error) and not response_started:
                error_logger.warning("Service unavailable: %s: %s", type(error).__name__, error)
                await unavailable_response(request_id)(scope, receive, send_with_request_id)
                return
            error_logger.exception("Unhandled error in %s %s", scope["method"], scope["path"])
            if response_started:
                raise
            await internal_error_response(request_id)(scope, receive, send_with_request_id)
        finally:
            elapsed = time.perf_counter() - started
            route = route_label(scope)
            method = scope["method"] if scope["method"] in _HTTP_METHODS else "OTHER"
            HTTP_REQUESTS.labels(route, method, str(status)).inc()
            HTTP_REQUEST_SECONDS.labels(route, method).observe(elapsed)
            access_logger.log(
                logging.DEBUG if route in _QUIET_ROUTES else logging.INFO,
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 1),
                },
            )


def internal_error_response(request_id: str) -> Response:
    body = {
        "errors": [
            {"message": INTERNAL_ERROR_MESSAGE, "extensions": {"code": INTERNAL_ERROR_CODE, "requestId": request_id}}
        ]
    }
    return Response(json.dumps(body), status_code=500, media_type="application/json; charset=utf-8")


def unavailable_response(request_id: str) -> Response:
    body = {
        "errors": [{"message": UNAVAILABLE_MESSAGE, "extensions": {"code": UNAVAILABLE_CODE, "requestId": request_id}}]
    }
    return Response(
        json.dumps(body),
        status_code=503,
        media_type="application/json; charset=utf-8",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def route_label(scope: Scope) -> str:
    """The matched route's path template: never the raw path, whose values are unbounded."""
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


def metrics_registry() -> CollectorRegistry:
    # With several server processes (PROMETHEUS_MULTIPROC_DIR set), each one writes its samples
    # to that directory and any of them serves the sum.
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def bearer_matches(authorization: str | None, token: str) -> bool:
    scheme, _, credentials = (authorization or "").partition(" ")
    # compare_digest: the time taken says nothing about how much of the token was right
    return scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), token.encode())


METRICS_UNAUTHORIZED = "Send Authorization: Bearer <METRICS_TOKEN> to read the metrics.\n"
METRICS_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="metrics"'}


def metrics_routes(settings: Settings) -> list[Route]:
    """``GET /metrics`` on the application, unless METRICS_PORT moves it to a port of its own."""
    if settings.metrics_port is not None:
        return []
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None

    async def metrics(request: Request) -> Response:
        if token and not bearer_matches(request.headers.get("authorization"), token):
            return PlainTextResponse(METRICS_UNAUTHORIZED, status_code=401, headers=METRICS_CHALLENGE)
        return Response(generate_latest(metrics_registry()), media_type=CONTENT_TYPE_LATEST)

    return [Route("/metrics", metrics, methods=["GET"])]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # scrapes every few seconds: no line each
        pass


def serve_metrics(settings: Settings) -> ThreadingWSGIServer:
    """``GET /metrics`` on METRICS_HOST:METRICS_PORT from a thread of this process (``serve``,
    which with several server processes reads what they all wrote). ``shutdown()`` it when done."""
    assert settings.metrics_port is not None
    host, port = settings.metrics_host or settings.host, settings.metrics_port
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    exposition = make_wsgi_app(metrics_registry())

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"Not Found: the metrics are at /metrics.\n"]
        if token and not bearer_matches(environ.get("HTTP_AUTHORIZATION"), token):
            headers = [("Content-Type", "text/plain; charset=utf-8"), *METRICS_CHALLENGE.items()]
            start_response("401 Unauthorized", headers)
            return [METRICS_UNAUTHORIZED.encode()]
        return exposition(environ, start_response)

    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]  # IPv4 or IPv6
        server_class = type("MetricsServer", (ThreadingWSGIServer,), {"address_family": family})
        server = make_server(host, port, app, server_class, handler_class=_QuietHandler)
    except OSError as error:
        raise SystemExit(f"METRICS_PORT {port} on {host} cannot be listened on: {error.strerror or error}") from None
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server


# Attributes every LogRecord has, and uvicorn's ANSI-coloured copy of its message; anything
# else on a record came from `extra=`.
_NOT_EXTRAS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "color_message",
}


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, request_id, then any extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        entry.update(
            (key, value) for key, value in record.__dict__.items() if key not in _NOT_EXTRAS and key not in entry
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


_LOG_HANDLER_NAME = "shebao-json-stderr"


def configure_logging(level: str) -> None:
    """Send the process's logs to stderr as JSON lines (idempotent; other handlers are kept)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.name == _LOG_HANDLER_NAME]:
        root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler.name = _LOG_HANDLER_NAME
    handler.setFormatter(JsonLogFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    # MaskUnexpectedErrors logs each unexpected error once, with its request id; strawberry's
    # own logger would log every error again, the client's mistakes included.
    logging.getLogger("strawberry.execution").setLevel(logging.CRITICAL)

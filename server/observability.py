"""Request ids, structured JSON logs and Prometheus metrics.

Every HTTP request and WebSocket gets a request id: the client's ``X-Request-ID`` when it is a
sane token, else a new one. It is returned in the ``X-Request-ID`` header, kept in a context
variable for the logs, and put in ``scope["state"]`` for the GraphQL context.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import time
import uuid
from contextvars import ContextVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.datastructures import MutableHeaders
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schema.masking import INTERNAL_ERROR_CODE, INTERNAL_ERROR_MESSAGE

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

access_logger = logging.getLogger("shebao.access")
error_logger = logging.getLogger("shebao.errors")

# Probes poll these every few seconds; their access lines are only useful when debugging.
_QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
CLIENT_CLOSED_REQUEST = 499  # the status proxies log for a client that left before its answer
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
        except Exception:
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


def route_label(scope: Scope) -> str:
    """The matched route's path template: never the raw path, whose values are unbounded."""
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


async def metrics_endpoint(request: Request) -> Response:
    # With several server processes (PROMETHEUS_MULTIPROC_DIR set), each one writes its samples
    # to that directory and any of them serves the sum.
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


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

"""Liveness (`/healthz`: the process answers) and readiness (`/readyz`: its dependencies answer)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from tortoise import connections

from settings import Settings

CHECK_TIMEOUT_SECONDS = 2.0

logger = logging.getLogger("shebao.health")


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def ping_database() -> None:
    await connections.get("default").execute_query("SELECT 1")


def redis_ping(redis_url: str) -> Callable[[], Awaitable[None]]:
    async def ping() -> None:
        client = Redis.from_url(redis_url, socket_connect_timeout=CHECK_TIMEOUT_SECONDS)
        try:
            await client.ping()
        finally:
            await client.aclose()

    return ping


async def run_check(name: str, check: Callable[[], Awaitable[None]]) -> bool:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
    except Exception:
        logger.warning("Readiness check %s failed", name, exc_info=True)
        return False
    return True


def health_routes(settings: Settings) -> list[Route]:
    checks: dict[str, Callable[[], Awaitable[None]]] = {"database": ping_database}
    if settings.redis_url:
        checks["queue"] = redis_ping(settings.redis_url)
    queue_backend = "redis" if settings.redis_url else "in-process"

    async def readyz(request: Request) -> JSONResponse:
        results = await asyncio.gather(*(run_check(name, check) for name, check in checks.items()))
        passed = dict(zip(checks, results, strict=True))
        # Without REDIS_URL jobs run in this process's event loop, which is up if we answer.
        passed.setdefault("queue", True)
        report = {name: {"status": "ok" if ok else "unavailable"} for name, ok in passed.items()}
        report["queue"]["backend"] = queue_backend
        ready = all(passed.values())
        return JSONResponse(
            {"status": "ok" if ready else "unavailable", "checks": report},
            status_code=200 if ready else 503,
        )

    return [Route("/healthz", healthz, methods=["GET"]), Route("/readyz", readyz, methods=["GET"])]

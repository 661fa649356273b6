"""Liveness (`/healthz`: the process answers) and readiness (`/readyz`: its dependencies answer).

Readiness also reports how long the oldest QUEUED job has waited for a runner, read from the
database, which knows the jobs whatever Redis holds. Past JOB_QUEUED_DEGRADED_SECONDS the answer is
`degraded`, still 200: the workers or the queue are behind, and taking the servers out of a load
balancer would not help them, while the servers still take and commit every change."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from tortoise import connections

from jobs.runner import oldest_queued_seconds
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


async def waiting_jobs(degraded_after: float) -> dict[str, Any]:
    try:
        oldest = await asyncio.wait_for(oldest_queued_seconds(), CHECK_TIMEOUT_SECONDS)
    except Exception:
        logger.warning("Readiness check jobs failed", exc_info=True)
        return {"status": "unavailable", "oldestQueuedSeconds": None}
    late = oldest is not None and oldest > degraded_after
    return {"status": "degraded" if late else "ok", "oldestQueuedSeconds": None if oldest is None else round(oldest, 1)}


def health_routes(settings: Settings) -> list[Route]:
    checks: dict[str, Callable[[], Awaitable[None]]] = {"database": ping_database}
    if settings.redis_url:
        checks["queue"] = redis_ping(settings.redis_url)
    queue_backend = "redis" if settings.redis_url else "in-process"

    async def readyz(request: Request) -> JSONResponse:
        *results, jobs = await asyncio.gather(
            *(run_check(name, check) for name, check in checks.items()),
            waiting_jobs(settings.job_queued_degraded_seconds),
        )
        passed = dict(zip(checks, results, strict=True))
        # Without REDIS_URL jobs run in this process's event loop, which is up if we answer.
        passed.setdefault("queue", True)
        report: dict[str, dict[str, Any]] = {
            name: {"status": "ok" if ok else "unavailable"} for name, ok in passed.items()
        }
        report["queue"]["backend"] = queue_backend
        report["jobs"] = jobs
        statuses = {check["status"] for check in report.values()}
        status = next(worst for worst in ("unavailable", "degraded", "ok") if worst in statuses)
        return JSONResponse({"status": status, "checks": report}, status_code=503 if status == "unavailable" else 200)

    return [Route("/healthz", healthz, methods=["GET"]), Route("/readyz", readyz, methods=["GET"])]

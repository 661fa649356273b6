"""/healthz answers while the process is up; /readyz checks the database and the job queue."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

UNREACHABLE_POSTGRES = "postgres://postgres@127.0.0.1:1/test"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


async def test_healthz_answers_without_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_on_an_sqlite_file_with_the_in_process_runner(serve: Callable, tmp_path: Path) -> None:
    async with serve(database_url=f"sqlite://{tmp_path / 'hall.sqlite3'}") as client:
        response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": {"status": "ok"}, "queue": {"status": "ok", "backend": "in-process"}},
    }


async def test_ready_on_sqlite_in_memory_with_redis(serve: Callable) -> None:
    async with serve(database_url="sqlite://:memory:", redis_url=LOCAL_REDIS) as client:
        response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"]["queue"] == {"status": "ok", "backend": "redis"}


async def test_not_ready_when_the_database_is_unreachable(serve: Callable) -> None:
    async with serve(database_url=UNREACHABLE_POSTGRES) as client:
        ready = await client.get("/readyz")
        alive = await client.get("/healthz")

    assert ready.status_code == 503
    assert ready.json() == {
        "status": "unavailable",
        "checks": {"database": {"status": "unavailable"}, "queue": {"status": "ok", "backend": "in-process"}},
    }
    assert alive.status_code == 200


async def test_not_ready_when_redis_is_unreachable(serve: Callable) -> None:
    async with serve(database_url="sqlite://:memory:", redis_url=UNREACHABLE_REDIS) as client:
        response = await client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": {"status": "ok"},
        "queue": {"status": "unavailable", "backend": "redis"},
    }

"""/healthz answers while the process is up; /readyz checks the database and the job queue, and
says how long the oldest QUEUED job has waited for a runner."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable

import httpx
import pytest

import models
from domain.enums import JobKind
from jobs.runner import wall_clock
from settings import Settings

UNREACHABLE_POSTGRES = "postgres://postgres@127.0.0.1:1/test"
# Only the Redis the run names: a test never reaches for a Redis of its own choosing.
RUN_REDIS = os.environ.get("REDIS_URL")
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
NO_JOB_WAITS = {"status": "ok", "oldestQueuedSeconds": None}


async def test_healthz_answers_without_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_on_the_database_with_the_in_process_runner(serve: Callable, db: Settings) -> None:
    async with serve(database_url=db.database_url) as client:
        response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {
            "database": {"status": "ok"},
            "queue": {"status": "ok", "backend": "in-process"},
            "jobs": NO_JOB_WAITS,
        },
    }


@pytest.mark.skipif(RUN_REDIS is None, reason="REDIS_URL names no Redis for this run")
async def test_ready_on_the_database_with_redis(serve: Callable, db: Settings) -> None:
    async with serve(database_url=db.database_url, redis_url=RUN_REDIS) as client:
        response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"]["queue"] == {"status": "ok", "backend": "redis"}


async def queued_job(waiting_since: dt.datetime, given_back: bool = False) -> models.Job:
    """A QUEUED job recorded at ``waiting_since``, or given back then by an attempt that failed."""
    job = await models.Job.create(kind=JobKind.CARD_PHOTO, params={"application_id": 1})
    if given_back:
        await models.Job.filter(id=job.id).update(
            attempts=1, heartbeat_at=waiting_since, created_at=waiting_since - dt.timedelta(hours=3)
        )
    else:
        await models.Job.filter(id=job.id).update(created_at=waiting_since)
    return job


async def test_a_job_waiting_past_the_threshold_makes_the_hall_degraded_but_ready(
    serve: Callable, db: Settings
) -> None:
    await queued_job(wall_clock() - dt.timedelta(seconds=30))
    await queued_job(wall_clock() - dt.timedelta(minutes=10))  # its workers down, or Redis lost it
    async with serve(database_url=db.database_url, job_queued_degraded_seconds=300) as client:
        response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    jobs = response.json()["checks"]["jobs"]
    assert jobs["status"] == "degraded" and 600 <= jobs["oldestQueuedSeconds"] < 3600


@pytest.mark.parametrize("given_back", [False, True])
async def test_a_job_waiting_less_than_the_threshold_leaves_the_hall_ok(
    serve: Callable, db: Settings, given_back: bool
) -> None:
    """A job given back for a retry waits since then, not since it was first recorded."""
    await queued_job(wall_clock() - dt.timedelta(seconds=30), given_back=given_back)
    async with serve(database_url=db.database_url, job_queued_degraded_seconds=300) as client:
        response = await client.get("/readyz")

    assert (response.status_code, response.json()["status"]) == (200, "ok")
    jobs = response.json()["checks"]["jobs"]
    assert jobs["status"] == "ok" and 30 <= jobs["oldestQueuedSeconds"] < 300


async def test_not_ready_when_the_database_is_unreachable(serve: Callable) -> None:
    async with serve(database_url=UNREACHABLE_POSTGRES) as client:
        ready = await client.get("/readyz")
        alive = await client.get("/healthz")

    assert ready.status_code == 503
    assert ready.json() == {
        "status": "unavailable",
        "checks": {
            "database": {"status": "unavailable"},
            "queue": {"status": "ok", "backend": "in-process"},
            "jobs": {"status": "unavailable", "oldestQueuedSeconds": None},
        },
    }
    assert alive.status_code == 200


async def test_not_ready_when_redis_is_unreachable(serve: Callable, db: Settings) -> None:
    async with serve(database_url=db.database_url, redis_url=UNREACHABLE_REDIS) as client:
        response = await client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": {"status": "ok"},
        "queue": {"status": "unavailable", "backend": "redis"},
        "jobs": NO_JOB_WAITS,
    }


async def test_not_ready_on_a_database_without_the_hall_s_tables(serve: Callable) -> None:
    async with serve(database_url="sqlite://:memory:") as client:
        response = await client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["jobs"] == {"status": "unavailable", "oldestQueuedSeconds": None}

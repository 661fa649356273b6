"""Fixtures of the job tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from redis.asyncio import Redis

from settings import Settings, get_settings


@pytest.fixture
async def arq_settings(test_settings: Settings) -> AsyncIterator[Settings]:
    """The test database with an arq queue of the test's own on the Redis of REDIS_URL. What the
    test leaves there is removed after it: the queue, its keys, and the jobs still queued (a
    killed worker's attempt stays queued), whose own keys arq does not name after the queue."""
    queue_name = f"shebao:test:{uuid.uuid4().hex}"
    yield Settings(
        database_url=test_settings.database_url, redis_url=os.environ["REDIS_URL"], job_queue_name=queue_name
    )
    redis = Redis.from_url(os.environ["REDIS_URL"])
    try:
        queued = [member.decode() for member in await redis.zrange(queue_name, 0, -1)]
        keys = [key async for key in redis.scan_iter(match=f"{queue_name}*")]
        keys += [f"arq:{kind}:{job_id}" for job_id in queued for kind in ("job", "retry", "in-progress", "result")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


@pytest.fixture
def job_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """``job_settings(job_stale_seconds=0)``: the settings this process reads, for this test only."""

    def configure(**values: object) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name.upper(), str(value))
        get_settings.cache_clear()

    yield configure
    monkeypatch.undo()
    get_settings.cache_clear()

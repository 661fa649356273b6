"""Rate limits (services.common.rate_limits): counted in Redis across server processes when
REDIS_URL is set, in this process's memory on the embedded defaults."""

from __future__ import annotations

import datetime as dt
import logging
import os
import uuid

import pydantic
import pytest
import redis.asyncio
from limits.aio.storage import MemoryStorage, RedisStorage

from domain.months import LOCAL_TZ
from services.common.rate_limits import RateLimiter
from settings import Settings

REDIS_URL = os.environ.get("REDIS_URL")


async def test_a_limit_refuses_once_reached_and_says_when_it_frees_up():
    limiter = RateLimiter(MemoryStorage())
    outcomes = [await limiter.charge("3/hour", "sign-in", "user:someone") for _ in range(4)]
    assert outcomes[:3] == [None, None, None]
    assert dt.datetime.now(LOCAL_TZ) < outcomes[3] <= dt.datetime.now(LOCAL_TZ) + dt.timedelta(hours=1)
    assert await limiter.charge("3/hour", "sign-in", "user:someone-else") is None
    assert await limiter.charge("3/hour", "another-namespace", "user:someone") is None


async def test_a_refused_request_is_counted_against_none_of_the_limits():
    limiter = RateLimiter(MemoryStorage())
    assert await limiter.charge("4/minute;6/hour", "lines", "7", cost=3) is None
    assert await limiter.charge("4/minute;6/hour", "lines", "7", cost=3) is not None  # the minute's 4 refuses
    # The hour counted the first 3 only: 3 more fit in it.
    assert await limiter.charge("6/hour", "lines", "7", cost=3) is None
    assert await limiter.charge("6/hour", "lines", "7") is not None
    assert await limiter.charge("6/hour", "lines", "7", cost=0) is None  # nothing asked, nothing refused


def test_without_redis_the_counts_are_kept_in_memory_and_with_it_in_redis():
    assert isinstance(RateLimiter.from_settings(Settings(redis_url=None)).storage, MemoryStorage)
    assert isinstance(RateLimiter.from_settings(Settings(redis_url="redis://127.0.0.1:6379/0")).storage, RedisStorage)


@pytest.mark.parametrize(
    "setting", ["sign_in_limit_per_address", "sign_in_limit_per_account", "unknown_person_lines_limit"]
)
def test_a_limit_setting_that_is_no_limit_stops_the_start(setting: str):
    with pytest.raises(pydantic.ValidationError, match=setting):
        Settings(**{setting: "a great many"})
    assert Settings(**{setting: "2/second;10 per hour"})


async def test_while_redis_does_not_answer_the_limits_are_counted_in_this_process(caplog):
    limiter = RateLimiter.from_settings(Settings(redis_url="redis://127.0.0.1:1/0"))  # nothing listens on port 1
    with caplog.at_level(logging.WARNING):
        outcomes = [await limiter.charge("2/hour", "sign-in", "addr:203.0.113.7") for _ in range(3)]
    assert outcomes[:2] == [None, None] and outcomes[2] is not None
    assert "counting in this process" in caplog.text


@pytest.fixture
async def redis_url() -> str:
    if not REDIS_URL:
        pytest.skip("REDIS_URL is not set")
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (redis.exceptions.ConnectionError, OSError):
        pytest.skip("Redis does not answer at REDIS_URL")
    finally:
        await client.aclose()
    return REDIS_URL


async def test_through_redis_one_limit_holds_across_server_processes(redis_url: str):
    """Two limiters made from the same settings, as two server processes make theirs, share the counts."""
    prefix = f"shebao-test:{uuid.uuid4().hex}"  # keys of this test's own, removed at its end
    first, second = (RateLimiter.from_settings(Settings(redis_url=redis_url), key_prefix=prefix) for _ in range(2))
    try:
        assert await first.charge("3/hour", "sign-in", "user:someone") is None
        assert await second.charge("3/hour", "sign-in", "user:someone", cost=2) is None
        assert await first.charge("3/hour", "sign-in", "user:someone") is not None
        assert await second.charge("3/hour", "sign-in", "user:someone") is not None
        assert await second.charge("3/hour", "sign-in", "user:someone-else") is None
    finally:
        await first.reset()
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        assert await client.keys(f"{prefix}*") == []
    finally:
        await client.aclose()

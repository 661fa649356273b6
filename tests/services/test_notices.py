"""Change notices (services.common.notices): ids published under a topic reach every subscriber,
in this process and, through Redis, in every other."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from services.common import notices
from services.common.notices import Notices, RedisNotices

PATIENCE = 5.0
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
needs_redis = pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (REDIS_URL)")


class Heard:
    """A subscriber: what it was told, and how often it was told notices may be lost."""

    def __init__(self) -> None:
        self.ids: list[frozenset[int]] = []
        self.gaps = 0
        self.changed = asyncio.Event()

    def __call__(self, ids: frozenset[int]) -> None:
        self.ids.append(ids)
        self.changed.set()

    def gap(self) -> None:
        self.gaps += 1
        self.changed.set()

    async def until(self, condition) -> None:
        async with asyncio.timeout(PATIENCE):
            while not condition():
                self.changed.clear()
                await self.changed.wait()


async def test_a_notice_reaches_the_subscribers_of_its_topic_in_this_process():
    board, heard, other_topic = Notices(), Heard(), Heard()
    stop = board.subscribe("sessions-ended", heard)
    board.subscribe("jobs-changed", other_topic)

    await board.publish("sessions-ended", frozenset({3, 5}))
    stop()
    await board.publish("sessions-ended", frozenset({7}))

    assert heard.ids == [frozenset({3, 5})] and other_topic.ids == []


async def test_a_failing_subscriber_fails_neither_the_publisher_nor_the_others(caplog):
    board, heard = Notices(), Heard()

    def broken(ids: frozenset[int]) -> None:
        raise RuntimeError("subscriber bug")

    board.subscribe("sessions-ended", broken)
    board.subscribe("sessions-ended", heard)
    await board.publish("sessions-ended", frozenset({1}))

    assert heard.ids == [frozenset({1})]
    assert "A subscriber to sessions-ended failed" in caplog.text


async def test_nothing_is_published_for_no_ids():
    heard = Heard()
    stop = notices.subscribe("sessions-ended", heard)
    try:
        await notices.publish("sessions-ended", [])
        await notices.publish("sessions-ended", [4, 4])
    finally:
        stop()
    assert heard.ids == [frozenset({4})]


async def test_an_unreachable_redis_delays_no_start_up_and_fails_no_publisher():
    board, heard = RedisNotices(UNREACHABLE_REDIS, f"shebao:test:{uuid.uuid4().hex}"), Heard()
    board.subscribe("sessions-ended", heard)
    try:
        async with asyncio.timeout(PATIENCE):
            await board.start()
            await board.publish("sessions-ended", frozenset({9}))  # the change stands: logged, not raised
    finally:
        await board.close()
    assert heard.ids == [frozenset({9})]  # this process's subscribers hear it all the same


@contextlib.asynccontextmanager
async def process(namespace: str) -> AsyncIterator[tuple[RedisNotices, Heard]]:
    """One server process's notices, as its lifespan opens them, with one subscriber."""
    board, heard = RedisNotices(os.environ["REDIS_URL"], namespace), Heard()
    board.subscribe("sessions-ended", heard, on_gap=heard.gap)
    await board.start()
    try:
        yield board, heard
    finally:
        await board.close()


@needs_redis
async def test_through_redis_every_process_of_the_deployment_hears_a_notice_once():
    deployment = f"shebao:test:{uuid.uuid4().hex}"
    async with (
        process(deployment) as (here, heard_here),
        process(deployment) as (_, heard_there),
        process(f"shebao:test:{uuid.uuid4().hex}") as (_, heard_elsewhere),
    ):
        await here.publish("sessions-ended", frozenset({11, 12}))
        await heard_there.until(lambda: heard_there.ids)
        await here.publish("sessions-ended", frozenset({13}))  # after it, nothing else is on its way
        await heard_there.until(lambda: len(heard_there.ids) == 2)

    assert heard_here.ids == heard_there.ids == [frozenset({11, 12}), frozenset({13})]
    assert heard_elsewhere.ids == []  # another deployment on the same Redis


@needs_redis
async def test_a_listener_that_lost_redis_says_notices_may_have_been_lost_and_hears_again():
    deployment = f"shebao:test:{uuid.uuid4().hex}"
    async with process(deployment) as (publisher, _), process(deployment) as (listener, heard):
        redis = Redis.from_url(os.environ["REDIS_URL"])
        try:
            # Only our own listener's connection is cut, found by the name it gives itself.
            [ours] = [c for c in await redis.client_list() if c["name"] == listener.listener_name]
            await redis.client_kill_filter(_id=ours["id"])
        finally:
            await redis.aclose()
        await heard.until(lambda: heard.gaps == 1)

        await publisher.publish("sessions-ended", frozenset({21}))
        await heard.until(lambda: heard.ids)
    assert heard.ids == [frozenset({21})]

"""Change notices: whoever commits a change publishes the ids it touched under a topic, and every
server process that subscribed to the topic hears them (ARCHITECTURE.md "Many processes").

A notice carries ids only, never what changed: a subscriber reads the rest from the database, as
scoped as any read. Publish after the commit, so that a subscriber reading at once sees the change.
Delivery is at most once: a subscriber passes ``on_gap``, called when notices may have been lost,
and never lets a lost notice matter for correctness.

Without REDIS_URL (the embedded defaults: one process) a notice reaches this process's subscribers
only. With it, it goes through Redis pub/sub as well, to every server process. Redis rather than
PostgreSQL LISTEN/NOTIFY: every production process already holds Redis for the job queue, and the
arq workers, which are to publish job progress, do too; a subscription costs a process one Redis
connection and the database nothing, where LISTEN would hold a database connection outside
Tortoise's pool in every process, and SQLite has none.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from settings import Settings

# The topics, each with the ids it carries.
SESSIONS_ENDED = "sessions-ended"  # account sessions just ended (A8): their sockets close

Handler = Callable[[frozenset[int]], None]  # runs in the event loop: must return at once
GapHandler = Callable[[], None]

CONNECT_SECONDS = 2.0  # a server's start-up waits this long at most for its first subscription
RETRY_SECONDS = 1.0
HEALTH_CHECK_SECONDS = 10  # a silent connection is pinged, so that a dead one is noticed

logger = logging.getLogger("shebao.notices")


class Notices:
    """The process's subscribers, and delivery to them."""

    def __init__(self, handlers: dict[str, list[tuple[Handler, GapHandler | None]]] | None = None) -> None:
        self._handlers = {} if handlers is None else handlers

    def subscribe(self, topic: str, handler: Handler, on_gap: GapHandler | None = None) -> Callable[[], None]:
        entry = (handler, on_gap)
        self._handlers.setdefault(topic, []).append(entry)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._handlers[topic].remove(entry)

        return unsubscribe

    async def publish(self, topic: str, ids: frozenset[int]) -> None:
        self.deliver(topic, ids)

    def deliver(self, topic: str, ids: frozenset[int]) -> None:
        for handler, _ in tuple(self._handlers.get(topic, ())):
            try:
                handler(ids)
            except Exception:  # one subscriber's failure is neither the publisher's nor another's
                logger.exception("A subscriber to %s failed", topic)

    def gap(self) -> None:
        for entries in tuple(self._handlers.values()):
            for _, on_gap in tuple(entries):
                if on_gap is not None:
                    on_gap()

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass


class RedisNotices(Notices):
    """Delivered here at once, and to every other process through Redis channels named after the
    deployment's job queue (deployments sharing a Redis keep apart, as their queues do)."""

    def __init__(self, redis_url: str, namespace: str, handlers: dict | None = None) -> None:
        super().__init__(handlers)
        self.prefix = f"{namespace}:notices:"
        self._origin = uuid.uuid4().hex  # what this process sent, it has delivered already
        self.listener_name = f"{self.prefix}listener:{self._origin}"  # its connection, in CLIENT LIST
        self._publisher = Redis.from_url(
            redis_url, socket_connect_timeout=CONNECT_SECONDS, socket_timeout=CONNECT_SECONDS
        )
        # No read timeout: the listener waits for notices; a dead connection is found by pings.
        self._listener_client = Redis.from_url(
            redis_url,
            socket_connect_timeout=CONNECT_SECONDS,
            health_check_interval=HEALTH_CHECK_SECONDS,
            client_name=self.listener_name,
        )
        self._listener: asyncio.Task | None = None

    async def publish(self, topic: str, ids: frozenset[int]) -> None:
        self.deliver(topic, ids)
        message = json.dumps({"origin": self._origin, "ids": sorted(ids)})
        try:
            await self._publisher.publish(self.prefix + topic, message)
        except (RedisError, OSError):
            # The change has committed: the publisher's work stands, and subscribers never rely
            # on a notice alone.
            logger.warning("Notice %s %s could not be published", topic, sorted(ids), exc_info=True)

    async def start(self) -> None:
        """Listen; wait for the first subscription (or its failure), so that a server answering
        requests hears notices from then on."""
        attempted = asyncio.Event()
        self._listener = asyncio.create_task(self._listen(attempted))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(attempted.wait(), CONNECT_SECONDS * 2)

    async def _listen(self, attempted: asyncio.Event) -> None:
        missed = False  # set once subscribed or failed: a subscription after it may have missed some
        while True:
            pubsub = self._listener_client.pubsub()
            try:
                await pubsub.psubscribe(self.prefix + "*")
                while True:
                    message = await pubsub.get_message(timeout=RETRY_SECONDS)
                    if message is None:
                        continue
                    if message["type"] == "psubscribe":  # also when redis-py has reconnected itself
                        if missed:
                            self.gap()
                        missed = True
                        attempted.set()
                    elif message["type"] == "pmessage":
                        self._receive(message)
            except Exception:
                logger.warning("Not subscribed to notices; trying again", exc_info=True)
                missed = True
            finally:
                attempted.set()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(RETRY_SECONDS)

    def _receive(self, message: dict[str, Any]) -> None:
        topic = message["channel"].decode()[len(self.prefix) :]
        try:
            notice = json.loads(message["data"])
            ids = frozenset(notice["ids"])
            if not all(isinstance(id_, int) for id_ in ids):
                raise ValueError("ids must be integers")
        except (ValueError, KeyError, TypeError):
            logger.warning("Malformed notice on %s ignored", topic)
            return
        if notice.get("origin") != self._origin:
            self.deliver(topic, ids)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        await self._publisher.aclose()
        await self._listener_client.aclose()


_notices: Notices = Notices()  # in-process until a server opens Redis


def subscribe(topic: str, handler: Handler, on_gap: GapHandler | None = None) -> Callable[[], None]:
    """Hear the ids published under ``topic``; returns the function that stops it. ``on_gap`` is
    called when notices may have been lost (Redis was out of reach)."""
    return _notices.subscribe(topic, handler, on_gap)


async def publish(topic: str, ids: Iterable[int]) -> None:
    """Tell every subscriber, in every process, that the things of these ids have changed. Call it
    after the change has committed; it never fails the caller."""
    ids = frozenset(ids)
    if ids:
        await _notices.publish(topic, ids)


async def open_notices(settings: Settings) -> None:
    """Through Redis with REDIS_URL, at a server's start-up. The subscriptions made so far stay."""
    global _notices
    if settings.redis_url and not isinstance(_notices, RedisNotices):
        _notices = RedisNotices(settings.redis_url, settings.job_queue_name, _notices._handlers)
        await _notices.start()


async def close_notices() -> None:
    """Back to this process only."""
    global _notices
    closing, _notices = _notices, Notices(_notices._handlers)
    await closing.close()

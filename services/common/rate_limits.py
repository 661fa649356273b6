"""Rate limits over moving windows, kept by the `limits` package.

With REDIS_URL set the counts are kept in Redis, so that a limit holds across every server process;
on the embedded defaults (one process) they are kept in this process's memory. Should Redis fail to
answer, the limits are counted in this process meanwhile rather than not at all.

A limit is written as the `limits` package notation, several separated by semicolons:
"20/minute;200/day". The windows run on the real time, not on the application clock (M2): they
measure how fast requests come, not business dates.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import cache

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from domain.months import LOCAL_TZ
from settings import Settings, get_settings

KEY_PREFIX = "shebao:limits"

log = logging.getLogger(__name__)


@cache
def parse_limits(notation: str) -> tuple[RateLimitItem, ...]:
    """The limits of a notation such as "20/minute;200/day"; ValueError for anything else."""
    return tuple(parse_many(notation))


class RateLimiter:
    """Counts requests against limits, per a namespace and a key (an account, an address)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._strategy = MovingWindowRateLimiter(storage)
        self._fallback: MovingWindowRateLimiter | None = None

    @classmethod
    def from_settings(cls, settings: Settings, key_prefix: str = KEY_PREFIX) -> RateLimiter:
        if settings.redis_url:
            storage: Storage = RedisStorage(
                "async+" + settings.redis_url, implementation="redispy", key_prefix=key_prefix, wrap_exceptions=True
            )
        else:
            storage = MemoryStorage()
        return cls(storage)

    async def charge(self, notation: str, namespace: str, key: str, cost: int = 1) -> dt.datetime | None:
        """Count ``cost`` requests of ``key`` against every limit of ``notation``. None when all of them
        allow it; otherwise nothing is counted and the answer is when the refusing limit frees up."""
        if cost <= 0:
            return None
        try:
            return await self._charge(self._strategy, notation, namespace, key, cost)
        except StorageError:
            log.warning("rate limits: the shared store does not answer; counting in this process meanwhile")
            if self._fallback is None:
                self._fallback = MovingWindowRateLimiter(MemoryStorage())
            return await self._charge(self._fallback, notation, namespace, key, cost)

    async def reset(self) -> None:
        """Forget every count (tests; with Redis, only the keys under this limiter's prefix)."""
        await self.storage.reset()

    @staticmethod
    async def _charge(
        strategy: MovingWindowRateLimiter, notation: str, namespace: str, key: str, cost: int
    ) -> dt.datetime | None:
        limits = parse_limits(notation)
        # All are tested before any is counted, so that a refusal by the day's limit does not use
        # up the minute's; two requests passing the test at once are still each counted atomically.
        for limit in limits:
            if not await strategy.test(limit, namespace, key, cost=cost):
                return await _frees_up(strategy, limit, namespace, key)
        for limit in limits:
            if not await strategy.hit(limit, namespace, key, cost=cost):
                return await _frees_up(strategy, limit, namespace, key)
        return None


async def _frees_up(strategy: MovingWindowRateLimiter, limit: RateLimitItem, namespace: str, key: str) -> dt.datetime:
    stats = await strategy.get_window_stats(limit, namespace, key)
    return dt.datetime.fromtimestamp(stats.reset_time, LOCAL_TZ)


_limiter: RateLimiter | None = None


def rate_limiter() -> RateLimiter:
    """This process's limiter, made from the settings on first use."""
    global _limiter
    if _limiter is None:
        _limiter = RateLimiter.from_settings(get_settings())
    return _limiter


def use_rate_limiter(limiter: RateLimiter | None) -> None:
    """Replace this process's limiter (tests); None makes it again from the settings."""
    global _limiter
    _limiter = limiter


def try_again_after(moment: dt.datetime) -> str:
    """When a refused request may come again, as a person reads it."""
    return moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")

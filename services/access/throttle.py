"""Counting failed sign-ins, in the database so that every process and every restart sees them.

Two counters are kept in LoginThrottle rows, told apart by the key's prefix:

- ``user:<username>``: 5 failures in a row lock the username for 15 minutes. The counter exists
  for any username typed, registered or not, so that a lock says nothing about whether an account
  exists. A success resets it.
- ``addr:<client address>``: 20 failures within 10 minutes from one address refuse it for 15
  minutes, whatever usernames were tried. A success does not reset it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from models import LoginThrottle
from services.access.secrets import digest

KEY_LENGTH = 64  # LoginThrottle.key


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    prefix: str
    max_failures: int
    # Counting starts at a failure and runs this long; failures of an older window are forgotten
    # (so "in a row" for a username means within a day).
    window: dt.timedelta
    lock_for: dt.timedelta

    def key(self, value: str) -> str:
        key = self.prefix + value
        if len(key) <= KEY_LENGTH:
            return key
        return self.prefix + digest(value)[: KEY_LENGTH - len(self.prefix)]


USERNAME_POLICY = ThrottlePolicy("user:", 5, window=dt.timedelta(days=1), lock_for=dt.timedelta(minutes=15))
ADDRESS_POLICY = ThrottlePolicy("addr:", 20, window=dt.timedelta(minutes=10), lock_for=dt.timedelta(minutes=15))
_POLICIES = {policy.prefix: policy for policy in (USERNAME_POLICY, ADDRESS_POLICY)}


def username_key(username: str) -> str:
    return USERNAME_POLICY.key(username)


def address_key(client_address: str | None) -> str | None:
    """None for an unknown address: one counter shared by all of them would let anyone lock out all."""
    address = (client_address or "").strip().lower()
    return ADDRESS_POLICY.key(address) if address else None


def _policy_of(key: str) -> ThrottlePolicy:
    return _POLICIES[key[: key.index(":") + 1]]


async def locks(keys: Iterable[str], now: dt.datetime) -> dict[str, dt.datetime]:
    """The keys among ``keys`` that are locked now, with the moment each lock ends."""
    rows = await LoginThrottle.filter(key__in=list(keys)).values("key", "locked_until")
    return {
        row["key"]: row["locked_until"] for row in rows if row["locked_until"] is not None and row["locked_until"] > now
    }


async def record_failure(keys: Iterable[str], now: dt.datetime) -> None:
    """Count one failure on each key. The rows are locked (in key order, so that two requests
    cannot deadlock) before they are updated: concurrent failures are all counted."""
    keys = sorted(set(keys))
    await LoginThrottle.bulk_create(
        [LoginThrottle(key=key, failures=0, window_started_at=now) for key in keys],
        ignore_conflicts=True,
    )
    async with in_transaction():
        rows = await LoginThrottle.select_for_update().filter(key__in=keys).order_by("key")
        for row in rows:
            _count_failure(row, _policy_of(row.key), now)
            await row.save(update_fields=["failures", "window_started_at", "locked_until"])


def _count_failure(row: LoginThrottle, policy: ThrottlePolicy, now: dt.datetime) -> None:
    locked = row.locked_until is not None and row.locked_until > now
    if not locked and (row.locked_until is not None or now - row.window_started_at >= policy.window):
        # A lock that has run out, or failures too old to matter: count afresh.
        row.failures, row.window_started_at, row.locked_until = 0, now, None
    row.failures += 1
    if not locked and row.failures >= policy.max_failures:
        row.locked_until = now + policy.lock_for


async def forget_failures(key: str, now: dt.datetime) -> None:
    """After a success; a lock that a concurrent request has just set stays."""
    await LoginThrottle.filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now), key=key).delete()

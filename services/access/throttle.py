"""Counting failed sign-ins, in the database so that every process and every restart sees them.

Two counters are kept in LoginThrottle rows, told apart by the key's prefix:

- ``user:<username>``: 5 failures in a row lock the username for 15 minutes. The counter exists
  for any username typed, registered or not, so that a lock says nothing about whether an account
  exists. A success resets it.
- ``addr:<client address>``: 20 failures within 10 minutes from one address refuse it for 15
  minutes, whatever usernames were tried. A success does not reset it.

An attempt is counted before its secret is checked (``reserve``), and given back once the secret
proves right: so concurrent requests cannot all be checked before the first failure is counted,
and at most the maximum of a window's secrets is ever checked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

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


class Locked(Exception):
    """No attempt may be made now: ``locks`` says which keys are locked and until when."""

    def __init__(self, locks: dict[str, dt.datetime]) -> None:
        super().__init__(sorted(locks))
        self.locks = locks


@dataclass(frozen=True, slots=True)
class Reservation:
    """One attempt counted on each key before its secret is checked, with the window it counts in."""

    windows: dict[str, dt.datetime]


RESERVE_TRIES = 3  # a row deleted by a success between its insert and its lock: read it again


async def reserve(keys: Iterable[str], now: dt.datetime) -> Reservation:
    """Count an attempt on every key before its secret is checked, or raise Locked and count nothing.

    The attempt counts as a failure from now on: a key whose window already holds its maximum is
    refused, so that however many requests arrive at once, at most ``max_failures`` secrets are
    checked per window (the one reaching it locks the key at once). An attempt whose secrets prove
    right is given back (``give_back``, ``succeeded``). The rows are locked in key order, so that
    two requests cannot deadlock."""
    keys = sorted(set(keys))
    for _ in range(RESERVE_TRIES):
        async with in_transaction():
            await LoginThrottle.bulk_create(
                [LoginThrottle(key=key, failures=0, window_started_at=now) for key in keys],
                ignore_conflicts=True,
            )
            rows = await LoginThrottle.select_for_update().filter(key__in=keys).order_by("key")
            if len(rows) < len(keys):
                continue
            locked = {row.key: row.locked_until for row in rows if _is_locked(row, now)}
            if locked:
                raise Locked(locked)
            for row in rows:
                _count_attempt(row, _policy_of(row.key), now)
                await row.save(update_fields=["failures", "window_started_at", "locked_until"])
            return Reservation({row.key: row.window_started_at for row in rows})
    raise RuntimeError(f"login throttle rows {keys} vanished {RESERVE_TRIES} times running")


def _is_locked(row: LoginThrottle, now: dt.datetime) -> bool:
    return row.locked_until is not None and row.locked_until > now


def _count_attempt(row: LoginThrottle, policy: ThrottlePolicy, now: dt.datetime) -> None:
    if row.locked_until is not None or now - row.window_started_at >= policy.window:
        # A lock that has run out, or failures too old to matter: count afresh.
        row.failures, row.window_started_at, row.locked_until = 0, now, None
    row.failures += 1
    if row.failures >= policy.max_failures:
        row.locked_until = now + policy.lock_for


async def give_back(reservation: Reservation, now: dt.datetime) -> None:
    """The attempt's secrets proved right: it is no failure. A lock it completed is lifted; a key
    back to no failure at all loses its row."""
    await _settle(reservation, now, reset=frozenset())


async def succeeded(reservation: Reservation, user_key: str, now: dt.datetime) -> None:
    """A success: the attempt is given back, and the username's failures are forgotten (a success
    ends "in a row"); the address's stay counted."""
    await _settle(reservation, now, reset=frozenset({user_key}))


async def _settle(reservation: Reservation, now: dt.datetime, reset: frozenset[str]) -> None:
    keys = sorted(reservation.windows)
    async with in_transaction():
        rows = await LoginThrottle.select_for_update().filter(key__in=keys).order_by("key")
        for row in rows:
            if row.window_started_at != reservation.windows[row.key]:
                continue  # counted afresh since: the attempt is no longer in it
            row.failures = 0 if row.key in reset else max(row.failures - 1, 0)
            if row.failures < _policy_of(row.key).max_failures:
                row.locked_until = None
            if row.failures == 0:
                await row.delete()
            else:
                await row.save(update_fields=["failures", "locked_until"])

"""The lock-out holds however many guesses arrive at once (A4): an attempt is counted before its
password is checked, so that at most the counter's maximum of passwords is ever checked.

On PostgreSQL the attempts run in parallel transactions on a pool of connections; on SQLite they
go through the same code one transaction at a time. Every password check is held until each
attempt has either reached one or been refused: the worst case for a lock-out that would count a
failure only once its password had been found wrong.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from argon2 import PasswordHasher

import models
import services.access
from domain.enums import Role
from services.access import (
    AccessError,
    ErrorCode,
    LoginResult,
    create_staff_account,
    grant_online_access,
    install_certificate,
    login,
)
from services.access import secrets as access_secrets
from settings import get_settings
from tests import factories

pytestmark = pytest.mark.usefixtures("db")

ADDRESS = "203.0.113.7"
STAFF_PASSWORD = "counter2026"
GUESSES = 30


@pytest.fixture(autouse=True)
def quick_hashing_and_no_rate_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Quick argon2 parameters; rate limits out of the way: the database lock-out is under test."""
    monkeypatch.setattr(access_secrets, "PASSWORD_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    monkeypatch.setattr(get_settings(), "sign_in_limit_per_account", "10000/minute")
    monkeypatch.setattr(get_settings(), "sign_in_limit_per_address", "10000/minute")


class HeldChecks:
    """Holds each password check until every attempt has reached one or has ended; records which
    hashes were really checked (argon2 verifications)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, attempts: int) -> None:
        self.attempts, self.arrived, self.ended = attempts, 0, 0
        self.progress = asyncio.Condition()
        self.checked: list[str] = []
        matches, verify = services.access.secret_matches, access_secrets._verify

        async def held(stored_hash: str | None, secret: str) -> bool:
            await self._count("arrived")
            await self.settled(self.attempts)
            return await matches(stored_hash, secret)

        def counted(stored_hash: str, secret: str) -> bool:
            self.checked.append(stored_hash)
            return verify(stored_hash, secret)

        monkeypatch.setattr(services.access, "secret_matches", held)
        monkeypatch.setattr(access_secrets, "_verify", counted)

    async def _count(self, what: str) -> None:
        async with self.progress:
            setattr(self, what, getattr(self, what) + 1)
            self.progress.notify_all()

    async def settled(self, attempts: int) -> None:
        """Until ``attempts`` attempts have each reached a check or ended (none ends after reaching
        one before all are settled)."""
        async with self.progress:
            await self.progress.wait_for(lambda: self.arrived + self.ended >= attempts)

    async def attempt(self, call: Callable[[], Awaitable[object]]) -> object:
        try:
            return await call()
        except AccessError as refused:
            return refused
        finally:
            await self._count("ended")

    async def wrong_then_right(
        self, wrong: Callable[[int], Awaitable[object]], right: Callable[[], Awaitable[object]]
    ) -> tuple[list[object], object]:
        """``attempts - 1`` wrong guesses at once, then the right one when each of them has been
        refused or is waiting on its check."""
        guesses = [asyncio.create_task(self.attempt(lambda i=i: wrong(i))) for i in range(self.attempts - 1)]
        await self.settled(self.attempts - 1)
        last = await self.attempt(right)
        return await asyncio.gather(*guesses), last


def codes(outcomes: list[object]) -> list[ErrorCode]:
    return sorted((o.code for o in outcomes), key=lambda code: code.value)


async def test_thirty_guesses_at_once_check_five_passwords_and_the_right_one_last_is_locked_out(monkeypatch):
    community = await factories.community(await factories.district())
    clerk = await create_staff_account(Role.CLERK, "clerk.one", STAFF_PASSWORD, community=community)
    checks = HeldChecks(monkeypatch, GUESSES)

    wrong, right = await checks.wrong_then_right(
        lambda i: login(clerk.username, f"Wrong{i:04d}", None, ADDRESS),
        lambda: login(clerk.username, STAFF_PASSWORD, None, ADDRESS),
    )

    assert len(checks.checked) == 5
    assert codes(wrong) == [ErrorCode.ACCOUNT_LOCKED] * 24 + [ErrorCode.INVALID_CREDENTIALS] * 5
    assert isinstance(right, AccessError) and (right.code, right.field) == (ErrorCode.ACCOUNT_LOCKED, "username")
    assert not await models.AccountSession.exists()
    row = await models.LoginThrottle.get(key=f"user:{clerk.username}")
    assert row.failures == 5 and row.locked_until is not None


async def test_thirty_certificate_password_guesses_at_once_check_five_of_them(monkeypatch):
    clerk_community = await factories.community(await factories.district())
    clerk = await create_staff_account(Role.CLERK, "clerk.two", STAFF_PASSWORD, community=clerk_community)
    person = await factories.person(clerk_community)
    grant = await grant_online_access(clerk, person=person, place="百步亭社区服务站")
    account = await models.Account.get(username=grant.username)
    checks = HeldChecks(monkeypatch, GUESSES)

    wrong, right = await checks.wrong_then_right(
        lambda i: install_certificate(grant.username, grant.initial_password, f"Guess{i:04d}", "phone", ADDRESS),
        lambda: install_certificate(
            grant.username, grant.initial_password, grant.certificate_password, "phone", ADDRESS
        ),
    )

    assert checks.checked.count(account.certificate_password_hash) == 5
    assert len(checks.checked) == 10  # each of the five proved the account password first
    assert codes(wrong) == [ErrorCode.ACCOUNT_LOCKED] * 24 + [ErrorCode.INVALID_CERTIFICATE_PASSWORD] * 5
    assert isinstance(right, AccessError) and right.code is ErrorCode.ACCOUNT_LOCKED
    assert not await models.Certificate.exists()


async def test_thirty_usernames_guessed_at_once_from_one_address_check_twenty_passwords(monkeypatch):
    community = await factories.community(await factories.district())
    clerk = await create_staff_account(Role.CLERK, "clerk.three", STAFF_PASSWORD, community=community)
    checks = HeldChecks(monkeypatch, GUESSES)

    wrong, right = await checks.wrong_then_right(
        lambda i: login(f"guess{i:02d}", "Wrong1234", None, ADDRESS),  # no username reaches its own lock
        lambda: login(clerk.username, STAFF_PASSWORD, None, ADDRESS),
    )

    assert len(checks.checked) == 20
    assert codes(wrong) == [ErrorCode.INVALID_CREDENTIALS] * 20 + [ErrorCode.TOO_MANY_ATTEMPTS] * 9
    assert isinstance(right, AccessError) and right.code is ErrorCode.TOO_MANY_ATTEMPTS
    assert isinstance(await login(clerk.username, STAFF_PASSWORD, None, "198.51.100.9"), LoginResult)


async def test_a_right_password_among_the_first_five_signs_in_and_forgets_the_failures(monkeypatch):
    """An attempt whose password proves right is given back: four wrong ones and the right one at
    once leave the username with no failure, and the address with the four."""
    community = await factories.community(await factories.district())
    clerk = await create_staff_account(Role.CLERK, "clerk.four", STAFF_PASSWORD, community=community)
    checks = HeldChecks(monkeypatch, 5)

    wrong, right = await checks.wrong_then_right(
        lambda i: login(clerk.username, f"Wrong{i:04d}", None, ADDRESS),
        lambda: login(clerk.username, STAFF_PASSWORD, None, ADDRESS),
    )

    assert codes(wrong) == [ErrorCode.INVALID_CREDENTIALS] * 4 and isinstance(right, LoginResult)
    assert not await models.LoginThrottle.exists(key=f"user:{clerk.username}")
    address = await models.LoginThrottle.get(key=f"addr:{ADDRESS}")
    assert (address.failures, address.locked_until) == (4, None)
    assert isinstance(await login(clerk.username, STAFF_PASSWORD, None, ADDRESS), LoginResult)

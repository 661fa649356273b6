"""Online-service access (docs/rules.md A3-A6): the one module the rest of the project imports.

Accounts are granted at a service office (services.access_accounts); a device installs a
certificate before it signs in (A4); a login opens a session whose token every request turns back
into a Viewer (services.access_sessions). Failed attempts are counted in the database
(services.access_throttle), and every attempt against rate limits per address and username
(services.common.rate_limits).

Secrets (passwords, certificate passwords, device credentials, tokens) are returned once to the
caller and stored only hashed; none is logged or put in an error message, and the dataclasses
that carry them leave them out of their repr.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from domain.months import LOCAL_TZ
from models import Account, AccountSession, Certificate
from services.access import throttle
from services.access.accounts import CERTIFIED_ROLES, Grant, create_staff_account, grant_online_access
from services.access.errors import (
    AccessError,
    ErrorCode,
    chosen_password_input,
    password_input,
    text_input,
    username_input,
)
from services.access.secrets import (
    digest,
    hash_secret,
    looks_like_random_credential,
    needs_rehash,
    random_credential,
    secret_matches,
)
from services.access.sessions import (
    SESSION_LIFETIME,
    Viewer,
    account_id_of,
    announce_ended,
    authenticate,
    end_sessions,
    logout,
    open_session,
    session_is_live,
)
from services.common import clock
from services.common.rate_limits import rate_limiter, try_again_after
from settings import get_settings

__all__ = [
    "AccessError",
    "ErrorCode",
    "Grant",
    "Installed",
    "LoginResult",
    "SESSION_LIFETIME",
    "Viewer",
    "authenticate",
    "certificates",
    "change_password",
    "create_staff_account",
    "grant_online_access",
    "install_certificate",
    "login",
    "logout",
    "revoke_certificate",
]

Code = ErrorCode


@dataclass(frozen=True, slots=True)
class Installed:
    """A certificate installed on a device (A4); the device keeps the credential, we keep its hash."""

    certificate: Certificate
    device_credential: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class LoginResult:
    token: str = field(repr=False)
    expires_at: dt.datetime
    account: Account


@dataclass(frozen=True, slots=True)
class _Throttles:
    """The failure counters an attempt is charged to: its username's, and its address's if known."""

    user: str
    address: str | None = None

    def keys(self) -> list[str]:
        return [key for key in (self.user, self.address) if key is not None]


# --- certificates (A4) ---------------------------------------------------------------------------


async def install_certificate(
    username: str,
    password: str,
    certificate_password: str,
    device_name: str,
    client_address: str | None,
) -> Installed:
    """Install a certificate on a device: the password and the certificate password are both proven,
    and every failure counts towards the lock as a wrong password does."""
    name = username_input(username)
    password_input(password, "password")
    password_input(certificate_password, "certificatePassword")
    device = text_input(device_name, "deviceName", "the device name")
    throttles = _Throttles(throttle.username_key(name), throttle.address_key(client_address))
    await _within_sign_in_limits(throttles)
    async with _attempt(throttles) as attempt:
        account = await _prove_password(name, password, attempt)
        if account.role not in CERTIFIED_ROLES or account.certificate_password_hash is None:
            raise AccessError(
                Code.CERTIFICATE_NOT_ISSUED,
                "This account signs in with its password alone and has no certificate.",
            )
        wrong = AccessError(
            Code.INVALID_CERTIFICATE_PASSWORD, "The certificate password is wrong.", "certificatePassword"
        )
        await attempt.check(account.certificate_password_hash, certificate_password, wrong)
        await _rehash_if_outdated(account, "certificate_password_hash", certificate_password)
    credential = random_credential()
    certificate = await Certificate.create(
        account=account,
        credential_hash=digest(credential),
        device_name=device,
        installed_at=clock.now(),
    )
    return Installed(certificate, credential)


async def revoke_certificate(account: Account | Viewer, certificate_id: int) -> Certificate:
    """Revoke one of the account's certificates and end the sessions opened with it (A4).
    Revoking a revoked certificate changes nothing."""
    ended: list[int] = []
    async with in_transaction():
        certificate = await Certificate.select_for_update().get_or_none(
            id=certificate_id,
            account_id=account_id_of(account),
        )
        if certificate is None:
            raise AccessError(Code.NOT_FOUND, "This account has no such certificate.", "certificateId")
        if certificate.revoked_at is None:
            certificate.revoked_at = clock.now()
            await certificate.save(update_fields=["revoked_at"])
            ended = await end_sessions(Q(certificate_id=certificate.id))
    await announce_ended(ended)  # committed: their sockets close (A8)
    return certificate


async def certificates(account: Account | Viewer) -> list[Certificate]:
    """The account's certificates, revoked ones included, oldest first."""
    return await Certificate.filter(account_id=account_id_of(account)).order_by("installed_at", "id")


# --- login and password (A4, A6) -----------------------------------------------------------------


async def login(
    username: str,
    password: str,
    device_credential: str | None,
    client_address: str | None,
) -> LoginResult:
    """Open a session: the password, and for persons and employer agents a certificate of this
    account installed on this device (A4)."""
    name = username_input(username)
    password_input(password, "password")
    throttles = _Throttles(throttle.username_key(name), throttle.address_key(client_address))
    await _within_sign_in_limits(throttles)
    async with _attempt(throttles) as attempt:
        account = await _prove_password(name, password, attempt)
        certificate = await _device_certificate(account, device_credential)
    token, expires_at = await open_session(account, certificate)
    return LoginResult(token, expires_at, account)


async def change_password(viewer: Viewer, old: str, new: str) -> None:
    """Replace the password: every other session of the account ends, this one stays signed in."""
    password_input(old, "oldPassword")
    chosen_password_input(new, viewer.username, "newPassword")
    async with _attempt(_Throttles(throttle.username_key(viewer.username))) as attempt:
        account = await Account.get_or_none(id=viewer.account_id)
        if account is None:
            raise _session_expired()
        wrong = AccessError(Code.INVALID_CREDENTIALS, "The current password is wrong.", "oldPassword")
        await attempt.check(account.password_hash, old, wrong)
        if new == old:
            raise AccessError(Code.WEAK_PASSWORD, "The new password must differ from the current one.", "newPassword")
    new_hash = await hash_secret(new)
    now = clock.now()
    async with in_transaction():
        if not await session_is_live(viewer.session_id):
            raise _session_expired()
        await Account.filter(id=account.id).update(password_hash=new_hash, password_changed_at=now)
        ended = await end_sessions(Q(account_id=account.id) & ~Q(id=viewer.session_id))
        # Sessions older than the password stop signing in (authenticate); this one has just
        # proved the password, so it counts from now. (A per-session "password proven at" column
        # would say this without touching created_at.)
        await AccountSession.filter(id=viewer.session_id).update(created_at=now)
    await announce_ended(ended)  # committed: their sockets close (A8)


async def _prove_password(username: str, password: str, attempt: _Attempt) -> Account:
    """The active account whose password this is. A failure is counted and answers the same
    whether or not the username exists."""
    account = await Account.get_or_none(username=username)
    wrong = AccessError(Code.INVALID_CREDENTIALS, "The username or the password is wrong.")
    # Raises for an unknown username too, after the same work as for a wrong password.
    await attempt.check(account.password_hash if account is not None else None, password, wrong)
    if not account.is_active:
        raise AccessError(
            Code.ACCOUNT_DISABLED,
            "This account's online access has been withdrawn; ask at your service office.",
        )
    await _rehash_if_outdated(account, "password_hash", password)
    return account


async def _within_sign_in_limits(throttles: _Throttles) -> None:
    """Sign-in attempts per client address and per username, right or wrong, over every server
    process (settings): besides the lock-out, which counts failures only."""
    settings, limiter = get_settings(), rate_limiter()
    if throttles.address is not None:
        until = await limiter.charge(settings.sign_in_limit_per_address, "sign-in", throttles.address)
        if until is not None:
            raise AccessError(
                Code.TOO_MANY_ATTEMPTS,
                f"Too many sign-ins from this network; try again after {try_again_after(until)}.",
            )
    until = await limiter.charge(settings.sign_in_limit_per_account, "sign-in", throttles.user)
    if until is not None:
        raise AccessError(
            Code.TOO_MANY_ATTEMPTS,
            f"Too many sign-ins with this username; try again after {try_again_after(until)}.",
            "username",
        )


class _Attempt:
    """Checks an attempt's secrets, and remembers whether one was wrong."""

    wrong = False

    async def check(self, stored_hash: str | None, secret: str, wrong: AccessError) -> None:
        if not await secret_matches(stored_hash, secret):
            self.wrong = True
            raise wrong


@asynccontextmanager
async def _attempt(throttles: _Throttles) -> AsyncIterator[_Attempt]:
    """One attempt at an account's secrets, counted as a failure before any is checked, so that
    requests arriving at once cannot all be checked (throttle.reserve). A wrong secret leaves it
    counted; a refusal after the secrets proved right gives it back; a success also forgets the
    username's failures. Anything else (a crash, a client gone) leaves it counted."""
    try:
        reservation = await throttle.reserve(throttles.keys(), clock.now())
    except throttle.Locked as locked:
        raise _locked_error(throttles, locked.locks) from None
    attempt = _Attempt()
    try:
        yield attempt
    except AccessError:
        if not attempt.wrong:
            await throttle.give_back(reservation, clock.now())
        raise
    await throttle.succeeded(reservation, throttles.user, clock.now())


def _locked_error(throttles: _Throttles, locks: dict[str, dt.datetime]) -> AccessError:
    if throttles.address in locks:
        return AccessError(
            Code.TOO_MANY_ATTEMPTS,
            f"Too many failed sign-ins from this network; try again after {_local_time(locks[throttles.address])}.",
        )
    return AccessError(
        Code.ACCOUNT_LOCKED,
        "Too many failed sign-ins in a row for this username: it is locked until"
        f" {_local_time(locks[throttles.user])}. Try again then.",
        "username",
    )


async def _rehash_if_outdated(account: Account, column: str, secret: str) -> None:
    """A hash made with older argon2 parameters is redone while the secret is at hand."""
    if needs_rehash(getattr(account, column)):
        setattr(account, column, await hash_secret(secret))
        await account.save(update_fields=[column])


async def _device_certificate(account: Account, device_credential: str | None) -> Certificate | None:
    """The certificate a person or an employer agent signs in with (A4); staff need none."""
    if account.role not in CERTIFIED_ROLES:
        return None
    certificate = None
    if device_credential is not None and looks_like_random_credential(device_credential):
        certificate = await Certificate.get_or_none(
            credential_hash=digest(device_credential),
            account_id=account.id,
            revoked_at__isnull=True,
        )
    if certificate is None:
        raise AccessError(
            Code.CERTIFICATE_REQUIRED,
            "This device has no valid certificate for this account: install the certificate with your"
            " certificate password, then sign in again.",
            "deviceCredential",
        )
    return certificate


def _local_time(moment: dt.datetime) -> str:
    return moment.astimezone(LOCAL_TZ).strftime("%H:%M")


def _session_expired() -> AccessError:
    return AccessError(Code.SESSION_EXPIRED, "Your session has ended; sign in again.")

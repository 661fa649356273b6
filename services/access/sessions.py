"""Sessions: a token opens one, and every request turns the token back into a Viewer (A6).

A token is a random secret; only its SHA-256 is stored, so the table alone signs no one in.
"""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Callable
from functools import cache
from typing import Any

from tortoise.expressions import Q

from domain.enums import Role
from models import Account, AccountSession, Certificate
from models.database import sql_of
from services.access.secrets import digest, looks_like_random_credential, random_credential
from services.common import clock, notices
from services.common.viewer import Viewer  # shared with the GraphQL side

SESSION_LIFETIME = dt.timedelta(hours=8)

# One query per request: the session with its account, certificate, and where the account belongs.
_VIEWER_COLUMNS = (
    "id",
    "created_at",
    "expires_at",
    "ended_at",
    "certificate_id",
    "certificate__revoked_at",
    "account_id",
    "account__username",
    "account__role",
    "account__is_active",
    "account__password_changed_at",
    "account__person_id",
    "account__person__community_id",
    "account__person__district_id",
    "account__employer_id",
    "account__employer__district_id",
    "account__community_id",
    "account__community__district_id",
    "account__district_id",
)
_DIGEST_STAND_IN = "stand-in for a token's digest"  # not hexadecimal: no digest is it


async def open_session(account: Account, certificate: Certificate | None) -> tuple[str, dt.datetime]:
    """A new session; returns its token (shown once) and when it expires."""
    token = random_credential()
    now = clock.now()
    expires_at = now + SESSION_LIFETIME
    await AccountSession.create(
        account=account,
        certificate=certificate,
        token_hash=digest(token),
        created_at=now,
        expires_at=expires_at,
    )
    return token, expires_at


async def authenticate(token: str) -> Viewer | None:
    """The viewer a token signs in, or None for a token that is unknown, altered, expired or ended,
    of an inactive account, of a revoked certificate, or older than the account's password."""
    if not looks_like_random_credential(token):
        return None
    db = AccountSession._meta.db
    sql, converters = _viewer_query(db.capabilities.dialect)
    rows = await db.execute_query_dict(sql, [digest(token)])
    if not rows:
        return None
    row = rows[0]
    for column, convert in converters:
        row[column] = convert(row[column])
    return _viewer_of(row) if _is_live(row, clock.now()) else None


@cache
def _viewer_query(dialect: str) -> tuple[str, list[tuple[str, Callable[[Any], Any]]]]:
    """The SQL of the session query of every request, built by Tortoise once per dialect rather
    than once per request (which took longer than the database takes to answer it), and how
    values() converts each column."""
    query = AccountSession.filter(token_hash=_DIGEST_STAND_IN).values(*_VIEWER_COLUMNS)
    sql, parameters = sql_of(query)
    if parameters != [_DIGEST_STAND_IN]:
        raise RuntimeError(f"the session query takes parameters other than the digest: {parameters}")
    converters = [
        (column, query.resolve_to_python_value(AccountSession, field))
        for column, field in query._fields_for_select.items()
    ]
    # As values() itself: a plain function there stands for a column kept as read.
    return sql, [(column, convert) for column, convert in converters if not isinstance(convert, types.LambdaType)]


def _is_live(row: dict[str, Any], now: dt.datetime) -> bool:
    password_changed_at = row["account__password_changed_at"]
    return (
        row["ended_at"] is None
        and row["expires_at"] > now
        and row["account__is_active"]
        and (row["certificate_id"] is None or row["certificate__revoked_at"] is None)
        and (password_changed_at is None or row["created_at"] >= password_changed_at)
    )


def _viewer_of(row: dict[str, Any]) -> Viewer:
    role = Role(row["account__role"])
    if role is Role.PERSON:
        community_id, district_id = row["account__person__community_id"], row["account__person__district_id"]
    elif role is Role.EMPLOYER_AGENT:
        community_id, district_id = None, row["account__employer__district_id"]
    elif role is Role.CLERK:
        community_id, district_id = row["account__community_id"], row["account__community__district_id"]
    else:
        community_id, district_id = row["account__community_id"], row["account__district_id"]
    return Viewer(
        account_id=row["account_id"],
        username=row["account__username"],
        role=role,
        person_id=row["account__person_id"],
        employer_id=row["account__employer_id"],
        community_id=community_id,
        district_id=district_id,
        session_id=row["id"],
    )


async def session_is_live(session_id: int) -> bool:
    """Whether a session still signs in: checked again by operations that change the account."""
    rows = await AccountSession.filter(id=session_id).values(*_VIEWER_COLUMNS)
    return bool(rows) and _is_live(rows[0], clock.now())


async def logout(viewer: Viewer) -> None:
    """End the viewer's session; its token signs no one in any more, its sockets close (A8)."""
    await announce_ended(await end_sessions(Q(id=viewer.session_id)))


async def end_sessions(which: Q) -> list[int]:
    """End the sessions ``which`` selects that are still open; returns their ids, for the caller
    to announce (announce_ended) once its transaction has committed."""
    ended = list(await AccountSession.filter(which, ended_at__isnull=True).values_list("id", flat=True))
    if ended:
        await AccountSession.filter(id__in=ended, ended_at__isnull=True).update(ended_at=clock.now())
    return ended


async def announce_ended(session_ids: list[int]) -> None:
    """Tell every server process that these sessions have ended, so that it closes their sockets
    at once (A8). After the commit: a process checking a session then finds it ended."""
    await notices.publish(notices.SESSIONS_ENDED, session_ids)


def account_id_of(who: Account | Viewer) -> int:
    """Operations on one's own account take the Account or the signed-in Viewer alike."""
    return who.account_id if isinstance(who, Viewer) else who.id

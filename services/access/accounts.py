"""Opening accounts: online access granted at a service office (A3), and staff accounts."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from domain.enums import EmployerStatus, Role
from models import Account, Community, District, Employer, Person
from services.access.errors import AccessError, ErrorCode, chosen_password_input, text_input, username_input
from services.access.secrets import certificate_password, hash_secret, initial_password
from services.access.sessions import Viewer, account_id_of
from services.common import clock

Code = ErrorCode

# Persons and employer agents prove a device certificate at login (A4); staff do not.
CERTIFIED_ROLES = frozenset({Role.PERSON, Role.EMPLOYER_AGENT})
STAFF_ROLES = frozenset(Role) - CERTIFIED_ROLES
USERNAME_PREFIXES = {Role.PERSON: "p", Role.EMPLOYER_AGENT: "e"}
USERNAME_DIGITS = 8
USERNAME_DRAWS = 20  # a draw collides once in 10^8 per account already held


@dataclass(frozen=True, slots=True)
class Grant:
    """Online access just granted (A3): the secrets are printed for the person once, never stored."""

    account: Account
    username: str
    initial_password: str = field(repr=False)
    certificate_password: str = field(repr=False)


async def grant_online_access(
    clerk: Account | Viewer,
    *,
    person: Person | None = None,
    employer: Employer | None = None,
    place: str,
) -> Grant:
    """Open an account for a person, or for an agent of an employer, who has just signed the
    online-service commitment letter at the office (A3)."""
    role = _granted_role(person, employer)
    _ensure_may_grant(clerk, person, employer)
    commitment_place = text_input(place, "place", "the place where the commitment letter was signed")
    if employer is not None and employer.status is EmployerStatus.CLOSED:
        raise AccessError(
            Code.EMPLOYER_CLOSED,
            "This employer is closed: its agents cannot get online access.",
            "employer",
        )
    password, cert_password = initial_password(), certificate_password()
    # Hashed before the transaction: its row lock is held for milliseconds, not for two hashes.
    password_hash, cert_password_hash = await asyncio.gather(hash_secret(password), hash_secret(cert_password))
    async with in_transaction():
        if person is not None:
            await _refuse_second_person_account(person)
        username = await _unused_username(USERNAME_PREFIXES[role])
        now = clock.now()
        account = await Account.create(
            username=username,
            password_hash=password_hash,
            certificate_password_hash=cert_password_hash,
            role=role,
            person=person,
            employer=employer,
            commitment_signed_at=now,
            commitment_place=commitment_place,
            granted_by_id=account_id_of(clerk),
            created_at=now,
        )
    return Grant(account, username, password, cert_password)


def _granted_role(person: Person | None, employer: Employer | None) -> Role:
    if (person is None) == (employer is None):
        raise AccessError(Code.INVALID_INPUT, "Grant online access to one person or to one employer.")
    return Role.PERSON if person is not None else Role.EMPLOYER_AGENT


def _ensure_may_grant(clerk: Account | Viewer, person: Person | None, employer: Employer | None) -> None:
    """A clerk serves the persons of their community; a reviewer, the persons and employers of their
    district (A3, A6). Employers come to the district office, not to a community office."""
    active = isinstance(clerk, Viewer) or clerk.is_active
    if active and clerk.role is Role.CLERK:
        if person is not None and person.community_id == clerk.community_id:
            return
        raise AccessError(
            Code.OUT_OF_SCOPE,
            "A community clerk grants online access only to persons of their own community;"
            " employers are served at their district office.",
        )
    if active and clerk.role is Role.REVIEWER:
        subject_district = person.district_id if person is not None else employer.district_id
        if clerk.district_id is not None and subject_district == clerk.district_id:
            return
        raise AccessError(Code.OUT_OF_SCOPE, "A reviewer grants online access only within their own district.")
    raise AccessError(Code.OUT_OF_SCOPE, "Only a community clerk or a district reviewer grants online access.")


async def _refuse_second_person_account(person: Person) -> None:
    # The person's row is locked so that two counters granting at once cannot both succeed.
    await Person.select_for_update().filter(id=person.id).first()
    existing = await Account.filter(person_id=person.id).first()
    if existing is not None:
        raise AccessError(
            Code.ALREADY_HAS_ACCESS,
            f"This person already has online access, as username {existing.username}; a person has one account.",
            "person",
        )


async def _unused_username(prefix: str) -> str:
    for _ in range(USERNAME_DRAWS):
        candidate = f"{prefix}{secrets.randbelow(10**USERNAME_DIGITS):0{USERNAME_DIGITS}d}"
        if not await Account.exists(username=candidate):
            return candidate
    raise RuntimeError(f"no unused username with prefix {prefix!r} after {USERNAME_DRAWS} draws")


async def create_staff_account(
    role: Role,
    username: str,
    password: str,
    *,
    community: Community | None = None,
    district: District | None = None,
) -> Account:
    """An account for a clerk (of a community), a reviewer (of a district), a bank operator, an
    analyst or an administrator; staff sign in with their password alone."""
    if role not in STAFF_ROLES:
        raise AccessError(
            Code.INVALID_INPUT,
            "Persons and employer agents get their accounts at a service office (A3).",
            "role",
        )
    name = username_input(username)
    chosen_password_input(password, name, "password")
    community_id, district_id = _staff_workplace(role, community, district)
    if await Account.exists(username=name):
        raise _username_taken()
    password_hash = await hash_secret(password)
    try:
        return await Account.create(
            username=name,
            password_hash=password_hash,
            role=role,
            community_id=community_id,
            district_id=district_id,
            created_at=clock.now(),
        )
    except IntegrityError:  # taken meanwhile
        raise _username_taken() from None


def _staff_workplace(
    role: Role,
    community: Community | None,
    district: District | None,
) -> tuple[int | None, int | None]:
    """Where a staff account's rights reach (A6): a clerk's community and its district, a reviewer's district."""
    if role is Role.CLERK:
        if community is None:
            raise AccessError(Code.INVALID_INPUT, "A community clerk belongs to a community.", "community")
        if district is not None and district.id != community.district_id:
            raise AccessError(Code.INVALID_INPUT, "The clerk's community is not in this district.", "district")
        return community.id, community.district_id
    if role is Role.REVIEWER:
        if district is None or community is not None:
            raise AccessError(Code.INVALID_INPUT, "A reviewer belongs to a district, not to a community.", "district")
        return None, district.id
    if community is not None or district is not None:
        raise AccessError(Code.INVALID_INPUT, f"A {role.value} account belongs to no community or district.", "role")
    return None, None


def _username_taken() -> AccessError:
    return AccessError(Code.USERNAME_TAKEN, "This username is taken; choose another.", "username")

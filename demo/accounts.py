"""Demo accounts: one account of every role in the demo city, with fixed credentials (A3-A6).

Written by ``main.py seed`` and ``main.py serve --demo`` right after the demo city, never by a
migration or a running server: the credentials are public (README.md), so a database holding
them is a demo, not a service hall. Staff accounts are opened as staff accounts always are; the
person and the employer agent are granted access by the demo clerk and the demo reviewer as at
an office counter, then given the demo password and a certificate whose device credential is
fixed, instead of the random secrets a real grant and installation hand out.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from tortoise.expressions import Subquery
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from domain.credentials import normalise_username
from domain.enums import (
    OWED_ARREARS,
    BusinessType,
    EmploymentStatus,
    PersonCategory,
    Role,
    TransactionStatus,
)
from models import Account, Arrear, Certificate, Community, District, Employer, Employment, Office, Person
from services.access import create_staff_account, grant_online_access
from services.access.secrets import digest, hash_secret
from services.common import clock
from services.common.transactions import record_transaction
from services.common.viewer import Viewer

DEMO_PASSWORD = "Demo2026hall"  # every demo account's password, and the certificate password too
# 43 URL-safe characters: the shape of a device credential that login accepts.
DEVICE_CREDENTIALS = {
    Role.PERSON: "demo-person-device-credential-shebao-hall-1",
    Role.EMPLOYER_AGENT: "demo-agent-device-credential-shebao-hall-01",
}
USERNAMES = {
    Role.PERSON: "demo.person",
    Role.EMPLOYER_AGENT: "demo.agent",
    Role.CLERK: "demo.clerk",
    Role.REVIEWER: "demo.reviewer",
    Role.BANK: "demo.bank",
    Role.ANALYST: "demo.analyst",
    Role.ADMIN: "demo.admin",
}
CITY_WIDE = {
    Role.BANK: "passbook deposits reported by the bank (F9), city-wide",
    Role.ANALYST: "aggregate statistics only (Q4), city-wide",
    Role.ADMIN: "parameters, batch runs and the audit trail, city-wide",
}
DEVICE_NAME = "demo device"


class DemoCityTooSmall(RuntimeError):
    """No district of the city has both a flexible-employment person and an employer with staff."""


@dataclass(frozen=True, slots=True)
class DemoAccount:
    username: str
    role: Role
    password: str
    device_credential: str | None
    acts_for: str


@dataclass(frozen=True, slots=True)
class _Subjects:
    """Whom the demo accounts serve, all in one district so that the clerk's and the reviewer's
    scopes (A6) hold the person and the employer."""

    district: District
    office: str
    community: Community
    person: Person
    person_owes: bool
    employer: Employer
    staff: int


async def create_demo_accounts(*, seed: int) -> list[DemoAccount]:
    """Open the demo accounts in a freshly seeded city; the same city and seed give the same
    person and employer. Raises DemoCityTooSmall for a city of a handful of persons."""
    rng = random.Random(seed)
    async with in_transaction():
        subjects = await _choose_subjects(rng)
        clerk = await create_staff_account(
            Role.CLERK,
            USERNAMES[Role.CLERK],
            DEMO_PASSWORD,
            community=subjects.community,
        )
        reviewer = await create_staff_account(
            Role.REVIEWER,
            USERNAMES[Role.REVIEWER],
            DEMO_PASSWORD,
            district=subjects.district,
        )
        for role in CITY_WIDE:
            await create_staff_account(role, USERNAMES[role], DEMO_PASSWORD)
        await grant_known_access(
            clerk,
            f"{subjects.community.name}服务站",
            USERNAMES[Role.PERSON],
            DEVICE_CREDENTIALS[Role.PERSON],
            person=subjects.person,
        )
        await grant_known_access(
            reviewer,
            subjects.office,
            USERNAMES[Role.EMPLOYER_AGENT],
            DEVICE_CREDENTIALS[Role.EMPLOYER_AGENT],
            employer=subjects.employer,
        )
    return _described(subjects)


async def _choose_subjects(rng: random.Random) -> _Subjects:
    district = await _demo_district()
    person = await _demo_person(rng, district)
    employer = await _demo_employer(rng, district)
    return _Subjects(
        district=district,
        office=(await Office.get(district_id=district.id)).name,
        community=await Community.get(id=person.community_id),
        person=person,
        person_owes=await Arrear.exists(person_id=person.id, status__in=OWED_ARREARS),
        employer=employer,
        staff=await _active_staff(employer.id).count(),
    )


def _active_staff(employer_id: int | None = None) -> QuerySet[Employment]:
    employments = Employment.filter(status=EmploymentStatus.ACTIVE)
    return employments if employer_id is None else employments.filter(employer_id=employer_id)


async def _demo_district() -> District:
    """The first district by code having both subjects: 江岸区 (420102) unless the city is too small
    to have both there."""
    flexible = set(
        await Person.filter(category=PersonCategory.FLEXIBLE).distinct().values_list("district_id", flat=True)
    )
    staffed = set(
        await Employer.filter(id__in=Subquery(_active_staff().values("employer_id")))
        .distinct()
        .values_list("district_id", flat=True)
    )
    district = await District.filter(id__in=flexible & staffed).order_by("code").first()
    if district is None:
        raise DemoCityTooSmall(
            "no district of the demo city has both a flexible-employment person and an employer with staff,"
            " so there is no one for the demo person and agent accounts: seed more persons"
        )
    return district


async def _demo_person(rng: random.Random, district: District) -> Person:
    """A flexible-employment person of the district (F1-F8), one who owes arrears if any does."""
    flexible = Person.filter(district_id=district.id, category=PersonCategory.FLEXIBLE).order_by("id_number")
    owing = await flexible.filter(id__in=Subquery(Arrear.filter(status__in=OWED_ARREARS).values("person_id")))
    return rng.choice(owing or await flexible)


async def _demo_employer(rng: random.Random, district: District) -> Employer:
    staffed = Employer.filter(district_id=district.id, id__in=Subquery(_active_staff().values("employer_id")))
    return rng.choice(await staffed.order_by("credit_code"))


async def grant_known_access(
    granter: Account,
    place: str,
    username: str,
    device_credential: str,
    *,
    person: Person | None = None,
    employer: Employer | None = None,
) -> None:
    """Grant access as at the counter (A3), then give the account a known username, the demo
    password and a certificate of the given device credential: the grant's own secrets are random
    and shown only once. The demo accounts are opened so, and a benchmark's further agents."""
    username = normalise_username(username)
    grant = await grant_online_access(granter, person=person, employer=employer, place=place)
    password_hash, certificate_password_hash = await asyncio.gather(
        hash_secret(DEMO_PASSWORD),
        hash_secret(DEMO_PASSWORD),
    )
    await Account.filter(id=grant.account.id).update(
        username=username,
        password_hash=password_hash,
        certificate_password_hash=certificate_password_hash,
    )
    await Certificate.create(
        account_id=grant.account.id,
        credential_hash=digest(device_credential),
        device_name=DEVICE_NAME,
        installed_at=clock.now(),
    )
    subject = person or employer
    await record_transaction(
        BusinessType.GRANT_ONLINE_ACCESS,
        Viewer(granter.id, granter.username, granter.role),
        status=TransactionStatus.COMPLETED,
        district_id=subject.district_id,
        person_id=person and person.id,
        employer_id=employer and employer.id,
        details={"username": username, "place": place},
    )


def _described(subjects: _Subjects) -> list[DemoAccount]:
    district = f"{subjects.district.name} ({subjects.district.code})"
    community = f"{subjects.community.name} ({subjects.community.code}), {district}"
    arrears = "owes arrears" if subjects.person_owes else "owes no arrears"
    acts_for = {
        Role.PERSON: f"{subjects.person.name}, flexible employment, {arrears}, of {community}",
        Role.EMPLOYER_AGENT: f"{subjects.employer.name} ({subjects.employer.credit_code}), {subjects.staff} staff,"
        f" of {district}",
        Role.CLERK: f"the persons of {community}",
        Role.REVIEWER: f"the persons and employers of {district}",
        **CITY_WIDE,
    }
    return [
        DemoAccount(USERNAMES[role], role, DEMO_PASSWORD, DEVICE_CREDENTIALS.get(role), acts_for[role]) for role in Role
    ]


def accounts_table(accounts: list[DemoAccount]) -> str:
    """The accounts as the seed prints them, for a newcomer to sign in with."""
    width = max(len(account.username) for account in accounts)
    lines = [f"Demo accounts (password {DEMO_PASSWORD}; persons and agents also send their device credential):"]
    for account in accounts:
        lines.append(f"  {account.username:<{width}}  {account.role.value:<14}  {account.acts_for}")
        if account.device_credential:
            lines.append(f"  {'':<{width}}  {'':<14}  device credential {account.device_credential}")
    return "\n".join(lines)

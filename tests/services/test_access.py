"""Online-service access (docs/rules.md A3-A6): granting at the counter, certificates, login with
lock-out and throttling, sessions, password changes."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from argon2 import PasswordHasher

import models
from domain.enums import EmployerStatus, Role
from services.access import (
    SESSION_LIFETIME,
    AccessError,
    ErrorCode,
    Grant,
    Installed,
    LoginResult,
    Viewer,
    authenticate,
    certificates,
    change_password,
    create_staff_account,
    grant_online_access,
    install_certificate,
    login,
    logout,
    revoke_certificate,
)
from services.access import accounts as access_accounts
from services.access import secrets as access_secrets
from services.access import throttle as access_throttle
from services.common import clock
from settings import get_settings
from tests import factories

pytestmark = pytest.mark.usefixtures("db")

Code = ErrorCode
ADDRESS = "203.0.113.7"
STAFF_PASSWORD = "counter2026"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def quick_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The production argon2 parameters cost 0.1 s a hash; no rule tested here depends on them."""
    quick = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(access_secrets, "PASSWORD_HASHER", quick)


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every argon2 verification done, by the hash it was checked against."""
    done: list[str] = []
    original = access_secrets._verify

    def counting(stored_hash: str, secret: str) -> bool:
        done.append(stored_hash)
        return original(stored_hash, secret)

    monkeypatch.setattr(access_secrets, "_verify", counting)
    return done


@dataclass
class Office:
    district: models.District
    community: models.Community
    clerk: models.Account


async def community_office(district_code: str = "420102") -> Office:
    district = await factories.district(district_code, name=f"区{district_code}")
    community = await factories.community(district)
    clerk = await create_staff_account(Role.CLERK, f"clerk{community.id}", STAFF_PASSWORD, community=community)
    return Office(district, community, clerk)


async def granted_person(office: Office) -> tuple[models.Person, Grant]:
    person = await factories.person(office.community)
    return person, await grant_online_access(office.clerk, person=person, place="百步亭社区服务站")


async def installed(grant: Grant, device: str = "kitchen tablet") -> Installed:
    return await install_certificate(
        grant.username,
        grant.initial_password,
        grant.certificate_password,
        device,
        ADDRESS,
    )


async def signed_in_person(office: Office) -> tuple[Grant, Installed, LoginResult]:
    _, grant = await granted_person(office)
    device = await installed(grant)
    return grant, device, await login(grant.username, grant.initial_password, device.device_credential, ADDRESS)


async def refused(operation) -> AccessError:
    with pytest.raises(AccessError) as caught:
        await operation
    return caught.value


def later(**delta: float) -> None:
    clock.freeze(clock.now() + dt.timedelta(**delta))


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- the whole path ------------------------------------------------------------------------------


async def test_grant_install_login_authenticate_logout():
    office = await community_office()
    person = await factories.person(office.community)

    grant = await grant_online_access(office.clerk, person=person, place="百步亭社区服务站")  # A3
    account = await models.Account.get(id=grant.account.id)
    assert grant.username == account.username and len(grant.username) == 9
    assert grant.username[0] == "p" and grant.username[1:].isdigit()
    assert account.role is Role.PERSON and account.person_id == person.id
    assert account.commitment_signed_at == clock.now() and account.commitment_place == "百步亭社区服务站"
    assert account.granted_by_id == office.clerk.id
    assert grant.initial_password not in repr(grant) and grant.certificate_password not in repr(grant)

    device = await installed(grant)  # A4
    assert device.certificate.device_name == "kitchen tablet" and device.certificate.revoked_at is None
    assert device.certificate.credential_hash == sha256(device.device_credential)
    assert device.device_credential not in repr(device)

    result = await login(grant.username, grant.initial_password, device.device_credential, ADDRESS)
    assert result.account.id == account.id
    assert result.expires_at == clock.now() + SESSION_LIFETIME == clock.now() + dt.timedelta(hours=8)
    session = await models.AccountSession.get(account_id=account.id)
    assert session.token_hash == sha256(result.token) and session.certificate_id == device.certificate.id

    viewer = await authenticate(result.token)  # A6
    assert viewer == Viewer(
        account_id=account.id,
        username=grant.username,
        role=Role.PERSON,
        person_id=person.id,
        employer_id=None,
        community_id=office.community.id,
        district_id=office.district.id,
        session_id=session.id,
    )

    await logout(viewer)
    assert await authenticate(result.token) is None
    assert (await models.AccountSession.get(id=session.id)).ended_at == clock.now()


async def test_secrets_are_stored_only_hashed():
    grant, device, result = await signed_in_person(await community_office())
    account = await models.Account.get(id=grant.account.id)
    assert account.password_hash.startswith("$argon2id$") and account.certificate_password_hash.startswith("$argon2id$")
    stored = ""
    for table in (models.Account, models.Certificate, models.AccountSession, models.LoginThrottle):
        stored += str(await table.all().values())
    for secret in (grant.initial_password, grant.certificate_password, device.device_credential, result.token):
        assert secret not in stored


async def test_issued_passwords_meet_the_policy_and_differ():
    office = await community_office()
    grants = [(await granted_person(office))[1] for _ in range(3)]
    secrets_issued = {g.initial_password for g in grants} | {g.certificate_password for g in grants}
    assert len(secrets_issued) == 6
    for grant in grants:
        for secret in (grant.initial_password, grant.certificate_password):
            assert len(secret) >= 8 and any(c.isdigit() for c in secret) and any(c.isalpha() for c in secret)


async def test_a_reviewer_grants_several_agents_to_an_employer_of_their_district():
    district = await factories.district()
    reviewer = await create_staff_account(Role.REVIEWER, "reviewer.jiangan", STAFF_PASSWORD, district=district)
    employer = await factories.employer(district)

    first = await grant_online_access(reviewer, employer=employer, place="江岸区社保经办大厅")
    second = await grant_online_access(reviewer, employer=employer, place="江岸区社保经办大厅")  # E1: several agents

    assert first.username != second.username
    assert first.username[0] == "e" and first.username[1:].isdigit() and len(first.username) == 9
    device = await installed(first, "office PC")
    result = await login(first.username, first.initial_password, device.device_credential, ADDRESS)
    viewer = await authenticate(result.token)
    assert (viewer.role, viewer.employer_id, viewer.person_id) == (Role.EMPLOYER_AGENT, employer.id, None)
    assert (viewer.district_id, viewer.community_id) == (district.id, None)


async def test_no_access_for_a_closed_employer():
    district = await factories.district()
    reviewer = await create_staff_account(Role.REVIEWER, "reviewer.jiangan", STAFF_PASSWORD, district=district)
    employer = await factories.employer(district)
    employer.status = EmployerStatus.CLOSED
    await employer.save()
    error = await refused(grant_online_access(reviewer, employer=employer, place="江岸区社保经办大厅"))
    assert error.code is Code.EMPLOYER_CLOSED


# --- who may grant (A3, A6) ----------------------------------------------------------------------


async def test_a_clerk_of_another_community_cannot_grant():
    home, elsewhere = await community_office(), await community_office()
    person = await factories.person(home.community)
    error = await refused(grant_online_access(elsewhere.clerk, person=person, place="别的社区"))
    assert error.code is Code.OUT_OF_SCOPE and "own community" in error.message
    assert not await models.Account.exists(person_id=person.id)


async def test_a_clerk_cannot_grant_to_an_employer():
    office = await community_office()
    employer = await factories.employer(office.district)
    error = await refused(grant_online_access(office.clerk, employer=employer, place="百步亭社区服务站"))
    assert error.code is Code.OUT_OF_SCOPE and "district office" in error.message


async def test_a_reviewer_grants_within_their_district_only():
    office, other = await community_office("420102"), await community_office("420103")
    reviewer = await create_staff_account(Role.REVIEWER, "reviewer.jiangan", STAFF_PASSWORD, district=office.district)
    ours, theirs = await factories.person(office.community), await factories.person(other.community)
    assert (await grant_online_access(reviewer, person=ours, place="江岸区社保经办大厅")).account.person_id == ours.id
    error = await refused(grant_online_access(reviewer, person=theirs, place="江岸区社保经办大厅"))
    assert error.code is Code.OUT_OF_SCOPE


@pytest.mark.parametrize("role", [Role.BANK, Role.ANALYST, Role.ADMIN])
async def test_other_roles_cannot_grant(role: Role):
    office = await community_office()
    person = await factories.person(office.community)
    staff = await create_staff_account(role, "someone", STAFF_PASSWORD)
    assert (await refused(grant_online_access(staff, person=person, place="百步亭"))).code is Code.OUT_OF_SCOPE


async def test_an_inactive_clerk_cannot_grant():
    office = await community_office()
    office.clerk.is_active = False
    await office.clerk.save()
    person = await factories.person(office.community)
    assert (await refused(grant_online_access(office.clerk, person=person, place="百步亭"))).code is Code.OUT_OF_SCOPE


async def test_a_signed_in_clerk_grants_as_a_viewer():
    office = await community_office()
    person = await factories.person(office.community)
    viewer = await authenticate((await login(office.clerk.username, STAFF_PASSWORD, None, ADDRESS)).token)
    grant = await grant_online_access(viewer, person=person, place="百步亭社区服务站")
    assert grant.account.granted_by_id == office.clerk.id


async def test_one_account_per_person():
    office = await community_office()
    person, first = await granted_person(office)
    error = await refused(grant_online_access(office.clerk, person=person, place="百步亭社区服务站"))
    assert error.code is Code.ALREADY_HAS_ACCESS and error.field == "person" and first.username in error.message
    assert await models.Account.filter(person_id=person.id).count() == 1


async def test_two_counters_granting_one_person_at_once_open_one_account(monkeypatch: pytest.MonkeyPatch):
    original = access_accounts._unused_username

    async def slowly(prefix: str) -> str:  # widen the gap between the check and the insert
        await asyncio.sleep(0.05)
        return await original(prefix)

    monkeypatch.setattr(access_accounts, "_unused_username", slowly)
    office = await community_office()
    person = await factories.person(office.community)
    outcomes = await asyncio.gather(
        *(grant_online_access(office.clerk, person=person, place="百步亭社区服务站") for _ in range(3)),
        return_exceptions=True,
    )
    assert sum(isinstance(o, Grant) for o in outcomes) == 1
    assert {o.code for o in outcomes if not isinstance(o, Grant)} == {Code.ALREADY_HAS_ACCESS}
    assert await models.Account.filter(person_id=person.id).count() == 1


@pytest.mark.parametrize("subjects", ["none", "both"])
async def test_one_subject_per_grant(subjects: str):
    office = await community_office()
    person = await factories.person(office.community) if subjects == "both" else None
    employer = await factories.employer(office.district) if subjects == "both" else None
    error = await refused(grant_online_access(office.clerk, person=person, employer=employer, place="百步亭"))
    assert error.code is Code.INVALID_INPUT


@pytest.mark.parametrize("place", ["", "   ", "x" * 129, "百步亭\x00"])
async def test_the_place_of_signing_is_given(place: str):
    office = await community_office()
    person = await factories.person(office.community)
    error = await refused(grant_online_access(office.clerk, person=person, place=place))
    assert (error.code, error.field) == (Code.INVALID_INPUT, "place")


# --- certificates (A4) ---------------------------------------------------------------------------


async def test_a_person_without_a_certificate_cannot_sign_in():
    _, grant = await granted_person(await community_office())
    error = await refused(login(grant.username, grant.initial_password, None, ADDRESS))
    assert (error.code, error.field) == (Code.CERTIFICATE_REQUIRED, "deviceCredential")
    forged = await refused(login(grant.username, grant.initial_password, "x" * 43, ADDRESS))
    assert forged.code is Code.CERTIFICATE_REQUIRED


async def test_the_certificate_is_asked_for_only_after_the_password_is_right():
    _, grant = await granted_person(await community_office())
    error = await refused(login(grant.username, "wrong-password-1", None, ADDRESS))
    assert error.code is Code.INVALID_CREDENTIALS


async def test_another_accounts_certificate_does_not_sign_in():
    office = await community_office()
    _, mine = await granted_person(office)
    _, theirs = await granted_person(office)
    their_device = await installed(theirs)
    error = await refused(login(mine.username, mine.initial_password, their_device.device_credential, ADDRESS))
    assert error.code is Code.CERTIFICATE_REQUIRED


async def test_a_revoked_certificate_signs_nobody_in_and_ends_its_sessions():
    grant, phone, on_phone = await signed_in_person(await community_office())
    tablet = await installed(grant, "tablet")
    on_tablet = await login(grant.username, grant.initial_password, tablet.device_credential, ADDRESS)
    viewer = await authenticate(on_phone.token)

    later(minutes=5)
    revoked = await revoke_certificate(viewer, phone.certificate.id)

    assert revoked.revoked_at == clock.now()
    assert await authenticate(on_phone.token) is None
    assert await authenticate(on_tablet.token) is not None
    error = await refused(login(grant.username, grant.initial_password, phone.device_credential, ADDRESS))
    assert error.code is Code.CERTIFICATE_REQUIRED
    listed = await certificates(grant.account)
    assert [(c.device_name, c.revoked_at) for c in listed] == [("kitchen tablet", clock.now()), ("tablet", None)]


async def test_a_session_of_a_revoked_certificate_is_refused_even_if_not_ended():
    grant, device, result = await signed_in_person(await community_office())
    await models.Certificate.filter(id=device.certificate.id).update(revoked_at=clock.now())
    assert await authenticate(result.token) is None


async def test_revoking_twice_changes_nothing_and_others_certificates_are_not_found():
    office = await community_office()
    grant, device, _ = await signed_in_person(office)
    _, stranger = await granted_person(office)
    first = await revoke_certificate(grant.account, device.certificate.id)
    later(hours=1)
    again = await revoke_certificate(grant.account, device.certificate.id)
    assert again.revoked_at == first.revoked_at
    error = await refused(revoke_certificate(stranger.account, device.certificate.id))
    assert (error.code, error.field) == (Code.NOT_FOUND, "certificateId")
    assert await certificates(stranger.account) == []


async def test_installing_needs_the_certificate_password():
    _, grant = await granted_person(await community_office())
    error = await refused(install_certificate(grant.username, grant.initial_password, "Wrong1234", "phone", ADDRESS))
    assert (error.code, error.field) == (Code.INVALID_CERTIFICATE_PASSWORD, "certificatePassword")
    error = await refused(
        install_certificate(grant.username, "Wrong1234", grant.certificate_password, "phone", ADDRESS),
    )
    assert error.code is Code.INVALID_CREDENTIALS
    assert not await models.Certificate.exists()


async def test_certificate_password_guesses_count_towards_the_lock():
    _, grant = await granted_person(await community_office())
    for _ in range(5):
        await refused(install_certificate(grant.username, grant.initial_password, "Guess1234", "phone", ADDRESS))
    error = await refused(installed(grant))
    assert error.code is Code.ACCOUNT_LOCKED


@pytest.mark.parametrize("device_name", ["", "x" * 129, "pho\nne"])
async def test_a_device_has_a_name(device_name: str):
    _, grant = await granted_person(await community_office())
    error = await refused(installed(grant, device_name))
    assert (error.code, error.field) == (Code.INVALID_INPUT, "deviceName")


# --- staff ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.CLERK, Role.REVIEWER, Role.BANK, Role.ANALYST, Role.ADMIN])
async def test_staff_sign_in_with_the_password_alone(role: Role):
    office = await community_office()
    place = {Role.CLERK: {"community": office.community}, Role.REVIEWER: {"district": office.district}}.get(role, {})
    await create_staff_account(role, "Staff.Member", STAFF_PASSWORD, **place)
    result = await login("staff.member", STAFF_PASSWORD, None, ADDRESS)
    viewer = await authenticate(result.token)
    assert viewer.role is role and viewer.username == "staff.member"
    if role in (Role.CLERK, Role.REVIEWER):
        assert viewer.district_id == office.district.id
    error = await refused(install_certificate("staff.member", STAFF_PASSWORD, "Anything1", "pc", ADDRESS))
    assert error.code is Code.CERTIFICATE_NOT_ISSUED


async def test_staff_accounts_follow_the_policies():
    office = await community_office()
    attempts = [
        (create_staff_account(Role.PERSON, "someone", STAFF_PASSWORD), Code.INVALID_INPUT, "role"),
        (create_staff_account(Role.CLERK, "someone", STAFF_PASSWORD), Code.INVALID_INPUT, "community"),
        (create_staff_account(Role.REVIEWER, "someone", STAFF_PASSWORD), Code.INVALID_INPUT, "district"),
        (
            create_staff_account(Role.ADMIN, "someone", STAFF_PASSWORD, district=office.district),
            Code.INVALID_INPUT,
            "role",
        ),
        (create_staff_account(Role.ADMIN, "so", STAFF_PASSWORD), Code.INVALID_USERNAME, "username"),
        (create_staff_account(Role.ADMIN, "someone", "password"), Code.WEAK_PASSWORD, "password"),
        (create_staff_account(Role.ADMIN, "admin2026", "Admin2026"), Code.WEAK_PASSWORD, "password"),
        (
            create_staff_account(Role.ADMIN, office.clerk.username.upper(), STAFF_PASSWORD),
            Code.USERNAME_TAKEN,
            "username",
        ),
    ]
    for attempt, code, field in attempts:
        error = await refused(attempt)
        assert (error.code, error.field) == (code, field)


# --- lock-out and throttling ---------------------------------------------------------------------


async def test_five_wrong_passwords_lock_the_username_for_15_minutes():
    grant, device, _ = await signed_in_person(await community_office())
    right = lambda: login(grant.username, grant.initial_password, device.device_credential, ADDRESS)  # noqa: E731
    for _ in range(5):
        assert (await refused(login(grant.username, "Wrong1234", None, ADDRESS))).code is Code.INVALID_CREDENTIALS

    error = await refused(right())
    assert (error.code, error.field) == (Code.ACCOUNT_LOCKED, "username") and "10:15" in error.message
    later(minutes=14, seconds=59)
    assert (await refused(right())).code is Code.ACCOUNT_LOCKED
    later(seconds=1)
    assert isinstance(await right(), LoginResult)


async def test_a_success_resets_the_count():
    grant, device, _ = await signed_in_person(await community_office())
    for _ in range(4):
        await refused(login(grant.username, "Wrong1234", None, ADDRESS))
    await login(grant.username, grant.initial_password, device.device_credential, ADDRESS)
    for _ in range(4):
        await refused(login(grant.username, "Wrong1234", None, ADDRESS))
    result = await login(grant.username, grant.initial_password, device.device_credential, ADDRESS)
    assert isinstance(result, LoginResult)


async def test_failures_a_day_apart_are_not_in_a_row():
    office = await community_office()
    for _ in range(4):
        await refused(login(office.clerk.username, "Wrong1234", None, ADDRESS))
    later(days=1)
    await refused(login(office.clerk.username, "Wrong1234", None, ADDRESS))
    assert isinstance(await login(office.clerk.username, STAFF_PASSWORD, None, ADDRESS), LoginResult)


RESTARTED_PROCESS = """
import asyncio, sys
from tortoise import Tortoise
from services.common import clock
from services.access import AccessError, login
from models.database import open_database
from settings import Settings

async def main(database_url, username, password, *moments):
    await open_database(Settings(database_url=database_url))
    for moment in moments:
        clock.freeze(moment)
        try:
            await login(username, password, None, "198.51.100.1")
            print("SIGNED_IN")
        except AccessError as refused:
            print(refused.code.value)
    await Tortoise.close_connections()

asyncio.run(main(*sys.argv[1:]))
"""


async def test_the_lock_survives_a_restart(db):
    """The lock lives in the database: a freshly started process sees it, and sees it end."""
    office = await community_office()
    for _ in range(5):
        await refused(login(office.clerk.username, "Wrong1234", None, ADDRESS))
    moments = [clock.now().isoformat(), (clock.now() + dt.timedelta(minutes=15)).isoformat()]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        RESTARTED_PROCESS,
        db.database_url,
        office.clerk.username,
        STAFF_PASSWORD,
        *moments,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    assert out.decode().split() == ["ACCOUNT_LOCKED", "SIGNED_IN"]


async def test_an_unknown_username_and_a_wrong_password_answer_alike(verifications: list[str]):
    office = await community_office()
    wrong_password = await refused(login(office.clerk.username, "Wrong1234", None, ADDRESS))
    unknown_user = await refused(login("nobody.here", "Wrong1234", None, ADDRESS))

    assert (wrong_password.code, wrong_password.message, wrong_password.field) == (
        unknown_user.code,
        unknown_user.message,
        unknown_user.field,
    )
    assert wrong_password.code is Code.INVALID_CREDENTIALS
    # The same work: one argon2 verification each, the unknown one against a hash of the same parameters.
    assert len(verifications) == 2
    assert verifications[1].split("$")[1:4] == verifications[0].split("$")[1:4]


async def test_a_password_that_is_not_text_is_simply_wrong():
    office = await community_office()
    error = await refused(login(office.clerk.username, "Pass\ud800word1", None, ADDRESS))
    assert error.code is Code.INVALID_CREDENTIALS


async def test_an_unknown_username_locks_alike():
    office = await community_office()
    for username in (office.clerk.username, "nobody.here"):
        for _ in range(5):
            await refused(login(username, "Wrong1234", None, ADDRESS))
    known = await refused(login(office.clerk.username, "Wrong1234", None, ADDRESS))
    unknown = await refused(login("nobody.here", "Wrong1234", None, ADDRESS))
    assert (known.code, known.message) == (unknown.code, unknown.message)
    assert known.code is Code.ACCOUNT_LOCKED


async def test_usernames_ignore_case_so_the_lock_does_too():
    office = await community_office()
    for _ in range(5):
        await refused(login(office.clerk.username.upper(), "Wrong1234", None, ADDRESS))
    assert (await refused(login(office.clerk.username, STAFF_PASSWORD, None, ADDRESS))).code is Code.ACCOUNT_LOCKED


async def test_twenty_failures_from_one_address_within_10_minutes_refuse_it():
    office = await community_office()
    for i in range(20):  # five usernames, none locked on its own
        later(seconds=25)
        await refused(login(f"guess{i % 5}", "Wrong1234", None, ADDRESS))

    error = await refused(login(office.clerk.username, STAFF_PASSWORD, None, ADDRESS))
    assert error.code is Code.TOO_MANY_ATTEMPTS and "network" in error.message
    assert isinstance(await login(office.clerk.username, STAFF_PASSWORD, None, "198.51.100.9"), LoginResult)
    later(minutes=15)
    assert isinstance(await login(office.clerk.username, STAFF_PASSWORD, None, ADDRESS), LoginResult)


async def test_failures_spread_over_more_than_10_minutes_do_not_refuse_an_address():
    office = await community_office()
    for i in range(19):
        await refused(login(f"guess{i % 5}", "Wrong1234", None, ADDRESS))
    later(minutes=10)
    await refused(login("guess9", "Wrong1234", None, ADDRESS))
    assert isinstance(await login(office.clerk.username, STAFF_PASSWORD, None, ADDRESS), LoginResult)


async def test_concurrent_wrong_passwords_are_all_counted():
    """On PostgreSQL the attempts run in parallel transactions: the row lock makes each count."""
    office = await community_office()
    outcomes = await asyncio.gather(
        *(login(office.clerk.username, f"Wrong{i:04d}", None, ADDRESS) for i in range(10)),
        return_exceptions=True,
    )
    codes = [o.code for o in outcomes]
    wrong = codes.count(Code.INVALID_CREDENTIALS)
    assert wrong >= 5 and set(codes) <= {Code.INVALID_CREDENTIALS, Code.ACCOUNT_LOCKED}
    rows = {r.key: r for r in await models.LoginThrottle.all()}
    assert rows[f"user:{office.clerk.username}"].failures == wrong
    assert rows[f"addr:{ADDRESS}"].failures == wrong
    assert rows[f"user:{office.clerk.username}"].locked_until == clock.now() + dt.timedelta(minutes=15)


async def test_concurrent_attempts_on_one_counter_are_counted_up_to_its_maximum():
    outcomes = await asyncio.gather(
        *(access_throttle.reserve(["user:someone"], clock.now()) for _ in range(10)), return_exceptions=True
    )
    assert [type(o) for o in outcomes].count(access_throttle.Reservation) == 5
    assert [type(o) for o in outcomes].count(access_throttle.Locked) == 5
    assert (await models.LoginThrottle.get(key="user:someone")).failures == 5


async def test_a_long_client_address_is_kept_as_its_digest():
    key = access_throttle.address_key("x" * 200)
    assert key.startswith("addr:") and len(key) == 64
    assert access_throttle.address_key(" 2001:DB8::1 ") == "addr:2001:db8::1"


async def test_an_unknown_address_is_charged_to_the_username_alone():
    office = await community_office()
    for i in range(25):
        await refused(login(f"guess{i % 5}", "Wrong1234", None, None))
    assert await models.LoginThrottle.filter(key__startswith="addr:").count() == 0
    assert isinstance(await login(office.clerk.username, STAFF_PASSWORD, None, None), LoginResult)


async def test_sign_ins_with_one_username_are_rate_limited_right_or_wrong(monkeypatch, verifications: list[str]):
    """Besides the lock-out, which counts failures: every attempt, on login and installCertificate
    alike, counts against the username's limit (settings), before any password is checked."""
    monkeypatch.setattr(get_settings(), "sign_in_limit_per_account", "3/hour")
    office = await community_office()
    _, grant = await granted_person(office)
    await installed(grant)
    await refused(login(grant.username, "Wrong1234", None, ADDRESS))
    await refused(login(grant.username, grant.initial_password, None, ADDRESS))  # no device credential
    verifications.clear()

    for attempt in (installed(grant), login(grant.username.upper(), grant.initial_password, None, ADDRESS)):
        error = await refused(attempt)
        assert (error.code, error.field) == (Code.TOO_MANY_ATTEMPTS, "username") and "username" in error.message
    unknown = [await refused(login("nobody.here", "Wrong1234", None, ADDRESS)) for _ in range(4)][-1]
    assert (unknown.code, unknown.field) == (Code.TOO_MANY_ATTEMPTS, "username")
    assert len(verifications) == 3  # the unknown username's first three; none once refused
    assert isinstance(await login(office.clerk.username, STAFF_PASSWORD, None, ADDRESS), LoginResult)


async def test_sign_ins_from_one_address_are_rate_limited_whatever_the_username(monkeypatch, verifications):
    monkeypatch.setattr(get_settings(), "sign_in_limit_per_address", "3/hour")
    office = await community_office()
    _, grant = await granted_person(office)
    await login(office.clerk.username, STAFF_PASSWORD, None, ADDRESS)
    await refused(login("guess1", "Wrong1234", None, ADDRESS))
    await installed(grant)
    verifications.clear()

    for attempt in (login(office.clerk.username, STAFF_PASSWORD, None, ADDRESS), installed(grant, "phone")):
        error = await refused(attempt)
        assert (error.code, error.field) == (Code.TOO_MANY_ATTEMPTS, None) and "network" in error.message
    assert verifications == [] and await models.Certificate.all().count() == 1
    assert isinstance(await login(office.clerk.username, STAFF_PASSWORD, None, "198.51.100.9"), LoginResult)
    # Refused by the rate limit before the lock-out counted anything.
    assert not await models.LoginThrottle.filter(key=f"user:{office.clerk.username}").exists()


# --- absurd inputs -------------------------------------------------------------------------------


async def test_a_megabyte_password_is_refused_at_once_and_never_logged(caplog, verifications: list[str]):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="tortoise")
    office = await community_office()
    grant = (await granted_person(office))[1]
    viewer = await authenticate((await login(office.clerk.username, STAFF_PASSWORD, None, ADDRESS)).token)
    verifications.clear()
    megabyte = "Aa1" * 350_000
    attempts = [
        (login(office.clerk.username, megabyte, None, ADDRESS), "password"),
        (
            install_certificate(grant.username, grant.initial_password, megabyte, "phone", ADDRESS),
            "certificatePassword",
        ),
        (change_password(viewer, megabyte, "NewPass2026"), "oldPassword"),
        (change_password(viewer, STAFF_PASSWORD, megabyte), "newPassword"),
        (create_staff_account(Role.ADMIN, "admin2", megabyte), "password"),
    ]
    for attempt, field in attempts:
        started = time.perf_counter()
        error = await refused(attempt)
        assert time.perf_counter() - started < 0.05
        assert (error.code, error.field) == (Code.PASSWORD_TOO_LONG, field)
        assert error.message == "A password has at most 128 characters."
    assert verifications == []
    assert not await models.LoginThrottle.exists()
    assert not any(megabyte[:64] in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("username", ["", "ab", "x" * 33, "x" * 1_000_000, "张伟", "p1234\x1b[31m", "a b c", "a\x00bc"])
async def test_an_odd_username_is_refused_plainly(username: str, verifications: list[str]):
    error = await refused(login(username, "Wrong1234", None, ADDRESS))
    assert (error.code, error.field) == (Code.INVALID_USERNAME, "username")
    assert error.message.isprintable() and (not username.strip() or username.strip() not in error.message)
    assert verifications == [] and not await models.LoginThrottle.exists()


# --- sessions (A6) -------------------------------------------------------------------------------


async def test_authenticating_a_request_costs_one_query(count_queries):
    _, _, result = await signed_in_person(await community_office())
    count_queries.statements.clear()
    assert await authenticate(result.token) is not None
    assert len(count_queries.statements) == 1


async def test_a_token_expires_after_8_hours():
    _, _, result = await signed_in_person(await community_office())
    later(hours=7, minutes=59, seconds=59)
    assert await authenticate(result.token) is not None
    later(seconds=1)
    assert await authenticate(result.token) is None


async def test_an_altered_or_made_up_token_signs_nobody_in():
    _, _, result = await signed_in_person(await community_office())
    flipped = result.token[:-1] + ("A" if result.token[-1] != "A" else "B")
    made_up = ("", "x" * 43, "x" * 100_000, "Bearer " + result.token, result.token + "\x00")
    for token in (flipped, result.token + "x", result.token[:-1], *made_up):
        assert await authenticate(token) is None
    assert await authenticate(result.token) is not None


async def test_an_inactive_account_signs_nobody_in():
    grant, device, result = await signed_in_person(await community_office())
    await models.Account.filter(id=grant.account.id).update(is_active=False)
    assert await authenticate(result.token) is None
    error = await refused(login(grant.username, grant.initial_password, device.device_credential, ADDRESS))
    assert error.code is Code.ACCOUNT_DISABLED
    wrong = await refused(login(grant.username, "Wrong1234", device.device_credential, ADDRESS))
    assert wrong.code is Code.INVALID_CREDENTIALS


async def test_changing_the_password_ends_the_other_sessions_and_keeps_this_one():
    grant, device, here = await signed_in_person(await community_office())
    elsewhere = await login(grant.username, grant.initial_password, device.device_credential, ADDRESS)
    viewer = await authenticate(here.token)

    later(minutes=30)
    await change_password(viewer, grant.initial_password, "NewPass2026")

    assert await authenticate(elsewhere.token) is None
    assert await authenticate(here.token) == viewer
    account = await models.Account.get(id=grant.account.id)
    assert account.password_changed_at == clock.now()
    old = await refused(login(grant.username, grant.initial_password, device.device_credential, ADDRESS))
    assert old.code is Code.INVALID_CREDENTIALS
    assert isinstance(await login(grant.username, "NewPass2026", device.device_credential, ADDRESS), LoginResult)


async def test_a_session_older_than_the_password_signs_nobody_in():
    """However the password changed, a session opened before stops signing in."""
    grant, _, result = await signed_in_person(await community_office())
    later(minutes=1)
    await models.Account.filter(id=grant.account.id).update(password_changed_at=clock.now())
    assert await authenticate(result.token) is None


async def test_a_password_change_is_checked():
    grant, _, result = await signed_in_person(await community_office())
    viewer = await authenticate(result.token)
    attempts = [
        (change_password(viewer, "Wrong1234", "NewPass2026"), Code.INVALID_CREDENTIALS, "oldPassword"),
        (change_password(viewer, grant.initial_password, "short1"), Code.WEAK_PASSWORD, "newPassword"),
        (change_password(viewer, grant.initial_password, grant.username), Code.WEAK_PASSWORD, "newPassword"),
        (change_password(viewer, grant.initial_password, grant.initial_password), Code.WEAK_PASSWORD, "newPassword"),
    ]
    for attempt, code, field in attempts:
        error = await refused(attempt)
        assert (error.code, error.field) == (code, field)
    await logout(viewer)
    ended = await refused(change_password(viewer, grant.initial_password, "NewPass2026"))
    assert ended.code is Code.SESSION_EXPIRED


async def test_wrong_current_passwords_lock_the_username():
    grant, _, result = await signed_in_person(await community_office())
    viewer = await authenticate(result.token)
    for _ in range(5):
        await refused(change_password(viewer, "Wrong1234", "NewPass2026"))
    error = await refused(change_password(viewer, grant.initial_password, "NewPass2026"))
    assert error.code is Code.ACCOUNT_LOCKED


async def test_a_hash_made_with_older_parameters_is_redone_at_login(monkeypatch: pytest.MonkeyPatch):
    office = await community_office()
    before = (await models.Account.get(id=office.clerk.id)).password_hash
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    monkeypatch.setattr(access_secrets, "PASSWORD_HASHER", stronger)

    await login(office.clerk.username, STAFF_PASSWORD, None, ADDRESS)

    after = (await models.Account.get(id=office.clerk.id)).password_hash
    assert after != before and not stronger.check_needs_rehash(after)
    assert isinstance(await login(office.clerk.username, STAFF_PASSWORD, None, ADDRESS), LoginResult)

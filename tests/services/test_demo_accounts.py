"""The demo accounts: every documented credential signs in with the real hasher, and each account
acts for what its description says (A3-A6)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from demo.accounts import (
    DEMO_PASSWORD,
    DEVICE_CREDENTIALS,
    USERNAMES,
    DemoAccount,
    DemoCityTooSmall,
    accounts_table,
    create_demo_accounts,
)
from demo.city import seed_city
from domain.enums import OWED_ARREARS, BusinessType, EmploymentStatus, PersonCategory, Role, ServiceChannel
from domain.months import LOCAL_TZ
from models import Account, Arrear, BusinessTransaction, Employment
from services.access import AccessError, ErrorCode, authenticate, install_certificate, login
from services.access.secrets import PASSWORD_HASHER
from tests.conftest import empty_tables

PERSONS = 600
SEED = 20121
NOW = dt.datetime(2026, 11, 27, 10, 30, tzinfo=LOCAL_TZ)
CERTIFIED = (Role.PERSON, Role.EMPLOYER_AGENT)
CITY_WIDE = (Role.BANK, Role.ANALYST, Role.ADMIN)


async def accounts_of(persons: int, seed: int) -> list[DemoAccount]:
    """Seed the emptied test database with a city and its demo accounts."""
    await empty_tables()
    await seed_city(persons, seed, now=NOW)
    return await create_demo_accounts(seed=seed)


async def district_codes() -> dict[Role, str]:
    """The district code of each demo account's workplace or subject."""
    rows = await Account.all().values(
        "role", "district__code", "community__district__code", "person__district__code", "employer__district__code"
    )
    return {
        Role(row["role"]): next((code for key, code in row.items() if key != "role" and code), None) for row in rows
    }


@pytest.fixture(scope="module")
async def demo(test_settings) -> AsyncIterator[dict]:
    """Demo accounts of a 600-person city, after a tiny city refused them and a small one had them
    outside 江岸区."""
    await empty_tables()
    await seed_city(5, SEED, now=NOW)
    with pytest.raises(DemoCityTooSmall):
        await create_demo_accounts(seed=SEED)
    tiny_city_accounts = await Account.all().count()
    small_city = {
        "accounts": await accounts_of(300, SEED),
        "districts": await district_codes(),
        "staffed_in_420102": await Employment.exists(status=EmploymentStatus.ACTIVE, employer__district__code="420102"),
    }
    accounts = await accounts_of(PERSONS, SEED)
    yield {
        "accounts": {account.role: account for account in accounts},
        "tiny_city_accounts": tiny_city_accounts,
        "small_city": small_city,
    }
    await empty_tables()


async def signed_in_role(username: str, device_credential: str | None = None) -> Role:
    result = await login(username, DEMO_PASSWORD, device_credential, None)
    viewer = await authenticate(result.token)
    assert viewer is not None and viewer.username == username
    return viewer.role


async def account(role: Role) -> Account:
    return await Account.get(username=USERNAMES[role]).prefetch_related(
        "person__community",
        "employer__district",
        "community__district",
        "district",
        "granted_by",
    )


# The documented credentials


async def test_there_is_one_account_per_role_with_the_documented_credentials(demo):
    accounts: dict[Role, DemoAccount] = demo["accounts"]
    assert set(accounts) == set(Role) and len(demo["accounts"]) == len(Role)
    for role, demo_account in accounts.items():
        assert demo_account.username == USERNAMES[role] and demo_account.username.startswith("demo.")
        assert demo_account.password == DEMO_PASSWORD
        assert demo_account.device_credential == DEVICE_CREDENTIALS.get(role)
    assert await Account.all().count() == len(Role)


async def test_passwords_are_hashed_with_the_real_argon2_parameters(demo):
    for password_hash in await Account.all().values_list("password_hash", flat=True):
        assert password_hash.startswith("$argon2id$")
        assert not PASSWORD_HASHER.check_needs_rehash(password_hash)


@pytest.mark.parametrize("role", [Role.CLERK, Role.REVIEWER, *CITY_WIDE])
async def test_staff_sign_in_with_the_password_alone(demo, role):
    assert await signed_in_role(USERNAMES[role]) is role


@pytest.mark.parametrize("role", CERTIFIED)
async def test_persons_and_agents_sign_in_with_the_documented_device_credential(demo, role):
    assert await signed_in_role(USERNAMES[role], DEVICE_CREDENTIALS[role]) is role


@pytest.mark.parametrize("role", CERTIFIED)
async def test_without_the_device_credential_a_certificate_is_required(demo, role):
    other = next(credential for other_role, credential in DEVICE_CREDENTIALS.items() if other_role is not role)
    for device_credential in (None, other):
        with pytest.raises(AccessError) as refused:
            await login(USERNAMES[role], DEMO_PASSWORD, device_credential, None)
        assert refused.value.code is ErrorCode.CERTIFICATE_REQUIRED


async def test_the_certificate_password_installs_a_certificate_on_another_device(demo):
    installed = await install_certificate(USERNAMES[Role.PERSON], DEMO_PASSWORD, DEMO_PASSWORD, "phone", None)
    assert await signed_in_role(USERNAMES[Role.PERSON], installed.device_credential) is Role.PERSON


# What each account acts for


async def test_the_person_is_flexible_owes_arrears_and_lives_in_the_clerks_community(demo):
    person, clerk = await account(Role.PERSON), await account(Role.CLERK)
    assert person.person.category is PersonCategory.FLEXIBLE
    assert await Arrear.exists(person_id=person.person_id, status__in=OWED_ARREARS)
    assert person.person.community_id == clerk.community_id
    assert clerk.community.district.code == "420102"
    assert person.granted_by.username == USERNAMES[Role.CLERK]


async def test_the_agent_acts_for_an_employer_with_staff_in_the_reviewers_district(demo):
    agent, reviewer = await account(Role.EMPLOYER_AGENT), await account(Role.REVIEWER)
    assert agent.employer.district.code == reviewer.district.code == "420102"
    assert await Employment.exists(employer_id=agent.employer_id, status=EmploymentStatus.ACTIVE)
    assert agent.granted_by.username == USERNAMES[Role.REVIEWER]


async def test_bank_analyst_and_admin_belong_to_no_community_or_district(demo):
    for role in CITY_WIDE:
        staff = await account(role)
        assert (staff.community_id, staff.district_id, staff.person_id, staff.employer_id) == (None, None, None, None)


async def test_the_descriptions_name_what_each_account_acts_for(demo):
    accounts = demo["accounts"]
    person, agent, clerk = await account(Role.PERSON), await account(Role.EMPLOYER_AGENT), await account(Role.CLERK)
    assert person.person.name in accounts[Role.PERSON].acts_for
    assert "owes arrears" in accounts[Role.PERSON].acts_for
    assert person.person.community.code in accounts[Role.PERSON].acts_for
    assert agent.employer.credit_code in accounts[Role.EMPLOYER_AGENT].acts_for
    assert clerk.community.code in accounts[Role.CLERK].acts_for
    assert "江岸区 (420102)" in accounts[Role.REVIEWER].acts_for


async def test_both_grants_are_on_record_as_counter_business(demo):
    grants = await BusinessTransaction.filter(business_type=BusinessType.GRANT_ONLINE_ACCESS).values(
        "channel", "actor__username", "details"
    )
    assert sorted((g["actor__username"], g["details"]["username"]) for g in grants) == sorted(
        [
            (USERNAMES[Role.CLERK], USERNAMES[Role.PERSON]),
            (USERNAMES[Role.REVIEWER], USERNAMES[Role.EMPLOYER_AGENT]),
        ]
    )
    assert {g["channel"] for g in grants} == {ServiceChannel.COUNTER}


async def test_the_printed_table_shows_every_credential(demo):
    table = accounts_table(list(demo["accounts"].values()))
    assert DEMO_PASSWORD in table
    for role in Role:
        assert USERNAMES[role] in table
    for credential in DEVICE_CREDENTIALS.values():
        assert credential in table


# Cities too small for 江岸区


async def test_a_smaller_city_has_them_in_the_first_district_that_can_hold_them(demo):
    small_city = demo["small_city"]
    assert not small_city["staffed_in_420102"]
    districts = small_city["districts"]
    assert districts[Role.PERSON] == districts[Role.CLERK] == districts[Role.REVIEWER] == "420103"
    assert districts[Role.EMPLOYER_AGENT] == "420103"
    assert len(small_city["accounts"]) == len(Role)


async def test_a_tiny_city_gets_none_at_all(demo):
    assert demo["tiny_city_accounts"] == 0

"""transactionUpdates (docs/api.md 4): a person or an employer follows their own business transactions
as reviewers decide them, and never hears of anyone else's."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

import models
from domain.enums import BusinessType, Role, TransactionStatus
from resolvers.inputs import encode_id
from schema import subscription
from schema.context import Context
from schema.root import schema
from services.common import clock
from services.common.transactions import record_transaction
from tests import factories

pytestmark = pytest.mark.usefixtures("db")

UPDATES = """subscription ($person: ID, $employer: ID) { transactionUpdates(personId: $person, employerId: $employer) {
  id businessType status decidedAt decisionReason effectiveMonth person { name } employer { name } } }"""
POLL = 0.01
SETTLE_POLLS = 3  # polls that have read what is there: later changes are compared with it
PATIENCE = 3.0


class CountedPolls:
    """The subscription module's asyncio, counting the pauses between its reads of the database."""

    def __init__(self) -> None:
        self.count = 0

    def __getattr__(self, name: str):
        return getattr(asyncio, name)

    async def sleep(self, seconds: float) -> None:
        self.count += 1
        await asyncio.sleep(seconds)


@pytest.fixture(autouse=True)
def polls(monkeypatch) -> CountedPolls:
    counted = CountedPolls()
    monkeypatch.setattr(subscription, "POLL_SECONDS", POLL)
    monkeypatch.setattr(subscription, "asyncio", counted)
    return counted


@pytest.fixture
async def city():
    jiangan = await factories.district("420102", "江岸区")
    home = await factories.community(jiangan, "百步亭社区")
    zhang, li = await factories.person(home, name="张伟"), await factories.person(home, name="李娜")
    employer = await factories.employer(jiangan)
    me = await factories.viewer(Role.PERSON, person=zhang)
    return {
        "district": jiangan,
        "home": home,
        "zhang": zhang,
        "li": li,
        "employer": employer,
        "me": me,
        "li_viewer": await factories.viewer(Role.PERSON, person=li),
        "agent": await factories.viewer(Role.EMPLOYER_AGENT, employer=employer),
        "clerk": await factories.viewer(Role.CLERK, community=home),
    }


async def filed(actor, *, person=None, employer=None, status=TransactionStatus.SUBMITTED) -> models.BusinessTransaction:
    district_id = (person or employer).district_id
    return await record_transaction(
        BusinessType.PAY_ARREARS,
        actor,
        district_id=district_id,
        status=status,
        person_id=person and person.id,
        employer_id=employer and employer.id,
    )


class Follower:
    """One subscription, its next message awaited in the background as a client would."""

    def __init__(self, updates: AsyncIterator) -> None:
        self.updates = updates
        self.pending: asyncio.Task | None = None

    def _waiting(self) -> asyncio.Task:
        if self.pending is None:
            self.pending = asyncio.ensure_future(anext(self.updates))
        return self.pending

    async def settle(self) -> None:
        """Let it poll a few times, however loaded the machine: what it has read by then is what
        later changes are compared with."""
        self._waiting()
        polls = subscription.asyncio
        start = polls.count
        async with asyncio.timeout(PATIENCE):
            while polls.count < start + SETTLE_POLLS and not self.pending.done():
                await asyncio.sleep(POLL)

    async def quiet(self) -> bool:
        await self.settle()
        return not self._waiting().done()

    async def next(self) -> dict:
        result = await asyncio.wait_for(asyncio.shield(self._waiting()), PATIENCE)
        self.pending = None
        assert result.errors is None, result.errors
        return result.data["transactionUpdates"]

    async def close(self) -> None:
        if self.pending is not None:
            self.pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await self.pending
        await self.updates.aclose()


@contextlib.asynccontextmanager
async def following(viewer, **variables):
    outcome = await schema.subscribe(UPDATES, variable_values=variables or None, context_value=Context(viewer=viewer))
    assert hasattr(outcome, "__aiter__"), outcome.errors
    follower = Follower(outcome)
    try:
        await follower.settle()
        yield follower
    finally:
        await follower.close()


async def refusal(viewer, **variables) -> list[str]:
    outcome = await schema.subscribe(UPDATES, variable_values=variables or None, context_value=Context(viewer=viewer))
    result = outcome if not hasattr(outcome, "__aiter__") else await anext(outcome)
    if hasattr(outcome, "aclose"):
        await outcome.aclose()
    return [error.extensions["code"] for error in result.errors]


def gid(kind: str, row) -> str:
    return encode_id(kind, row.id)


async def test_a_person_hears_of_each_change_of_their_own_and_nothing_of_anothers(city):
    mine = await filed(city["me"], person=city["zhang"])
    theirs = await filed(city["li_viewer"], person=city["li"])
    async with following(city["me"]) as updates:
        assert await updates.quiet()  # the state at subscribing is not sent
        await models.BusinessTransaction.filter(id=theirs.id).update(status=TransactionStatus.ACCEPTED)
        assert await updates.quiet()

        await models.BusinessTransaction.filter(id=mine.id).update(status=TransactionStatus.ACCEPTED)
        accepted = await updates.next()
        assert accepted == {
            "id": gid("BusinessTransaction", mine),
            "businessType": "PAY_ARREARS",
            "status": "ACCEPTED",
            "decidedAt": None,
            "decisionReason": None,
            "effectiveMonth": None,
            "person": {"name": "张伟"},
            "employer": None,
        }
        assert await updates.quiet()  # once per change

        await models.BusinessTransaction.filter(id__in=[mine.id, theirs.id]).update(
            status=TransactionStatus.REJECTED, decided_at=clock.now(), decision_reason="材料不全"
        )
        rejected = await updates.next()
        assert (rejected["id"], rejected["status"], rejected["decidedAt"], rejected["decisionReason"]) == (
            gid("BusinessTransaction", mine),
            "REJECTED",
            "2026-11-10T10:00:00+08:00",
            "材料不全",
        )
        assert await updates.quiet()

        await models.BusinessTransaction.filter(id=mine.id).update(effective_month=202612)
        assert (await updates.next())["effectiveMonth"] == "2026-12"
        assert await updates.quiet()

        later = await filed(city["me"], person=city["zhang"])
        await filed(city["li_viewer"], person=city["li"])
        assert (await updates.next())["id"] == gid("BusinessTransaction", later)  # filed after subscribing
        assert await updates.quiet()


async def test_an_agent_follows_its_employers_transactions(city):
    await filed(city["agent"], employer=city["employer"])
    other = await factories.employer(city["district"], "武汉汉口贸易有限公司")
    async with following(city["agent"]) as updates:
        await filed(await factories.viewer(Role.EMPLOYER_AGENT, employer=other), employer=other)
        await filed(city["me"], person=city["zhang"])
        assert await updates.quiet()
        ours = await filed(city["agent"], employer=city["employer"])
        assert (await updates.next())["employer"] == {"name": city["employer"].name}
        await models.BusinessTransaction.filter(id=ours.id).update(status=TransactionStatus.COMPLETED)
        assert (await updates.next())["status"] == "COMPLETED"


async def test_staff_follow_a_person_or_employer_within_their_reach(city):
    mine = await filed(city["me"], person=city["zhang"])
    async with following(city["clerk"], person=gid("Person", city["zhang"])) as updates:
        await models.BusinessTransaction.filter(id=mine.id).update(status=TransactionStatus.COMPLETED)
        assert (await updates.next())["person"] == {"name": "张伟"}
    reviewer = await factories.viewer(Role.REVIEWER, district=city["district"])
    async with following(reviewer, employer=gid("Employer", city["employer"])) as updates:
        await filed(city["agent"], employer=city["employer"])
        assert (await updates.next())["employer"] == {"name": city["employer"].name}
    elsewhere = await factories.person(await factories.community(city["district"], "大智社区"), name="赵强")
    assert await refusal(city["clerk"], person=gid("Person", elsewhere)) == ["BAD_USER_INPUT"]
    assert await refusal(city["clerk"]) == ["BAD_USER_INPUT"]  # whose?
    assert await refusal(reviewer, person=gid("Person", city["zhang"]), employer=gid("Employer", city["employer"])) == [
        "BAD_USER_INPUT"
    ]


async def test_a_person_may_not_follow_another_person_and_others_may_not_follow_at_all(city):
    assert await refusal(city["me"], person=gid("Person", city["li"])) == ["BAD_USER_INPUT"]
    assert await refusal(city["me"], employer=gid("Employer", city["employer"])) == ["BAD_USER_INPUT"]
    assert await refusal(await factories.viewer(Role.ANALYST)) == ["FORBIDDEN"]
    assert await refusal(None) == ["UNAUTHENTICATED"]


async def test_each_update_shows_the_persons_details_as_they_are_then(city):
    """Every message reads afresh: not the details an earlier message of the subscription loaded."""
    query = "subscription { transactionUpdates { status person { phone } } }"
    outcome = await schema.subscribe(query, context_value=Context(viewer=city["me"]))
    follower = Follower(outcome)
    try:
        await follower.settle()
        first = await filed(city["me"], person=city["zhang"])
        assert await follower.next() == {"status": "SUBMITTED", "person": {"phone": None}}

        await models.Person.filter(id=city["zhang"].id).update(phone="027-82345678")
        await models.BusinessTransaction.filter(id=first.id).update(status=TransactionStatus.ACCEPTED)
        assert await follower.next() == {"status": "ACCEPTED", "person": {"phone": "027-82345678"}}
    finally:
        await follower.close()

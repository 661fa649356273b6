"""A month of staff filings over HTTP (E2, M3): the employer's agent gets online access with a
certificate (A3, A4), files additions on the 18th, the district's reviewer accepts on the 19th and
confirms the materials on the 20th, and the agent reads its staff's November months. The same
filing made on the 21st takes effect in December. Average monthly wage 8000.00 (P4)."""

from __future__ import annotations

import pytest

from domain.enums import PersonCategory, Role
from main import create_app
from resolvers.inputs import encode_id
from services import access
from services.common import clock
from settings import Settings
from tests import factories
from tests.server.conftest import running

pytestmark = pytest.mark.usefixtures("db")

PASSWORD = "Counter2026"
LOGIN = """mutation ($input: LoginInput!) { login(input: $input) { token errors { code } } }"""
TRANSACTION = "transaction { id businessType status channel effectiveMonth lineCount effectiveMonthMoves { reason } }"
STAFF = """query ($from: Month!, $to: Month!) { me { employer { name
  employees { totalCount edges { node { startMonth declaredWage person { name
    periods(fromMonth: $from, toMonth: $to) { edges { node { month insuranceType base amount employerAmount personAmount status } } } } } } }
  transactions(businessType: ADD_EMPLOYEES) { edges { node { status effectiveMonth lineCount materialsConfirmedAt } } }
  owedByMonth(fromMonth: $from, toMonth: $to) { month amount employerShare personShare arrears } } } }"""


class Hall:
    """The HTTP client, and the day the clock stands at (10:00 local time, M2)."""

    def __init__(self, client) -> None:
        self.client = client

    @staticmethod
    def day(date: str) -> None:
        clock.freeze(f"{date}T10:00:00+08:00")

    async def graphql(self, query: str, token: str | None = None, **variables):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    async def sign_in(self, username: str, password: str, device_credential: str | None = None) -> str:
        """Sessions last a working day: each day begins with signing in again."""
        login = (
            await self.graphql(
                LOGIN, input={"username": username, "password": password, "deviceCredential": device_credential}
            )
        )["login"]
        assert login["errors"] == []
        return login["token"]

    async def mutate(self, token: str, name: str, input_type: str, selection: str, **fields):
        query = (
            f"mutation ($input: {input_type}!) "
            f"{{ {name}(input: $input) {{ {selection} errors {{ field code message }} }} }}"
        )
        payload = (await self.graphql(query, token, input=fields))[name]
        assert payload["errors"] == [], payload["errors"]
        return payload


@pytest.fixture
async def town(test_settings: Settings):
    await factories.average_wage(2026, "8000.00")
    jiangan = await factories.district()
    home = await factories.community(jiangan)
    employer = await factories.employer(jiangan, name="武汉江城物流有限公司")
    staff = [
        await factories.person(home, name=name, category=PersonCategory.UNINSURED) for name in ("赵一", "钱二", "孙三")
    ]
    await access.create_staff_account(Role.REVIEWER, "reviewer.jiangan", PASSWORD, district=jiangan)
    app = create_app(Settings(database_url=test_settings.database_url, graphiql=False, redis_url=None))
    async with running(app) as client:
        yield Hall(client), employer, staff


async def agent_with_certificate(hall: Hall, employer) -> tuple[str, str, str]:
    """A3, A4: the reviewer grants the employer's agent online access at the district office, and
    the agent installs a certificate on the office computer. Returns what signs the agent in."""
    reviewer = await hall.sign_in("reviewer.jiangan", PASSWORD)
    granted = await hall.mutate(
        reviewer,
        "grantOnlineAccess",
        "GrantOnlineAccessInput",
        "username initialPassword certificatePassword",
        employerId=encode_id("Employer", employer.id),
        place="江岸区社保服务大厅",
    )
    installed = await hall.mutate(
        None,
        "installCertificate",
        "InstallCertificateInput",
        "deviceCredential",
        username=granted["username"],
        password=granted["initialPassword"],
        certificatePassword=granted["certificatePassword"],
        deviceName="单位财务室电脑",
    )
    return granted["username"], granted["initialPassword"], installed["deviceCredential"]


def lines(*persons, wage: str = "9000.00") -> list[dict]:
    return [{"idNumber": person.id_number, "declaredWage": wage} for person in persons]


async def test_filed_on_the_18th_in_effect_for_november_filed_on_the_21st_for_december(town):
    hall, employer, (zhao, qian, sun) = town
    hall.day("2026-11-17")
    agent = await agent_with_certificate(hall, employer)

    # The 18th: the agent files two additions online, before the 20th.
    hall.day("2026-11-18")
    token = await hall.sign_in(*agent)
    filed = await hall.mutate(
        token,
        "addEmployees",
        "AddEmployeesInput",
        f"{TRANSACTION} lineErrors {{ line }}",
        lines=lines(zhao, qian),
        idempotencyKey="2026-11-18-additions",
    )
    assert filed["transaction"] | {"id": None} == {
        "id": None,
        "businessType": "ADD_EMPLOYEES",
        "status": "SUBMITTED",
        "channel": "ONLINE",
        "effectiveMonth": "2026-11",
        "lineCount": 2,
        "effectiveMonthMoves": [],
    }
    november_filing = filed["transaction"]["id"]

    # The 19th: the district's reviewer accepts.
    hall.day("2026-11-19")
    reviewer = await hall.sign_in("reviewer.jiangan", PASSWORD)
    accepted = await hall.mutate(
        reviewer, "reviewTransaction", "ReviewTransactionInput", TRANSACTION, transactionId=november_filing, accept=True
    )
    assert (accepted["transaction"]["status"], accepted["transaction"]["effectiveMonth"]) == ("ACCEPTED", "2026-11")

    # The 20th: the agent's one visit with the paper materials.
    hall.day("2026-11-20")
    reviewer = await hall.sign_in("reviewer.jiangan", PASSWORD)
    confirmed = await hall.mutate(
        reviewer,
        "confirmMaterials",
        "ConfirmMaterialsInput",
        f"{TRANSACTION} employments {{ startMonth person {{ name }} }} periodsCreated",
        transactionId=november_filing,
    )
    assert confirmed["transaction"]["status"] == "COMPLETED"
    assert confirmed["employments"] == [
        {"startMonth": "2026-11", "person": {"name": "赵一"}},
        {"startMonth": "2026-11", "person": {"name": "钱二"}},
    ]
    assert confirmed["periodsCreated"] == 10

    # The agent reads its staff and their November months back.
    token = await hall.sign_in(*agent)
    mine = (await hall.graphql(STAFF, token, **{"from": "2026-11", "to": "2026-12"}))["me"]["employer"]
    assert mine["employees"]["totalCount"] == 2
    for edge in mine["employees"]["edges"]:
        employment = edge["node"]
        assert (employment["startMonth"], employment["declaredWage"]) == ("2026-11", "9000.00")
        months = sorted(
            (
                p["node"]["month"],
                p["node"]["insuranceType"],
                p["node"]["base"],
                p["node"]["amount"],
                p["node"]["employerAmount"],
                p["node"]["personAmount"],
                p["node"]["status"],
            )
            for p in employment["person"]["periods"]["edges"]
        )
        assert months == [  # P4 on 9000.00
            ("2026-11", "MATERNITY", "9000.00", "63.00", "63.00", "0.00", "DUE"),
            ("2026-11", "MEDICAL", "9000.00", "900.00", "720.00", "180.00", "DUE"),
            ("2026-11", "PENSION", "9000.00", "2160.00", "1440.00", "720.00", "DUE"),
            ("2026-11", "UNEMPLOYMENT", "9000.00", "90.00", "63.00", "27.00", "DUE"),
            ("2026-11", "WORK_INJURY", "9000.00", "45.00", "45.00", "0.00", "DUE"),
        ]
    assert {edge["node"]["person"]["name"] for edge in mine["employees"]["edges"]} == {"赵一", "钱二"}
    assert mine["transactions"]["edges"] == [
        {
            "node": {
                "status": "COMPLETED",
                "effectiveMonth": "2026-11",
                "lineCount": 2,
                "materialsConfirmedAt": "2026-11-20T10:00:00+08:00",
            }
        }
    ]
    assert mine["owedByMonth"] == [
        {
            "month": "2026-11",
            "amount": "6516.00",
            "employerShare": "4662.00",
            "personShare": "1854.00",
            "arrears": "0.00",
        },
        {"month": "2026-12", "amount": "0.00", "employerShare": "0.00", "personShare": "0.00", "arrears": "0.00"},
    ]

    # The 21st: the same filing for another person is late for November (M3).
    hall.day("2026-11-21")
    token = await hall.sign_in(*agent)
    late = await hall.mutate(token, "addEmployees", "AddEmployeesInput", TRANSACTION, lines=lines(sun))
    assert (late["transaction"]["status"], late["transaction"]["effectiveMonth"]) == ("SUBMITTED", "2026-12")
    hall.day("2026-11-22")
    reviewer = await hall.sign_in("reviewer.jiangan", PASSWORD)
    await hall.mutate(
        reviewer,
        "reviewTransaction",
        "ReviewTransactionInput",
        TRANSACTION,
        transactionId=late["transaction"]["id"],
        accept=True,
    )
    hall.day("2026-11-23")
    reviewer = await hall.sign_in("reviewer.jiangan", PASSWORD)
    december = await hall.mutate(
        reviewer,
        "confirmMaterials",
        "ConfirmMaterialsInput",
        f"{TRANSACTION} employments {{ startMonth person {{ name }} }}",
        transactionId=late["transaction"]["id"],
    )
    assert december["employments"] == [{"startMonth": "2026-12", "person": {"name": "孙三"}}]
    assert december["transaction"]["effectiveMonthMoves"] == []  # filed late: it never was November's

    token = await hall.sign_in(*agent)
    mine = (await hall.graphql(STAFF, token, **{"from": "2026-11", "to": "2026-12"}))["me"]["employer"]
    by_person = {edge["node"]["person"]["name"]: edge["node"] for edge in mine["employees"]["edges"]}
    assert by_person["孙三"]["startMonth"] == "2026-12"
    assert {p["node"]["month"] for p in by_person["孙三"]["person"]["periods"]["edges"]} == {"2026-12"}
    assert len(by_person["孙三"]["person"]["periods"]["edges"]) == 5
    assert mine["owedByMonth"][1] == {
        "month": "2026-12",
        "amount": "3258.00",
        "employerShare": "2331.00",
        "personShare": "927.00",
        "arrears": "0.00",
    }

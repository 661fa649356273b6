"""Information and statistics through the graph (Q2-Q4): what a person, a clerk and an analyst read.
The clock stands at 2026-11-10."""

from __future__ import annotations

import datetime as dt

import pytest

import models
from domain.enums import InsuranceType, PersonCategory, Role
from domain.months import Month
from resolvers.inputs import encode_id
from tests import factories
from tests.graphql_client import data, error_codes, run

pytestmark = pytest.mark.usefixtures("db")

RECORD = """query ($id: ID!) { person(id: $id) { contributionRecord {
  retirement { birthDate age { years months } month }
  types { insuranceType months years { years months } minimumMonths monthsNeeded } } } }"""
ESTIMATE = """query ($id: ID) { pensionEstimate(personId: $id) {
  retirement { month } monthsToRetirement
  inputs { paidMonths meanIndex accountBalance averageWage pensionGrade annualWageGrowth }
  keepPaying { contributionMonths eligible monthsShort total }
  stopNow { contributionMonths eligible monthsShort total } monthlyDifference } }"""


@pytest.fixture
async def payer():
    """A man born 1980-05-17 paying flexible pension at 1.00 since January 2016: 130 months."""
    await factories.average_wage(2016, "8000.00")
    home = await factories.community(await factories.district())
    person = await factories.person(home, name="郭强")
    pension = await factories.flexible_pension(person, Month(2016, 1))
    await factories.periods(pension, Month(2016, 1), 130, "8000.00", "0.2000", "1600.00")
    return person, home


async def test_a_person_reads_their_contribution_years_and_retirement(payer):
    person, _ = payer
    me = await factories.viewer(Role.PERSON, person=person)
    record = (await data(RECORD, viewer=me, id=encode_id("Person", person.id)))["person"]["contributionRecord"]
    # Born 1980-05, 184 months after 1965-01: 47 months later than 60, held at 63 (Q3), so 2043-05,
    # when 20 years are needed.
    assert record["retirement"] == {"birthDate": "1980-05-17", "age": {"years": 63, "months": 0}, "month": "2043-05"}
    pension = record["types"][0]
    assert pension == {
        "insuranceType": "PENSION",
        "months": 130,
        "years": {"years": 10, "months": 10},
        "minimumMonths": 240,
        "monthsNeeded": 110,
    }
    assert {t["insuranceType"]: t["months"] for t in record["types"][1:]} == {
        "MEDICAL": 0,
        "UNEMPLOYMENT": 0,
        "WORK_INJURY": 0,
        "MATERNITY": 0,
    }


async def test_the_estimate_answers_may_i_stop_paying_in_numbers(payer):
    person, _ = payer
    me = await factories.viewer(Role.PERSON, person=person)
    estimate = (await data(ESTIMATE, viewer=me))["pensionEstimate"]
    assert estimate["inputs"] == {
        "paidMonths": 130,
        "meanIndex": "1",
        "accountBalance": "83200.00",
        "averageWage": "8000.00",
        "pensionGrade": "1",
        "annualWageGrowth": "0",
    }
    assert estimate["stopNow"]["eligible"] is False and estimate["stopNow"]["monthsShort"] == 110
    assert estimate["stopNow"]["total"] is None
    assert estimate["keepPaying"]["eligible"] is True and estimate["keepPaying"]["total"] is not None
    assert estimate["monthlyDifference"] is None  # stopping now gives no pension at all


async def test_an_estimate_for_someone_retired_is_a_clear_refusal(payer):
    _, home = payer
    retired = await factories.person(home, name="老张", birth=dt.date(1955, 3, 1), category=PersonCategory.RETIRED)
    clerk = await factories.viewer(Role.CLERK, community=home)
    body = await run(ESTIMATE, viewer=clerk, id=encode_id("Person", retired.id))
    assert error_codes(body) == ["PERSON_RETIRED"] and body["data"] == {"pensionEstimate": None}


STATS = """query ($by: [StatsDimension!]!) { enrollmentStats(groupBy: $by, month: "2026-11") {
  asOf groups { insuranceType channel count suppressed } } }"""


async def test_an_analyst_reads_counts_with_small_groups_suppressed():
    await factories.average_wage(2026, "8000.00")
    home = await factories.community(await factories.district())
    for number in range(6):
        person = await factories.person(home, name=f"居民{number}")
        await factories.flexible_pension(person, Month(2026, 1))
        if number < 4:
            await factories.flexible_medical(person, Month(2026, 1))
    analyst = await factories.viewer(Role.ANALYST)
    counted = (await data(STATS, viewer=analyst, by=["INSURANCE_TYPE"]))["enrollmentStats"]
    assert counted["asOf"] == "2026-11-10T10:00:00+08:00"  # no rollup yet: counted live, now
    assert counted["groups"] == [
        {"insuranceType": "MEDICAL", "channel": None, "count": None, "suppressed": True},  # 4: never shown as 0
        {"insuranceType": "PENSION", "channel": None, "count": 6, "suppressed": False},
    ]
    century = await run(
        """{ businessVolumeStats(groupBy: [MONTH], fromMonth: "1950-01", toMonth: "2049-12") { groups { count } } }""",
        viewer=analyst,
    )
    assert error_codes(century) == ["INVALID_MONTH"]
    adoption = (
        await data(
            "{ onlineAdoptionStats { districts { districtCode persons { total online share } } } }", viewer=analyst
        )
    )["onlineAdoptionStats"]
    # Six persons, none online: 0 is under 5, so it is suppressed, and so is the share.
    assert adoption["districts"] == [{"districtCode": "420102", "persons": {"total": 6, "online": None, "share": None}}]
    person = await models.Person.first()
    refused = await run(RECORD, viewer=analyst, id=encode_id("Person", person.id))
    assert error_codes(refused) == ["FORBIDDEN"]  # nothing personal for analysts
    assert await models.Policy.filter(insurance_type=InsuranceType.MEDICAL).count() == 4

"""A nested page costs a constant number of SQL queries, whatever its size (ARCHITECTURE.md)."""

from __future__ import annotations

import pytest

import models
from domain.enums import ArrearStatus, Channel, InsuranceType, PeriodStatus
from domain.months import Month
from tests import factories
from tests.graphql_client import data

pytestmark = pytest.mark.usefixtures("db")

PAGE = """query($first: Int!) {
  persons(first: $first) {
    totalCount
    edges { node {
      name idNumber district { name } community { name }
      policies { edges { node { insuranceType grade status } } }
      periods(last: 12) { totalCount edges { node { month amount status policy { insuranceType } } } }
      arrears { edges { node { month principal period { status } } } }
      passbook { balance }
    } }
  }
}"""


async def _city(persons: int) -> None:
    homes = [await factories.community(await factories.district(code, name))
             for code, name in (("420102", "江岸区"), ("420106", "武昌区"))]
    people = [await factories.person(homes[i % 2], name=f"测试{i}") for i in range(persons)]
    await models.Policy.bulk_create([
        models.Policy(person_id=p.id, insurance_type=kind, channel=Channel.FLEXIBLE, start_month=202501,
                      grade=1 if kind == InsuranceType.PENSION else None)
        for p in people for kind in (InsuranceType.PENSION, InsuranceType.MEDICAL)
    ])
    periods = [
        models.ContributionPeriod(
            policy_id=policy.id, person_id=policy.person_id, month=Month(2025, 1).plus(i).to_int(),
            insurance_type=policy.insurance_type, channel=Channel.FLEXIBLE, base="8000.00", rate="0.20",
            amount="1600.00", status=PeriodStatus.ARREARS if i == 13 else PeriodStatus.PAID,
            paid_via=None if i == 13 else "PASSBOOK_DEBIT",
        )
        for policy in await models.Policy.all() for i in range(14)
    ]
    await models.ContributionPeriod.bulk_create(periods, batch_size=1000)
    unpaid = await models.ContributionPeriod.filter(status=PeriodStatus.ARREARS)
    await factories.arrears(unpaid, ArrearStatus.OPEN)


async def test_a_page_of_100_costs_the_same_queries_as_a_page_of_10(count_queries):
    await _city(100)
    count_queries.statements.clear()

    small = await data(PAGE, first=10)
    small_count = len(count_queries.statements)
    count_queries.statements.clear()
    large = await data(PAGE, first=100)
    large_count = len(count_queries.statements)

    assert len(small["persons"]["edges"]) == 10 and len(large["persons"]["edges"]) == 100
    person = large["persons"]["edges"][99]["node"]
    assert len(person["policies"]["edges"]) == 2
    assert person["periods"]["totalCount"] == 28 and len(person["periods"]["edges"]) == 12
    assert [e["node"]["principal"] for e in person["arrears"]["edges"]] == ["1600.00", "1600.00"]
    # persons and their count; districts; communities; policies; periods and their count; the
    # periods' policies; arrears; the arrears' periods; passbooks
    assert small_count == large_count == 11, count_queries.statements

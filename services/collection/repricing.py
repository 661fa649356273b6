"""Re-pricing the months not yet paid after an average wage is published or corrected (P1), and
refreshing the interest of arrears to date (P5): chunk functions the city-wide jobs run.

Not yet paid is DUE, or ARREARS whose arrear is still OPEN: an arrear inside a payment order keeps
the price the person ordered at, and a cancelled month is no longer owed.
"""

from __future__ import annotations

from decimal import Decimal

from tortoise import connections
from tortoise.expressions import Q

import models
from domain.enums import OWED_ARREARS, ArrearStatus, Channel, PeriodStatus
from domain.months import Month
from domain.pricing import employer_contribution
from domain.tariff import Tariff
from models.bulk import update_each
from services.collection.periods import flexible_price

UNPAID = (PeriodStatus.DUE, PeriodStatus.ARREARS)


def _unpaid(first: Month, last: Month | None) -> Q:
    months = Q(month__gte=first.to_int()) if last is None else Q(month__gte=first.to_int(), month__lte=last.to_int())
    return months & Q(status__in=UNPAID)


async def unpaid_period_ids(first: Month, last: Month | None) -> list[int]:
    """The ids of the periods from ``first`` (to ``last``) that a new wage re-prices, in id order."""
    return list(
        await models.ContributionPeriod.filter(_unpaid(first, last)).order_by("id").values_list("id", flat=True)
    )


async def reprice_periods(
    first_id: int, last_id: int, first: Month, last: Month | None, tariff: Tariff
) -> dict[str, int]:
    """Price the unpaid periods with ids ``first_id`` to ``last_id`` again at the parameters in force
    now for their month; inside the caller's transaction. Returns how many periods and arrears changed."""
    ids = {"id__gte": first_id, "id__lte": last_id}
    periods = await models.ContributionPeriod.filter(_unpaid(first, last), **ids).values(
        "id",
        "policy_id",
        "person_id",
        "month",
        "insurance_type",
        "channel",
        "grade",
        "base",
        "amount",
        "employer_amount",
        "status",
    )
    owed = {
        row["period_id"]: row["id"]
        for row in await models.Arrear.filter(
            period_id__gte=first_id, period_id__lte=last_id, status=ArrearStatus.OPEN
        ).values("id", "period_id")
    }
    periods = [p for p in periods if p["status"] is PeriodStatus.DUE or p["id"] in owed]
    needing_policy = {p["policy_id"] for p in periods if p["channel"] is Channel.EMPLOYER or p["grade"] is None}
    policies = (
        {
            row["id"]: row
            for row in await models.Policy.filter(id__in=list(needing_policy)).values("id", "grade", "employer_id")
        }
        if needing_policy
        else {}
    )
    wages = await _declared_wages(periods, policies)
    changed_periods, changed_arrears = [], []
    for period in periods:
        month = Month.from_int(period["month"])
        if period["channel"] is Channel.FLEXIBLE:
            grade = period["grade"] or policies.get(period["policy_id"], {}).get("grade")
            price = flexible_price(period["insurance_type"], grade, month, tariff)
            base, amount, employer_amount = price.base, price.amount, Decimal("0.00")
        else:
            wage = wages.get((period["person_id"], policies[period["policy_id"]]["employer_id"], period["month"]))
            if wage is None:
                continue  # no employment on record for the month: its price stands
            price = employer_contribution(
                wage, tariff.average_wage(month), period["insurance_type"], tariff.rates(month)
            )
            base, amount, employer_amount = price.base, price.total, price.employer_amount
        if (base, amount, employer_amount) != (period["base"], period["amount"], period["employer_amount"]):
            changed_periods.append((period["id"], base, amount, employer_amount))
            if period["id"] in owed:
                changed_arrears.append((owed[period["id"]], amount))
    connection = connections.get("default")
    await update_each(
        connection,
        "contribution_period",
        ("base", "amount", "employer_amount"),
        changed_periods,
        ("numeric", "numeric", "numeric"),
    )
    await update_each(connection, "arrear", ("principal",), changed_arrears, ("numeric",))
    return {"periods_repriced": len(changed_periods), "arrears_repriced": len(changed_arrears)}


async def _declared_wages(periods: list[dict], policies: dict[int, dict]) -> dict[tuple[int, int, int], Decimal]:
    """The declared wage (E3) of each employer-channel period's employment in its month."""
    wanted = {
        (p["person_id"], policies[p["policy_id"]]["employer_id"], p["month"])
        for p in periods
        if p["channel"] is Channel.EMPLOYER
    }
    if not wanted:
        return {}
    employments = await models.Employment.filter(
        person_id__in=list({w[0] for w in wanted}),
        employer_id__in=list({w[1] for w in wanted}),
    ).values("person_id", "employer_id", "start_month", "end_month", "declared_wage")
    wages = {}
    for person_id, employer_id, month in wanted:
        for employment in employments:
            if (
                (employment["person_id"], employment["employer_id"]) == (person_id, employer_id)
                and employment["start_month"] <= month
                and (employment["end_month"] or month) >= month
            ):
                wages[(person_id, employer_id, month)] = employment["declared_wage"]
    return wages


async def owed_arrear_ids() -> list[int]:
    return list(await models.Arrear.filter(status__in=OWED_ARREARS).order_by("id").values_list("id", flat=True))


async def refresh_interest(first_id: int, last_id: int, tariff: Tariff, as_of: Month) -> dict[str, int]:
    """Interest of each owed arrear with an id from ``first_id`` to ``last_id`` to ``as_of`` (P5), kept
    for the lists and statistics that sum what the city is owed; inside the caller's transaction."""
    arrears = await models.Arrear.filter(id__gte=first_id, id__lte=last_id, status__in=OWED_ARREARS).values(
        "id", "month", "principal", "interest", "interest_as_of"
    )
    rows = []
    for arrear in arrears:
        interest = tariff.interest(arrear["principal"], Month.from_int(arrear["month"]), as_of)
        if (interest, arrear["interest_as_of"]) != (arrear["interest"], as_of.to_int()):
            rows.append((arrear["id"], interest, as_of.to_int()))
    await update_each(connections.get("default"), "arrear", ("interest", "interest_as_of"), rows, ("numeric", "int"))
    return {"arrears_refreshed": len(rows)}

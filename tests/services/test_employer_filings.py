"""Employer filings (E2), contribution bases (E3) and back-pay (E4), amounts worked out by hand.

Parameters: average monthly wage 8000.00 in 2026, so bases are held within 4800.00..24000.00 (P4).
Rates, employer + person: pension 16% + 8%, medical 8% + 2%, unemployment 0.7% + 0.3%, work injury
0.5%, maternity 0.7%. Interest 1.5% a year, simple, in whole months (P5).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from dataclasses import dataclass
from decimal import Decimal

import pytest

import models
from domain.enums import (
    ArrearStatus,
    BusinessType,
    Channel,
    EmploymentStatus,
    InsuranceType,
    PaidVia,
    PeriodStatus,
    PersonCategory,
    PolicyStatus,
    Role,
    TransactionStatus,
)
from domain.errors import BusinessError, ErrorCode
from domain.identifiers import make_resident_id
from domain.months import Month
from services import flexible
from services.common import clock
from services.common.viewer import Viewer
from services.employer import back_payment, bases, staffing
from services.employer.back_payment import MonthOwed
from services.employer.bases import BaseLine, Clamp
from services.employer.filing import MAX_FILING_LINES, FilingRejected
from services.employer.staffing import AddLine, RemoveLine
from settings import get_settings
from tests import factories

pytestmark = pytest.mark.usefixtures("db")

D = Decimal
NOT_ADDABLE = (
    "cannot be added in 2026-11: not registered, retired, or insured through another channel;"
    " the person can learn why at a service office"
)
PENSION, MEDICAL, UNEMPLOYMENT, WORK_INJURY, MATERNITY = tuple(InsuranceType)


@dataclass
class Hall:
    district: models.District
    community: models.Community
    employer: models.Employer
    agent: Viewer
    reviewer: Viewer
    other_reviewer: Viewer

    async def person(self, name: str = "王强", category: PersonCategory = PersonCategory.UNINSURED) -> models.Person:
        return await factories.person(self.community, name=name, category=category)

    async def hire(
        self,
        wages: list[tuple[models.Person, str]],
        *,
        filed: str = "2026-11-10",
        accepted: str | None = None,
        confirmed: str | None = None,
        types: list[InsuranceType] | None = None,
        employer: models.Employer | None = None,
        agent: Viewer | None = None,
    ):
        """File, accept and confirm an addition on the days given (each at 10:00)."""
        at(filed)
        filing = await staffing.add_employees(
            agent or self.agent,
            (employer or self.employer).id,
            [AddLine(p.id_number, D(wage), types) for p, wage in wages],
        )
        at(accepted or filed)
        await staffing.review(self.reviewer, filing.id, True)
        at(confirmed or accepted or filed)
        return await staffing.confirm_materials(self.reviewer, filing.id)


def at(day: str) -> None:
    clock.freeze(f"{day}T10:00:00+08:00")


@pytest.fixture
async def hall() -> Hall:
    await factories.average_wage(2026, "8000.00")
    home = await factories.district()
    other = await factories.district("420103", "江汉区")
    employer = await factories.employer(home)
    return Hall(
        home,
        await factories.community(home),
        employer,
        await factories.viewer(Role.EMPLOYER_AGENT, employer=employer),
        await factories.viewer(Role.REVIEWER, district=home),
        await factories.viewer(Role.REVIEWER, district=other),
    )


async def refused(call) -> BusinessError:
    with pytest.raises(BusinessError) as caught:
        await call
    return caught.value


def line_codes(error: BusinessError) -> list[tuple[int, str, ErrorCode]]:
    assert isinstance(error, FilingRejected) and error.code is ErrorCode.INVALID_LINES
    return [(e.line, e.field, e.code) for e in error.line_errors]


async def filings() -> int:
    return await models.BusinessTransaction.filter(business_type__in=staffing.FILING_TYPES).count()


def priced(period: models.ContributionPeriod) -> tuple:
    return period.insurance_type, period.base, period.amount, period.employer_amount, period.rate


# E2: a filing is checked line by line, and all or nothing


async def test_a_bad_line_37_of_200_is_reported_alone_and_nothing_is_filed(hall: Hall) -> None:
    persons = [await hall.person(f"员工{n}") for n in range(200)]
    lines = [AddLine(p.id_number, D("6000.00")) for p in persons]
    good = persons[36].id_number
    lines[36] = AddLine(good[:17] + ("1" if good[17] != "1" else "2"), D("6000.00"))  # A1 check character wrong

    error = await refused(staffing.add_employees(hall.agent, hall.employer.id, lines))
    assert line_codes(error) == [(37, "idNumber", ErrorCode.INVALID_ID_NUMBER)]
    assert error.line_errors[0].message == "the ID number's check character is wrong"
    assert await filings() == 0

    lines[36] = AddLine(good.lower(), D("6000.00"))  # corrected; a lower-case x would be accepted too
    filing = await staffing.add_employees(hall.agent, hall.employer.id, lines)
    assert (filing.status, filing.business_type, filing.employer_id, filing.district_id, filing.effective_month) == (
        TransactionStatus.SUBMITTED,
        BusinessType.ADD_EMPLOYEES,
        hall.employer.id,
        hall.district.id,
        202611,
    )
    stored = (await models.BusinessTransaction.get(id=filing.id)).details
    assert stored["line_count"] == 200 and len(stored["lines"]) == 200  # every line kept, not the first 100
    assert stored["lines"][36] == {
        "line": 37,
        "person_id": persons[36].id,
        "id_number": good[:6] + "********" + good[14:],
        "declared_wage": "6000.00",
        "insurance_types": ["PENSION", "MEDICAL", "UNEMPLOYMENT", "WORK_INJURY", "MATERNITY"],
    }


async def test_filed_18th_accepted_19th_confirmed_20th_takes_effect_this_month_priced_by_p4(hall: Hall) -> None:
    well_paid, low_paid, high_paid = hall_people = [await hall.person(n) for n in ("赵一", "钱二", "孙三")]
    at("2026-11-18")
    filing = await staffing.add_employees(
        hall.agent,
        hall.employer.id,
        [
            AddLine(well_paid.id_number, D("10000.00")),
            AddLine(low_paid.id_number, D("3000.00")),
            AddLine(high_paid.id_number, D("30000.00"), [PENSION]),
        ],
    )
    assert filing.effective_month == 202611
    at("2026-11-19")
    accepted = await staffing.review(hall.reviewer, filing.id, True)
    assert (accepted.status, accepted.decided_by_id, accepted.effective_month) == (
        TransactionStatus.ACCEPTED,
        hall.reviewer.account_id,
        202611,
    )
    assert accepted.decided_at == clock.now()
    assert await models.Employment.filter(employer_id=hall.employer.id).count() == 0  # nothing until the visit
    at("2026-11-20")
    done = await staffing.confirm_materials(hall.reviewer, filing.id)

    assert (await models.BusinessTransaction.get(id=filing.id)).status is TransactionStatus.COMPLETED
    assert [(e.person_id, e.start_month, e.declared_wage, e.status) for e in done.employments] == [
        (well_paid.id, 202611, D("10000.00"), EmploymentStatus.ACTIVE),
        (low_paid.id, 202611, D("3000.00"), EmploymentStatus.ACTIVE),
        (high_paid.id, 202611, D("30000.00"), EmploymentStatus.ACTIVE),
    ]
    assert len(done.policies) == 11
    assert all(
        (p.channel, p.employer_id, p.start_month, p.status)
        == (Channel.EMPLOYER, hall.employer.id, 202611, PolicyStatus.ACTIVE)
        for p in done.policies
    )
    by_person = {
        p.id: sorted(
            (priced(x) for x in done.periods if x.person_id == p.id), key=lambda r: list(InsuranceType).index(r[0])
        )
        for p in hall_people
    }
    assert by_person[well_paid.id] == [
        (PENSION, D("10000.00"), D("2400.00"), D("1600.00"), D("0.24")),  # 1600.00 + 800.00
        (MEDICAL, D("10000.00"), D("1000.00"), D("800.00"), D("0.10")),  # 800.00 + 200.00
        (UNEMPLOYMENT, D("10000.00"), D("100.00"), D("70.00"), D("0.01")),  # 70.00 + 30.00
        (WORK_INJURY, D("10000.00"), D("50.00"), D("50.00"), D("0.005")),
        (MATERNITY, D("10000.00"), D("70.00"), D("70.00"), D("0.007")),
    ]
    assert by_person[low_paid.id] == [  # 3000.00 is under 60% of 8000.00: the base is 4800.00
        (PENSION, D("4800.00"), D("1152.00"), D("768.00"), D("0.24")),
        (MEDICAL, D("4800.00"), D("480.00"), D("384.00"), D("0.10")),
        (UNEMPLOYMENT, D("4800.00"), D("48.00"), D("33.60"), D("0.01")),
        (WORK_INJURY, D("4800.00"), D("24.00"), D("24.00"), D("0.005")),
        (MATERNITY, D("4800.00"), D("33.60"), D("33.60"), D("0.007")),
    ]
    assert by_person[high_paid.id] == [(PENSION, D("24000.00"), D("5760.00"), D("3840.00"), D("0.24"))]  # 300%
    assert {x.month for x in done.periods} == {202611}
    assert all((x.status, x.channel) == (PeriodStatus.DUE, Channel.EMPLOYER) for x in done.periods)
    assert {p.category for p in await models.Person.filter(id__in=[p.id for p in hall_people])} == {
        PersonCategory.EMPLOYED
    }


async def test_filed_on_the_21st_takes_effect_next_month(hall: Hall) -> None:
    person = await hall.person()
    done = await hall.hire([(person, "10000.00")], filed="2026-11-21", accepted="2026-11-22", confirmed="2026-11-23")
    assert done.transaction.effective_month == 202612
    assert "effective_month_moves" not in done.transaction.details  # filed late: it never was this month
    assert [(e.start_month, e.status) for e in done.employments] == [(202612, EmploymentStatus.ACTIVE)]
    assert {x.month for x in done.periods} == {202612} and len(done.periods) == 5


async def test_filed_on_the_18th_but_accepted_on_the_22nd_takes_effect_next_month(hall: Hall) -> None:
    person = await hall.person()
    at("2026-11-18")
    filing = await staffing.add_employees(hall.agent, hall.employer.id, [AddLine(person.id_number, D("10000.00"))])
    at("2026-11-22")
    accepted = await staffing.review(hall.reviewer, filing.id, True)
    assert accepted.effective_month == 202612
    stored = await models.BusinessTransaction.get(id=filing.id)
    assert stored.effective_month == 202612
    assert stored.details["effective_month_moves"] == [
        {
            "from": "2026-11",
            "to": "2026-12",
            "on": "2026-11-22",
            "reason": "accepted after the 20th: takes effect from 2026-12",
        }
    ]
    done = await staffing.confirm_materials(hall.reviewer, filing.id)
    assert [e.start_month for e in done.employments] == [202612]


async def test_materials_confirmed_in_a_later_month_make_every_month_from_the_effective_one(hall: Hall) -> None:
    person = await hall.person()
    done = await hall.hire([(person, "10000.00")], filed="2026-11-10", confirmed="2026-12-03")
    assert sorted({x.month for x in done.periods}) == [202611, 202612]
    assert len(done.periods) == 10


async def test_a_rejection_needs_a_reason_the_agent_then_reads(hall: Hall) -> None:
    person = await hall.person()
    filing = await staffing.add_employees(hall.agent, hall.employer.id, [AddLine(person.id_number, D("7000.00"))])
    for reason in (None, "   "):
        error = await refused(staffing.review(hall.reviewer, filing.id, False, reason))
        assert (error.code, error.field) == (ErrorCode.REASON_REQUIRED, "reason")
    assert (await models.BusinessTransaction.get(id=filing.id)).status is TransactionStatus.SUBMITTED
    error = await refused(staffing.confirm_materials(hall.reviewer, filing.id))
    assert error.code is ErrorCode.MATERIALS_NOT_EXPECTED  # not accepted yet

    rejected = await staffing.review(hall.reviewer, filing.id, False, " 劳动合同复印件缺失 ")
    stored = await models.BusinessTransaction.get(id=filing.id)
    assert (stored.status, stored.decision_reason, stored.decided_by_id, stored.decided_at) == (
        TransactionStatus.REJECTED,
        "劳动合同复印件缺失",
        hall.reviewer.account_id,
        clock.now(),
    )
    assert rejected.decision_reason == "劳动合同复印件缺失"
    assert (await refused(staffing.review(hall.reviewer, filing.id, True))).code is ErrorCode.NOT_REVIEWABLE
    assert (
        await refused(staffing.confirm_materials(hall.reviewer, filing.id))
    ).code is ErrorCode.MATERIALS_NOT_EXPECTED
    assert await models.Employment.all().count() == 0
    # Rejected is closed: the same person can be filed again at once.
    again = await staffing.add_employees(hall.agent, hall.employer.id, [AddLine(person.id_number, D("7000.00"))])
    assert again.status is TransactionStatus.SUBMITTED


async def test_only_the_employers_agent_and_its_districts_reviewers_act(hall: Hall) -> None:
    person = await hall.person()
    elsewhere = await factories.employer(await factories.district("420103", "江汉区"), name="汉口商贸有限公司")
    other_agent = await factories.viewer(Role.EMPLOYER_AGENT, employer=elsewhere)
    line = [AddLine(person.id_number, D("7000.00"))]
    for actor in (other_agent, hall.other_reviewer):
        error = await refused(staffing.add_employees(actor, hall.employer.id, line))
        assert (error.code, error.field) == (ErrorCode.OUT_OF_SCOPE, "employerId")
    filing = await staffing.add_employees(hall.reviewer, hall.employer.id, line)  # at the counter
    for actor in (hall.other_reviewer, hall.agent):
        assert (await refused(staffing.review(actor, filing.id, True))).code is ErrorCode.OUT_OF_SCOPE
        assert (await refused(staffing.review(actor, filing.id, False, "不符合条件"))).code is ErrorCode.OUT_OF_SCOPE
    await staffing.review(hall.reviewer, filing.id, True)
    assert (await refused(staffing.confirm_materials(hall.other_reviewer, filing.id))).code is ErrorCode.OUT_OF_SCOPE
    stored = await models.BusinessTransaction.get(id=filing.id)
    assert (stored.status, await models.Employment.all().count()) == (TransactionStatus.ACCEPTED, 0)
    error = await refused(staffing.add_employees(hall.agent, hall.employer.id, [line[0]] * 501))
    assert error.code is ErrorCode.FILING_TOO_LARGE


async def test_each_line_is_checked_on_its_own(hall: Hall) -> None:
    fine, elsewhere_insured, retired, here_already, no_types = [
        await hall.person(n) for n in ("甲", "乙", "丙", "丁", "戊")
    ]
    await models.Person.filter(id=retired.id).update(category=PersonCategory.RETIRED)
    other = await factories.employer(hall.district, name="江岸建设有限公司")
    other_agent = await factories.viewer(Role.EMPLOYER_AGENT, employer=other)
    await hall.hire([(elsewhere_insured, "9000.00")], types=[PENSION, MEDICAL], employer=other, agent=other_agent)
    await hall.hire([(here_already, "9000.00")])
    unregistered = make_resident_id("420102", dt.date(1990, 3, 8), 777)

    error = await refused(
        staffing.add_employees(
            hall.agent,
            hall.employer.id,
            [
                AddLine(fine.id_number, D("6000.00")),
                AddLine(elsewhere_insured.id_number, D("6000.00"), [PENSION]),
                AddLine(fine.id_number, D("6500.00")),
                AddLine(unregistered, D("6000.00")),
                AddLine(no_types.id_number, D("0.00")),
                AddLine(no_types.id_number.lower(), D("1000000.01"), []),
                AddLine(retired.id_number, D("6000.00")),
                AddLine(here_already.id_number, D("6000.00")),
                AddLine(no_types.id_number, D("6000.005")),
            ],
        )
    )
    assert line_codes(error) == [
        (2, "idNumber", ErrorCode.PERSON_NOT_ADDABLE),
        (3, "idNumber", ErrorCode.INVALID_INPUT),
        (4, "idNumber", ErrorCode.PERSON_NOT_ADDABLE),
        (5, "declaredWage", ErrorCode.INVALID_AMOUNT),
        (6, "idNumber", ErrorCode.INVALID_INPUT),  # the same person as line 5
        (6, "declaredWage", ErrorCode.INVALID_AMOUNT),
        (6, "insuranceTypes", ErrorCode.INVALID_INPUT),
        (7, "idNumber", ErrorCode.PERSON_NOT_ADDABLE),
        (8, "idNumber", ErrorCode.ALREADY_EMPLOYED),
        (9, "idNumber", ErrorCode.INVALID_INPUT),
        (9, "declaredWage", ErrorCode.INVALID_AMOUNT),
    ]
    messages = {(e.line, e.field): e.message for e in error.line_errors}
    # Insured by another employer, not registered, retired: one answer, the employer's business ends there (A6).
    assert messages[2, "idNumber"] == messages[4, "idNumber"] == messages[7, "idNumber"] == NOT_ADDABLE
    assert messages[3, "idNumber"] == "the same ID number is on line 1"
    assert messages[8, "idNumber"] == "already employed by this employer"
    assert (
        await models.BusinessTransaction.filter(
            employer_id=hall.employer.id, status=TransactionStatus.SUBMITTED
        ).count()
        == 0
    )

    # Types the other employer does not pay are free; a person on an open filing is not filed twice.
    filing = await staffing.add_employees(
        hall.agent,
        hall.employer.id,
        [AddLine(fine.id_number, D("6000.00")), AddLine(elsewhere_insured.id_number, D("6000.00"), [WORK_INJURY])],
    )
    assert filing.details["lines"][1]["insurance_types"] == ["WORK_INJURY"]
    error = await refused(staffing.add_employees(hall.agent, hall.employer.id, [AddLine(fine.id_number, D("6000.00"))]))
    assert line_codes(error) == [(1, "idNumber", ErrorCode.INVALID_INPUT)]
    assert error.line_errors[0].message == f"already on addition filing {filing.id}, awaiting its decision"


async def test_flexible_insurance_still_active_is_suspended_first(hall: Hall) -> None:
    person = await hall.person(category=PersonCategory.FLEXIBLE)
    await factories.flexible_pension(person, Month(2026, 3))
    error = await refused(
        staffing.add_employees(hall.agent, hall.employer.id, [AddLine(person.id_number, D("8000.00"))])
    )
    assert line_codes(error) == [(1, "idNumber", ErrorCode.PERSON_NOT_ADDABLE)]
    assert error.line_errors[0].message == NOT_ADDABLE  # the person knows why, the employer need not (A6)
    me = await factories.viewer(Role.PERSON, person=person)
    await flexible.suspend(me, person.id, [PENSION])  # F3
    filing = await staffing.add_employees(hall.agent, hall.employer.id, [AddLine(person.id_number, D("8000.00"))])
    assert filing.status is TransactionStatus.SUBMITTED


async def test_a_person_who_cannot_be_added_is_refused_alike_whatever_the_reason(hall: Hall) -> None:
    """The employer learns that it cannot add the person, not whether they are registered, retired,
    employed elsewhere or flexibly insured (A6): one code and one message, on lines wrong otherwise too."""
    retired = await hall.person("甲", PersonCategory.RETIRED)
    employed, flexibly = await hall.person("乙"), await hall.person("丙", PersonCategory.FLEXIBLE)
    await factories.flexible_pension(flexibly, Month(2026, 3))
    other = await factories.employer(hall.district, name="江岸建设有限公司")
    other_agent = await factories.viewer(Role.EMPLOYER_AGENT, employer=other)
    await hall.hire([(employed, "9000.00")], employer=other, agent=other_agent)
    unregistered = make_resident_id("420102", dt.date(1990, 3, 8), 777)
    strangers = [unregistered, retired.id_number, employed.id_number, flexibly.id_number]

    for wage in (D("6000.00"), D("-1")):
        error = await refused(
            staffing.add_employees(hall.agent, hall.employer.id, [AddLine(n, wage) for n in strangers])
        )
        about_the_person = [(e.line, e.code, e.message) for e in error.line_errors if e.field == "idNumber"]
        assert about_the_person == [(n, ErrorCode.PERSON_NOT_ADDABLE, NOT_ADDABLE) for n in (1, 2, 3, 4)]
    assert await filings() == 1  # the other employer's


async def test_removing_someone_answers_alike_whether_or_not_they_are_registered(hall: Hall) -> None:
    registered_elsewhere = await hall.person("丁")
    unregistered = make_resident_id("420102", dt.date(1990, 3, 8), 777)
    error = await refused(
        staffing.remove_employees(
            hall.agent, hall.employer.id, [RemoveLine(registered_elsewhere.id_number), RemoveLine(unregistered)]
        )
    )
    assert [(e.line, e.code, e.message) for e in error.line_errors] == [
        (1, ErrorCode.NOT_EMPLOYED_HERE, "not employed by this employer"),
        (2, ErrorCode.NOT_EMPLOYED_HERE, "not employed by this employer"),
    ]


async def test_declaring_a_base_answers_alike_whether_or_not_the_person_is_registered(hall: Hall) -> None:
    registered_elsewhere = await hall.person("丙")
    unregistered = make_resident_id("420102", dt.date(1990, 3, 8), 778)
    error = await refused(
        bases.declare_contribution_base(
            hall.agent,
            hall.employer.id,
            2026,
            [BaseLine(registered_elsewhere.id_number, D("5000.00")), BaseLine(unregistered, D("5000.00"))],
        )
    )
    assert [(e.line, e.code, e.message) for e in error.line_errors] == [  # A6: nothing about a stranger
        (1, ErrorCode.NOT_EMPLOYED_HERE, "not employed by this employer in 2026"),
        (2, ErrorCode.NOT_EMPLOYED_HERE, "not employed by this employer in 2026"),
    ]


async def test_lines_about_persons_never_employed_are_limited_per_account(
    hall: Hall, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "unknown_person_lines_limit", "3/day")
    staff, first, second, third = [await hall.person(n) for n in ("员工", "新人一", "新人二", "新人三")]
    colleague = await factories.viewer(Role.EMPLOYER_AGENT, employer=hall.employer)
    await hall.hire([(staff, "8000.00")], agent=colleague)  # the colleague's first such line
    unregistered = make_resident_id("420102", dt.date(1990, 3, 8), 777)
    not_a_number = first.id_number[:17] + ("1" if first.id_number[17] != "1" else "2")

    # Three lines about strangers, filed or refused, are counted...
    await staffing.add_employees(
        hall.agent, hall.employer.id, [AddLine(first.id_number, D("6000.00")), AddLine(second.id_number, D("6000.00"))]
    )
    error = await refused(staffing.add_employees(hall.agent, hall.employer.id, [AddLine(unregistered, D("6000.00"))]))
    assert line_codes(error) == [(1, "idNumber", ErrorCode.PERSON_NOT_ADDABLE)]
    # ... lines about the employer's own staff, and ID numbers that are none (A1), are not.
    error = await refused(
        staffing.add_employees(
            hall.agent, hall.employer.id, [AddLine(staff.id_number, D("6000.00")), AddLine(not_a_number, D("6000.00"))]
        )
    )
    assert line_codes(error) == [
        (1, "idNumber", ErrorCode.ALREADY_EMPLOYED),
        (2, "idNumber", ErrorCode.INVALID_ID_NUMBER),
    ]

    before = await filings()
    error = await refused(
        staffing.add_employees(hall.agent, hall.employer.id, [AddLine(third.id_number, D("6000.00"))])
    )
    assert not isinstance(error, FilingRejected)
    assert (error.code, error.field) == (ErrorCode.TOO_MANY_ATTEMPTS, "lines") and "nothing was filed" in error.message
    assert await filings() == before
    # Counted per account: another agent of the employer files the same line.
    filing = await staffing.add_employees(colleague, hall.employer.id, [AddLine(third.id_number, D("6000.00"))])
    assert filing.status is TransactionStatus.SUBMITTED


async def test_lines_are_checked_again_when_the_change_takes_effect(hall: Hall) -> None:
    person = await hall.person()
    filing = await staffing.add_employees(hall.agent, hall.employer.id, [AddLine(person.id_number, D("8000.00"))])
    await staffing.review(hall.reviewer, filing.id, True)
    me = await factories.viewer(Role.PERSON, person=person)
    await flexible.enroll(me, person.id, [PENSION], D("1.00"), None, None)  # meanwhile, from December
    error = await refused(staffing.confirm_materials(hall.reviewer, filing.id))
    assert line_codes(error) == [(1, "idNumber", ErrorCode.PERSON_NOT_ADDABLE)]
    assert "nothing took effect" in error.message
    assert (await models.BusinessTransaction.get(id=filing.id)).status is TransactionStatus.ACCEPTED
    assert await models.Employment.all().count() == 0
    assert await models.Policy.filter(channel=Channel.EMPLOYER).count() == 0
    # Accepted is not accepted again, but can be rejected at the visit, which frees the person.
    assert (await refused(staffing.review(hall.reviewer, filing.id, True))).code is ErrorCode.NOT_REVIEWABLE
    rejected = await staffing.review(hall.reviewer, filing.id, False, "已办理灵活就业参保")
    assert (rejected.status, rejected.decision_reason) == (TransactionStatus.REJECTED, "已办理灵活就业参保")
    assert rejected.details["accepted"]["by"] == hall.reviewer.account_id
    assert (await refused(staffing.review(hall.reviewer, filing.id, False, "再次"))).code is ErrorCode.NOT_REVIEWABLE


async def test_removal_ends_employment_policies_and_later_months(hall: Hall) -> None:
    leaving, keeps_flexible, stranger = [await hall.person(n) for n in ("周一", "吴二", "郑三")]
    await models.Person.filter(id=keeps_flexible.id).update(category=PersonCategory.FLEXIBLE)
    await factories.flexible_medical(keeps_flexible, Month(2026, 1))
    # Filed and accepted on November 10th, the materials in on December 3rd: November and December due.
    await hall.hire([(leaving, "10000.00")], filed="2026-11-10", confirmed="2026-12-03")
    await hall.hire([(keeps_flexible, "10000.00")], types=[PENSION], filed="2026-11-10", confirmed="2026-12-03")
    assert await models.ContributionPeriod.filter(month=202612).count() == 6

    at("2026-12-08")
    error = await refused(
        staffing.remove_employees(
            hall.agent,
            hall.employer.id,
            [
                RemoveLine(leaving.id_number),
                RemoveLine(keeps_flexible.id_number, Month(2026, 12)),
                RemoveLine(stranger.id_number),
                RemoveLine(leaving.id_number, Month(2026, 10)),
            ],
        )
    )
    assert line_codes(error) == [
        (2, "lastMonth", ErrorCode.INVALID_MONTH),  # taking effect in December, November is the latest
        (3, "idNumber", ErrorCode.NOT_EMPLOYED_HERE),
        (4, "idNumber", ErrorCode.INVALID_INPUT),
    ]
    assert (
        error.line_errors[0].message
        == "a removal taking effect in 2026-12 has 2026-11 as the last month employed at the latest"
    )
    assert error.line_errors[1].message == "not employed by this employer"
    assert await models.BusinessTransaction.filter(business_type=BusinessType.REMOVE_EMPLOYEES).count() == 0

    filing = await staffing.remove_employees(
        hall.agent,
        hall.employer.id,
        [RemoveLine(leaving.id_number), RemoveLine(keeps_flexible.id_number, Month(2026, 11))],
    )
    assert (filing.business_type, filing.effective_month) == (BusinessType.REMOVE_EMPLOYEES, 202612)
    error = await refused(staffing.remove_employees(hall.agent, hall.employer.id, [RemoveLine(leaving.id_number)]))
    assert line_codes(error) == [(1, "idNumber", ErrorCode.INVALID_INPUT)]  # already being removed
    await staffing.review(hall.reviewer, filing.id, True)
    done = await staffing.confirm_materials(hall.reviewer, filing.id)

    assert [(e.person_id, e.end_month, e.status) for e in done.employments] == [
        (leaving.id, 202611, EmploymentStatus.ENDED),
        (keeps_flexible.id, 202611, EmploymentStatus.ENDED),
    ]
    assert len(done.policies) == 6
    assert {(p.end_month, p.status) for p in done.policies} == {(202611, PolicyStatus.TERMINATED)}
    assert done.dropped_periods == 6
    assert await models.ContributionPeriod.filter(channel=Channel.EMPLOYER, month=202612).count() == 0
    assert (
        await models.ContributionPeriod.filter(channel=Channel.EMPLOYER, month=202611, status=PeriodStatus.DUE).count()
        == 6
    )
    assert (await models.Person.get(id=leaving.id)).category is PersonCategory.UNINSURED
    assert (
        await models.Person.get(id=keeps_flexible.id)
    ).category is PersonCategory.FLEXIBLE  # flexible medical goes on
    stored = await models.BusinessTransaction.get(id=filing.id)
    assert stored.status is TransactionStatus.COMPLETED
    assert [row["last_month"] for row in stored.details["lines"]] == ["2026-11", "2026-11"]
    assert stored.details["materials_confirmed_by"] == hall.reviewer.account_id


# E3: contribution bases


async def test_declared_bases_are_clamped_per_line_and_unpaid_months_repriced(hall: Hall) -> None:
    lower, middle, higher, not_staff = [await hall.person(n) for n in ("冯一", "陈二", "褚三", "卫四")]
    await hall.hire([(lower, "10000.00"), (middle, "10000.00"), (higher, "10000.00")])
    await models.ContributionPeriod.filter(person_id=lower.id, insurance_type=PENSION).update(
        status=PeriodStatus.PAID, paid_via=PaidVia.EMPLOYER, paid_at=clock.now()
    )

    error = await refused(
        bases.declare_contribution_base(
            hall.agent,
            hall.employer.id,
            2026,
            [
                BaseLine(lower.id_number, D("-1")),
                BaseLine(middle.id_number, D("1000000000")),
                BaseLine(not_staff.id_number, D("5000.00")),
                BaseLine(higher.id_number, D("0.00")),
            ],
        )
    )
    assert line_codes(error) == [
        (1, "declaredWage", ErrorCode.INVALID_AMOUNT),
        (2, "declaredWage", ErrorCode.INVALID_AMOUNT),
        (3, "idNumber", ErrorCode.NOT_EMPLOYED_HERE),
    ]
    assert [e.message for e in error.line_errors] == [
        "the declared monthly wage must be 0.00 or more",
        "a declared monthly wage is at most 1000000.00",
        "not employed by this employer in 2026",
    ]
    assert set(await models.Employment.all().values_list("declared_wage", flat=True)) == {D("10000.00")}
    assert not await models.BusinessTransaction.exists(business_type=BusinessType.DECLARE_CONTRIBUTION_BASE)
    assert (
        await refused(
            bases.declare_contribution_base(
                hall.agent, hall.employer.id, 2025, [BaseLine(lower.id_number, D("5000.00"))]
            )
        )
    ).code is ErrorCode.INVALID_INPUT

    declared = await bases.declare_contribution_base(
        hall.agent,
        hall.employer.id,
        2026,
        [
            BaseLine(lower.id_number, D("3000.00")),
            BaseLine(middle.id_number, D("12345.67")),
            BaseLine(higher.id_number, D("30000.00")),
        ],
    )
    assert declared.average_wage == D("8000.00")
    assert [(d.line, d.declared_wage, d.base, d.clamp, d.repriced_periods) for d in declared.lines] == [
        (1, D("3000.00"), D("4800.00"), Clamp.LOW, 4),  # its pension month is paid: it keeps its price
        (2, D("12345.67"), D("12345.67"), Clamp.NONE, 5),
        (3, D("30000.00"), D("24000.00"), Clamp.HIGH, 5),
    ]
    wages = dict(await models.Employment.all().values_list("person_id", "declared_wage"))
    assert wages == {lower.id: D("3000.00"), middle.id: D("12345.67"), higher.id: D("30000.00")}

    async def price(person: models.Person, insurance_type: InsuranceType) -> tuple:
        return priced(await models.ContributionPeriod.get(person_id=person.id, insurance_type=insurance_type))

    assert await price(lower, PENSION) == (PENSION, D("10000.00"), D("2400.00"), D("1600.00"), D("0.24"))
    assert await price(lower, MEDICAL) == (MEDICAL, D("4800.00"), D("480.00"), D("384.00"), D("0.10"))
    # 12345.67 x 16% = 1975.3072 and x 8% = 987.6536, each rounded: 1975.31 + 987.65.
    assert await price(middle, PENSION) == (PENSION, D("12345.67"), D("2962.96"), D("1975.31"), D("0.24"))
    assert await price(higher, PENSION) == (PENSION, D("24000.00"), D("5760.00"), D("3840.00"), D("0.24"))
    assert (declared.transaction.business_type, declared.transaction.status) == (
        BusinessType.DECLARE_CONTRIBUTION_BASE,
        TransactionStatus.COMPLETED,
    )
    stored = (await models.BusinessTransaction.get(id=declared.transaction.id)).details
    assert (stored["year"], stored["average_wage"]) == (2026, "8000.00")
    assert [(row["declared_wage"], row["base"], row["clamp"]) for row in stored["lines"]] == [
        ("3000.00", "4800.00", "LOW"),
        ("12345.67", "12345.67", "NONE"),
        ("30000.00", "24000.00", "HIGH"),
    ]


# E4: employer back-pay, and what the employer owes


async def owing_employer(hall: Hall) -> tuple[models.Person, dict[int, list[models.ContributionPeriod]]]:
    """A declared wage of 8888.88 from July: pension 1422.22 + 711.11 = 2133.33 (16% is 1422.2208,
    8% 711.1104), medical 711.11 + 177.78 = 888.89. July is in arrears, August was never paid,
    September was paid, November is due."""
    person = await hall.person(category=PersonCategory.EMPLOYED)
    await models.Employment.create(
        person=person, employer=hall.employer, start_month=202607, declared_wage=D("8888.88")
    )
    months: dict[int, list[models.ContributionPeriod]] = {}
    for insurance_type, amount, employer_amount in ((PENSION, "2133.33", "1422.22"), (MEDICAL, "888.89", "711.11")):
        policy = await models.Policy.create(
            person=person,
            insurance_type=insurance_type,
            channel=Channel.EMPLOYER,
            employer=hall.employer,
            start_month=202607,
        )
        for month, status in (
            (202607, PeriodStatus.ARREARS),
            (202608, PeriodStatus.DUE),
            (202609, PeriodStatus.PAID),
            (202611, PeriodStatus.DUE),
        ):
            months.setdefault(month, []).append(
                await models.ContributionPeriod.create(
                    policy=policy,
                    person=person,
                    month=month,
                    insurance_type=insurance_type,
                    channel=Channel.EMPLOYER,
                    base=D("8888.88"),
                    rate=D("0.24") if insurance_type is PENSION else D("0.10"),
                    amount=D(amount),
                    employer_amount=D(employer_amount),
                    status=status,
                    paid_via=PaidVia.EMPLOYER if status is PeriodStatus.PAID else None,
                    paid_at=clock.now() if status is PeriodStatus.PAID else None,
                )
            )
    await factories.arrears(months[202607])
    return person, months


async def test_what_the_employer_owes_month_by_month(hall: Hall) -> None:
    await owing_employer(hall)
    owed = await back_payment.owed_by_month(hall.employer.id, Month(2026, 7), Month(2026, 11))
    zero = D("0.00")
    assert owed == [
        # 3022.22 x 1.5% x 4/12: 10.67 (pension, 10.66665) + 4.44 (medical, 4.44445)
        MonthOwed(Month(2026, 7), D("3022.22"), D("2133.33"), D("888.89"), D("3022.22"), D("15.11")),
        MonthOwed(Month(2026, 8), D("3022.22"), D("2133.33"), D("888.89"), D("3022.22"), D("11.33")),  # 8.00 + 3.33
        MonthOwed(Month(2026, 9), zero, zero, zero, zero, zero),
        MonthOwed(Month(2026, 10), zero, zero, zero, zero, zero),
        MonthOwed(Month(2026, 11), D("3022.22"), D("2133.33"), D("888.89"), zero, zero),  # due, not late
    ]


async def test_employer_back_pay_with_interest_worked_by_hand(hall: Hall) -> None:
    person, months = await owing_employer(hall)
    for chosen in ([Month(2026, 9)], [Month(2026, 7), Month(2026, 10)], [Month(2026, 11)], [Month(2026, 12)]):
        error = await refused(back_payment.employer_back_pay(hall.agent, hall.employer.id, chosen))
        assert (error.code, error.field) == (ErrorCode.INVALID_MONTH, "months")
    assert await models.ContributionPeriod.filter(status=PeriodStatus.ARREARS).count() == 2  # nothing changed
    error = await refused(
        back_payment.employer_back_pay(hall.agent, hall.employer.id, [Month(2026, 7)], [person.id + 1])
    )
    assert error.code is ErrorCode.INVALID_INPUT
    assert (
        await refused(back_payment.employer_back_pay(hall.other_reviewer, hall.employer.id, [Month(2026, 7)]))
    ).code is ErrorCode.OUT_OF_SCOPE

    paid = await back_payment.employer_back_pay(hall.agent, hall.employer.id, [Month(2026, 8), Month(2026, 7)])
    # July, 4 months late: 2133.33 x 0.015 x 4/12 = 10.66665 -> 10.67; 888.89 -> 4.44445 -> 4.44.
    # August, 3 months: 7.9999875 -> 8.00; 3.3333375 -> 3.33.
    assert [(str(line.month), line.insurance_type, line.principal, line.interest) for line in paid.lines] == [
        ("2026-07", PENSION, D("2133.33"), D("10.67")),
        ("2026-07", MEDICAL, D("888.89"), D("4.44")),
        ("2026-08", PENSION, D("2133.33"), D("8.00")),
        ("2026-08", MEDICAL, D("888.89"), D("3.33")),
    ]
    assert (paid.principal, paid.interest, paid.total) == (D("6044.44"), D("26.44"), D("6070.88"))
    transaction = await models.BusinessTransaction.get(id=paid.transaction.id)
    assert (transaction.business_type, transaction.status, transaction.employer_id, transaction.effective_month) == (
        BusinessType.EMPLOYER_BACK_PAY,
        TransactionStatus.COMPLETED,
        hall.employer.id,
        202611,
    )
    assert (transaction.details["principal"], transaction.details["interest"], transaction.details["total"]) == (
        "6044.44",
        "26.44",
        "6070.88",
    )
    assert transaction.details["lines"] == [
        {"month": "2026-07", "periods": 2, "principal": "3022.22", "interest": "15.11"},
        {"month": "2026-08", "periods": 2, "principal": "3022.22", "interest": "11.33"},
    ]
    for month in (202607, 202608):
        for period in await models.ContributionPeriod.filter(id__in=[p.id for p in months[month]]):
            assert (period.status, period.paid_via, period.paid_at) == (
                PeriodStatus.PAID,
                PaidVia.EMPLOYER_BACK_PAY,
                clock.now(),
            )
    assert set(await models.Arrear.all().values_list("status", flat=True)) == {ArrearStatus.PAID}
    assert not await models.LedgerEntry.exists()  # paid by bank transfer, never from a passbook
    assert (await models.ContributionPeriod.get(id=months[202611][0].id)).status is PeriodStatus.DUE
    error = await refused(back_payment.employer_back_pay(hall.agent, hall.employer.id, [Month(2026, 7)]))
    assert error.code is ErrorCode.INVALID_MONTH  # paid once only
    owed = await back_payment.owed_by_month(hall.employer.id, Month(2026, 7), Month(2026, 8))
    assert [o.amount for o in owed] == [D("0.00"), D("0.00")]


# M3: filings not accepted by the 20th


async def test_roll_over_of_unaccepted_filings_is_idempotent(hall: Hall) -> None:
    first, second, third = [await hall.person(n) for n in ("蒋一", "沈二", "韩三")]
    at("2026-11-18")
    late = await staffing.add_employees(hall.agent, hall.employer.id, [AddLine(first.id_number, D("7000.00"))])
    accepted = await staffing.add_employees(hall.agent, hall.employer.id, [AddLine(third.id_number, D("7000.00"))])
    await staffing.review(hall.reviewer, accepted.id, True)
    at("2026-11-21")
    filed_late = await staffing.add_employees(hall.agent, hall.employer.id, [AddLine(second.id_number, D("7000.00"))])
    assert (late.effective_month, filed_late.effective_month) == (202611, 202612)

    assert await staffing.roll_over_unaccepted(dt.date(2026, 11, 20)) == 0  # the 20th is still on time
    assert await staffing.roll_over_unaccepted(dt.date(2026, 11, 21)) == 1
    moved = await models.BusinessTransaction.get(id=late.id)
    assert moved.effective_month == 202612
    assert moved.details["effective_month_moves"] == [
        {
            "from": "2026-11",
            "to": "2026-12",
            "on": "2026-11-21",
            "reason": "not accepted by the 20th: takes effect from 2026-12",
        }
    ]
    assert await staffing.roll_over_unaccepted(dt.date(2026, 11, 21)) == 0
    assert await staffing.roll_over_unaccepted(dt.date(2026, 11, 30)) == 0
    assert (await models.BusinessTransaction.get(id=late.id)).details == moved.details

    assert await staffing.roll_over_unaccepted(dt.date(2026, 12, 21)) == 2
    assert await staffing.roll_over_unaccepted(dt.date(2026, 12, 21)) == 0
    months = dict(
        await models.BusinessTransaction.filter(business_type=BusinessType.ADD_EMPLOYEES).values_list(
            "id", "effective_month"
        )
    )
    assert months == {late.id: 202701, filed_late.id: 202701, accepted.id: 202611}  # accepted in time: untouched
    assert len((await models.BusinessTransaction.get(id=late.id)).details["effective_month_moves"]) == 2
    # Accepted on the 5th of January, on time for January: no further move.
    at("2027-01-05")
    assert (await staffing.review(hall.reviewer, late.id, True)).effective_month == 202701


@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="a race needs PostgreSQL")
async def test_two_filings_of_the_same_person_at_once_file_one(hall: Hall) -> None:
    person = await hall.person()
    counter = await factories.viewer(Role.REVIEWER, district=hall.district)

    async def file(actor: Viewer):
        try:
            return await staffing.add_employees(actor, hall.employer.id, [AddLine(person.id_number, D("7000.00"))])
        except FilingRejected as error:
            return line_codes(error)

    results = await asyncio.gather(*(file(actor) for actor in (hall.agent, counter) * 4))
    assert sum(isinstance(r, models.BusinessTransaction) for r in results) == 1
    assert (
        sorted(r for r in results if not isinstance(r, models.BusinessTransaction))
        == [[(1, "idNumber", ErrorCode.INVALID_INPUT)]] * 7
    )
    assert await filings() == 1


async def test_the_largest_filing_takes_effect_in_one_visit(hall: Hall) -> None:
    persons = [
        models.Person(
            id_number=make_resident_id("420102", dt.date(1985, 1, 1) + dt.timedelta(days=n), 11),
            name=f"员工{n}",
            gender="MALE",
            birth_date=dt.date(1985, 1, 1) + dt.timedelta(days=n),
            category=PersonCategory.UNINSURED,
            district_id=hall.district.id,
            community_id=hall.community.id,
        )
        for n in range(MAX_FILING_LINES)
    ]
    await models.Person.bulk_create(persons)
    done = await hall.hire([(p, "9000.00") for p in persons])
    assert (len(done.employments), len(done.policies), len(done.periods)) == (500, 2500, 2500)
    assert sum(p.amount for p in done.periods) == 500 * D("3258.00")  # 2160.00 + 900.00 + 90.00 + 45.00 + 63.00
    assert await models.Person.filter(category=PersonCategory.EMPLOYED).count() == 500

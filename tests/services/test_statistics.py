"""Dashboard statistics (Q4): exact counts, small groups suppressed (A6), months in local time (M2).

The clock stands at 2026-11-10 (conftest). A group of 4 is suppressed, a group of 5 is shown unless
it would give a suppressed one away (domain.disclosure; tests/services/test_disclosure_attack.py
attacks every answer).
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from decimal import Decimal

import pytest
from tortoise.transactions import in_transaction

import models
from domain.enums import (
    BusinessType,
    Channel,
    EmployerStatus,
    InsuranceType,
    PolicyStatus,
    Role,
    ServiceChannel,
    TransactionStatus,
)
from domain.errors import BusinessError, ErrorCode
from domain.months import Month, month_range
from services import statistics
from services.common import clock
from services.statistics import MIN_GROUP, Dimension, Group
from tests import factories

pytestmark = pytest.mark.usefixtures("db")

D = Decimal
PENSION, MEDICAL = InsuranceType.PENSION, InsuranceType.MEDICAL
FLEXIBLE, EMPLOYER = Channel.FLEXIBLE, Channel.EMPLOYER
NOVEMBER = Month(2026, 11)


def shown(count: int, **key) -> Group:
    return Group(count=count, suppressed=False, **key)


def hidden(**key) -> Group:
    return Group(count=None, suppressed=True, **key)


class City:
    """District A (江岸区) and B (江汉区), each with one community."""

    def __init__(
        self, a: models.District, b: models.District, home_a: models.Community, home_b: models.Community
    ) -> None:
        self.a, self.b, self.home_a, self.home_b = a, b, home_a, home_b


@pytest.fixture
async def city() -> City:
    a = await factories.district("420102", "江岸区")
    b = await factories.district("420103", "江汉区")
    return City(a, b, await factories.community(a), await factories.community(b))


async def _policy(
    person: models.Person,
    insurance_type: InsuranceType,
    start: Month,
    *,
    channel: Channel = FLEXIBLE,
    status: PolicyStatus = PolicyStatus.ACTIVE,
    end: Month | None = None,
    employer: models.Employer | None = None,
) -> models.Policy:
    return await models.Policy.create(
        person=person,
        insurance_type=insurance_type,
        channel=channel,
        employer=employer,
        status=status,
        grade=D("1.00") if insurance_type is PENSION and channel is FLEXIBLE else None,
        start_month=start.to_int(),
        end_month=end.to_int() if end else None,
    )


@pytest.fixture
async def insured(city: City) -> City:
    """In force in 2026-11:
    - A: 5 flexible pension (4 of them also flexible medical), 6 employer pension;
    - B: 4 flexible pension.
    Not in force in 2026-11: in A, one flexible pension suspended with 2026-08 the last month due;
    one terminated before its first month; one starting 2026-12.
    """
    for i in range(5):
        person = await factories.person(city.home_a, name=f"灵活{i}")
        await _policy(person, PENSION, Month(2026, 1))
        if i < 4:
            await _policy(person, MEDICAL, Month(2026, 1))
    company = await factories.employer(city.a)
    for i in range(6):
        person = await factories.person(city.home_a, name=f"职工{i}")
        await _policy(person, PENSION, Month(2025, 1), channel=EMPLOYER, employer=company)
    for i in range(4):
        person = await factories.person(city.home_b, name=f"江汉{i}")
        await _policy(person, PENSION, Month(2026, 3))
    suspended = await factories.person(city.home_a, name="暂停")
    await _policy(suspended, PENSION, Month(2026, 1), status=PolicyStatus.SUSPENDED, end=Month(2026, 8))
    never = await factories.person(city.home_a, name="未始")
    await _policy(never, PENSION, Month(2026, 12), status=PolicyStatus.TERMINATED)
    later = await factories.person(city.home_a, name="下月")
    await _policy(later, PENSION, Month(2026, 12))
    return city


# Insured counts


async def test_insured_persons_by_insurance_type_this_month(insured: City) -> None:
    groups = await statistics.enrollment_stats([Dimension.INSURANCE_TYPE])

    assert groups == [hidden(insurance_type=MEDICAL), shown(15, insurance_type=PENSION)]


async def test_each_person_counts_once_a_group(insured: City) -> None:
    assert await statistics.enrollment_stats([], NOVEMBER) == [shown(15)]
    assert await statistics.enrollment_stats([Dimension.CHANNEL], NOVEMBER) == [
        shown(6, channel=EMPLOYER),
        shown(9, channel=FLEXIBLE),  # the 4 with pension and medical count once: 5 + 4
    ]
    # A's 11 (5 + 6) is suppressed with B's 4: the city's 15 less 11 would give the 4.
    assert await statistics.enrollment_stats([Dimension.DISTRICT], NOVEMBER) == [
        hidden(district_id=insured.a.id),
        hidden(district_id=insured.b.id),
    ]


async def test_insured_persons_by_insurance_type_and_channel(insured: City) -> None:
    groups = await statistics.enrollment_stats([Dimension.INSURANCE_TYPE, Dimension.CHANNEL], NOVEMBER)

    assert groups == [
        hidden(insurance_type=MEDICAL, channel=FLEXIBLE),  # 4
        shown(6, insurance_type=PENSION, channel=EMPLOYER),
        shown(9, insurance_type=PENSION, channel=FLEXIBLE),
    ]


async def test_a_group_of_four_is_suppressed_and_so_is_the_group_that_would_give_it_away(insured: City) -> None:
    by_district = [Dimension.DISTRICT, Dimension.CHANNEL]
    groups = await statistics.enrollment_stats(by_district, NOVEMBER, insurance_type=PENSION, channel=FLEXIBLE)

    # B's 4 is under MIN_GROUP; A's 5 is not, but the 9 flexible pension persons less 5 would be B's 4.
    assert groups == [
        hidden(district_id=insured.a.id, channel=FLEXIBLE),
        hidden(district_id=insured.b.id, channel=FLEXIBLE),
    ]
    assert await statistics.enrollment_stats([Dimension.CHANNEL], NOVEMBER, insurance_type=PENSION) == [
        shown(6, channel=EMPLOYER),
        shown(9, channel=FLEXIBLE),
    ]
    assert MIN_GROUP == 5
    only_b = await statistics.enrollment_stats([], NOVEMBER, district_id=insured.b.id)
    assert only_b == [hidden()] and only_b[0].count is None  # suppressed, not zero


async def test_a_monthly_series_sees_the_suspended_policy_until_its_last_month(insured: City) -> None:
    groups = await statistics.enrollment_stats(
        [Dimension.MONTH],
        from_month=Month(2026, 6),
        to_month=Month(2026, 12),
        insurance_type=PENSION,
        channel=FLEXIBLE,
    )

    # B's 4, and in A 5 flexible pension persons from 2026-01, the suspended one until 2026-08, and
    # from 2026-12 the one who starts then (the one terminated before starting never counts).
    assert groups == [shown(10, month=Month(2026, m)) for m in (6, 7, 8)] + [
        shown(9, month=Month(2026, m)) for m in (9, 10, 11)
    ] + [shown(10, month=Month(2026, 12))]
    # A alone is suppressed every month: less A, the city would give B's 4.
    in_a = await statistics.enrollment_stats(
        [Dimension.MONTH], from_month=Month(2026, 6), to_month=Month(2026, 12), district_id=insured.a.id
    )
    assert all(group.suppressed for group in in_a) and len(in_a) == 7


async def test_a_range_not_grouped_by_month_lists_its_groups_all_suppressed(insured: City) -> None:
    # Persons in force in any month of a range are not a sum of months: a person counted in several
    # months links them, and no suppression of the months keeps such a count from giving a hidden
    # month away (test_disclosure_attack.py). The groups with someone in some month are listed, as a
    # month's answers already tell, without a count.
    groups = await statistics.enrollment_stats(
        [Dimension.STATUS], from_month=Month(2026, 6), to_month=Month(2026, 11), insurance_type=PENSION
    )

    assert groups == [hidden(status=PolicyStatus.ACTIVE), hidden(status=PolicyStatus.SUSPENDED)]
    assert await statistics.enrollment_stats([Dimension.STATUS], NOVEMBER, insurance_type=PENSION) == [
        shown(15, status=PolicyStatus.ACTIVE)  # the suspended one ended in 2026-08
    ]


async def test_by_district_and_month_in_one_statement(insured: City, count_queries) -> None:
    groups = await statistics.enrollment_stats(
        [Dimension.DISTRICT, Dimension.MONTH], from_month=Month(2026, 2), to_month=Month(2026, 3)
    )

    # A look at the months the rollups hold (none), then one statement counting live.
    looked, counted = count_queries.statements
    assert "rollup_month" in looked and "FROM policy" in counted
    assert groups == [
        shown(12, district_id=insured.a.id, month=Month(2026, 2)),  # 5 + 6 + the one suspended later
        hidden(district_id=insured.a.id, month=Month(2026, 3)),  # the city's 16 less it would give B's 4
        hidden(district_id=insured.b.id, month=Month(2026, 3)),  # B's 4 start in 2026-03
    ]


async def test_enrollment_refuses_a_bad_question(insured: City) -> None:
    cases = [
        (dict(group_by=["GENDER"]), ErrorCode.INVALID_INPUT, "groupBy"),
        (dict(group_by=[Dimension.BUSINESS_TYPE]), ErrorCode.INVALID_INPUT, "groupBy"),
        (dict(group_by=[], month=NOVEMBER, from_month=NOVEMBER, to_month=NOVEMBER), ErrorCode.INVALID_INPUT, "month"),
        (dict(group_by=[], from_month=NOVEMBER), ErrorCode.INVALID_INPUT, "toMonth"),
        (
            dict(group_by=[Dimension.MONTH], from_month=Month(2026, 11), to_month=Month(2026, 10)),
            ErrorCode.INVALID_MONTH,
            "toMonth",
        ),
        # 2024-01 .. 2027-01 is 37 months
        (
            dict(group_by=[Dimension.MONTH], from_month=Month(2024, 1), to_month=Month(2027, 1)),
            ErrorCode.INVALID_MONTH,
            "toMonth",
        ),
        (dict(group_by=[], status="LAPSED"), ErrorCode.INVALID_INPUT, "status"),
    ]
    for arguments, code, field in cases:
        with pytest.raises(BusinessError) as raised:
            await statistics.enrollment_stats(**arguments)
        assert (raised.value.code, raised.value.field) == (code, field), arguments


async def test_thirty_six_months_are_allowed(insured: City) -> None:
    groups = await statistics.enrollment_stats([Dimension.MONTH], from_month=Month(2024, 1), to_month=Month(2026, 12))

    assert len(groups) == 24  # 2025-01 .. 2026-12: no one was insured in 2024
    # 2025-01: the 6 employed; 2026-12: 5 + 6 + the one starting then in A, and B's 4.
    assert groups[0] == shown(6, month=Month(2025, 1)) and groups[-1] == shown(16, month=Month(2026, 12))


# Business volume


async def _transactions(
    district: models.District,
    business_type: BusinessType,
    moments: list[dt.datetime],
    channel: ServiceChannel = ServiceChannel.ONLINE,
    status: TransactionStatus = TransactionStatus.COMPLETED,
) -> None:
    for moment in moments:
        await models.BusinessTransaction.create(
            business_type=business_type, status=status, channel=channel, district=district, submitted_at=moment
        )


def local(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{text}+08:00")


@pytest.fixture
async def volume(city: City) -> City:
    """ENROLL_FLEXIBLE online in A: 4 in 2026-10 and 5 in 2026-11, with the edges of the months in
    local time (one given in UTC); PAY_ARREARS at the counter in B: 6 in 2026-11, one of them
    rejected; one transaction in 2026-09."""
    await _transactions(
        city.a,
        BusinessType.ENROLL_FLEXIBLE,
        [
            local("2026-10-01T00:00:00"),
            local("2026-10-15T09:00:00"),
            local("2026-10-20T17:59:59"),
            local("2026-10-31T23:59:59.900000"),  # 15:59 UTC on the 31st
        ],
    )
    await _transactions(
        city.a,
        BusinessType.ENROLL_FLEXIBLE,
        [
            local("2026-11-01T00:00:00"),  # 16:00 UTC on 31 October: November in Wuhan
            dt.datetime(2026, 10, 31, 16, 30, tzinfo=dt.UTC),  # 00:30 on 1 November in Wuhan
            local("2026-11-03T10:00:00"),
            local("2026-11-10T09:30:00"),
            local("2026-11-30T23:59:59"),
        ],
    )
    await _transactions(
        city.b,
        BusinessType.PAY_ARREARS,
        [local(f"2026-11-{day:02d}T10:00:00") for day in range(2, 7)],
        channel=ServiceChannel.COUNTER,
    )
    await _transactions(
        city.b,
        BusinessType.PAY_ARREARS,
        [local("2026-11-09T10:00:00")],
        channel=ServiceChannel.COUNTER,
        status=TransactionStatus.REJECTED,
    )
    await _transactions(city.a, BusinessType.CHANGE_PENSION_GRADE, [local("2026-09-30T23:59:59")])
    await _transactions(city.a, BusinessType.CHANGE_PENSION_GRADE, [local("2026-12-01T00:00:00")])
    return city


async def test_business_volume_by_type_and_local_month(volume: City) -> None:
    groups = await statistics.business_volume_stats(
        [Dimension.BUSINESS_TYPE, Dimension.MONTH], Month(2026, 10), Month(2026, 11)
    )

    assert groups == [
        hidden(business_type=BusinessType.ENROLL_FLEXIBLE, month=Month(2026, 10)),  # 4
        shown(5, business_type=BusinessType.ENROLL_FLEXIBLE, month=Month(2026, 11)),
        shown(6, business_type=BusinessType.PAY_ARREARS, month=Month(2026, 11)),
    ]


async def test_business_volume_by_month_channel_district_and_status(volume: City) -> None:
    assert await statistics.business_volume_stats([Dimension.MONTH], Month(2026, 9), Month(2026, 12)) == [
        hidden(month=Month(2026, 9)),
        hidden(month=Month(2026, 10)),
        shown(11, month=Month(2026, 11)),
        hidden(month=Month(2026, 12)),
    ]
    assert await statistics.business_volume_stats([Dimension.CHANNEL], NOVEMBER, NOVEMBER) == [
        shown(6, channel=ServiceChannel.COUNTER),
        shown(5, channel=ServiceChannel.ONLINE),  # a group of 5 is shown
    ]
    assert await statistics.business_volume_stats([Dimension.DISTRICT], NOVEMBER, NOVEMBER) == [
        shown(5, district_id=volume.a.id),
        shown(6, district_id=volume.b.id),
    ]
    # A's 9 over two months holds October's 4, which the 9 less November's 5 would give; B's 5
    # completed would give its one rejected from B's 6.
    assert await statistics.business_volume_stats(
        [Dimension.DISTRICT, Dimension.STATUS], Month(2026, 10), NOVEMBER
    ) == [
        hidden(district_id=volume.a.id, status=TransactionStatus.COMPLETED),
        hidden(district_id=volume.b.id, status=TransactionStatus.COMPLETED),
        hidden(district_id=volume.b.id, status=TransactionStatus.REJECTED),
    ]
    assert await statistics.business_volume_stats(
        [], NOVEMBER, NOVEMBER, district_id=volume.b.id, business_type=BusinessType.PAY_ARREARS
    ) == [shown(6)]


async def test_business_volume_refuses_a_hundred_years(volume: City) -> None:
    with pytest.raises(BusinessError) as raised:
        await statistics.business_volume_stats([Dimension.MONTH], Month(1950, 1), Month(2049, 12))

    assert raised.value.code is ErrorCode.INVALID_MONTH
    assert raised.value.message == "a range is at most 36 months; 1950-01 to 2049-12 is 1200 months"


async def test_business_volume_refuses_a_bad_question(volume: City) -> None:
    for group_by, first, last, code in [
        ([Dimension.INSURANCE_TYPE], NOVEMBER, NOVEMBER, ErrorCode.INVALID_INPUT),
        (["WEEKDAY"], NOVEMBER, NOVEMBER, ErrorCode.INVALID_INPUT),
        ([Dimension.MONTH], NOVEMBER, Month(2026, 10), ErrorCode.INVALID_MONTH),
    ]:
        with pytest.raises(BusinessError) as raised:
            await statistics.business_volume_stats(group_by, first, last)
        assert raised.value.code is code


# Online adoption


async def _account(
    role: Role, *, person: models.Person | None = None, employer: models.Employer | None = None, active: bool = True
) -> None:
    owner = person.id if person else employer.id
    count = await models.Account.filter(role=role).count()
    await models.Account.create(
        username=f"{role.value.lower()}{owner}x{count}",
        password_hash="x",
        role=role,
        person=person,
        employer=employer,
        is_active=active,
    )


async def test_online_adoption_by_district(city: City) -> None:
    empty = await factories.district("420104", "硚口区")
    # A: 7 persons, 5 with an active account, 1 disabled, 1 without; B: 4 persons, all online.
    for i in range(7):
        person = await factories.person(city.home_a, name=f"甲{i}")
        if i < 6:
            await _account(Role.PERSON, person=person, active=i < 5)
    for i in range(4):
        await _account(Role.PERSON, person=await factories.person(city.home_b, name=f"乙{i}"))
    # A: 6 active employers, 5 with agents (one with two); a closed one with an agent is left out.
    for i in range(6):
        company = await factories.employer(city.a, name=f"甲公司{i}")
        if i < 5:
            await _account(Role.EMPLOYER_AGENT, employer=company)
        if i == 0:
            await _account(Role.EMPLOYER_AGENT, employer=company)
    closed = await factories.employer(city.a, name="关闭公司")
    closed.status = EmployerStatus.CLOSED
    await closed.save()
    await _account(Role.EMPLOYER_AGENT, employer=closed)
    await _account(Role.EMPLOYER_AGENT, employer=await factories.employer(city.b, name="乙公司"))

    stats = await statistics.online_adoption_stats()

    a, b, c = stats.districts
    assert (a.district_id, b.district_id, c.district_id) == (city.a.id, city.b.id, empty.id)
    assert (a.district_code, a.district_name) == ("420102", "江岸区")
    assert a.persons == statistics.Adoption(7, False, 5, False, D("0.7143"))
    assert a.employers == statistics.Adoption(6, False, 5, False, D("0.8333"))
    assert b.persons == statistics.Adoption(None, True, None, True, None)
    assert b.employers == statistics.Adoption(None, True, None, True, None)
    assert c.persons == statistics.Adoption(None, True, None, True, None)  # none: suppressed, not zero
    # The city sums only districts whose counts are both shown: B's 4 cannot be worked out.
    assert stats.persons == statistics.Adoption(7, False, 5, False, D("0.7143"))
    assert stats.employers == statistics.Adoption(6, False, 5, False, D("0.8333"))


async def test_a_share_is_not_given_when_the_online_count_is_suppressed(city: City) -> None:
    for i in range(9):
        person = await factories.person(city.home_a, name=f"丙{i}")
        if i < 4:
            await _account(Role.PERSON, person=person)

    stats = await statistics.online_adoption_stats()

    assert stats.districts[0].persons == statistics.Adoption(9, False, None, True, None)
    assert stats.persons == statistics.Adoption(None, True, None, True, None)


# From the rollups (jobs/statistics.py): the same answers as counting live, and how fresh they are

COMPUTED = "2026-11-10T02:00:00+08:00"
ASKED = "2026-11-10T10:00:00+08:00"
ENROLLMENT_GROUPINGS = (Dimension.INSURANCE_TYPE, Dimension.CHANNEL, Dimension.DISTRICT, Dimension.STATUS)
VOLUME_GROUPINGS = (Dimension.BUSINESS_TYPE, Dimension.STATUS, Dimension.CHANNEL, Dimension.DISTRICT)
SERIES = dict(from_month=Month(2025, 12), to_month=NOVEMBER)
TRANSACTIONS = 1500


def subsets(dimensions):
    return [list(chosen) for size in range(len(dimensions) + 1) for chosen in itertools.combinations(dimensions, size)]


async def refresh_rollups() -> None:
    """What the nightly job does on its first run: every month of the window, and adoption."""
    clock.freeze(COMPUTED)
    await statistics.refresh_online_adoption()
    for month in await statistics.months_to_refresh(NOVEMBER):
        async with in_transaction():
            await statistics.refresh_month(month)
    clock.freeze(ASKED)


@pytest.fixture
async def busy(city: City) -> City:
    """Three districts, 120 persons with pension and medical policies on both channels, starting,
    suspending and ending through 2025 and 2026; 1,500 transactions over 2025-10 .. 2026-12, many on
    the local edges of months; accounts for online adoption."""
    rng = random.Random(20261110)
    c = await factories.district("420104", "硚口区")
    homes = [city.home_a, city.home_b, await factories.community(c, name="古田社区")]
    employers = [await factories.employer(district, name=f"公司{i}") for i, district in enumerate((city.a, city.b, c))]
    months = month_range(Month(2025, 1), Month(2026, 12))
    for n in range(120):
        home = homes[n % 3] if n % 7 else homes[0]  # district A is the largest
        person = await factories.person(home, name=f"居民{n}", birth=dt.date(1970, 1, 1) + dt.timedelta(days=n))
        for insurance_type in (PENSION, MEDICAL):
            if insurance_type is MEDICAL and n % 3 == 0:
                continue
            channel = EMPLOYER if n % 4 == 0 else FLEXIBLE
            start = rng.choice(months)
            status, end = rng.choice(
                [(PolicyStatus.ACTIVE, None)] * 4
                + [(PolicyStatus.SUSPENDED, True), (PolicyStatus.TERMINATED, True), (PolicyStatus.TERMINATED, None)]
            )
            last = rng.choice([m for m in months if m >= start]) if end else None
            await _policy(
                person,
                insurance_type,
                start,
                channel=channel,
                status=status,
                end=last,
                employer=employers[n % 3] if channel is EMPLOYER else None,
            )
        if n % 5:
            await _account(Role.PERSON, person=person, active=n % 11 != 0)
    for i in range(12):
        company = await factories.employer((city.a, city.b, c)[i % 3], name=f"单位{i}")
        if i % 4:
            await _account(Role.EMPLOYER_AGENT, employer=company)
    districts = (city.a, city.a, city.b, c)
    types = (BusinessType.ENROLL_FLEXIBLE, BusinessType.PAY_ARREARS, BusinessType.ADD_EMPLOYEES)
    statuses = (
        TransactionStatus.COMPLETED,
        TransactionStatus.COMPLETED,
        TransactionStatus.SUBMITTED,
        TransactionStatus.REJECTED,
    )
    days = [
        dt.date(m.year, m.month, day)
        for m in month_range(Month(2025, 10), Month(2026, 12))
        for day in (1, 10, 19, 20, 28)
    ]
    # Enough a month that groups of a few dimensions are shown: most finest ones are small.
    transactions = []
    for n in range(TRANSACTIONS):
        moment = local(f"{rng.choice(days).isoformat()}T{rng.choice(['00:00:00', '09:30:00', '23:59:59'])}")
        transactions.append(
            models.BusinessTransaction(
                business_type=rng.choice(types),
                status=rng.choice(statuses),
                district=rng.choice(districts),
                channel=ServiceChannel.COUNTER if n % 3 == 0 else ServiceChannel.ONLINE,
                submitted_at=moment,
            )
        )
    await models.BusinessTransaction.bulk_create(transactions)
    city.c = c
    return city


def enrollment_questions(city: City) -> list[dict]:
    filters = [
        {},
        dict(insurance_type=PENSION),
        dict(channel=FLEXIBLE, district_id=city.a.id),
        dict(status=PolicyStatus.ACTIVE, insurance_type=MEDICAL),
        dict(district_id=city.c.id),
    ]
    questions = []
    for grouped, chosen in itertools.product(subsets(ENROLLMENT_GROUPINGS), filters):
        questions.append(dict(group_by=grouped, month=NOVEMBER, **chosen))
        questions.append(dict(group_by=[*grouped, Dimension.MONTH], **SERIES, **chosen))
    return questions


async def test_enrollment_from_the_rollups_is_counted_as_live(busy: City) -> None:
    await refresh_rollups()
    shown_groups = 0
    for question in enrollment_questions(busy):
        from_rollups = await statistics.enrollment_stats(**question)
        counted = await statistics.enrollment_stats(**question, live=True)
        assert from_rollups == counted, question
        assert (from_rollups.as_of, counted.as_of) == (clock.parse_moment(COMPUTED), clock.now()), question
        shown_groups += sum(1 for group in counted if not group.suppressed)
    assert shown_groups > 600  # the answers compared are not all suppressed


async def test_business_volume_from_the_rollups_is_counted_as_live(busy: City) -> None:
    await refresh_rollups()
    filters = [
        {},
        dict(business_type=BusinessType.PAY_ARREARS),
        dict(channel=ServiceChannel.ONLINE, district_id=busy.a.id),
        dict(status=TransactionStatus.COMPLETED),
    ]
    ranges = [(NOVEMBER, NOVEMBER), (Month(2025, 12), NOVEMBER), (Month(2023, 12), NOVEMBER)]
    shown_groups = 0
    groupings = subsets([*VOLUME_GROUPINGS, Dimension.MONTH])
    for grouped, chosen, (first, last) in itertools.product(groupings, filters, ranges):
        from_rollups = await statistics.business_volume_stats(grouped, first, last, **chosen)
        counted = await statistics.business_volume_stats(grouped, first, last, **chosen, live=True)
        assert from_rollups == counted, (grouped, chosen, first, last)
        assert (from_rollups.as_of, counted.as_of) == (clock.parse_moment(COMPUTED), clock.now())
        shown_groups += sum(1 for group in counted if not group.suppressed)
    assert shown_groups > 1000


async def test_online_adoption_from_the_rollup_is_counted_as_live(busy: City) -> None:
    await refresh_rollups()

    from_rollup = await statistics.online_adoption_stats()
    counted = await statistics.online_adoption_stats(live=True)

    assert (from_rollup.districts, from_rollup.persons, from_rollup.employers) == (
        counted.districts,
        counted.persons,
        counted.employers,
    )
    assert from_rollup.persons.total == 120 and from_rollup.districts[0].persons.online is not None
    assert (from_rollup.as_of, counted.as_of) == (clock.parse_moment(COMPUTED), clock.now())


async def test_the_rollups_answer_as_they_were_computed_until_counted_again(busy: City) -> None:
    await refresh_rollups()
    before = await statistics.enrollment_stats([])  # the city's persons: shown
    for i in range(5):
        person = await factories.person(busy.home_b, name=f"新{i}", birth=dt.date(1990, 1, 1 + i))
        await _policy(person, PENSION, Month(2026, 10))
    await _transactions(busy.b, BusinessType.PAY_ARREARS, [local("2026-11-10T09:00:00")] * 5)

    assert not before[0].suppressed
    assert await statistics.enrollment_stats([]) == before  # as of 02:00
    assert await statistics.enrollment_stats([], live=True) != before

    clock.freeze("2026-11-11T02:00:00+08:00")
    async with in_transaction():
        await statistics.refresh_month(NOVEMBER)
    after = await statistics.enrollment_stats([])
    assert after == await statistics.enrollment_stats([], live=True) != before
    assert await statistics.enrollment_stats([Dimension.DISTRICT]) == await statistics.enrollment_stats(
        [Dimension.DISTRICT], live=True
    )
    assert after.as_of == clock.now()
    # A series reaching back to months computed before is as old as its oldest month.
    series = await statistics.business_volume_stats([Dimension.MONTH], Month(2026, 10), NOVEMBER)
    assert series.as_of == clock.parse_moment(COMPUTED)


async def test_questions_the_rollups_cannot_answer_are_counted_live(busy: City) -> None:
    await refresh_rollups()
    later = Month(2026, 12)  # next month: not in the rollups yet

    for answer in (
        await statistics.enrollment_stats([Dimension.DISTRICT], later),
        await statistics.enrollment_stats([Dimension.MONTH], from_month=NOVEMBER, to_month=later),
        # Persons in force in any month of a range do not add up month by month.
        await statistics.enrollment_stats([Dimension.INSURANCE_TYPE], from_month=Month(2026, 6), to_month=NOVEMBER),
        await statistics.business_volume_stats([Dimension.BUSINESS_TYPE], Month(2023, 11), Month(2026, 10)),
    ):
        assert answer.as_of == clock.now()
    # Those persons' groups are listed without counts.
    union = await statistics.enrollment_stats([Dimension.INSURANCE_TYPE], from_month=Month(2026, 6), to_month=NOVEMBER)
    assert union == [hidden(insurance_type=MEDICAL), hidden(insurance_type=PENSION)]
    # A one-month range is one month.
    one = await statistics.enrollment_stats([Dimension.INSURANCE_TYPE], from_month=NOVEMBER, to_month=NOVEMBER)
    assert one.as_of == clock.parse_moment(COMPUTED)
    assert one == await statistics.enrollment_stats([Dimension.INSURANCE_TYPE], NOVEMBER, live=True)


async def test_a_month_without_anyone_insured_reads_from_the_rollups_as_counted_live(city: City) -> None:
    await refresh_rollups()  # an empty city: a row of 0 persons a month

    for question in (
        dict(group_by=[]),
        dict(group_by=[], district_id=city.a.id),
        dict(group_by=[Dimension.MONTH], **SERIES),
        dict(group_by=[Dimension.STATUS]),
    ):
        from_rollups = await statistics.enrollment_stats(**question)
        assert from_rollups == await statistics.enrollment_stats(**question, live=True), question
        assert from_rollups.as_of == clock.parse_moment(COMPUTED)
    assert await statistics.enrollment_stats([]) == [hidden()]
    assert await statistics.business_volume_stats([], NOVEMBER, NOVEMBER) == [hidden()]
    assert await statistics.business_volume_stats([Dimension.MONTH], NOVEMBER, NOVEMBER) == []


async def test_answers_from_the_rollups_take_two_statements(busy: City, count_queries) -> None:
    await refresh_rollups()
    count_queries.statements.clear()

    await statistics.enrollment_stats([Dimension.DISTRICT, Dimension.MONTH], **SERIES)
    await statistics.business_volume_stats([Dimension.BUSINESS_TYPE], Month(2025, 12), NOVEMBER)

    assert len(count_queries.statements) == 4
    assert all("policy" not in s and "business_transaction" not in s for s in count_queries.statements)


async def test_live_answers_say_they_are_of_now(insured: City) -> None:
    groups = await statistics.enrollment_stats([Dimension.INSURANCE_TYPE])
    assert groups.as_of == clock.now()
    assert (await statistics.online_adoption_stats()).as_of == clock.now()

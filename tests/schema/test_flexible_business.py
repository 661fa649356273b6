"""The flexible-employment businesses through the graph (F1-F8): what a client sends and sees,
and bad input refused with a typed error and nothing changed. The clock stands at 2026-11-10."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

import models
from domain.enums import (
    ArrearStatus,
    Channel,
    InsuranceType,
    PaymentOrderStatus,
    PeriodStatus,
    PersonCategory,
    Role,
)
from domain.months import Month
from resolvers.inputs import encode_id
from services.cards.applications import visit_deadline
from services.collection.month_end import collect_month
from services.common import clock
from settings import get_settings
from tests import factories
from tests.graphql_client import data, error_codes, run

pytestmark = pytest.mark.usefixtures("db")

ENROLL = """mutation Enroll($input: EnrollFlexibleInput!) { enrollFlexible(input: $input) {
  policies { insuranceType channel status grade startMonth periods { edges { node { month base amount status } } } }
  cardApplication { status visitDeadline hasCardPhoto }
  transaction { id businessType status channel effectiveMonth }
  errors { field code message } } }"""
SUSPEND = """mutation Suspend($input: SuspendFlexibleInput!) { suspendFlexible(input: $input) {
  policies { insuranceType status endMonth } transaction { businessType effectiveMonth } errors { field code } } }"""
GRADE = """mutation Grade($input: ChangePensionGradeInput!) { changePensionGrade(input: $input) {
  policy { grade } repricedPeriods { month base amount } transaction { businessType effectiveMonth } errors { field code } } }"""
PAY = """mutation Pay($input: PayArrearsInput!) { payArrears(input: $input) {
  order { id kind status principal interest total collectionMonth lines { month insuranceType principal interest arrear { status } } }
  transaction { businessType status } errors { field code message } } }"""
CANCEL = """mutation Cancel($input: CancelArrearsInput!) { cancelArrears(input: $input) {
  arrears { month status } transaction { businessType status } errors { field code message } } }"""
QUOTE = """query Quote($type: InsuranceType! = PENSION, $person: ID) { interruptionQuote(personId: $person, insuranceType: $type) {
  pensionGrade averageWage collectionMonth principal interest total lines { month base principal interest } } }"""
BACK_PAY = """mutation BackPay($input: PayInterruptionInput!) { payInterruption(input: $input) {
  order { kind total lines { month } } transaction { businessType status } errors { field code message } } }"""
CARD = """mutation Card($input: ApplyMedicalCardInput!) { applyMedicalCard(input: $input) {
  cardApplication { id status visitDeadline } transaction { businessType status } errors { field code message } } }"""


@pytest.fixture
async def hall():
    await factories.average_wage(2026, "8000.00")
    home = await factories.community(await factories.district())
    person = await factories.person(home, name="陈静", category=PersonCategory.UNINSURED)
    return {"home": home, "person": person, "me": await factories.viewer(Role.PERSON, person=person)}


async def counts() -> tuple[int, ...]:
    return (
        await models.Policy.all().count(),
        await models.ContributionPeriod.all().count(),
        await models.BusinessTransaction.all().count(),
        await models.MedicalCardApplication.all().count(),
        await models.PaymentOrder.all().count(),
        await models.Arrear.filter(status=ArrearStatus.OPEN).count(),
    )


async def enroll(viewer, **fields):
    return (await data(ENROLL, viewer=viewer, input=fields))["enrollFlexible"]


def codes(payload) -> list[tuple[str | None, str]]:
    return [(e["field"], e["code"]) for e in payload["errors"]]


async def test_enrollment_starts_next_month_and_opens_a_card_application(hall):
    done = await enroll(hall["me"], insuranceTypes=["PENSION", "MEDICAL"], pensionGrade="1.00", photo=factories.photo())
    assert done["errors"] == []
    assert [(p["insuranceType"], p["status"], p["grade"], p["startMonth"]) for p in done["policies"]] == [
        ("PENSION", "ACTIVE", "1", "2026-12"),
        ("MEDICAL", "ACTIVE", None, "2026-12"),
    ]
    first_months = [p["periods"]["edges"][0]["node"] for p in done["policies"]]
    assert first_months == [
        {"month": "2026-12", "base": "8000.00", "amount": "1600.00", "status": "DUE"},
        {"month": "2026-12", "base": "8000.00", "amount": "487.00", "status": "DUE"},
    ]
    assert done["cardApplication"] == {"status": "PHOTO_PENDING", "visitDeadline": "2026-11-20", "hasCardPhoto": False}
    assert done["transaction"] | {"id": None} == {
        "id": None,
        "businessType": "ENROLL_FLEXIBLE",
        "status": "COMPLETED",
        "channel": "ONLINE",
        "effectiveMonth": "2026-12",
    }
    application = await models.MedicalCardApplication.get()
    with open(application.original_photo, "rb") as stored:
        assert stored.read() == factories.photo()


async def test_after_the_20th_the_visit_is_due_by_next_months_20th(hall):
    clock.freeze("2026-11-21T09:00:00+08:00")
    done = await enroll(hall["me"], insuranceTypes=["MEDICAL"], photo=factories.photo("PNG"))
    assert done["cardApplication"]["visitDeadline"] == "2026-12-20"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"insuranceTypes": ["PENSION"], "pensionGrade": "0.65"}, [("pensionGrade", "INVALID_GRADE")]),
        ({"insuranceTypes": ["PENSION"], "pensionGrade": "3.10"}, [("pensionGrade", "INVALID_GRADE")]),
        ({"insuranceTypes": ["PENSION"]}, [("pensionGrade", "INVALID_GRADE")]),
        (
            {"insuranceTypes": ["PENSION"], "pensionGrade": "1.00", "startMonth": "2026-10"},
            [("startMonth", "INVALID_MONTH")],
        ),
        (
            {"insuranceTypes": ["PENSION"], "pensionGrade": "1.00", "startMonth": "2026-11"},
            [("startMonth", "INVALID_MONTH")],
        ),
        (
            {"insuranceTypes": ["PENSION"], "pensionGrade": "1.00", "startMonth": "2027-06"},
            [("startMonth", "INVALID_MONTH")],
        ),
        ({"insuranceTypes": ["MEDICAL"]}, [("photo", "PHOTO_REQUIRED")]),
        ({"insuranceTypes": ["MEDICAL"], "photo": b"GIF89a not really"}, [("photo", "INVALID_PHOTO")]),
        ({"insuranceTypes": ["MEDICAL"], "photo": b"plain text renamed photo.jpg"}, [("photo", "INVALID_PHOTO")]),
        ({"insuranceTypes": ["MEDICAL"], "photo": b"\xff" * (10 * 1024 * 1024 + 1)}, [("photo", "INVALID_PHOTO")]),
        ({"insuranceTypes": ["UNEMPLOYMENT"]}, [("insuranceTypes", "INVALID_INPUT")]),
        ({"insuranceTypes": []}, [("insuranceTypes", "INVALID_INPUT")]),
        ({"insuranceTypes": ["MEDICAL"], "photo": b""}, [("photo", "INVALID_PHOTO")]),
        ({"insuranceTypes": ["MEDICAL"], "pensionGrade": "1.00", "photo": b"x"}, [("pensionGrade", "INVALID_INPUT")]),
    ],
)
async def test_bad_enrollments_are_refused_and_change_nothing(hall, fields, expected):
    before = await counts()
    assert codes(await enroll(hall["me"], **fields)) == expected
    assert await counts() == before


async def test_no_second_enrollment_and_none_for_what_an_employer_pays(hall):
    await enroll(hall["me"], insuranceTypes=["PENSION"], pensionGrade="1.00")
    again = await enroll(hall["me"], insuranceTypes=["PENSION"], pensionGrade="0.60")
    assert codes(again) == [("insuranceTypes", "ALREADY_ENROLLED")]
    other = await factories.person(hall["home"], name="王磊", category=PersonCategory.UNINSURED)
    employer = await factories.employer(await factories.district())
    await models.Policy.create(
        person=other,
        insurance_type=InsuranceType.MEDICAL,
        channel=Channel.EMPLOYER,
        employer=employer,
        start_month=202601,
    )
    clerk = await factories.viewer(Role.CLERK, community=hall["home"])
    refused = await enroll(
        clerk, personId=encode_id("Person", other.id), insuranceTypes=["MEDICAL"], photo=factories.photo()
    )
    assert codes(refused) == [("insuranceTypes", "INSURED_BY_EMPLOYER")]


@pytest.mark.parametrize(
    ("category", "code"), [(PersonCategory.EMPLOYED, "INSURED_BY_EMPLOYER"), (PersonCategory.RETIRED, "PERSON_RETIRED")]
)
async def test_a_person_who_may_not_self_serve_is_refused_in_the_payload_as_at_the_kiosk(hall, category, code):
    """A5: the employed and the retired only read; the person online gets the payload error their
    clerk gets at a kiosk, and nothing changes."""
    someone = await factories.person(hall["home"], name="吴刚", category=category)
    clerk = await factories.viewer(Role.CLERK, community=hall["home"])
    before = await counts()
    online = await enroll(
        await factories.viewer(Role.PERSON, person=someone), insuranceTypes=["PENSION"], pensionGrade="1.00"
    )
    kiosk = await enroll(
        clerk, personId=encode_id("Person", someone.id), insuranceTypes=["PENSION"], pensionGrade="1.00"
    )
    assert codes(online) == codes(kiosk) == [("personId", code)]
    assert online["policies"] is None and await counts() == before


async def test_a_retried_enrollment_returns_the_first_answer(hall):
    first = await enroll(hall["me"], insuranceTypes=["MEDICAL"], photo=factories.photo(), idempotencyKey="kiosk-7")
    again = await enroll(hall["me"], insuranceTypes=["MEDICAL"], photo=factories.photo(), idempotencyKey="kiosk-7")
    assert again == first and await models.Policy.all().count() == 1
    other_photo = await enroll(
        hall["me"], insuranceTypes=["MEDICAL"], photo=factories.photo("PNG"), idempotencyKey="kiosk-7"
    )
    assert codes(other_photo) == [("idempotencyKey", "IDEMPOTENCY_KEY_REUSED")]


async def test_suspension_ends_with_this_month_and_drops_months_not_due(hall):
    clock.freeze("2026-09-10T10:00:00+08:00")
    await enroll(hall["me"], insuranceTypes=["PENSION"], pensionGrade="1.00")
    clock.freeze("2026-11-10T10:00:00+08:00")
    assert codes(
        (await data(SUSPEND, viewer=hall["me"], input={"insuranceTypes": ["MEDICAL"]}))["suspendFlexible"]
    ) == [("insuranceTypes", "NOT_ENROLLED")]
    done = (await data(SUSPEND, viewer=hall["me"], input={"insuranceTypes": ["PENSION"]}))["suspendFlexible"]
    assert done["policies"] == [{"insuranceType": "PENSION", "status": "SUSPENDED", "endMonth": "2026-11"}]
    assert done["transaction"] == {"businessType": "SUSPEND_FLEXIBLE", "effectiveMonth": "2026-12"}
    assert (await models.Person.get(id=hall["person"].id)).category is PersonCategory.UNINSURED


async def test_a_grade_change_reprices_the_months_not_yet_due(hall):
    await enroll(hall["me"], insuranceTypes=["PENSION"], pensionGrade="1.00")
    for grade in ("0.75", "0.30"):
        refused = (await data(GRADE, viewer=hall["me"], input={"pensionGrade": grade}))["changePensionGrade"]
        assert codes(refused) == [("pensionGrade", "INVALID_GRADE")]
    done = (await data(GRADE, viewer=hall["me"], input={"pensionGrade": "2.00"}))["changePensionGrade"]
    assert done["policy"] == {"grade": "2"}
    assert done["repricedPeriods"] == [{"month": "2026-12", "base": "16000.00", "amount": "3200.00"}]
    assert done["transaction"] == {"businessType": "CHANGE_PENSION_GRADE", "effectiveMonth": "2026-12"}


@pytest.fixture
async def owing(hall):
    """Flexible pension at 1.00 since January; May and June unpaid (1600.00 each)."""
    policy = await factories.flexible_pension(hall["person"], Month(2026, 1))
    await models.Person.filter(id=hall["person"].id).update(category=PersonCategory.FLEXIBLE)
    await factories.periods(policy, Month(2026, 1), 4, "8000.00", "0.20", "1600.00")
    unpaid = await factories.periods(
        policy, Month(2026, 5), 2, "8000.00", "0.20", "1600.00", status=PeriodStatus.ARREARS
    )
    await factories.arrears(unpaid)
    await factories.periods(policy, Month(2026, 7), 4, "8000.00", "0.20", "1600.00")
    await factories.passbook(hall["person"], [])
    found = await models.Arrear.filter(person_id=hall["person"].id).order_by("month")
    return [encode_id("Arrear", a.id) for a in found]


async def test_paying_arrears_orders_principal_and_interest_to_this_month(hall, owing):
    done = (await data(PAY, viewer=hall["me"], input={"arrearIds": owing}))["payArrears"]
    assert done["errors"] == []
    order = done["order"]
    # 1600.00 x 1.5% x 6/12 = 12.00 for May; x 5/12 = 10.00 for June.
    assert (
        order["kind"],
        order["status"],
        order["principal"],
        order["interest"],
        order["total"],
        order["collectionMonth"],
    ) == ("ARREARS", "OPEN", "3200.00", "22.00", "3222.00", "2026-11")
    assert [(line["month"], line["interest"], line["arrear"]["status"]) for line in order["lines"]] == [
        ("2026-05", "12.00", "ORDERED"),
        ("2026-06", "10.00", "ORDERED"),
    ]
    assert done["transaction"] == {"businessType": "PAY_ARREARS", "status": "SUBMITTED"}
    twice = (await data(PAY, viewer=hall["me"], input={"arrearIds": owing[:1]}))["payArrears"]
    assert codes(twice) == [("arrearIds", "ARREARS_ALREADY_ORDERED")]
    cancel = (await data(CANCEL, viewer=hall["me"], input={"arrearIds": owing[:1], "confirmIrreversible": True}))[
        "cancelArrears"
    ]
    assert codes(cancel) == [("arrearIds", "ARREARS_ALREADY_ORDERED")]


async def test_an_unfunded_order_lapses_and_its_arrears_open_again(hall, owing):
    await data(PAY, viewer=hall["me"], input={"arrearIds": owing})
    await models.Passbook.filter(person_id=hall["person"].id).update(balance=Decimal("3221.99"))
    clock.freeze("2026-11-30T23:00:00+08:00")
    result = await collect_month(hall["person"].id, Month(2026, 11))
    # November's own 1600.00 comes first, then the order no longer fits.
    assert (result.paid_periods, result.lapsed_orders, result.balance) == (1, 1, Decimal("1621.99"))
    assert await models.Arrear.filter(status=ArrearStatus.OPEN).count() == 2
    order = await models.PaymentOrder.get()
    transaction = await models.BusinessTransaction.get(id=order.transaction_id)
    assert order.status is PaymentOrderStatus.LAPSED and transaction.status.value == "CANCELLED"
    assert transaction.decision_reason == "the passbook held 1621.99 at the end of 2026-11; 3222.00 was needed"


async def test_bad_arrears_choices_change_nothing(hall, owing):
    stranger = await factories.person(hall["home"], name="赵强")
    policy = await factories.flexible_pension(stranger, Month(2026, 1))
    await factories.arrears(
        await factories.periods(policy, Month(2026, 2), 1, "8000.00", "0.20", "1600.00", status=PeriodStatus.ARREARS)
    )
    theirs = encode_id("Arrear", (await models.Arrear.get(person_id=stranger.id)).id)
    before = await counts()
    for arrear_ids, expected in (
        ([theirs], "NOT_FOUND"),
        ([owing[0], theirs], "NOT_FOUND"),
        ([owing[0], owing[0]], "INVALID_INPUT"),
        ([], "INVALID_INPUT"),
        ([encode_id("Arrear", 99999)], "NOT_FOUND"),
        (["not-an-id"], "INVALID_INPUT"),
    ):
        paid = (await data(PAY, viewer=hall["me"], input={"arrearIds": arrear_ids}))["payArrears"]
        assert codes(paid) == [("arrearIds", expected)], arrear_ids
    unconfirmed = (await data(CANCEL, viewer=hall["me"], input={"arrearIds": owing, "confirmIrreversible": False}))[
        "cancelArrears"
    ]
    assert codes(unconfirmed) == [("confirmIrreversible", "CONFIRMATION_REQUIRED")]
    assert await counts() == before


async def test_cancelled_pension_months_are_quoted_as_an_interruption(hall, owing):
    done = (await data(CANCEL, viewer=hall["me"], input={"arrearIds": owing, "confirmIrreversible": True}))[
        "cancelArrears"
    ]
    assert done["arrears"] == [{"month": "2026-05", "status": "CANCELLED"}, {"month": "2026-06", "status": "CANCELLED"}]
    assert (await data(CANCEL, viewer=hall["me"], input={"arrearIds": owing, "confirmIrreversible": True}))[
        "cancelArrears"
    ]["errors"][0]["code"] == "ARREARS_NOT_OWED"
    quote = (await data(QUOTE, viewer=hall["me"]))["interruptionQuote"]
    # Back-paid now at 1.00 x 8000.00, with interest 1600.00 x 1.5% x 6/12 and x 5/12 (F8, P5).
    assert quote == {
        "pensionGrade": "1",
        "averageWage": "8000.00",
        "collectionMonth": "2026-11",
        "principal": "3200.00",
        "interest": "22.00",
        "total": "3222.00",
        "lines": [
            {"month": "2026-05", "base": "8000.00", "principal": "1600.00", "interest": "12.00"},
            {"month": "2026-06", "base": "8000.00", "principal": "1600.00", "interest": "10.00"},
        ],
    }
    medical = await run(QUOTE, viewer=hall["me"], type="MEDICAL")
    assert error_codes(medical) == ["MEDICAL_INTERRUPTION_NOT_BACKPAYABLE"] and medical["data"] == {
        "interruptionQuote": None
    }
    refused = (await data(BACK_PAY, viewer=hall["me"], input={"insuranceType": "MEDICAL"}))["payInterruption"]
    assert codes(refused) == [("insuranceType", "MEDICAL_INTERRUPTION_NOT_BACKPAYABLE")]
    wrong_month = (await data(BACK_PAY, viewer=hall["me"], input={"months": ["2026-07"]}))["payInterruption"]
    assert codes(wrong_month) == [("months", "INVALID_MONTH")]
    ordered = (await data(BACK_PAY, viewer=hall["me"], input={"months": ["2026-06"]}))["payInterruption"]
    assert ordered["order"] == {"kind": "INTERRUPTION", "total": "1610.00", "lines": [{"month": "2026-06"}]}
    assert [line["month"] for line in (await data(QUOTE, viewer=hall["me"]))["interruptionQuote"]["lines"]] == [
        "2026-05"
    ]


async def test_a_person_without_interruptions_is_told_so(hall, owing):
    nothing = (await data(BACK_PAY, viewer=hall["me"], input={}))["payInterruption"]
    assert codes(nothing) == [("personId", "NO_INTERRUPTION")]


async def test_a_new_card_photo_expires_the_unfinished_application(hall):
    refused = (await data(CARD, viewer=hall["me"], input={"photo": factories.photo()}))["applyMedicalCard"]
    assert codes(refused) == [("personId", "NOT_ENROLLED")]
    await enroll(hall["me"], insuranceTypes=["MEDICAL"], photo=factories.photo())
    done = (await data(CARD, viewer=hall["me"], input={"photo": factories.photo("PNG")}))["applyMedicalCard"]
    assert done["cardApplication"]["status"] == "PHOTO_PENDING"
    assert done["transaction"] == {"businessType": "APPLY_MEDICAL_CARD", "status": "SUBMITTED"}
    statuses = await models.MedicalCardApplication.all().order_by("id").values_list("status", flat=True)
    assert [s.value for s in statuses] == ["EXPIRED", "PHOTO_PENDING"]


READ = """query Me($id: ID!) { person(id: $id) {
  paymentOrders { totalCount edges { node { kind total status } } }
  cardApplications { edges { node { status visitDeadline } } }
  arrears { edges { node { month status interestToDate amountToDate } } } } }"""


async def test_the_person_reads_orders_applications_and_arrears_and_the_employer_does_not(hall, owing):
    await data(PAY, viewer=hall["me"], input={"arrearIds": owing[:1]})
    person_id = encode_id("Person", hall["person"].id)
    mine = (await data(READ, viewer=hall["me"], id=person_id))["person"]
    assert mine["paymentOrders"] == {
        "totalCount": 1,
        "edges": [{"node": {"kind": "ARREARS", "total": "1612.00", "status": "OPEN"}}],
    }
    assert [e["node"] for e in mine["arrears"]["edges"]] == [
        {"month": "2026-05", "status": "ORDERED", "interestToDate": "12.00", "amountToDate": "1612.00"},
        {"month": "2026-06", "status": "OPEN", "interestToDate": "10.00", "amountToDate": "1610.00"},
    ]
    employer = await factories.employer(await factories.district())
    await models.Employment.create(
        person=hall["person"], employer=employer, start_month=202601, declared_wage=Decimal("8000.00")
    )
    agent = await factories.viewer(Role.EMPLOYER_AGENT, employer=employer)
    theirs = (await data(READ, viewer=agent, id=person_id))["person"]
    assert theirs["paymentOrders"]["totalCount"] == 0 and theirs["arrears"]["edges"] == []


@pytest.mark.parametrize(
    ("today", "deadline"),
    [
        ("2026-11-01", "2026-11-20"),
        ("2026-11-20", "2026-11-20"),
        ("2026-11-21", "2026-12-20"),
        ("2026-12-31", "2027-01-20"),
    ],
)
def test_the_card_visit_is_due_by_the_20th_or_next_months(today, deadline):
    assert visit_deadline(dt.date.fromisoformat(today)).isoformat() == deadline  # F2, M3


async def test_a_clerk_asking_for_a_quote_must_name_the_person(hall):
    clerk = await factories.viewer(Role.CLERK, community=hall["home"])
    body = await run(QUOTE, viewer=clerk)
    assert error_codes(body) == ["INVALID_INPUT"] and body["errors"][0]["extensions"]["field"] == "personId"


async def test_a_person_makes_at_most_five_card_applications_a_day(hall, media_dir):
    """Each application stores a photo and queues its check: the sixth of the day is refused and
    changes nothing; tomorrow counts afresh."""
    await enroll(hall["me"], insuranceTypes=["MEDICAL"], photo=factories.photo())  # the first of the day
    for _ in range(4):
        done = (await data(CARD, viewer=hall["me"], input={"photo": factories.photo("PNG")}))["applyMedicalCard"]
        assert done["errors"] == []
    before = (await counts(), await models.Job.all().count(), sorted(media_dir.rglob("*")))
    statuses = await models.MedicalCardApplication.all().order_by("id").values_list("status", flat=True)

    refused = (await data(CARD, viewer=hall["me"], input={"photo": factories.photo()}))["applyMedicalCard"]
    assert codes(refused) == [("personId", "TOO_MANY_ATTEMPTS")] and refused["cardApplication"] is None
    assert refused["errors"][0]["message"] == "at most 5 medical-card applications a day: apply again tomorrow"
    assert (await counts(), await models.Job.all().count(), sorted(media_dir.rglob("*"))) == before
    assert await models.MedicalCardApplication.all().order_by("id").values_list("status", flat=True) == statuses

    clock.freeze("2026-11-11T00:00:00+08:00")
    again = (await data(CARD, viewer=hall["me"], input={"photo": factories.photo()}))["applyMedicalCard"]
    assert again["errors"] == [] and again["cardApplication"]["status"] == "PHOTO_PENDING"


async def test_the_daily_card_limit_is_a_setting_counted_per_person_whoever_acts(hall, monkeypatch):
    monkeypatch.setattr(get_settings(), "card_applications_per_day", 2)
    await enroll(hall["me"], insuranceTypes=["MEDICAL"], photo=factories.photo())
    clerk = await factories.viewer(Role.CLERK, community=hall["home"])
    person_id = encode_id("Person", hall["person"].id)
    by_clerk = await data(CARD, viewer=clerk, input={"personId": person_id, "photo": factories.photo()})
    assert by_clerk["applyMedicalCard"]["errors"] == []
    refused = (await data(CARD, viewer=hall["me"], input={"photo": factories.photo()}))["applyMedicalCard"]
    assert codes(refused) == [("personId", "TOO_MANY_ATTEMPTS")]
    assert refused["errors"][0]["message"].startswith("at most 2 medical-card applications a day")
    assert await models.MedicalCardApplication.all().count() == 2

    # An enrollment with medical opens one too: suspended and enrolled again the same day, refused whole.
    await data(SUSPEND, viewer=hall["me"], input={"insuranceTypes": ["MEDICAL"]})
    before = await counts()
    again = await enroll(hall["me"], insuranceTypes=["MEDICAL"], photo=factories.photo())
    assert codes(again) == [("personId", "TOO_MANY_ATTEMPTS")] and again["policies"] is None
    assert await counts() == before

"""Appointments through the graph (Q1): free places listed, booked, cancelled and checked in, each
refusal with its code, and appointments read only by those they concern. The clock stands at
2026-11-10 10:00 local time."""

from __future__ import annotations

import datetime as dt

import pytest

import models
from domain.enums import AppointmentStatus, BusinessCategory, PersonCategory, Role
from resolvers.inputs import encode_id
from services import appointments
from services.common import clock
from tests import factories
from tests.graphql_client import data, error_codes, run

pytestmark = pytest.mark.usefixtures("db")

TODAY = dt.date(2026, 11, 10)
TOMORROW = dt.date(2026, 11, 11)

SLOTS = """query Slots($from: Date!, $to: Date!, $office: ID, $district: ID, $category: BusinessCategory,
                      $full: Boolean, $first: Int) {
  appointmentSlots(fromDay: $from, toDay: $to, officeId: $office, districtId: $district,
                   businessCategory: $category, includeFull: $full, first: $first) {
    totalCount pageInfo { hasNextPage }
    edges { node { id businessCategory startsAt endsAt capacity booked free office { name address district { name } } } } } }"""
BOOK = """mutation Book($input: BookAppointmentInput!) { bookAppointment(input: $input) {
  appointment { id status bookedAt cancelledAt checkedInAt person { name } employer { name } transaction { businessType } }
  slot { id booked free } transaction { businessType status channel person { name } employer { name } }
  errors { field code message } } }"""
CANCEL = """mutation Cancel($input: CancelAppointmentInput!) { cancelAppointment(input: $input) {
  appointment { id status cancelledAt } slot { id free } transaction { businessType status }
  errors { field code message } } }"""
CHECK_IN = """mutation CheckIn($input: CheckInAppointmentInput!) { checkInAppointment(input: $input) {
  appointment { id status checkedInAt } slot { id free } transaction { businessType channel }
  errors { field code message } } }"""
NODE = """query Node($id: ID!) { node(id: $id) { ... on Appointment { status slot { startsAt office { name } } } } }"""


@pytest.fixture
async def hall():
    jiangan = await factories.district("420102", "江岸区")
    home = await factories.community(jiangan, "百步亭社区")
    office = await appointments.create_office(jiangan.id, "江岸区社保服务大厅", "江岸区沿江大道 1 号")
    person = await factories.person(home, name="张伟")
    return {
        "district": jiangan,
        "home": home,
        "office": office,
        "person": person,
        "me": await factories.viewer(Role.PERSON, person=person),
        "tomorrow": await open_morning(office, TOMORROW),
    }


async def open_morning(office, day, capacity=2, category=BusinessCategory.REGISTRATION):
    """Six half-hour slots from 9:00 to 12:00."""
    return await appointments.open_day(office.id, day, category, 9, 12, 30, capacity)


def gid(kind: str, row) -> str:
    return encode_id(kind, row.id)


def codes(payload) -> list[tuple[str | None, str]]:
    return [(e["field"], e["code"]) for e in payload["errors"]]


async def book(viewer, slot, **fields):
    return (await data(BOOK, viewer=viewer, input={"slotId": gid("AppointmentSlot", slot), **fields}))[
        "bookAppointment"
    ]


async def cancel(viewer, appointment_id: str):
    return (await data(CANCEL, viewer=viewer, input={"appointmentId": appointment_id}))["cancelAppointment"]


async def check_in(viewer, appointment_id: str):
    return (await data(CHECK_IN, viewer=viewer, input={"appointmentId": appointment_id}))["checkInAppointment"]


async def listed(viewer, **variables):
    return (await data(SLOTS, viewer=viewer, **variables))["appointmentSlots"]


# The free places


async def test_slots_show_their_free_places_and_hide_full_ones_unless_asked(hall):
    first, second = hall["tomorrow"][:2]
    await models.AppointmentSlot.filter(id=first.id).update(booked=2)  # full
    await models.AppointmentSlot.filter(id=second.id).update(booked=1)
    await open_morning(hall["office"], TODAY)  # 9:00, 9:30 and 10:00 have started at 10:00
    free = await listed(hall["me"], **{"from": "2026-11-10", "to": "2026-11-11"})
    assert free["totalCount"] == 3 + 5
    nodes = [edge["node"] for edge in free["edges"]]
    assert [node["startsAt"] for node in nodes[:4]] == [
        "2026-11-10T10:30:00+08:00",
        "2026-11-10T11:00:00+08:00",
        "2026-11-10T11:30:00+08:00",
        "2026-11-11T09:30:00+08:00",
    ]
    assert nodes[3] | {"id": None} == {
        "id": None,
        "businessCategory": "REGISTRATION",
        "startsAt": "2026-11-11T09:30:00+08:00",
        "endsAt": "2026-11-11T10:00:00+08:00",
        "capacity": 2,
        "booked": 1,
        "free": 1,
        "office": {"name": "江岸区社保服务大厅", "address": "江岸区沿江大道 1 号", "district": {"name": "江岸区"}},
    }
    assert gid("AppointmentSlot", first) not in [node["id"] for node in nodes]
    with_full = await listed(hall["me"], **{"from": "2026-11-11", "to": "2026-11-11", "full": True})
    assert [(e["node"]["id"], e["node"]["free"]) for e in with_full["edges"]][:2] == [
        (gid("AppointmentSlot", first), 0),
        (gid("AppointmentSlot", second), 1),
    ]
    assert with_full["totalCount"] == 6


async def test_slots_are_filtered_by_office_district_and_business_and_paged(hall):
    other_district = await factories.district("420103", "江汉区")
    other_office = await appointments.create_office(other_district.id, "江汉区社保服务大厅", "江汉区解放大道 2 号")
    await open_morning(other_office, TOMORROW)
    await open_morning(hall["office"], TOMORROW, category=BusinessCategory.BACK_PAYMENT)
    days = {"from": "2026-11-11", "to": "2026-11-11"}
    clerk = await factories.viewer(Role.CLERK, community=hall["home"])
    assert (await listed(clerk, **days))["totalCount"] == 18
    assert (await listed(clerk, **days, office=gid("Office", other_office)))["totalCount"] == 6
    assert (await listed(clerk, **days, district=gid("District", hall["district"])))["totalCount"] == 12
    back_pay = await listed(clerk, **days, district=gid("District", hall["district"]), category="BACK_PAYMENT", first=4)
    assert back_pay["totalCount"] == 6 and back_pay["pageInfo"]["hasNextPage"]
    assert {e["node"]["businessCategory"] for e in back_pay["edges"]} == {"BACK_PAYMENT"}
    assert len(back_pay["edges"]) == 4


@pytest.mark.parametrize(
    ("days", "message"),
    [
        ({"from": "2026-11-11", "to": "2026-12-20"}, "at most 31 days at once, not 40"),
        ({"from": "2026-11-11", "to": "2026-11-10"}, "the last day comes before the first"),
    ],
)
async def test_a_long_or_backwards_range_is_refused_as_a_bad_argument(hall, days, message):
    refused = await run(SLOTS, viewer=hall["me"], **days)
    assert error_codes(refused) == ["BAD_USER_INPUT"] and refused["data"] is None
    assert refused["errors"][0]["message"] == message
    assert refused["errors"][0]["extensions"]["argument"] == "toDay"


async def test_an_office_id_of_another_kind_is_a_bad_argument(hall):
    refused = await run(
        SLOTS, viewer=hall["me"], office=gid("Person", hall["person"]), **{"from": "2026-11-11", "to": "2026-11-11"}
    )
    assert error_codes(refused) == ["BAD_USER_INPUT"]


# Booking, cancelling, checking in


async def test_a_person_books_cancels_and_the_place_comes_back(hall):
    slot = hall["tomorrow"][0]
    booked = await book(hall["me"], slot)
    assert booked["errors"] == []
    appointment = booked["appointment"]
    assert appointment | {"id": None} == {
        "id": None,
        "status": "BOOKED",
        "bookedAt": "2026-11-10T10:00:00+08:00",
        "cancelledAt": None,
        "checkedInAt": None,
        "person": {"name": "张伟"},
        "employer": None,
        "transaction": {"businessType": "BOOK_APPOINTMENT"},
    }
    assert booked["slot"] == {"id": gid("AppointmentSlot", slot), "booked": 1, "free": 1}
    assert booked["transaction"] == {
        "businessType": "BOOK_APPOINTMENT",
        "status": "COMPLETED",
        "channel": "ONLINE",
        "person": {"name": "张伟"},
        "employer": None,
    }
    mine = (
        await data(
            """query ($id: ID!) { person(id: $id) { appointments { totalCount edges { node { id status } } } } }""",
            viewer=hall["me"],
            id=gid("Person", hall["person"]),
        )
    )["person"]["appointments"]
    assert mine == {"totalCount": 1, "edges": [{"node": {"id": appointment["id"], "status": "BOOKED"}}]}

    cancelled = await cancel(hall["me"], appointment["id"])
    assert cancelled == {
        "appointment": {"id": appointment["id"], "status": "CANCELLED", "cancelledAt": "2026-11-10T10:00:00+08:00"},
        "slot": {"id": gid("AppointmentSlot", slot), "free": 2},
        "transaction": {"businessType": "CANCEL_APPOINTMENT", "status": "COMPLETED"},
        "errors": [],
    }
    again = await cancel(hall["me"], appointment["id"])
    assert codes(again) == [("appointmentId", "APPOINTMENT_NOT_BOOKED")] and again["appointment"] is None
    assert (await models.AppointmentSlot.get(id=slot.id)).booked == 0


async def test_an_employed_person_books_too_for_a5_does_not_apply(hall):
    employed = await factories.person(hall["home"], name="李娜", category=PersonCategory.EMPLOYED)
    viewer = await factories.viewer(Role.PERSON, person=employed)
    assert (await book(viewer, hall["tomorrow"][1]))["appointment"]["status"] == "BOOKED"


async def test_a_retried_booking_returns_the_first_answer(hall):
    slot = hall["tomorrow"][0]
    first = await book(hall["me"], slot, idempotencyKey="kiosk-3")
    again = await book(hall["me"], slot, idempotencyKey="kiosk-3")
    assert again == first and first["errors"] == []
    assert await models.Appointment.all().count() == 1
    other = await book(hall["me"], hall["tomorrow"][1], idempotencyKey="kiosk-3")
    assert codes(other) == [("idempotencyKey", "IDEMPOTENCY_KEY_REUSED")]


async def test_booking_refusals_carry_their_codes_and_change_nothing(hall):
    full, later = hall["tomorrow"][0], hall["tomorrow"][3]
    await models.AppointmentSlot.filter(id=full.id).update(booked=2)
    started = (await open_morning(hall["office"], TODAY))[2]  # 10:00, now
    await book(hall["me"], hall["tomorrow"][1])
    stranger = await factories.person(await factories.community(hall["district"], "大智社区"), name="赵强")
    employer = await factories.employer(hall["district"])
    before = (await models.Appointment.all().count(), await models.BusinessTransaction.all().count())
    for slot, fields, expected in (
        (full, {}, ("slotId", "SLOT_FULL")),
        (started, {}, ("slotId", "SLOT_STARTED")),
        (later, {}, ("slotId", "ALREADY_BOOKED")),
        (later, {"personId": gid("Person", stranger)}, ("personId", "OUT_OF_SCOPE")),
        (later, {"employerId": gid("Employer", employer)}, ("employerId", "OUT_OF_SCOPE")),
        (
            later,
            {"personId": gid("Person", hall["person"]), "employerId": gid("Employer", employer)},
            ("personId", "INVALID_INPUT"),
        ),
        (later, {"personId": gid("Employer", employer)}, ("personId", "INVALID_INPUT")),
    ):
        assert codes(await book(hall["me"], slot, **fields)) == [expected], expected
    missing = await data(BOOK, viewer=hall["me"], input={"slotId": encode_id("AppointmentSlot", 99999)})
    assert codes(missing["bookAppointment"]) == [("slotId", "NOT_FOUND")]
    assert (await models.Appointment.all().count(), await models.BusinessTransaction.all().count()) == before
    assert (await models.AppointmentSlot.get(id=full.id)).booked == 2


async def test_cancelling_is_refused_once_the_slot_started_and_for_others(hall):
    appointment = (await book(hall["me"], hall["tomorrow"][0]))["appointment"]["id"]
    neighbour = await factories.viewer(Role.PERSON, person=await factories.person(hall["home"], name="王磊"))
    assert codes(await cancel(neighbour, appointment)) == [("appointmentId", "OUT_OF_SCOPE")]
    assert codes(await cancel(hall["me"], encode_id("Appointment", 99999))) == [("appointmentId", "NOT_FOUND")]
    clock.freeze("2026-11-11T09:00:00+08:00")
    assert codes(await cancel(hall["me"], appointment)) == [("appointmentId", "APPOINTMENT_NOT_CANCELLABLE")]
    assert (await models.Appointment.get()).status is AppointmentStatus.BOOKED


async def test_the_district_reviewer_checks_in_on_the_day(hall):
    slot = hall["tomorrow"][0]
    appointment = (await book(hall["me"], slot))["appointment"]["id"]
    reviewer = await factories.viewer(Role.REVIEWER, district=hall["district"])
    elsewhere = await factories.viewer(Role.REVIEWER, district=await factories.district("420103", "江汉区"))
    assert codes(await check_in(reviewer, appointment)) == [("appointmentId", "APPOINTMENT_NOT_TODAY")]
    clock.freeze("2026-11-11T08:50:00+08:00")
    assert codes(await check_in(elsewhere, appointment)) == [("appointmentId", "OUT_OF_SCOPE")]
    arrived = await check_in(reviewer, appointment)
    assert arrived == {
        "appointment": {"id": appointment, "status": "CHECKED_IN", "checkedInAt": "2026-11-11T08:50:00+08:00"},
        "slot": {"id": gid("AppointmentSlot", slot), "free": 1},
        "transaction": {"businessType": "CHECK_IN_APPOINTMENT", "channel": "COUNTER"},
        "errors": [],
    }
    assert codes(await check_in(reviewer, appointment)) == [("appointmentId", "APPOINTMENT_NOT_BOOKED")]
    assert codes(await cancel(hall["me"], appointment)) == [("appointmentId", "APPOINTMENT_NOT_BOOKED")]
    forbidden = await run(CHECK_IN, viewer=hall["me"], input={"appointmentId": appointment})
    assert error_codes(forbidden) == ["FORBIDDEN"]


async def test_an_agent_books_for_its_employer_and_a_clerk_for_a_person_of_the_community(hall):
    employer = await factories.employer(hall["district"])
    agent = await factories.viewer(Role.EMPLOYER_AGENT, employer=employer)
    for_employer = await book(agent, hall["tomorrow"][0])
    assert for_employer["appointment"]["employer"] == {"name": employer.name}
    assert for_employer["transaction"]["employer"] == {"name": employer.name}
    theirs = (
        await data(
            """query ($id: ID!) { employer(id: $id) { appointments(status: BOOKED) { totalCount } } }""",
            viewer=agent,
            id=gid("Employer", employer),
        )
    )["employer"]["appointments"]
    assert theirs == {"totalCount": 1}
    clerk = await factories.viewer(Role.CLERK, community=hall["home"])
    at_counter = await book(clerk, hall["tomorrow"][0], personId=gid("Person", hall["person"]))
    assert at_counter["appointment"]["person"] == {"name": "张伟"}
    assert at_counter["transaction"]["channel"] == "COUNTER" and at_counter["slot"]["free"] == 0
    assert codes(await book(clerk, hall["tomorrow"][1])) == [("personId", "INVALID_INPUT")]  # for whom?
    assert (await cancel(hall["me"], at_counter["appointment"]["id"]))["errors"] == []  # the person's own


# Who reads an appointment


async def test_an_appointment_is_read_only_by_those_it_concerns(hall):
    appointment = (await book(hall["me"], hall["tomorrow"][0]))["appointment"]["id"]
    seen = {
        "status": "BOOKED",
        "slot": {"startsAt": "2026-11-11T09:00:00+08:00", "office": {"name": "江岸区社保服务大厅"}},
    }
    neighbour = await factories.viewer(Role.PERSON, person=await factories.person(hall["home"], name="王磊"))
    jianghan = await factories.district("420103", "江汉区")
    readers = {
        "self": hall["me"],
        "community clerk": await factories.viewer(Role.CLERK, community=hall["home"]),
        "district reviewer": await factories.viewer(Role.REVIEWER, district=hall["district"]),
    }
    outsiders = {
        "another person": neighbour,
        "another community's clerk": await factories.viewer(
            Role.CLERK, community=await factories.community(hall["district"], "大智社区")
        ),
        "another district's reviewer": await factories.viewer(Role.REVIEWER, district=jianghan),
        "an agent": await factories.viewer(Role.EMPLOYER_AGENT, employer=await factories.employer(hall["district"])),
        "an analyst": await factories.viewer(Role.ANALYST),
    }
    for who, viewer in readers.items():
        assert (await data(NODE, viewer=viewer, id=appointment))["node"] == seen, who
    for who, viewer in outsiders.items():
        assert (await data(NODE, viewer=viewer, id=appointment))["node"] is None, who
    others = (
        await data(
            """query ($id: ID!) { person(id: $id) { appointments { totalCount } } }""",
            viewer=neighbour,
            id=gid("Person", hall["person"]),
        )
    )["person"]
    assert others is None

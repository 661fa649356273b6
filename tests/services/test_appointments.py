"""Appointments at the district offices (Q1): places never overbooked, one a day, cancelled before the start."""

from __future__ import annotations

import asyncio
import datetime as dt
import os

import pytest

import models
from domain.enums import AppointmentStatus, BusinessCategory, BusinessType, Role, ServiceChannel, TransactionStatus
from domain.errors import BusinessError, ErrorCode
from services import appointments
from services.common import clock
from tests import factories

pytestmark = pytest.mark.usefixtures("db")

on_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="a race needs PostgreSQL"
)

TODAY = dt.date(2026, 11, 10)  # the frozen clock: 10:00 local time
TOMORROW = dt.date(2026, 11, 11)


@pytest.fixture
async def hall():
    district = await factories.district()
    community = await factories.community(district)
    office = await appointments.create_office(district.id, "江岸区社保服务大厅", "江岸区沿江大道 1 号")
    return district, community, office


async def day_of_slots(office, day=TOMORROW, capacity=2, category=BusinessCategory.REGISTRATION):
    """Six half-hour slots from 9:00 to 12:00."""
    return await appointments.open_day(office.id, day, category, 9, 12, 30, capacity)


async def someone(community, name="张伟"):
    person = await factories.person(community, name=name)
    return person, await factories.viewer(Role.PERSON, person=person)


async def free_places(slot) -> int:
    fresh = await models.AppointmentSlot.get(id=slot.id)
    return fresh.capacity - fresh.booked


async def refused(call, code: ErrorCode = ErrorCode.INVALID_INPUT) -> BusinessError:
    with pytest.raises(BusinessError) as caught:
        await call
    assert caught.value.code is code, caught.value.message
    return caught.value


async def test_open_day_makes_the_slots_once(hall):
    _, _, office = hall
    slots = await day_of_slots(office)
    assert [s.starts_at.astimezone(clock.now().tzinfo).strftime("%H:%M") for s in slots] == [
        "09:00",
        "09:30",
        "10:00",
        "10:30",
        "11:00",
        "11:30",
    ]
    assert all(s.ends_at - s.starts_at == dt.timedelta(minutes=30) and s.capacity == 2 for s in slots)
    assert [s.id for s in await day_of_slots(office)] == [s.id for s in slots]  # opening again adds nothing
    await refused(appointments.open_day(office.id, TOMORROW, BusinessCategory.REGISTRATION, 12, 9, 30, 2))
    await refused(
        appointments.open_day(office.id + 1000, TOMORROW, BusinessCategory.REGISTRATION, 9, 12, 30, 2),
        ErrorCode.NOT_FOUND,
    )


async def test_free_slots_lists_what_has_not_started_in_the_days_asked(hall):
    district, _, office = hall
    await day_of_slots(office, TODAY)  # 9:00, 9:30 and 10:00 have started at 10:00
    await day_of_slots(office, TOMORROW, category=BusinessCategory.BACK_PAYMENT)
    await day_of_slots(office, dt.date(2026, 11, 12))
    listed = await appointments.free_slots(None, None, None, TODAY, TOMORROW)
    assert len(listed) == 3 + 6
    assert all(a.slot.starts_at > clock.now() and a.free == 2 and a.office.id == office.id for a in listed)
    assert len(await appointments.free_slots(office.id, None, BusinessCategory.BACK_PAYMENT, TODAY, TOMORROW)) == 6
    assert len(await appointments.free_slots(None, district.id, None, TODAY, dt.date(2026, 12, 10))) == 15
    other = await factories.district("420103", "江汉区")
    assert await appointments.free_slots(None, other.id, None, TODAY, TOMORROW) == []


async def test_free_slots_refuses_a_backwards_or_too_long_range(hall):
    backwards = await refused(appointments.free_slots(None, None, None, TOMORROW, TODAY))
    too_long = await refused(appointments.free_slots(None, None, None, TODAY, dt.date(2026, 12, 11)))  # 32 days
    assert backwards.field == too_long.field == "toDay" and "32" in too_long.message
    assert len(await appointments.free_slots(None, None, None, TODAY, dt.date(2026, 12, 10))) == 0  # 31 days


async def test_booking_takes_one_place(hall):
    district, community, office = hall
    slot = (await day_of_slots(office))[0]
    person, me = await someone(community)
    appointment, transaction = await appointments.book(me, slot.id, None, None)
    assert appointment.person_id == person.id and appointment.employer_id is None
    assert appointment.status is AppointmentStatus.BOOKED and appointment.account_id == me.account_id
    assert (await models.Appointment.get(id=appointment.id)).booked_at == clock.now()  # local time (M2)
    assert appointment.transaction_id == transaction.id
    assert transaction.business_type is BusinessType.BOOK_APPOINTMENT
    assert transaction.status is TransactionStatus.COMPLETED and transaction.channel is ServiceChannel.ONLINE
    assert transaction.district_id == district.id and transaction.person_id == person.id
    assert await free_places(slot) == 1
    listed = await appointments.free_slots(office.id, None, None, TOMORROW, TOMORROW)
    assert [a.free for a in listed if a.slot.id == slot.id] == [1]


async def test_a_full_slot_is_refused_and_left_full(hall):
    _, community, office = hall
    slot = (await day_of_slots(office, capacity=1))[0]
    _, first = await someone(community, "甲")
    _, second = await someone(community, "乙")
    await appointments.book(first, slot.id, None, None)
    error = await refused(appointments.book(second, slot.id, None, None), ErrorCode.SLOT_FULL)
    assert error.field == "slotId" and "full" in error.message
    assert await free_places(slot) == 0
    assert slot.id not in [a.slot.id for a in await appointments.free_slots(office.id, None, None, TOMORROW, TOMORROW)]
    assert await models.Appointment.filter(slot_id=slot.id).count() == 1


async def test_a_started_or_missing_slot_is_refused(hall):
    _, community, office = hall
    started = (await day_of_slots(office, TODAY))[2]  # 10:00, now
    _, me = await someone(community)
    error = await refused(appointments.book(me, started.id, None, None), ErrorCode.SLOT_STARTED)
    assert "started" in error.message
    await refused(appointments.book(me, started.id + 1000, None, None), ErrorCode.NOT_FOUND)
    assert await free_places(started) == 2


async def test_one_booked_appointment_per_office_and_day(hall):
    _, community, office = hall
    tomorrow = await day_of_slots(office)
    later = await day_of_slots(office, dt.date(2026, 11, 12))
    other_business = await day_of_slots(office, category=BusinessCategory.BACK_PAYMENT)
    person, me = await someone(community)
    first, _ = await appointments.book(me, tomorrow[0].id, None, None)
    error = await refused(appointments.book(me, tomorrow[3].id, None, None), ErrorCode.ALREADY_BOOKED)
    assert "already" in error.message
    await refused(appointments.book(me, other_business[1].id, None, None), ErrorCode.ALREADY_BOOKED)
    await appointments.book(me, later[0].id, None, None)  # another day
    await appointments.cancel(me, first.id)
    await appointments.book(me, tomorrow[3].id, None, None)  # once cancelled, the day is free again
    assert await models.Appointment.filter(person_id=person.id, status=AppointmentStatus.BOOKED).count() == 2
    assert await free_places(tomorrow[3]) == 1


async def test_a_person_books_only_for_themself(hall):
    _, community, office = hall
    slot = (await day_of_slots(office))[0]
    other, _ = await someone(community, "乙")
    _, me = await someone(community, "甲")
    await refused(appointments.book(me, slot.id, other.id, None), ErrorCode.OUT_OF_SCOPE)
    employer = await factories.employer(await factories.district())
    await refused(appointments.book(me, slot.id, None, employer.id), ErrorCode.OUT_OF_SCOPE)
    assert await free_places(slot) == 2


async def test_cancelling_frees_the_place(hall):
    _, community, office = hall
    slot = (await day_of_slots(office))[0]
    person, me = await someone(community)
    appointment, _ = await appointments.book(me, slot.id, None, None)
    cancelled, transaction = await appointments.cancel(me, appointment.id)
    assert cancelled.status is AppointmentStatus.CANCELLED and cancelled.cancelled_at == clock.now()
    assert transaction.business_type is BusinessType.CANCEL_APPOINTMENT and transaction.person_id == person.id
    assert (await models.Appointment.get(id=appointment.id)).status is AppointmentStatus.CANCELLED
    assert await free_places(slot) == 2


async def test_cancelling_twice_frees_one_place(hall):
    _, community, office = hall
    slot = (await day_of_slots(office))[0]
    _, me = await someone(community, "甲")
    _, neighbour = await someone(community, "乙")
    await appointments.book(neighbour, slot.id, None, None)
    appointment, _ = await appointments.book(me, slot.id, None, None)
    await appointments.cancel(me, appointment.id)
    await refused(appointments.cancel(me, appointment.id), ErrorCode.APPOINTMENT_NOT_BOOKED)
    assert await free_places(slot) == 1
    again, _ = await appointments.book(me, slot.id, None, None)
    outcomes = await asyncio.gather(*(appointments.cancel(me, again.id) for _ in range(5)), return_exceptions=True)
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 1
    assert all(o.code is ErrorCode.APPOINTMENT_NOT_BOOKED for o in outcomes if isinstance(o, BaseException))
    assert await free_places(slot) == 1
    assert await models.BusinessTransaction.filter(business_type=BusinessType.CANCEL_APPOINTMENT).count() == 2


async def test_no_cancelling_once_the_slot_has_started_nor_someone_elses(hall):
    _, community, office = hall
    slot = (await day_of_slots(office))[0]
    _, me = await someone(community, "甲")
    _, stranger = await someone(community, "乙")
    appointment, _ = await appointments.book(me, slot.id, None, None)
    await refused(appointments.cancel(stranger, appointment.id), ErrorCode.OUT_OF_SCOPE)
    await refused(appointments.cancel(me, appointment.id + 1000), ErrorCode.NOT_FOUND)
    clock.freeze("2026-11-11T09:00:00+08:00")
    error = await refused(appointments.cancel(me, appointment.id), ErrorCode.APPOINTMENT_NOT_CANCELLABLE)
    assert "before its slot starts" in error.message
    assert await free_places(slot) == 1


async def test_a_clerk_books_for_a_person_of_their_community_at_the_counter(hall):
    district, community, office = hall
    slot = (await day_of_slots(office))[0]
    person, _ = await someone(community)
    clerk = await factories.viewer(Role.CLERK, community=community)
    appointment, transaction = await appointments.book(clerk, slot.id, person.id, None)
    assert appointment.person_id == person.id and appointment.account_id == clerk.account_id
    assert transaction.channel is ServiceChannel.COUNTER and transaction.actor_id == clerk.account_id
    elsewhere, _ = await someone(await factories.community(district, "后湖社区"), "乙")
    await refused(appointments.book(clerk, slot.id, elsewhere.id, None), ErrorCode.OUT_OF_SCOPE)
    await appointments.cancel(clerk, appointment.id)  # the clerk cancels what they booked
    assert await free_places(slot) == 2


async def test_an_agent_books_for_their_employer(hall):
    district, _, office = hall
    slots = await day_of_slots(office)
    employer = await factories.employer(district)
    agent = await factories.viewer(Role.EMPLOYER_AGENT, employer=employer)
    appointment, transaction = await appointments.book(agent, slots[0].id, None, employer.id)
    assert appointment.employer_id == employer.id and appointment.person_id is None
    assert transaction.employer_id == employer.id and transaction.channel is ServiceChannel.ONLINE
    await refused(
        appointments.book(agent, slots[1].id, None, None), ErrorCode.ALREADY_BOOKED
    )  # the employer's one for the day
    other = await factories.employer(district, "武汉汉口贸易有限公司")
    await refused(appointments.book(agent, slots[1].id, None, other.id), ErrorCode.OUT_OF_SCOPE)
    colleague = await factories.viewer(Role.EMPLOYER_AGENT, employer=employer)
    await appointments.cancel(colleague, appointment.id)  # any agent of the employer
    assert await free_places(slots[0]) == 2


async def test_the_district_reviewer_checks_in_on_the_day(hall):
    district, community, office = hall
    slot = (await day_of_slots(office))[0]
    person, me = await someone(community)
    appointment, _ = await appointments.book(me, slot.id, None, None)
    reviewer = await factories.viewer(Role.REVIEWER, district=district)
    stranger = await factories.viewer(Role.REVIEWER, district=await factories.district("420103", "江汉区"))
    await refused(appointments.check_in(reviewer, appointment.id), ErrorCode.APPOINTMENT_NOT_TODAY)  # tomorrow's
    clock.freeze("2026-11-11T08:50:00+08:00")
    await refused(appointments.check_in(stranger, appointment.id), ErrorCode.OUT_OF_SCOPE)
    await refused(appointments.check_in(me, appointment.id), ErrorCode.OUT_OF_SCOPE)
    arrived, transaction = await appointments.check_in(reviewer, appointment.id)
    assert arrived.status is AppointmentStatus.CHECKED_IN and arrived.checked_in_at == clock.now()
    assert transaction.business_type is BusinessType.CHECK_IN_APPOINTMENT
    assert transaction.channel is ServiceChannel.COUNTER and transaction.person_id == person.id
    await refused(appointments.check_in(reviewer, appointment.id), ErrorCode.APPOINTMENT_NOT_BOOKED)  # once
    await refused(appointments.cancel(me, appointment.id), ErrorCode.APPOINTMENT_NOT_BOOKED)  # checked in
    assert (await models.Appointment.get(id=appointment.id)).status is AppointmentStatus.CHECKED_IN
    assert await free_places(slot) == 1


async def test_a_cancelled_appointment_is_not_checked_in(hall):
    district, community, office = hall
    slot = (await day_of_slots(office, TODAY))[5]  # 11:30 today
    _, me = await someone(community)
    appointment, _ = await appointments.book(me, slot.id, None, None)
    await appointments.cancel(me, appointment.id)
    reviewer = await factories.viewer(Role.REVIEWER, district=district)
    await refused(appointments.check_in(reviewer, appointment.id), ErrorCode.APPOINTMENT_NOT_BOOKED)


@on_postgres
async def test_fifty_persons_racing_for_three_places_get_three(hall):
    _, community, office = hall
    slot = (await day_of_slots(office, capacity=10))[0]
    await models.AppointmentSlot.filter(id=slot.id).update(booked=7)
    viewers = [(await someone(community, f"丁{n}"))[1] for n in range(50)]
    outcomes = await asyncio.gather(
        *(appointments.book(v, slot.id, None, None) for v in viewers), return_exceptions=True
    )
    won = [o for o in outcomes if not isinstance(o, BaseException)]
    lost = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(won) == 3
    assert len(lost) == 47 and all(isinstance(o, BusinessError) and o.field == "slotId" for o in lost), lost[:3]
    assert {o.code for o in lost} == {ErrorCode.SLOT_FULL}
    assert (await models.AppointmentSlot.get(id=slot.id)).booked == 10
    assert await models.Appointment.filter(slot_id=slot.id).count() == 3
    assert await models.BusinessTransaction.filter(business_type=BusinessType.BOOK_APPOINTMENT).count() == 3


@on_postgres
async def test_ten_bookings_by_one_person_for_one_day_make_one(hall):
    _, community, office = hall
    slots = await appointments.open_day(office.id, TOMORROW, BusinessCategory.REGISTRATION, 8, 18, 60, 5)
    person, me = await someone(community)
    outcomes = await asyncio.gather(
        *(appointments.book(me, slot.id, None, None) for slot in slots), return_exceptions=True
    )
    assert len(slots) == 10
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 1
    lost = [o for o in outcomes if isinstance(o, BaseException)]
    assert all(isinstance(o, BusinessError) and "already" in o.message for o in lost), lost[:3]
    assert await models.Appointment.filter(person_id=person.id).count() == 1
    assert sum(s.booked for s in await models.AppointmentSlot.filter(office_id=office.id)) == 1

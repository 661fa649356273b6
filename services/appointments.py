"""Appointments at the district offices (Q1): free places, booking, cancelling and checking in.

A slot's capacity is never exceeded: a place is taken by one conditional UPDATE
(``booked = booked + 1 WHERE booked < capacity``) in the transaction that inserts the appointment,
so the database, not a read made earlier, decides who gets the last place. A person (or an
employer) has at most one booked appointment per office and day: their row is locked before the
check, so two bookings for the same subject run one after the other.

Moments are stored and compared in local time (M2): SQLite keeps datetimes as text, which orders
correctly only when every value carries the same offset.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from tortoise.expressions import F
from tortoise.transactions import in_transaction

import models
from domain.enums import AppointmentStatus, BusinessCategory, BusinessType, Role, TransactionStatus
from domain.errors import BusinessError, ErrorCode
from domain.months import LOCAL_TZ, local_date
from services.common import clock
from services.common.self_service import acts_for
from services.common.transactions import record_transaction
from services.common.viewer import Viewer

MAX_RANGE_DAYS = 31  # free places are listed for at most a month of days at once
MAX_CAPACITY = 1000


@dataclass(frozen=True)
class SlotAvailability:
    slot: models.AppointmentSlot
    office: models.Office
    free: int  # capacity - booked when read


@dataclass(frozen=True)
class Subject:
    """Who an appointment is for: a person or an employer."""

    person_id: int | None
    employer_id: int | None


def _local(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(LOCAL_TZ)


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), LOCAL_TZ)


# Offices and slots


async def create_office(district_id: int, name: str, address: str) -> models.Office:
    if not await models.District.exists(id=district_id):
        raise BusinessError(ErrorCode.NOT_FOUND, "no such district", "districtId")
    name, address = name.strip(), address.strip()
    if not 1 <= len(name) <= 128 or not 1 <= len(address) <= 200:
        raise BusinessError(ErrorCode.INVALID_INPUT, "an office has a name (1-128) and an address (1-200)", None)
    return await models.Office.create(district_id=district_id, name=name, address=address)


async def open_day(
    office_id: int,
    day: dt.date,
    category: BusinessCategory,
    first_hour: int,
    last_hour: int,
    minutes_per_slot: int,
    capacity: int,
) -> list[models.AppointmentSlot]:
    """Slots of ``minutes_per_slot`` from ``first_hour``:00 to ``last_hour``:00 local time, each with
    ``capacity`` places. Slots already opened at the same times are kept as they are."""
    if not 0 <= first_hour < last_hour <= 24:
        raise BusinessError(ErrorCode.INVALID_INPUT, "opening hours run from 0 to 24, first before last", "firstHour")
    if not 5 <= minutes_per_slot <= (last_hour - first_hour) * 60:
        raise BusinessError(
            ErrorCode.INVALID_INPUT, "a slot lasts at least 5 minutes and fits in the day", "minutesPerSlot"
        )
    if not 1 <= capacity <= MAX_CAPACITY:
        raise BusinessError(ErrorCode.INVALID_INPUT, f"a slot has 1 to {MAX_CAPACITY} places", "capacity")
    if not await models.Office.exists(id=office_id):
        raise BusinessError(ErrorCode.NOT_FOUND, "no such office", "officeId")
    opens = _day_start(day) + dt.timedelta(hours=first_hour)
    closes = _day_start(day) + dt.timedelta(hours=last_hour)
    length = dt.timedelta(minutes=minutes_per_slot)
    starts: list[dt.datetime] = []
    while opens + length <= closes:
        starts.append(opens)
        opens += length
    existing = {
        _local(s)
        for s in await models.AppointmentSlot.filter(
            office_id=office_id, business_category=category, starts_at__in=starts
        ).values_list("starts_at", flat=True)
    }
    await models.AppointmentSlot.bulk_create(
        [
            models.AppointmentSlot(
                office_id=office_id,
                business_category=category,
                starts_at=start,
                ends_at=start + length,
                capacity=capacity,
            )
            for start in starts
            if start not in existing
        ]
    )
    return await models.AppointmentSlot.filter(
        office_id=office_id, business_category=category, starts_at__in=starts
    ).order_by("starts_at")


async def free_slots(
    office_id: int | None,
    district_id: int | None,
    category: BusinessCategory | None,
    day_from: dt.date,
    day_to: dt.date,
    *,
    include_full: bool = False,
) -> list[SlotAvailability]:
    """Slots starting on ``day_from``..``day_to`` (local days, M2) that have not started, with their
    free places; full slots only when asked for. No personal data: anyone may read them."""
    if day_to < day_from:
        raise BusinessError(ErrorCode.INVALID_INPUT, "the last day comes before the first", "toDay")
    if (day_to - day_from).days + 1 > MAX_RANGE_DAYS:
        raise BusinessError(
            ErrorCode.INVALID_INPUT,
            f"at most {MAX_RANGE_DAYS} days at once, not {(day_to - day_from).days + 1}",
            "toDay",
        )
    query = models.AppointmentSlot.filter(
        starts_at__gte=_day_start(day_from),
        starts_at__gt=clock.now(),
        starts_at__lt=_day_start(day_to + dt.timedelta(days=1)),
    )
    if office_id is not None:
        query = query.filter(office_id=office_id)
    if district_id is not None:
        query = query.filter(office__district_id=district_id)
    if category is not None:
        query = query.filter(business_category=category)
    if not include_full:
        query = query.filter(booked__lt=F("capacity"))
    slots = await query.select_related("office").order_by("starts_at", "office_id", "business_category")
    return [SlotAvailability(slot, slot.office, slot.capacity - slot.booked) for slot in slots]


# Booking


def _subject(actor: Viewer, person_id: int | None, employer_id: int | None) -> Subject:
    """Whom the actor books for: a person themself, an agent their employer, a clerk a person of
    their community (A6). Nothing given means the actor's own person or employer."""
    if person_id is not None and employer_id is not None:
        raise BusinessError(
            ErrorCode.INVALID_INPUT, "an appointment is for a person or an employer, not both", "personId"
        )
    if person_id is None and employer_id is None:
        if actor.role is Role.PERSON and actor.person_id is not None:
            return Subject(actor.person_id, None)
        if actor.role is Role.EMPLOYER_AGENT and actor.employer_id is not None:
            return Subject(None, actor.employer_id)
        raise BusinessError(ErrorCode.INVALID_INPUT, "say whom the appointment is for", "personId")
    if employer_id is not None:
        if actor.role is not Role.EMPLOYER_AGENT or actor.employer_id != employer_id:
            raise BusinessError(ErrorCode.OUT_OF_SCOPE, "you do not act for this employer", "employerId")
        return Subject(None, employer_id)
    if actor.role not in (Role.PERSON, Role.CLERK):
        raise BusinessError(ErrorCode.OUT_OF_SCOPE, "you do not act for this person", "personId")
    return Subject(person_id, None)


async def _lock(actor: Viewer, subject: Subject) -> None:
    """Lock the subject's row for the rest of the transaction: one subject's bookings run one after
    the other, each seeing the appointments the one before it made."""
    if subject.employer_id is not None:
        if await models.Employer.select_for_update().get_or_none(id=subject.employer_id) is None:
            raise BusinessError(ErrorCode.NOT_FOUND, "no such employer", "employerId")
        return
    person = await models.Person.select_for_update().get_or_none(id=subject.person_id)
    if person is None or not acts_for(actor, person):
        raise BusinessError(ErrorCode.OUT_OF_SCOPE, "you do not act for this person", "personId")


async def _booked_that_day(subject: Subject, slot: models.AppointmentSlot) -> bool:
    day = local_date(slot.starts_at)
    who = {"person_id": subject.person_id} if subject.person_id is not None else {"employer_id": subject.employer_id}
    return await models.Appointment.filter(
        **who,
        status=AppointmentStatus.BOOKED,
        slot__office_id=slot.office_id,
        slot__starts_at__gte=_day_start(day),
        slot__starts_at__lt=_day_start(day + dt.timedelta(days=1)),
    ).exists()


def _refuse_started(slot: models.AppointmentSlot) -> None:
    if _local(slot.starts_at) <= clock.now():
        raise BusinessError(ErrorCode.SLOT_STARTED, "this slot has already started", "slotId")


def _refuse_full() -> None:
    raise BusinessError(ErrorCode.SLOT_FULL, "this slot is full", "slotId")


def _details(slot: models.AppointmentSlot, appointment_id: int | None = None) -> dict:
    """What the transaction records of the slot (and, once it exists, of the appointment)."""
    return {
        "appointment_id": appointment_id,
        "slot_id": slot.id,
        "office": slot.office.name,
        "category": slot.business_category,
        "starts_at": _local(slot.starts_at),
    }


async def book(
    actor: Viewer, slot_id: int, person_id: int | None = None, employer_id: int | None = None
) -> tuple[models.Appointment, models.BusinessTransaction]:
    """Q1: take one place of a slot that has not started, for a subject with no other booked
    appointment at that office that day."""
    subject = _subject(actor, person_id, employer_id)
    slot = await models.AppointmentSlot.get_or_none(id=slot_id).select_related("office")
    if slot is None:
        raise BusinessError(ErrorCode.NOT_FOUND, "no such slot", "slotId")
    _refuse_started(slot)
    if slot.booked >= slot.capacity:
        _refuse_full()
    async with in_transaction():
        await _lock(actor, subject)
        if await _booked_that_day(subject, slot):
            raise BusinessError(
                ErrorCode.ALREADY_BOOKED, "there is already an appointment at this office that day", "slotId"
            )
        # The database decides who takes the last place: a second booking waits for the first to
        # commit, then finds the condition false and changes nothing.
        taken = await models.AppointmentSlot.filter(
            id=slot.id, booked__lt=F("capacity"), starts_at__gt=clock.now()
        ).update(booked=F("booked") + 1)
        if taken != 1:
            _refuse_started(slot)
            _refuse_full()
        transaction = await record_transaction(
            BusinessType.BOOK_APPOINTMENT,
            actor,
            district_id=slot.office.district_id,
            person_id=subject.person_id,
            employer_id=subject.employer_id,
            status=TransactionStatus.COMPLETED,
            details=_details(slot),
        )
        appointment = await models.Appointment.create(
            slot_id=slot.id,
            account_id=actor.account_id,
            person_id=subject.person_id,
            employer_id=subject.employer_id,
            transaction_id=transaction.id,
            status=AppointmentStatus.BOOKED,
            booked_at=clock.now(),
        )
    return appointment, transaction


# Cancelling and checking in


async def _appointment(appointment_id: int) -> models.Appointment:
    appointment = await models.Appointment.get_or_none(id=appointment_id).select_related("slot__office", "person")
    if appointment is None:
        raise BusinessError(ErrorCode.NOT_FOUND, "no such appointment", "appointmentId")
    return appointment


def _booked_for(actor: Viewer, appointment: models.Appointment) -> bool:
    """The subject themself, an agent of the employer, or the clerk of the person's community."""
    if appointment.employer_id is not None:
        return actor.role is Role.EMPLOYER_AGENT and actor.employer_id == appointment.employer_id
    return acts_for(actor, appointment.person)


def _refuse_unless_booked(appointment: models.Appointment) -> None:
    if appointment.status is not AppointmentStatus.BOOKED:
        raise BusinessError(
            ErrorCode.APPOINTMENT_NOT_BOOKED,
            f"this appointment is {appointment.status.value.lower().replace('_', ' ')}",
            "appointmentId",
        )


async def _leave_booked(appointment: models.Appointment, **changes: object) -> None:
    """Move the appointment out of BOOKED only if it still is: the loser of a race changes nothing."""
    moved = await models.Appointment.filter(id=appointment.id, status=AppointmentStatus.BOOKED).update(**changes)
    if moved != 1:
        raise BusinessError(
            ErrorCode.APPOINTMENT_NOT_BOOKED, "this appointment was cancelled or checked in meanwhile", "appointmentId"
        )
    for name, value in changes.items():
        setattr(appointment, name, value)


async def _record(
    business_type: BusinessType, actor: Viewer, appointment: models.Appointment
) -> models.BusinessTransaction:
    return await record_transaction(
        business_type,
        actor,
        district_id=appointment.slot.office.district_id,
        person_id=appointment.person_id,
        employer_id=appointment.employer_id,
        status=TransactionStatus.COMPLETED,
        details=_details(appointment.slot, appointment.id),
    )


async def cancel(actor: Viewer, appointment_id: int) -> tuple[models.Appointment, models.BusinessTransaction]:
    """Q1: until the slot starts; the place is freed once, however many times it is cancelled."""
    appointment = await _appointment(appointment_id)
    if not _booked_for(actor, appointment):
        raise BusinessError(ErrorCode.OUT_OF_SCOPE, "you did not book this appointment", "appointmentId")
    _refuse_unless_booked(appointment)
    now = clock.now()
    if _local(appointment.slot.starts_at) <= now:
        raise BusinessError(
            ErrorCode.APPOINTMENT_NOT_CANCELLABLE,
            "an appointment is cancelled only before its slot starts",
            "appointmentId",
        )
    async with in_transaction():
        await _leave_booked(appointment, status=AppointmentStatus.CANCELLED, cancelled_at=now)
        await models.AppointmentSlot.filter(id=appointment.slot_id, booked__gt=0).update(booked=F("booked") - 1)
        transaction = await _record(BusinessType.CANCEL_APPOINTMENT, actor, appointment)
    return appointment, transaction


async def check_in(actor: Viewer, appointment_id: int) -> tuple[models.Appointment, models.BusinessTransaction]:
    """Q1: the visitor arrives; a reviewer of the office's district checks them in on the slot's day."""
    appointment = await _appointment(appointment_id)
    day = local_date(appointment.slot.starts_at)
    if actor.role is not Role.REVIEWER or actor.district_id != appointment.slot.office.district_id:
        raise BusinessError(
            ErrorCode.OUT_OF_SCOPE, "only a reviewer of the office's district checks in", "appointmentId"
        )
    if day != clock.today():
        raise BusinessError(ErrorCode.APPOINTMENT_NOT_TODAY, f"this appointment is for {day}", "appointmentId")
    _refuse_unless_booked(appointment)
    async with in_transaction():
        await _leave_booked(appointment, status=AppointmentStatus.CHECKED_IN, checked_in_at=clock.now())
        transaction = await _record(BusinessType.CHECK_IN_APPOINTMENT, actor, appointment)
    return appointment, transaction

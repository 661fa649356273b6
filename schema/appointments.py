"""Appointments at the district offices (Q1): free places, booking, cancelling and checking in.

Unlike the flexible-employment business, booking a visit is not self-service in the sense of A5:
any person, employed or retired included, may book a visit for themself.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

import models
from domain.enums import Role
from domain.errors import BusinessError, ErrorCode
from resolvers.inputs import BadUserInput, decode_int_id
from resolvers.loaders import fetch_nodes, node_of
from resolvers.scopes import scoped
from schema import nodes
from schema.business_mutation import business_mutation, business_payload
from schema.enums import BusinessCategory
from schema.errors import Refused
from schema.payloads import IDEMPOTENCY_KEY, INPUT
from schema.permissions import allow
from schema.relay import Connection, PageRequest, connection_from_list
from services import appointments

SLOT_READERS = (Role.PERSON, Role.EMPLOYER_AGENT, Role.CLERK, Role.REVIEWER, Role.ADMIN)
BOOKERS = (Role.PERSON, Role.EMPLOYER_AGENT, Role.CLERK)


async def appointment_slots(
    office_id: strawberry.ID | None,
    district_id: strawberry.ID | None,
    category: BusinessCategory | None,
    from_day: dt.date,
    to_day: dt.date,
    include_full: bool,
    page: PageRequest,
) -> Connection[nodes.AppointmentSlot]:
    """The slots of the days asked that have not started. A bad range is a bad argument
    (BAD_USER_INPUT naming it, like a bad page size); any other refusal keeps its business code."""
    office = None if office_id is None else decode_int_id(office_id, "Office", "officeId")
    district = None if district_id is None else decode_int_id(district_id, "District", "districtId")
    try:
        listed = await appointments.free_slots(office, district, category, from_day, to_day, include_full=include_full)
    except BusinessError as error:
        if error.code is ErrorCode.INVALID_INPUT:
            raise BadUserInput(error.message, error.field) from None
        raise Refused(error.code.value, error.message, error.field) from None
    return connection_from_list([node_of(nodes.AppointmentSlot, free.slot) for free in listed], page)


@strawberry.input(description="Book a place in a slot (Q1).")
class BookAppointmentInput:
    slot_id: strawberry.ID = strawberry.field(
        description="A slot that has not started and has a free place (appointmentSlots)."
    )
    person_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "The person the visit is for: a clerk names a person of their community; a person booking for themself may "
            "leave it out."
        ),
    )
    employer_id: strawberry.ID | None = strawberry.field(
        default=None, description="The employer the visit is for: an agent's own employer, which it may leave out."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@business_payload(
    "The appointment booked and the slot with one place fewer.",
    transaction="The BOOK_APPOINTMENT business.",
    errors="Why nothing changed (SLOT_FULL, SLOT_STARTED, ALREADY_BOOKED, ...); empty on success.",
)
class BookAppointmentPayload:
    appointment: nodes.Appointment | None = strawberry.field(default=None, description="The appointment, BOOKED.")
    slot: nodes.AppointmentSlot | None = strawberry.field(
        default=None, description="The slot as it now stands, its free places counted after the booking."
    )


@strawberry.input(description="Cancel a booked appointment before its slot starts (Q1).")
class CancelAppointmentInput:
    appointment_id: strawberry.ID = strawberry.field(
        description="The appointment, BOOKED, for you or for whom you act."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@business_payload(
    "The cancelled appointment and the slot with its place free again.",
    transaction="The CANCEL_APPOINTMENT business.",
    errors="Why nothing changed (APPOINTMENT_NOT_BOOKED, APPOINTMENT_NOT_CANCELLABLE, ...); empty on success.",
)
class CancelAppointmentPayload:
    appointment: nodes.Appointment | None = strawberry.field(default=None, description="The appointment, CANCELLED.")
    slot: nodes.AppointmentSlot | None = strawberry.field(
        default=None, description="The slot as it now stands, the place given back."
    )


@strawberry.input(description="Check in a visitor who arrived at the office (Q1).")
class CheckInAppointmentInput:
    appointment_id: strawberry.ID = strawberry.field(
        description="Today's BOOKED appointment at an office of your district."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@business_payload(
    "The appointment checked in.",
    transaction="The CHECK_IN_APPOINTMENT business.",
    errors="Why nothing changed (APPOINTMENT_NOT_TODAY, APPOINTMENT_NOT_BOOKED, ...); empty on success.",
)
class CheckInAppointmentPayload:
    appointment: nodes.Appointment | None = strawberry.field(default=None, description="The appointment, CHECKED_IN.")
    slot: nodes.AppointmentSlot | None = strawberry.field(default=None, description="The slot; its place stays taken.")


def _appointment_id(opaque: strawberry.ID) -> int:
    return decode_int_id(opaque, "Appointment", "appointmentId")


async def _slot_now(info: strawberry.Info, slot_id: int) -> nodes.AppointmentSlot | None:
    """The slot read again after the change: the service moved its count in SQL, not in memory.
    The loader's cache may hold it from earlier in the request: read past it, then refresh it."""
    viewer = info.context.viewer
    found = await fetch_nodes(
        nodes.AppointmentSlot, scoped(models.AppointmentSlot.filter(id=slot_id), models.AppointmentSlot, viewer)
    )
    slot = found[0] if found else None
    info.context.loaders.appointment_slot.prime(slot_id, slot, force=True)
    return slot


@strawberry.type
class AppointmentMutations:
    @business_mutation(
        description=(
            "Book a visit at a district office (Q1): a person for themself, an agent for its employer, a clerk for a "
            "person of their community. Not limited to the flexibly insured (A5 does not apply): any person may book. "
            "One booked appointment per person or employer, office and day."
        ),
        extensions=[allow(*BOOKERS)],
    )
    async def book_appointment(
        self, info: strawberry.Info, input: Annotated[BookAppointmentInput, INPUT]
    ) -> BookAppointmentPayload:
        slot_id = decode_int_id(input.slot_id, "AppointmentSlot", "slotId")
        person_id = None if input.person_id is None else decode_int_id(input.person_id, "Person", "personId")
        employer_id = None if input.employer_id is None else decode_int_id(input.employer_id, "Employer", "employerId")
        appointment, transaction = await appointments.book(info.context.viewer, slot_id, person_id, employer_id)
        return BookAppointmentPayload(
            appointment=node_of(nodes.Appointment, appointment),
            slot=await _slot_now(info, appointment.slot_id),
            transaction=node_of(nodes.BusinessTransaction, transaction),
        )

    @business_mutation(
        description=(
            "Cancel a booked appointment until its slot starts (Q1); its place is free again. By whoever may book it."
        ),
        extensions=[allow(*BOOKERS)],
    )
    async def cancel_appointment(
        self, info: strawberry.Info, input: Annotated[CancelAppointmentInput, INPUT]
    ) -> CancelAppointmentPayload:
        appointment, transaction = await appointments.cancel(info.context.viewer, _appointment_id(input.appointment_id))
        return CancelAppointmentPayload(
            appointment=node_of(nodes.Appointment, appointment),
            slot=await _slot_now(info, appointment.slot_id),
            transaction=node_of(nodes.BusinessTransaction, transaction),
        )

    @business_mutation(
        description="Check in a visitor on the day of their appointment (Q1), by a reviewer of the office's district.",
        extensions=[allow(Role.REVIEWER)],
    )
    async def check_in_appointment(
        self, info: strawberry.Info, input: Annotated[CheckInAppointmentInput, INPUT]
    ) -> CheckInAppointmentPayload:
        appointment, transaction = await appointments.check_in(
            info.context.viewer, _appointment_id(input.appointment_id)
        )
        return CheckInAppointmentPayload(
            appointment=node_of(nodes.Appointment, appointment),
            slot=await _slot_now(info, appointment.slot_id),
            transaction=node_of(nodes.BusinessTransaction, transaction),
        )

"""The root Query: the read side of the graph."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

import strawberry

from domain.enums import Role
from resolvers import reads
from resolvers.inputs import BadUserInput, decode_id, decode_int_id
from schema.appointments import SLOT_READERS, appointment_slots
from schema.enums import (
    AuditOutcome,
    BusinessCategory,
    BusinessType,
    Channel,
    EmployerStatus,
    InsuranceType,
    JobKind,
    JobStatus,
    ParameterCode,
    PersonCategory,
    PolicyStatus,
    ServiceChannel,
    TransactionStatus,
)
from schema.errors import Refused, refused_as_error
from schema.flexible import InterruptionQuote, interruption_quote, person_in_reach
from schema.information import (
    PENSION_FORMULA,
    OnlineAdoption,
    PensionEstimate,
    Statistic,
    StatsDimension,
    business_volume_stats,
    enrollment_stats,
    online_adoption_stats,
    pension_estimate,
)
from schema.nodes import (
    After,
    AppointmentSlot,
    AuditEvent,
    Before,
    BusinessTransaction,
    Employer,
    First,
    Job,
    Last,
    Me,
    Parameter,
    Person,
)
from schema.permissions import EVERY_ROLE, allow, public
from schema.relay import MAX_PAGE_SIZE, Connection, Node, connection_from_list, keyset_page, list_tag, page_request
from schema.scalars import ExactDecimal, MonthScalar

Info = strawberry.Info

PERSON_READERS = (Role.PERSON, Role.EMPLOYER_AGENT, Role.CLERK, Role.REVIEWER, Role.ADMIN)
EMPLOYER_READERS = (Role.EMPLOYER_AGENT, Role.REVIEWER, Role.ADMIN)
STATISTICS_READERS = (Role.ANALYST, Role.ADMIN)  # aggregates only: nothing personal


@strawberry.input(description="Narrows a list of persons; every filter given must hold.")
class PersonFilter:
    district_id: strawberry.ID | None = strawberry.field(default=None, description="Persons living in this district.")
    community_id: strawberry.ID | None = strawberry.field(default=None, description="Persons of this community.")
    category: PersonCategory | None = strawberry.field(default=None, description="How they are insured now.")
    insurance_type: InsuranceType | None = strawberry.field(default=None, description="Having a policy of this type.")
    policy_status: PolicyStatus | None = strawberry.field(
        default=None, description="Having a policy in this state (of insuranceType when given)."
    )
    has_arrears: bool | None = strawberry.field(
        default=None, description="Owing arrears (OPEN or ORDERED), or owing none."
    )
    name_prefix: str | None = strawberry.field(default=None, description="Name starts with this (1-64 characters).")
    id_number: str | None = strawberry.field(default=None, description="Exactly this resident ID number (A1-checked).")


@strawberry.input(description="Narrows a list of employers.")
class EmployerFilter:
    district_id: strawberry.ID | None = strawberry.field(default=None, description="Employers of this district.")
    status: EmployerStatus | None = strawberry.field(default=None, description="Employers in this state.")
    name_prefix: str | None = strawberry.field(default=None, description="Name starts with this (1-64 characters).")
    credit_code: str | None = strawberry.field(default=None, description="Exactly this credit code (A2-checked).")


@strawberry.input(description="Narrows a list of business transactions.")
class TransactionFilter:
    business_type: BusinessType | None = strawberry.field(default=None, description="Of this business type.")
    status: TransactionStatus | None = strawberry.field(default=None, description="In this state.")
    channel: ServiceChannel | None = strawberry.field(default=None, description="Done online or at a counter.")
    district_id: strawberry.ID | None = strawberry.field(default=None, description="Handled by this district.")
    person_id: strawberry.ID | None = strawberry.field(default=None, description="About this person.")
    employer_id: strawberry.ID | None = strawberry.field(default=None, description="About this employer.")
    effective_month: MonthScalar | None = strawberry.field(default=None, description="Taking effect in this month.")


@strawberry.input(description="Narrows the audit trail.")
class AuditFilter:
    operation: str | None = strawberry.field(default=None, description="Only this mutation, e.g. login.")
    outcome: AuditOutcome | None = strawberry.field(default=None, description="Only this outcome.")
    username: str | None = strawberry.field(default=None, description="Only what this account did.")


async def _load_node(info: Info, opaque: str, argument: str) -> Node | None:
    kind, key = decode_id(opaque, argument)
    loader = info.context.loaders.by_type(kind)
    primary_key = loader.parse_key(key) if loader is not None else None
    if primary_key is None:
        raise BadUserInput(f"{opaque!r} is not an id issued by this API", argument)
    return await loader.load(primary_key)


@strawberry.type(description="The read side of the service hall.")
class Query:
    @strawberry.field(description="The signed-in viewer.", extensions=[allow(*EVERY_ROLE)])
    def me(self, info: Info) -> Me:
        viewer = info.context.viewer
        return Me(
            account_id=viewer.account_id,
            username=viewer.username,
            role=viewer.role,
            person_id=viewer.person_id,
            employer_id=viewer.employer_id,
            community_id=viewer.community_id,
            district_id=viewer.district_id,
        )

    @strawberry.field(
        description="Any object by its global id; null when it does not exist or is out of your reach.",
        extensions=[allow(*EVERY_ROLE)],
    )
    async def node(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="A global id.")]
    ) -> Node | None:
        return await _load_node(info, id, "id")

    @strawberry.field(
        description="Several objects by global id, in the order asked (at most 100); null where absent.",
        extensions=[allow(*EVERY_ROLE)],
    )
    async def nodes(
        self, info: Info, ids: Annotated[list[strawberry.ID], strawberry.argument(description="Global ids.")]
    ) -> list[Node | None]:
        if len(ids) > MAX_PAGE_SIZE:
            raise BadUserInput(f"at most {MAX_PAGE_SIZE} ids at once, not {len(ids)}", "ids")
        return [await _load_node(info, opaque, "ids") for opaque in ids]

    @strawberry.field(
        description="One person, by global id or by resident ID number (exactly one of them).",
        extensions=[allow(*PERSON_READERS)],
    )
    async def person(
        self,
        info: Info,
        id: Annotated[strawberry.ID | None, strawberry.argument(description="The person's global id.")] = None,
        id_number: Annotated[
            str | None, strawberry.argument(description="The 18-character resident ID number (A1).")
        ] = None,
    ) -> Person | None:
        if (id is None) == (id_number is None):
            raise BadUserInput("give either id or idNumber", "id")
        if id is not None:
            return await info.context.loaders.person.load(decode_int_id(id, "Person"))
        rows = await reads.fetch_nodes(
            Person, reads.persons_queryset(PersonFilter(id_number=id_number), info.context.viewer)
        )
        return rows[0] if rows else None

    @strawberry.field(description="Persons, in registration order, with filters.", extensions=[allow(*PERSON_READERS)])
    async def persons(
        self,
        info: Info,
        filter: Annotated[PersonFilter | None, strawberry.argument(description="Filters.")] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Person]:
        page = page_request(first, after, last, before)
        return await keyset_page(Person, reads.persons_queryset(filter, info.context.viewer), page)

    @strawberry.field(
        description="One employer, by global id or by unified social credit code (exactly one of them).",
        extensions=[allow(*EMPLOYER_READERS)],
    )
    async def employer(
        self,
        info: Info,
        id: Annotated[strawberry.ID | None, strawberry.argument(description="The employer's global id.")] = None,
        credit_code: Annotated[
            str | None, strawberry.argument(description="The 18-character credit code (A2).")
        ] = None,
    ) -> Employer | None:
        if (id is None) == (credit_code is None):
            raise BadUserInput("give either id or creditCode", "id")
        if id is not None:
            return await info.context.loaders.employer.load(decode_int_id(id, "Employer"))
        rows = await reads.fetch_nodes(
            Employer, reads.employers_queryset(EmployerFilter(credit_code=credit_code), info.context.viewer)
        )
        return rows[0] if rows else None

    @strawberry.field(
        description="Employers, in registration order, with filters.", extensions=[allow(*EMPLOYER_READERS)]
    )
    async def employers(
        self,
        info: Info,
        filter: Annotated[EmployerFilter | None, strawberry.argument(description="Filters.")] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Employer]:
        page = page_request(first, after, last, before)
        return await keyset_page(Employer, reads.employers_queryset(filter, info.context.viewer), page)

    @strawberry.field(
        description="Business transactions, newest first, with filters.", extensions=[allow(*PERSON_READERS)]
    )
    async def business_transactions(
        self,
        info: Info,
        filter: Annotated[TransactionFilter | None, strawberry.argument(description="Filters.")] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[BusinessTransaction]:
        page = page_request(first, after, last, before)
        return await keyset_page(
            BusinessTransaction, reads.transactions_queryset(filter, info.context.viewer), page, newest_first=True
        )

    @strawberry.field(
        description="A job by its global id; null when it does not exist.", extensions=[allow(Role.ADMIN)]
    )
    async def job(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The job's global id.")]
    ) -> Job | None:
        node = await _load_node(info, id, "id")
        if node is not None and not isinstance(node, Job):
            raise BadUserInput(f"{id!r} is not the id of a Job", "id")
        return node

    @strawberry.field(description="Jobs, newest first.", extensions=[allow(Role.ADMIN)])
    async def jobs(
        self,
        info: Info,
        kind: Annotated[JobKind | None, strawberry.argument(description="Only jobs of this kind.")] = None,
        status: Annotated[JobStatus | None, strawberry.argument(description="Only jobs in this state.")] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Job]:
        page = page_request(first, after, last, before)
        jobs = await reads.jobs(Job, kind, status, info.context.viewer)
        return connection_from_list(jobs, page, list_tag("jobs", kind, status))

    @strawberry.field(
        description=(
            "The audit trail, newest first (A6): administrators all of it, a reviewer their district's accounts."
        ),
        extensions=[allow(Role.REVIEWER, Role.ADMIN)],
    )
    async def audit_events(
        self,
        info: Info,
        filter: Annotated[AuditFilter | None, strawberry.argument(description="Filters.")] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[AuditEvent]:
        page = page_request(first, after, last, before)
        return await keyset_page(
            AuditEvent, reads.audit_events_queryset(filter, info.context.viewer), page, newest_first=True
        )

    @strawberry.field(
        description=(
            "What back-paying a person's interrupted pension months would cost if ordered this month (F8), month by "
            "month; null when the person is out of your reach. Medical is refused with "
            "MEDICAL_INTERRUPTION_NOT_BACKPAYABLE."
        ),
        extensions=[allow(Role.PERSON, Role.CLERK, Role.REVIEWER, Role.ADMIN)],
    )
    async def interruption_quote(
        self,
        info: Info,
        person_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="The person; a person asking for themself may leave it out."),
        ] = None,
        insurance_type: Annotated[
            InsuranceType, strawberry.argument(description="PENSION; MEDICAL is refused.")
        ] = InsuranceType.PENSION,
        pension_grade: Annotated[
            ExactDecimal | None, strawberry.argument(description="Price at this grade instead of the person's own.")
        ] = None,
    ) -> InterruptionQuote | None:
        return await interruption_quote(info, person_id, insurance_type, pension_grade)

    @strawberry.field(
        description=(
            "Slots that have not started, on the days asked (at most 31), with their free places (Q1), by start then "
            "office; full slots only when asked for. A longer or backwards range is refused with BAD_USER_INPUT."
        ),
        extensions=[allow(*SLOT_READERS)],
    )
    async def appointment_slots(
        self,
        info: Info,
        from_day: Annotated[dt.date, strawberry.argument(description="First day (local, M2).")],
        to_day: Annotated[dt.date, strawberry.argument(description="Last day, at most 30 days after fromDay.")],
        office_id: Annotated[strawberry.ID | None, strawberry.argument(description="Only this office.")] = None,
        district_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only the offices of this district.")
        ] = None,
        business_category: Annotated[
            BusinessCategory | None, strawberry.argument(description="Only slots for this business.")
        ] = None,
        include_full: Annotated[bool, strawberry.argument(description="List full slots too (free = 0).")] = False,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[AppointmentSlot]:
        slots = ("appointmentSlots", office_id, district_id, business_category, from_day, to_day, include_full)
        page = page_request(first, after, last, before, list_tag(*slots))
        return await appointment_slots(office_id, district_id, business_category, from_day, to_day, include_full, page)

    @strawberry.field(
        description=(
            "May I stop paying? A person's monthly pension at retirement if they keep paying at their current grade, "
            "and if they stop now, with the inputs used; null when the person is out of your reach; PERSON_RETIRED for "
            "someone already retired; FORBIDDEN where their ID number is masked for you, since the estimate follows "
            "the birth date the mask hides (docs/api.md 8). "
        )
        + PENSION_FORMULA,
        # Not administrators: every ID number is masked for them.
        extensions=[allow(Role.PERSON, Role.CLERK, Role.REVIEWER)],
    )
    async def pension_estimate(
        self,
        info: Info,
        person_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="The person; a person asking for themself may leave it out."),
        ] = None,
        annual_wage_growth: Annotated[
            ExactDecimal, strawberry.argument(description="Yearly growth of the average wage to assume, 0 to 0.20.")
        ] = Decimal("0"),
    ) -> PensionEstimate | None:
        person = await refused_as_error(person_in_reach(info, person_id))
        if person is not None and not person.shown_whole_to(info.context.viewer):
            # Its retirement month, months to retirement and minimum months give back the birth date.
            raise Refused(
                "FORBIDDEN",
                "The estimate follows the birth date, which the ID number masked for you hides (docs/api.md 8).",
                "personId",
            )
        return await pension_estimate(info, person_id, annual_wage_growth)

    @strawberry.field(
        description=(
            "Insured persons counted for dashboards (Q4): with a policy in force in a month, or in each month of a "
            "range (at most 36), grouped as asked. Groups under 5 are suppressed."
        ),
        extensions=[allow(*STATISTICS_READERS)],
    )
    async def enrollment_stats(
        self,
        group_by: Annotated[
            list[StatsDimension],
            strawberry.argument(description="INSURANCE_TYPE, CHANNEL, DISTRICT, STATUS, MONTH; none for one total."),
        ],
        month: Annotated[
            MonthScalar | None, strawberry.argument(description="The month counted (default this month).")
        ] = None,
        from_month: Annotated[MonthScalar | None, strawberry.argument(description="First month of a range.")] = None,
        to_month: Annotated[MonthScalar | None, strawberry.argument(description="Last month of a range.")] = None,
        insurance_type: Annotated[
            InsuranceType | None, strawberry.argument(description="Only this insurance type.")
        ] = None,
        channel: Annotated[Channel | None, strawberry.argument(description="Only this channel.")] = None,
        district_id: Annotated[strawberry.ID | None, strawberry.argument(description="Only this district.")] = None,
        status: Annotated[PolicyStatus | None, strawberry.argument(description="Only policies in this state.")] = None,
    ) -> Statistic:
        return await enrollment_stats(
            group_by, month, from_month, to_month, insurance_type, channel, district_id, status
        )

    @strawberry.field(
        description=(
            "Business transactions counted for dashboards (Q4), by submission month in local time, grouped as asked; "
            "at most 36 months. Groups under 5 are suppressed."
        ),
        extensions=[allow(*STATISTICS_READERS)],
    )
    async def business_volume_stats(
        self,
        group_by: Annotated[
            list[StatsDimension],
            strawberry.argument(description="BUSINESS_TYPE, STATUS, MONTH, CHANNEL, DISTRICT; none for one total."),
        ],
        from_month: Annotated[MonthScalar, strawberry.argument(description="First month.")],
        to_month: Annotated[MonthScalar, strawberry.argument(description="Last month.")],
        business_type: Annotated[
            BusinessType | None, strawberry.argument(description="Only this business type.")
        ] = None,
        status: Annotated[
            TransactionStatus | None, strawberry.argument(description="Only transactions in this state.")
        ] = None,
        channel: Annotated[
            ServiceChannel | None, strawberry.argument(description="Only online, or only at a counter.")
        ] = None,
        district_id: Annotated[strawberry.ID | None, strawberry.argument(description="Only this district.")] = None,
    ) -> Statistic:
        return await business_volume_stats(group_by, from_month, to_month, business_type, status, channel, district_id)

    @strawberry.field(
        description=(
            "The share of persons and employers with online access, by district (Q4); counts under 5 suppressed."
        ),
        extensions=[allow(*STATISTICS_READERS)],
    )
    async def online_adoption_stats(self) -> OnlineAdoption:
        return await online_adoption_stats()

    @strawberry.field(
        description=(
            "Parameter values (P1-P7) by code and effective month; with inForceAt only the value in force then."
        ),
        extensions=[public()],
    )
    async def parameters(
        self,
        code: Annotated[ParameterCode | None, strawberry.argument(description="Only this parameter.")] = None,
        in_force_at: Annotated[
            MonthScalar | None, strawberry.argument(description="Only the values in force in this month.")
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Parameter]:
        page = page_request(first, after, last, before)
        month = None if in_force_at is None else in_force_at.to_int()
        rows = await reads.parameters_in_force(Parameter, code, month)
        return connection_from_list(rows, page, list_tag("parameters", code, month))

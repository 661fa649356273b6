"""The graph's entity types. Leaf fields are plain attributes, filled from database rows;
related objects and lists go through the request's DataLoaders, once per list, never per item."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

import models
from domain import enums
from domain.errors import BusinessError
from domain.identifiers import mask_resident_id
from domain.interest import back_pay_interest
from domain.months import Month
from resolvers.inputs import BadUserInput
from resolvers.loaders import Loaders, NodeKind
from schema.enums import (
    AppointmentStatus,
    ArrearStatus,
    AuditOutcome,
    BusinessCategory,
    BusinessType,
    CardApplicationStatus,
    Channel,
    EmployerStatus,
    EmploymentStatus,
    Gender,
    InsuranceType,
    JobKind,
    JobStatus,
    LedgerKind,
    PaidVia,
    ParameterCode,
    PaymentOrderKind,
    PaymentOrderStatus,
    PeriodStatus,
    PersonCategory,
    PolicyStatus,
    RetirementClass,
    Role,
    ServiceChannel,
    TransactionStatus,
)
from schema.records import ContributionRecord, record_of
from schema.relay import Connection, Node, nested_connection, page_request
from schema.scalars import ExactDecimal, Money, MonthScalar
from services import access
from services.common import clock

Info = strawberry.Info

First = Annotated[int | None, strawberry.argument(description="Page size from the start, at most 100 (default 20).")]
After = Annotated[str | None, strawberry.argument(description="Continue after this cursor.")]
Last = Annotated[int | None, strawberry.argument(description="Page size from the end, at most 100.")]
Before = Annotated[str | None, strawberry.argument(description="Continue before this cursor.")]


def loaders(info: Info) -> Loaders:
    return info.context.loaders


def _month(value: MonthScalar | None) -> int | None:
    return None if value is None else value.to_int()


def _months(from_month: MonthScalar | None, to_month: MonthScalar | None) -> dict[str, int | None]:
    """The filters of a range of months; a backwards range is refused, as everywhere."""
    if from_month is not None and to_month is not None and from_month > to_month:
        raise BadUserInput(f"fromMonth {from_month} is after toMonth {to_month}", "fromMonth")
    return {"month__gte": _month(from_month), "month__lte": _month(to_month)}


@strawberry.type(description="A district of the city, with one social-insurance office (区).")
class District(Node):
    code: str = strawberry.field(description="Six-digit area code (GB/T 2260).")
    name: str = strawberry.field(description="Name of the district.")


@strawberry.type(description="A community (社区) inside a district, with its community office.")
class Community(Node):
    code: str = strawberry.field(description="Community code.")
    name: str = strawberry.field(description="Name of the community.")
    district_id: strawberry.Private[int]

    @strawberry.field(description="The district the community belongs to.")
    async def district(self, info: Info) -> District:
        return await loaders(info).district.load(self.district_id)


@strawberry.type(description="An insured person (参保人), identified by the resident ID number (A1).")
class Person(Node):
    id_number_on_card: strawberry.Private[str]
    birth_date_on_card: strawberry.Private[dt.date]
    archive_birth_date_held: strawberry.Private[dt.date | None]
    name: str = strawberry.field(description="Name as on the ID card.")
    gender: Gender = strawberry.field(description="Gender.")
    retirement_class: RetirementClass = strawberry.field(description="Archive job class (Q3).")
    category: PersonCategory = strawberry.field(description="How the person is insured now.")
    phone: str | None = strawberry.field(description="Contact phone (F5).")
    address: str | None = strawberry.field(description="Contact address (F5).")
    registered_at: dt.datetime = strawberry.field(description="When the person was registered.")
    district_id: strawberry.Private[int]
    community_id: strawberry.Private[int]
    __columns__ = {
        "id_number_on_card": "id_number",
        "birth_date_on_card": "birth_date",
        "archive_birth_date_held": "archive_birth_date",
    }

    def shown_whole_to(self, viewer: Any) -> bool:
        """The person, their community clerk and their district's reviewers read the ID number
        whole (docs/api.md 8); anyone else masked, and nothing that gives back what the mask hides."""
        return viewer is not None and (
            viewer.person_id == self.db_id
            or (viewer.role is enums.Role.CLERK and viewer.community_id == self.community_id)
            or (viewer.role is enums.Role.REVIEWER and viewer.district_id == self.district_id)
        )

    @strawberry.field(
        description=(
            "18-character resident ID number (A1); masked (420102********123X) for anyone but the person, their "
            "community clerk and their district's reviewers (docs/api.md 8)."
        )
    )
    def id_number(self, info: Info) -> str:
        whole = self.shown_whole_to(info.context.viewer)
        return self.id_number_on_card if whole else mask_resident_id(self.id_number_on_card)

    # The ID number holds the birth date (A1): wherever it is masked, so is every date it would give back.
    @strawberry.field(
        description=("Birth date as on the ID card; null where idNumber is masked for you (docs/api.md 8).")
    )
    def birth_date(self, info: Info) -> dt.date | None:
        return self.birth_date_on_card if self.shown_whole_to(info.context.viewer) else None

    @strawberry.field(
        description=(
            "Birth date in the archive when it differs; it decides retirement (Q3). Null where idNumber is masked for "
            "you (docs/api.md 8)."
        )
    )
    def archive_birth_date(self, info: Info) -> dt.date | None:
        return self.archive_birth_date_held if self.shown_whole_to(info.context.viewer) else None

    @strawberry.field(description="District of residence.")
    async def district(self, info: Info) -> District:
        return await loaders(info).district.load(self.district_id)

    @strawberry.field(description="Community of residence (F5).")
    async def community(self, info: Info) -> Community:
        return await loaders(info).community.load(self.community_id)

    @strawberry.field(description="The person's policies, oldest first.")
    async def policies(
        self,
        info: Info,
        insurance_type: Annotated[
            InsuranceType | None, strawberry.argument(description="Only this insurance type.")
        ] = None,
        status: Annotated[PolicyStatus | None, strawberry.argument(description="Only policies in this state.")] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Policy]:
        page = page_request(first, after, last, before)
        return await nested_connection(
            loaders(info).policies_of_person, self.db_id, page, insurance_type=insurance_type, status=status
        )

    @strawberry.field(description="Monthly contributions of all the person's policies, by month then type.")
    async def periods(
        self,
        info: Info,
        from_month: Annotated[MonthScalar | None, strawberry.argument(description="First month included.")] = None,
        to_month: Annotated[
            MonthScalar | None, strawberry.argument(description="Last month included; not before fromMonth.")
        ] = None,
        insurance_type: Annotated[
            InsuranceType | None, strawberry.argument(description="Only this insurance type.")
        ] = None,
        status: Annotated[PeriodStatus | None, strawberry.argument(description="Only months in this state.")] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[ContributionPeriod]:
        page = page_request(first, after, last, before)
        return await nested_connection(
            loaders(info).periods_of_person,
            self.db_id,
            page,
            **_months(from_month, to_month),
            insurance_type=insurance_type,
            status=status,
        )

    @strawberry.field(description="Arrears (欠费), oldest month first; by default those still owed (OPEN or ORDERED).")
    async def arrears(
        self,
        info: Info,
        status: Annotated[
            ArrearStatus | None, strawberry.argument(description="Only arrears in this state; all states when given.")
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Arrear]:
        page = page_request(first, after, last, before)
        statuses = (status,) if status else enums.OWED_ARREARS
        return await nested_connection(loaders(info).arrears_of_person, self.db_id, page, status__in=statuses)

    @strawberry.field(description="Payment orders for arrears and interruption back-pay (F6, F8), newest first.")
    async def payment_orders(
        self,
        info: Info,
        status: Annotated[
            PaymentOrderStatus | None, strawberry.argument(description="Only orders in this state.")
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[PaymentOrder]:
        page = page_request(first, after, last, before)
        return await nested_connection(loaders(info).payment_orders_of_person, self.db_id, page, status=status)

    @strawberry.field(description="Medical-card applications (F2), newest first.")
    async def card_applications(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[MedicalCardApplication]:
        page = page_request(first, after, last, before)
        return await nested_connection(loaders(info).card_applications_of_person, self.db_id, page)

    @strawberry.field(
        description=(
            "Actual contribution months per insurance type, months still needed for a pension, and the retirement "
            "month (Q2, Q3). Null where idNumber is masked for you: the retirement month and age, and the minimum "
            "months, follow the birth date the mask hides (docs/api.md 8)."
        )
    )
    async def contribution_record(self, info: Info) -> ContributionRecord | None:
        if not self.shown_whole_to(info.context.viewer):
            return None
        return record_of(await loaders(info).contribution_record.load(self.db_id))

    @strawberry.field(description="The contribution passbook (缴费存折), if the person has one.")
    async def passbook(self, info: Info) -> Passbook | None:
        return await loaders(info).passbook_of_person.load(self.db_id)

    @strawberry.field(description="Employments, oldest first.")
    async def employments(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Employment]:
        page = page_request(first, after, last, before)
        return await nested_connection(loaders(info).employments_of_person, self.db_id, page)

    @strawberry.field(description="Business transactions about this person, newest first.")
    async def transactions(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[BusinessTransaction]:
        page = page_request(first, after, last, before)
        return await nested_connection(loaders(info).transactions_of_person, self.db_id, page)

    @strawberry.field(description="Visits booked for this person at the district offices (Q1), latest booking first.")
    async def appointments(
        self,
        info: Info,
        status: Annotated[
            AppointmentStatus | None, strawberry.argument(description="Only appointments in this state.")
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Appointment]:
        page = page_request(first, after, last, before)
        return await nested_connection(loaders(info).appointments_of_person, self.db_id, page, status=status)


@strawberry.type(description="An employer (用人单位), identified by its unified social credit code (A2).")
class Employer(Node):
    credit_code: str = strawberry.field(description="18-character unified social credit code (A2).")
    name: str = strawberry.field(description="Registered name.")
    address: str | None = strawberry.field(description="Registered address.")
    status: EmployerStatus = strawberry.field(description="Whether the employer still operates.")
    registered_at: dt.datetime = strawberry.field(description="When the employer was registered (E1).")
    district_id: strawberry.Private[int]

    @strawberry.field(description="The district whose office serves the employer.")
    async def district(self, info: Info) -> District:
        return await loaders(info).district.load(self.district_id)

    @strawberry.field(description="Employments of this employer, oldest first; by default the current staff.")
    async def employees(
        self,
        info: Info,
        status: Annotated[
            EmploymentStatus | None, strawberry.argument(description="Only employments in this state; null for all.")
        ] = EmploymentStatus.ACTIVE,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Employment]:
        page = page_request(first, after, last, before)
        return await nested_connection(loaders(info).employments_of_employer, self.db_id, page, status=status)

    @strawberry.field(
        description=(
            "Business transactions filed by or about the employer, newest first: its staff filings (E2) with their "
            "state and the reviewer's decision, base declarations (E3), back-payments (E4)."
        )
    )
    async def transactions(
        self,
        info: Info,
        business_type: Annotated[
            BusinessType | None, strawberry.argument(description="Only this business type, e.g. ADD_EMPLOYEES.")
        ] = None,
        status: Annotated[
            TransactionStatus | None,
            strawberry.argument(description="Only transactions in this state, e.g. SUBMITTED."),
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[BusinessTransaction]:
        page = page_request(first, after, last, before)
        return await nested_connection(
            loaders(info).transactions_of_employer, self.db_id, page, business_type=business_type, status=status
        )

    @strawberry.field(
        description=(
            "Its staff's employer-channel arrears (欠费), by month, person and type; by default those still owed (OPEN "
            "or ORDERED). Back-paid with employerBackPay (E4)."
        )
    )
    async def arrears(
        self,
        info: Info,
        status: Annotated[
            ArrearStatus | None, strawberry.argument(description="Only arrears in this state; all states when given.")
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Arrear]:
        page = page_request(first, after, last, before)
        statuses = (status,) if status else enums.OWED_ARREARS
        return await nested_connection(loaders(info).arrears_of_employer, self.db_id, page, status__in=statuses)

    @strawberry.field(
        description=(
            "What the employer has not paid, month by month (both shares, P4), and of it what is overdue, with "
            "interest to this month (P5); 1 to 120 months, a longer or backwards range is refused with BAD_USER_INPUT. "
            "Only the months you may read are summed: its agent and its district's reviewers see all its staff (A6)."
        )
    )
    async def owed_by_month(
        self,
        info: Info,
        from_month: Annotated[MonthScalar, strawberry.argument(description="First month.")],
        to_month: Annotated[
            MonthScalar, strawberry.argument(description="Last month, at most 119 months after fromMonth.")
        ],
    ) -> list[MonthOwed]:
        try:
            owed = await loaders(info).owed_by_month.load(self.db_id, from_month, to_month)
        except BusinessError as error:
            raise BadUserInput(error.message, "toMonth") from None
        return [
            MonthOwed(
                month=o.month,
                amount=o.amount,
                employer_share=o.employer_share,
                person_share=o.person_share,
                arrears=o.arrears,
                interest=o.interest,
            )
            for o in owed
        ]

    @strawberry.field(description="Visits booked for the employer at the district offices (Q1), latest booking first.")
    async def appointments(
        self,
        info: Info,
        status: Annotated[
            AppointmentStatus | None, strawberry.argument(description="Only appointments in this state.")
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Appointment]:
        page = page_request(first, after, last, before)
        return await nested_connection(loaders(info).appointments_of_employer, self.db_id, page, status=status)


@strawberry.type(description="One month of an employer's unpaid contributions (E4).")
class MonthOwed:
    month: MonthScalar = strawberry.field(description="The contribution month.")
    amount: Money = strawberry.field(description="Every unpaid month's amount, both shares (P4).")
    employer_share: Money = strawberry.field(description="The employer's share of the amount.")
    person_share: Money = strawberry.field(description="The staff's share, withheld from wages, of the amount.")
    arrears: Money = strawberry.field(description="The part overdue: in arrears, or due for a month already past (M4).")
    interest: Money = strawberry.field(description="Interest on the overdue part to this month (P5).")


@strawberry.type(description="A person's employment by an employer.")
class Employment(Node):
    start_month: MonthScalar = strawberry.field(description="First month employed.")
    end_month: MonthScalar | None = strawberry.field(description="Last month employed; null while employed.")
    declared_wage: Money = strawberry.field(description="Monthly wage declared as contribution base (E3).")
    status: EmploymentStatus = strawberry.field(description="Whether the employment goes on.")
    person_id: strawberry.Private[int]
    employer_id: strawberry.Private[int]

    @strawberry.field(description="The employed person.")
    async def person(self, info: Info) -> Person:
        return await loaders(info).person.load(self.person_id)

    @strawberry.field(description="The employer.")
    async def employer(self, info: Info) -> Employer:
        return await loaders(info).employer.load(self.employer_id)


@strawberry.type(description="A person's insurance of one type through one channel.")
class Policy(Node):
    insurance_type: InsuranceType = strawberry.field(description="Insurance type.")
    channel: Channel = strawberry.field(description="Who pays: the person (flexible) or an employer.")
    status: PolicyStatus = strawberry.field(description="State of the policy.")
    grade: ExactDecimal | None = strawberry.field(
        description="Flexible pension grade, a share of the average wage (P2)."
    )
    start_month: MonthScalar = strawberry.field(description="First month due.")
    end_month: MonthScalar | None = strawberry.field(description="Last month due; null while active.")
    person_id: strawberry.Private[int]
    employer_id: strawberry.Private[int | None]

    @strawberry.field(description="The insured person.")
    async def person(self, info: Info) -> Person:
        return await loaders(info).person.load(self.person_id)

    @strawberry.field(description="The paying employer, on the employer channel.")
    async def employer(self, info: Info) -> Employer | None:
        return None if self.employer_id is None else await loaders(info).employer.load(self.employer_id)

    @strawberry.field(description="Monthly contributions of this policy, oldest first.")
    async def periods(
        self,
        info: Info,
        from_month: Annotated[MonthScalar | None, strawberry.argument(description="First month included.")] = None,
        to_month: Annotated[
            MonthScalar | None, strawberry.argument(description="Last month included; not before fromMonth.")
        ] = None,
        status: Annotated[PeriodStatus | None, strawberry.argument(description="Only months in this state.")] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[ContributionPeriod]:
        page = page_request(first, after, last, before)
        return await nested_connection(
            loaders(info).periods_of_policy,
            self.db_id,
            page,
            **_months(from_month, to_month),
            status=status,
        )


@strawberry.type(description="One month's contribution of one policy.")
class ContributionPeriod(Node):
    month: MonthScalar = strawberry.field(description="The contribution month.")
    insurance_type: InsuranceType = strawberry.field(description="Insurance type.")
    channel: Channel = strawberry.field(description="Who pays.")
    base: Money = strawberry.field(description="Contribution base of the month.")
    rate: ExactDecimal = strawberry.field(description="Rate applied to the base (both shares on the employer channel).")
    amount: Money = strawberry.field(description="Total due for the month (P2-P4).")
    employer_amount: Money = strawberry.field(description="The employer's share of the amount.")
    status: PeriodStatus = strawberry.field(description="State of the month.")
    paid_via: PaidVia | None = strawberry.field(description="How it was paid, once paid.")
    paid_at: dt.datetime | None = strawberry.field(description="When it was paid.")
    policy_id: strawberry.Private[int]

    @strawberry.field(description="The person's share of the amount.")
    def person_amount(self) -> Money:
        return self.amount - self.employer_amount

    @strawberry.field(description="The policy this month belongs to.")
    async def policy(self, info: Info) -> Policy:
        return await loaders(info).policy.load(self.policy_id)


@strawberry.type(description="A month that month-end could not collect (欠费), with interest to date (P5).")
class Arrear(Node):
    month: MonthScalar = strawberry.field(description="The month the contribution was due.")
    insurance_type: InsuranceType = strawberry.field(description="Insurance type.")
    principal: Money = strawberry.field(description="The amount not collected.")
    status: ArrearStatus = strawberry.field(description="State of the arrear.")
    created_at: dt.datetime = strawberry.field(description="When the arrear arose.")
    resolved_at: dt.datetime | None = strawberry.field(description="When it was paid or cancelled.")
    period_id: strawberry.Private[int]

    @strawberry.field(
        description=(
            "Simple interest from the due month to this month at the rate in force (P5); null once paid or cancelled."
        )
    )
    async def interest_to_date(self, info: Info) -> Money | None:
        if self.status not in (enums.ArrearStatus.OPEN, enums.ArrearStatus.ORDERED):
            return None
        today = clock.this_month()
        rate = await loaders(info).parameters.value(enums.ParameterCode.BACK_PAY_INTEREST_RATE, today.to_int())
        return back_pay_interest(self.principal, Month.from_int(self.month), today, rate)

    @strawberry.field(
        description=(
            "Principal plus interest to date: what paying it this month would cost (F6); null once paid or cancelled."
        )
    )
    async def amount_to_date(self, info: Info) -> Money | None:
        interest = await self.interest_to_date(info)
        return None if interest is None else self.principal + interest

    @strawberry.field(description="The month's contribution record.")
    async def period(self, info: Info) -> ContributionPeriod:
        return await loaders(info).period.load(self.period_id)


@strawberry.type(
    description=(
        "Money a person ordered to pay arrears (F6) or back-pay interrupted pension months (F8), collected from the "
        "passbook at the month-end of its collection month."
    )
)
class PaymentOrder(Node):
    kind: PaymentOrderKind = strawberry.field(description="Arrears or interruption back-pay.")
    status: PaymentOrderStatus = strawberry.field(
        description="OPEN until its month-end; then COLLECTED, or LAPSED when the passbook held too little."
    )
    principal: Money = strawberry.field(description="Sum of the months' contributions.")
    interest: Money = strawberry.field(description="Interest to the collection month (P5).")
    total: Money = strawberry.field(
        description="Principal plus interest: what the passbook must hold at the month-end."
    )
    collection_month: MonthScalar = strawberry.field(description="The month whose month-end run collects it.")
    created_at: dt.datetime = strawberry.field(description="When it was ordered.")
    settled_at: dt.datetime | None = strawberry.field(description="When it was collected or lapsed.")
    transaction_id: strawberry.Private[int | None]

    @strawberry.field(description="The months it pays, oldest first.")
    async def lines(self, info: Info) -> list[PaymentOrderLine]:
        return await loaders(info).lines_of_order.load(self.db_id)

    @strawberry.field(description="The PAY_ARREARS or PAY_INTERRUPTION business that placed it.")
    async def transaction(self, info: Info) -> BusinessTransaction | None:
        return None if self.transaction_id is None else await loaders(info).transaction.load(self.transaction_id)


@strawberry.type(description="One month inside a payment order.")
class PaymentOrderLine(Node):
    month: MonthScalar = strawberry.field(description="The contribution month paid.")
    insurance_type: InsuranceType = strawberry.field(description="Insurance type.")
    base: Money = strawberry.field(
        description="The month's base: as it was due for an arrear, as in force now for a back-pay (F8)."
    )
    principal: Money = strawberry.field(description="The month's contribution.")
    interest: Money = strawberry.field(description="Interest from the month to the collection month (P5).")
    arrear_id: strawberry.Private[int | None]

    @strawberry.field(description="The arrear paid, for an arrears order.")
    async def arrear(self, info: Info) -> Arrear | None:
        return None if self.arrear_id is None else await loaders(info).arrear.load(self.arrear_id)


@strawberry.type(
    description=(
        "A medical-card application (制卡申请, F2): the photo is checked in the background (P7), then the person "
        "visits the district office by the deadline."
    )
)
class MedicalCardApplication(Node):
    status: CardApplicationStatus = strawberry.field(description="Where the application stands.")
    rejection_reason: str | None = strawberry.field(
        description="Why the photo was refused, in words a person understands; send a new one with applyMedicalCard."
    )
    visit_deadline: dt.date = strawberry.field(
        description="Visit the district office by this day to finish the card (F2, M3)."
    )
    created_at: dt.datetime = strawberry.field(description="When the application was made.")
    updated_at: dt.datetime = strawberry.field(description="When its state last changed.")
    card_photo: strawberry.Private[str | None]

    @strawberry.field(description="True once the normalised card photo (358 x 441 JPEG, P7) is stored.")
    def has_card_photo(self) -> bool:
        return self.card_photo is not None

    @strawberry.field(description="The CARD_PHOTO job checking the photo, while it runs (administrators only).")
    async def pending_job(self, info: Info) -> Job | None:
        return await loaders(info).pending_job.load(f"card-photo:{self.db_id}")


@strawberry.type(description="A movement of a passbook.")
class LedgerEntry(Node):
    kind: LedgerKind = strawberry.field(description="Deposit or one of the debits.")
    amount: Money = strawberry.field(description="Amount moved, always positive; the kind says which way.")
    balance_after: Money = strawberry.field(description="Balance after the movement.")
    month: MonthScalar = strawberry.field(description="The month the movement belongs to.")
    bank_reference: str | None = strawberry.field(description="The bank's reference of a deposit (F9).")
    booked_at: dt.datetime = strawberry.field(description="When it was booked.")


@strawberry.type(description="The contribution passbook (缴费存折) held at the postal savings bank (M4).")
class Passbook(Node):
    account_number: str = strawberry.field(description="Passbook account number.")
    balance: Money = strawberry.field(description="Current balance.")
    updated_at: dt.datetime = strawberry.field(description="When the balance last changed.")

    @strawberry.field(description="Movements, oldest first.")
    async def entries(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[LedgerEntry]:
        page = page_request(first, after, last, before)
        return await nested_connection(loaders(info).entries_of_passbook, self.db_id, page)


@strawberry.type(description="A business done in the hall (docs/api.md 4): filed, reviewed, completed.")
class BusinessTransaction(Node):
    business_type: BusinessType = strawberry.field(description="The business type.")
    status: TransactionStatus = strawberry.field(description="State of the transaction.")
    channel: ServiceChannel = strawberry.field(description="Done online or at a counter/kiosk.")
    submitted_at: dt.datetime = strawberry.field(description="When it was filed.")
    effective_month: MonthScalar | None = strawberry.field(description="The month it takes effect.")
    decided_at: dt.datetime | None = strawberry.field(description="When the reviewer decided.")
    decision_reason: str | None = strawberry.field(description="The reviewer's reason, on rejection.")
    person_id: strawberry.Private[int | None]
    employer_id: strawberry.Private[int | None]
    district_id: strawberry.Private[int]

    @strawberry.field(description="The business category.")
    def category(self) -> BusinessCategory:
        return self.business_type.category

    @strawberry.field(description="The person the business is about, if any.")
    async def person(self, info: Info) -> Person | None:
        return None if self.person_id is None else await loaders(info).person.load(self.person_id)

    @strawberry.field(description="The employer the business is about, if any.")
    async def employer(self, info: Info) -> Employer | None:
        return None if self.employer_id is None else await loaders(info).employer.load(self.employer_id)

    @strawberry.field(description="The district whose office handles it.")
    async def district(self, info: Info) -> District:
        return await loaders(info).district.load(self.district_id)

    @strawberry.field(
        description="How many lines a staff filing (E2) or a base declaration (E3) holds; null for other business."
    )
    async def line_count(self, info: Info) -> int | None:
        if self.business_type not in LINED_BUSINESS:
            return None
        details = await loaders(info).transaction_details.load(self.db_id)
        return None if details is None else details.get("line_count")

    @strawberry.field(
        description=(
            "Each move of the month a staff filing takes effect, oldest first: not accepted by the 20th, or accepted "
            "after it (M3, E2). Empty when it never moved."
        )
    )
    async def effective_month_moves(self, info: Info) -> list[EffectiveMonthMove]:
        if self.business_type not in STAFF_FILINGS:
            return []
        details = await loaders(info).transaction_details.load(self.db_id) or {}
        return [
            EffectiveMonthMove(
                from_month=Month.parse(move["from"]),
                to_month=Month.parse(move["to"]),
                moved_on=dt.date.fromisoformat(move["on"]),
                reason=move["reason"],
            )
            for move in details.get("effective_month_moves", ())
        ]

    @strawberry.field(
        description=(
            "When the paper materials of an accepted staff filing were handed in and it took effect (E2); null until "
            "then."
        )
    )
    async def materials_confirmed_at(self, info: Info) -> dt.datetime | None:
        if self.business_type not in STAFF_FILINGS or self.status is not enums.TransactionStatus.COMPLETED:
            return None
        confirmed = ((await loaders(info).transaction_details.load(self.db_id)) or {}).get("materials_confirmed_at")
        return None if confirmed is None else dt.datetime.fromisoformat(confirmed)


STAFF_FILINGS = (enums.BusinessType.ADD_EMPLOYEES, enums.BusinessType.REMOVE_EMPLOYEES)
LINED_BUSINESS = (*STAFF_FILINGS, enums.BusinessType.DECLARE_CONTRIBUTION_BASE)


@strawberry.type(description="A move of the month a staff filing takes effect (M3, E2).")
class EffectiveMonthMove:
    from_month: MonthScalar = strawberry.field(description="The month it was to take effect in.")
    to_month: MonthScalar = strawberry.field(description="The month it takes effect in after the move.")
    moved_on: dt.date = strawberry.field(description="The day of the move.")
    reason: str = strawberry.field(description="Why it moved, in words the agent reads.")


@strawberry.type(description="A district's social-insurance office (服务大厅), where appointments are kept (Q1).")
class Office(Node):
    name: str = strawberry.field(description="Name of the office.")
    address: str = strawberry.field(description="Street address.")
    district_id: strawberry.Private[int]

    @strawberry.field(description="The district the office serves.")
    async def district(self, info: Info) -> District:
        return await loaders(info).district.load(self.district_id)


@strawberry.type(
    description="A time at an office for one business category, with a number of places never exceeded (Q1)."
)
class AppointmentSlot(Node):
    business_category: BusinessCategory = strawberry.field(description="The business the visits are for.")
    starts_at: dt.datetime = strawberry.field(
        description="When the slot starts (local time, M2); bookings and cancellations end then."
    )
    ends_at: dt.datetime = strawberry.field(description="When the slot ends.")
    capacity: int = strawberry.field(description="How many visitors the slot takes.")
    booked: int = strawberry.field(description="Places taken by appointments still booked or checked in.")
    office_id: strawberry.Private[int]

    @strawberry.field(description="Places still free: capacity minus booked, as read now.")
    def free(self) -> int:
        return self.capacity - self.booked

    @strawberry.field(description="The office of the slot.")
    async def office(self, info: Info) -> Office:
        return await loaders(info).office.load(self.office_id)


@strawberry.type(description="A visit booked at a district office (预约, Q1), for a person or for an employer.")
class Appointment(Node):
    status: AppointmentStatus = strawberry.field(
        description="BOOKED, then CANCELLED (before the slot starts) or CHECKED_IN (on the day)."
    )
    booked_at: dt.datetime = strawberry.field(description="When it was booked.")
    cancelled_at: dt.datetime | None = strawberry.field(description="When it was cancelled.")
    checked_in_at: dt.datetime | None = strawberry.field(description="When the visitor was checked in at the office.")
    slot_id: strawberry.Private[int]
    person_id: strawberry.Private[int | None]
    employer_id: strawberry.Private[int | None]
    transaction_id: strawberry.Private[int | None]

    @strawberry.field(description="The slot booked.")
    async def slot(self, info: Info) -> AppointmentSlot:
        return await loaders(info).appointment_slot.load(self.slot_id)

    @strawberry.field(
        description=(
            "The person the visit is for; null for an employer's visit, or when the person is out of your reach."
        )
    )
    async def person(self, info: Info) -> Person | None:
        return None if self.person_id is None else await loaders(info).person.load(self.person_id)

    @strawberry.field(
        description=(
            "The employer the visit is for; null for a person's visit, or when the employer is out of your reach."
        )
    )
    async def employer(self, info: Info) -> Employer | None:
        return None if self.employer_id is None else await loaders(info).employer.load(self.employer_id)

    @strawberry.field(description="The BOOK_APPOINTMENT business that made it.")
    async def transaction(self, info: Info) -> BusinessTransaction | None:
        return None if self.transaction_id is None else await loaders(info).transaction.load(self.transaction_id)


@strawberry.type(description="An effective-dated parameter value (P1-P7).")
class Parameter(Node):
    code: ParameterCode = strawberry.field(description="Which parameter.")
    effective_from: MonthScalar = strawberry.field(description="First month the value applies to.")
    value: ExactDecimal | None = strawberry.field(description="Decimal value (rates as fractions, amounts in yuan).")
    value_json: JSON | None = strawberry.field(description="Structured value, for the card-photo standard (P7).")
    note: str | None = strawberry.field(description="Why the value was set.")

    @strawberry.field(
        description=(
            "For a year's average wage: the REPRICE_YEAR job re-pricing its months, while it runs (administrators "
            "only)."
        )
    )
    async def pending_job(self, info: Info) -> Job | None:
        if self.code is not enums.ParameterCode.AVERAGE_MONTHLY_WAGE:
            return None
        return await loaders(info).pending_job.load(f"reprice:{self.effective_from // 100}:")


@strawberry.type(
    description=("Heavy work run in the background (docs/api.md 5); read it again, or subscribe, to follow it.")
)
class Job(Node):
    kind: JobKind = strawberry.field(description="What the job does.")
    status: JobStatus = strawberry.field(description="QUEUED, RUNNING, SUCCEEDED or FAILED.")
    params: JSON = strawberry.field(description="What the job was asked to do.")
    progress: float = strawberry.field(description="Share of the work done, 0 to 1.")
    result: JSON | None = strawberry.field(description="What the job produced, once it succeeded.")
    error: str | None = strawberry.field(description="Why the job failed, or why its last attempt will be retried.")
    attempts: int = strawberry.field(description="Attempts started so far.")
    created_at: dt.datetime = strawberry.field(description="When the job was queued.")
    started_at: dt.datetime | None = strawberry.field(description="When its last attempt started.")
    finished_at: dt.datetime | None = strawberry.field(description="When it succeeded or failed.")


@strawberry.type(
    description=(
        "One entry of the audit trail (A6): a mutation, allowed or refused. It cannot be changed through the API."
    )
)
class AuditEvent(Node):
    at: dt.datetime = strawberry.field(description="When it happened.")
    role: Role | None = strawberry.field(description="The actor's role; null when anonymous.")
    client_address: str | None = strawberry.field(description="The client's network address.")
    request_id: str | None = strawberry.field(description="The request id, as in the server log.")
    operation: str = strawberry.field(description="The mutation, e.g. registerPerson.")
    recorded_input: strawberry.Private[Any]
    outcome: AuditOutcome = strawberry.field(description="ALLOWED, REFUSED (permission) or FAILED (unexpected error).")
    detail: str | None = strawberry.field(description="Why refused, or the error codes of an allowed mutation.")
    account_id: strawberry.Private[int | None]
    __columns__ = {"recorded_input": "input"}

    @strawberry.field(description="The input, secrets removed, ID numbers and birth dates masked (docs/api.md 8).")
    def input(self) -> JSON:
        return _birth_dates_masked(self.recorded_input)

    @strawberry.field(description="The actor's username; null when anonymous.")
    async def username(self, info: Info) -> str | None:
        return None if self.account_id is None else await loaders(info).username.load(self.account_id)


def _birth_dates_masked(value: Any, key: str = "") -> Any:
    """The trail masks ID numbers as it records them; a birth date beside one would give back what
    the mask hides, so it is masked alike, in rows recorded before too."""
    if isinstance(value, dict):
        return {k: _birth_dates_masked(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_birth_dates_masked(item, key) for item in value]
    return "****-**-**" if key.endswith("birth_date") and value is not None else value


@strawberry.type(
    description="A device's installed digital certificate (A4); the credential itself is never shown again."
)
class Certificate(Node):
    device_name: str = strawberry.field(description="The name given to the device at installation.")
    installed_at: dt.datetime = strawberry.field(description="When it was installed.")
    revoked_at: dt.datetime | None = strawberry.field(
        description="When it was revoked; a revoked certificate signs in no more."
    )

    @classmethod
    def of(cls, row: Any) -> Certificate:
        return cls(db_id=row.id, device_name=row.device_name, installed_at=row.installed_at, revoked_at=row.revoked_at)


@strawberry.type(description="The signed-in account, its role and what it acts for (A3).")
class Me:
    username: str = strawberry.field(description="The account's username.")
    role: Role = strawberry.field(description="The actor this account is.")
    person_id: strawberry.Private[int | None]
    employer_id: strawberry.Private[int | None]
    community_id: strawberry.Private[int | None]
    district_id: strawberry.Private[int | None]

    account_id: strawberry.Private[int]

    @strawberry.field(description="The account's device certificates, revoked ones included, oldest first (A4).")
    async def certificates(self, info: Info) -> list[Certificate]:
        return [Certificate.of(row) for row in await access.certificates(info.context.viewer)]

    @strawberry.field(description="The person a PERSON account is.")
    async def person(self, info: Info) -> Person | None:
        return None if self.person_id is None else await loaders(info).person.load(self.person_id)

    @strawberry.field(description="The employer an EMPLOYER_AGENT account acts for.")
    async def employer(self, info: Info) -> Employer | None:
        return None if self.employer_id is None else await loaders(info).employer.load(self.employer_id)

    @strawberry.field(description="The community a clerk serves, or a person lives in.")
    async def community(self, info: Info) -> Community | None:
        return None if self.community_id is None else await loaders(info).community.load(self.community_id)

    @strawberry.field(description="The district a reviewer serves, or a person or an employer belongs to.")
    async def district(self, info: Info) -> District | None:
        return None if self.district_id is None else await loaders(info).district.load(self.district_id)


# The graph's entities: each is read by id through the loader of its name (node(id), nested objects).
NODE_KINDS: tuple[NodeKind, ...] = tuple(
    NodeKind(node_type, model, loader)
    for node_type, model, loader in (
        (District, models.District, "district"),
        (Community, models.Community, "community"),
        (Person, models.Person, "person"),
        (Employer, models.Employer, "employer"),
        (Employment, models.Employment, "employment"),
        (Policy, models.Policy, "policy"),
        (ContributionPeriod, models.ContributionPeriod, "period"),
        (Arrear, models.Arrear, "arrear"),
        (Passbook, models.Passbook, "passbook"),
        (LedgerEntry, models.LedgerEntry, "ledger_entry"),
        (BusinessTransaction, models.BusinessTransaction, "transaction"),
        (Parameter, models.Parameter, "parameter"),
        (Job, models.Job, "job"),
        (Certificate, models.Certificate, "certificate"),
        (AuditEvent, models.AuditEvent, "audit_event"),
        (PaymentOrder, models.PaymentOrder, "payment_order"),
        (PaymentOrderLine, models.PaymentOrderLine, "payment_order_line"),
        (MedicalCardApplication, models.MedicalCardApplication, "card_application"),
        (Office, models.Office, "office"),
        (AppointmentSlot, models.AppointmentSlot, "appointment_slot"),
        (Appointment, models.Appointment, "appointment"),
    )
)

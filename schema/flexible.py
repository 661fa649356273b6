"""Flexible-employment self-service (F1-F8), done by the person online or by their clerk."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.file_uploads import Upload

from domain.errors import BusinessError, ErrorCode
from resolvers.inputs import decode_int_id
from resolvers.loaders import node_of
from schema import nodes
from schema.business_mutation import business_mutation, business_payload
from schema.enums import InsuranceType
from schema.errors import refused_as_error
from schema.payloads import IDEMPOTENCY_KEY, INPUT
from schema.permissions import self_service
from schema.scalars import ExactDecimal, Money, MonthScalar
from services import flexible
from services.cards import applications as card_applications
from services.flexible import arrears, personal_info

PERSON_ID = "Whose business: a clerk names the person; a person acting for themself may leave it out."
PHOTO = "The ID photo for the medical card (F2): JPEG or PNG, at most 10 MB, one face; sent as a multipart upload."


def subject_id(info: strawberry.Info, person_id: strawberry.ID | None) -> int:
    """The person a business is about: the one named, else the signed-in person."""
    if person_id is not None:
        return decode_int_id(person_id, "Person", "personId")
    if info.context.viewer.person_id is None:
        raise BusinessError(ErrorCode.INVALID_INPUT, "name the person", "personId")
    return info.context.viewer.person_id


async def person_in_reach(info: strawberry.Info, person_id: strawberry.ID | None):
    """For a query about a person: the person, None when out of the viewer's reach."""
    return await info.context.loaders.person.load(subject_id(info, person_id))


def _nodes(node_type: type, instances: list[Any]) -> list[Any]:
    return [node_of(node_type, instance) for instance in instances]


@strawberry.input(description="Enroll in flexible-employment insurance, or continue after a suspension (F1, F2).")
class EnrollFlexibleInput:
    person_id: strawberry.ID | None = strawberry.field(default=None, description=PERSON_ID)
    insurance_types: list[InsuranceType] = strawberry.field(description="PENSION and/or MEDICAL.")
    pension_grade: ExactDecimal | None = strawberry.field(
        default=None,
        description="With PENSION: the base as a share of the average wage, 0.60 to 3.00 in steps of 0.10 (P2).",
    )
    start_month: MonthScalar | None = strawberry.field(
        default=None, description="First month due: next month (the default) or up to three months ahead (F1)."
    )
    photo: Upload | None = strawberry.field(default=None, description="With MEDICAL, required. " + PHOTO)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@business_payload(
    "The new policies, the first month's contributions, and the medical-card application.",
    transaction="The ENROLL_FLEXIBLE business.",
)
class EnrollFlexiblePayload:
    policies: list[nodes.Policy] | None = strawberry.field(
        default=None, description="One policy per insurance type, ACTIVE from the start month."
    )
    card_application: nodes.MedicalCardApplication | None = strawberry.field(
        default=None,
        description="With MEDICAL: the card application, its photo being checked, and the visit deadline (F2).",
    )


@strawberry.input(description="Suspend flexible contributions from next month (F3).")
class SuspendFlexibleInput:
    person_id: strawberry.ID | None = strawberry.field(default=None, description=PERSON_ID)
    insurance_types: list[InsuranceType] = strawberry.field(description="PENSION and/or MEDICAL.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@business_payload("The suspended policies: this month is the last due.", transaction="The SUSPEND_FLEXIBLE business.")
class SuspendFlexiblePayload:
    policies: list[nodes.Policy] | None = strawberry.field(
        default=None, description="SUSPENDED with this month as the last due, or TERMINATED when not yet started."
    )


@strawberry.input(description="Change the flexible pension grade from next month (F4).")
class ChangePensionGradeInput:
    person_id: strawberry.ID | None = strawberry.field(default=None, description=PERSON_ID)
    pension_grade: ExactDecimal = strawberry.field(description="The new grade, 0.60 to 3.00 in steps of 0.10 (P2).")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@business_payload(
    "The policy at its new grade and the months re-priced.",
    transaction="The CHANGE_PENSION_GRADE business, with the grades before and after.",
)
class ChangePensionGradePayload:
    policy: nodes.Policy | None = strawberry.field(default=None, description="The flexible pension policy.")
    repriced_periods: list[nodes.ContributionPeriod] | None = strawberry.field(
        default=None, description="Months not yet due, now at the new grade."
    )


@strawberry.input(description="Pay chosen arrears with interest at this month's end (F6).")
class PayArrearsInput:
    person_id: strawberry.ID | None = strawberry.field(default=None, description=PERSON_ID)
    arrear_ids: list[strawberry.ID] = strawberry.field(description="The OPEN arrears to pay (Person.arrears).")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@business_payload(
    "The payment order: deposit its total before the month-end run collects it.",
    transaction="The business: SUBMITTED now, COMPLETED when collected, CANCELLED when it lapses.",
)
class PaymentOrderPayload:
    order: nodes.PaymentOrder | None = strawberry.field(
        default=None, description="The order, OPEN until this month's end."
    )


@strawberry.input(description="Give up arrears for good (F7).")
class CancelArrearsInput:
    person_id: strawberry.ID | None = strawberry.field(default=None, description=PERSON_ID)
    arrear_ids: list[strawberry.ID] = strawberry.field(description="The OPEN arrears to cancel.")
    confirm_irreversible: bool = strawberry.field(
        description=(
            "Must be true: cancelled months never count towards contribution years; medical months can never be paid "
            "again; pension months can only be back-paid later at the grade and wage then in force, plus interest (F7, "
            "F8)."
        )
    )
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@business_payload("The cancelled arrears.", transaction="The CANCEL_ARREARS business.")
class CancelArrearsPayload:
    arrears: list[nodes.Arrear] | None = strawberry.field(default=None, description="The arrears, now CANCELLED.")


@strawberry.input(
    description="Back-pay interrupted pension months at this month's end (F8); read interruptionQuote first."
)
class PayInterruptionInput:
    person_id: strawberry.ID | None = strawberry.field(default=None, description=PERSON_ID)
    insurance_type: InsuranceType = strawberry.field(
        default=InsuranceType.PENSION, description="PENSION; medical interruptions cannot be back-paid."
    )
    months: list[MonthScalar] | None = strawberry.field(
        default=None, description="Some of the quoted months; all of them when left out."
    )
    pension_grade: ExactDecimal | None = strawberry.field(
        default=None, description="The grade to back-pay at; the person's flexible pension grade when left out."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.input(
    description=(
        "A new medical-card photo for a person enrolled in flexible medical insurance (lost card, photo refused)."
    )
)
class ApplyMedicalCardInput:
    person_id: strawberry.ID | None = strawberry.field(default=None, description=PERSON_ID)
    photo: Upload = strawberry.field(description=PHOTO)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@business_payload(
    "The new card application; earlier unfinished ones have expired.", transaction="The APPLY_MEDICAL_CARD business."
)
class ApplyMedicalCardPayload:
    card_application: nodes.MedicalCardApplication | None = strawberry.field(
        default=None, description="The application, its photo being checked (P7)."
    )


@strawberry.input(
    description=(
        "Change contact details or community (F5); name, ID number and birth dates are changed only at an office."
    )
)
class UpdatePersonalInfoInput:
    person_id: strawberry.ID | None = strawberry.field(default=None, description=PERSON_ID)
    phone: str | None = strawberry.field(default=None, description="New contact phone.")
    address: str | None = strawberry.field(default=None, description="New contact address.")
    community_id: strawberry.ID | None = strawberry.field(default=None, description="New community of residence.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@business_payload(
    "The person with the new details, and the business recorded.",
    transaction="The UPDATE_PERSONAL_INFO business, with the details before and after.",
)
class UpdatePersonalInfoPayload:
    person: nodes.Person | None = strawberry.field(default=None, description="The person as now recorded.")


@strawberry.type(description="One interrupted month as it would be back-paid now.")
class InterruptionQuoteLine:
    month: MonthScalar = strawberry.field(description="The interrupted month.")
    base: Money = strawberry.field(description="Today's base: the grade times the average wage in force now.")
    principal: Money = strawberry.field(description="The month's contribution at today's base (P2).")
    interest: Money = strawberry.field(description="Interest from the month to this month (P5).")


@strawberry.type(
    description=(
        "What back-paying every interrupted pension month would cost if ordered this month (F8): read it, then "
        "payInterruption."
    )
)
class InterruptionQuote:
    pension_grade: ExactDecimal = strawberry.field(description="The grade priced.")
    average_wage: Money = strawberry.field(description="The average monthly wage in force now (P1).")
    collection_month: MonthScalar = strawberry.field(description="The month-end that would collect it.")
    lines: list[InterruptionQuoteLine] = strawberry.field(
        description="The interrupted months, oldest first; empty when there are none."
    )
    principal: Money = strawberry.field(description="Sum of the months' contributions.")
    interest: Money = strawberry.field(description="Sum of the interest.")
    total: Money = strawberry.field(description="What the passbook must hold at the month-end.")


async def interruption_quote(
    info: strawberry.Info,
    person_id: strawberry.ID | None,
    insurance_type: InsuranceType,
    pension_grade: ExactDecimal | None,
) -> InterruptionQuote | None:
    """Null when the person is out of the viewer's reach; business refusals are top-level errors."""
    person = await refused_as_error(person_in_reach(info, person_id))
    if person is None:
        return None
    quote = await refused_as_error(arrears.quote_interruption(person.db_id, insurance_type, pension_grade))
    return InterruptionQuote(
        pension_grade=quote.grade,
        average_wage=quote.average_wage,
        collection_month=quote.collection_month,
        lines=[
            InterruptionQuoteLine(month=line.month, base=line.base, principal=line.principal, interest=line.interest)
            for line in quote.lines
        ],
        principal=quote.principal,
        interest=quote.interest,
        total=quote.total,
    )


def _arrear_ids(ids: list[strawberry.ID]) -> list[int]:
    return [decode_int_id(opaque, "Arrear", "arrearIds") for opaque in ids]


def _order_payload(done: arrears.Order) -> PaymentOrderPayload:
    return PaymentOrderPayload(
        order=node_of(nodes.PaymentOrder, done.order), transaction=node_of(nodes.BusinessTransaction, done.transaction)
    )


@strawberry.type
class FlexibleMutations:
    @business_mutation(
        description=(
            "Enroll in flexible pension and/or medical insurance, or continue after a suspension, from next month "
            "(F1); medical opens a card application (F2)."
        ),
        extensions=[self_service()],
    )
    async def enroll_flexible(
        self, info: strawberry.Info, input: Annotated[EnrollFlexibleInput, INPUT]
    ) -> EnrollFlexiblePayload:
        done = await flexible.enroll(
            info.context.viewer,
            subject_id(info, input.person_id),
            input.insurance_types,
            input.pension_grade,
            input.start_month,
            input.photo,
        )
        application = done.card_application
        return EnrollFlexiblePayload(
            policies=_nodes(nodes.Policy, done.policies),
            card_application=None if application is None else node_of(nodes.MedicalCardApplication, application),
            transaction=node_of(nodes.BusinessTransaction, done.transaction),
        )

    @business_mutation(
        description="Suspend flexible contributions (F3): this month is the last due.", extensions=[self_service()]
    )
    async def suspend_flexible(
        self, info: strawberry.Info, input: Annotated[SuspendFlexibleInput, INPUT]
    ) -> SuspendFlexiblePayload:
        policies, transaction = await flexible.suspend(
            info.context.viewer, subject_id(info, input.person_id), input.insurance_types
        )
        return SuspendFlexiblePayload(
            policies=_nodes(nodes.Policy, policies), transaction=node_of(nodes.BusinessTransaction, transaction)
        )

    @business_mutation(
        description="Change the flexible pension grade from next month (F4); months not yet due are re-priced.",
        extensions=[self_service()],
    )
    async def change_pension_grade(
        self, info: strawberry.Info, input: Annotated[ChangePensionGradeInput, INPUT]
    ) -> ChangePensionGradePayload:
        done = await flexible.change_pension_grade(
            info.context.viewer, subject_id(info, input.person_id), input.pension_grade
        )
        return ChangePensionGradePayload(
            policy=node_of(nodes.Policy, done.policy),
            repriced_periods=_nodes(nodes.ContributionPeriod, done.repriced),
            transaction=node_of(nodes.BusinessTransaction, done.transaction),
        )

    @business_mutation(
        description=(
            "Order the payment of arrears, principal plus interest to this month (F6, P5), collected at this month's "
            "end."
        ),
        extensions=[self_service()],
    )
    async def pay_arrears(self, info: strawberry.Info, input: Annotated[PayArrearsInput, INPUT]) -> PaymentOrderPayload:
        return _order_payload(
            await arrears.pay_arrears(
                info.context.viewer, subject_id(info, input.person_id), _arrear_ids(input.arrear_ids)
            )
        )

    @business_mutation(
        description="Cancel arrears for good (F7); the input must confirm it.", extensions=[self_service()]
    )
    async def cancel_arrears(
        self, info: strawberry.Info, input: Annotated[CancelArrearsInput, INPUT]
    ) -> CancelArrearsPayload:
        cancelled, transaction = await arrears.cancel_arrears(
            info.context.viewer,
            subject_id(info, input.person_id),
            _arrear_ids(input.arrear_ids),
            input.confirm_irreversible,
        )
        return CancelArrearsPayload(
            arrears=_nodes(nodes.Arrear, cancelled), transaction=node_of(nodes.BusinessTransaction, transaction)
        )

    @business_mutation(
        description=(
            "Order the back-payment of interrupted pension months (F8), collected at this month's end; medical is "
            "refused with MEDICAL_INTERRUPTION_NOT_BACKPAYABLE."
        ),
        extensions=[self_service()],
    )
    async def pay_interruption(
        self, info: strawberry.Info, input: Annotated[PayInterruptionInput, INPUT]
    ) -> PaymentOrderPayload:
        return _order_payload(
            await arrears.pay_interruption(
                info.context.viewer,
                subject_id(info, input.person_id),
                input.months,
                input.insurance_type,
                input.pension_grade,
            )
        )

    @business_mutation(description="Apply for a medical card with a new photo (F2).", extensions=[self_service()])
    async def apply_medical_card(
        self, info: strawberry.Info, input: Annotated[ApplyMedicalCardInput, INPUT]
    ) -> ApplyMedicalCardPayload:
        application, transaction = await card_applications.apply_medical_card(
            info.context.viewer, subject_id(info, input.person_id), input.photo
        )
        return ApplyMedicalCardPayload(
            card_application=node_of(nodes.MedicalCardApplication, application),
            transaction=node_of(nodes.BusinessTransaction, transaction),
        )

    @business_mutation(description="Change personal information (F5).", extensions=[self_service()])
    async def update_personal_info(
        self, info: strawberry.Info, input: Annotated[UpdatePersonalInfoInput, INPUT]
    ) -> UpdatePersonalInfoPayload:
        community_id = (
            None if input.community_id is None else decode_int_id(input.community_id, "Community", "communityId")
        )
        person, transaction = await personal_info.update_personal_info(
            info.context.viewer,
            subject_id(info, input.person_id),
            phone=input.phone,
            address=input.address,
            community_id=community_id,
        )
        return UpdatePersonalInfoPayload(
            person=node_of(nodes.Person, person), transaction=node_of(nodes.BusinessTransaction, transaction)
        )

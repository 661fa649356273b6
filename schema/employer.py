"""Employer business (E2-E4): staff filed in and out by the employer's agent online or at the
district's counter, reviewed by the district, in effect once the paper materials are in; yearly
contribution bases; back-payment of unpaid months.

A filing is all or nothing (services.employer.filing): when lines are refused, the payload's
``errors`` hold one INVALID_LINES error and ``lineErrors`` say which lines and why.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import strawberry

import models
from domain.enums import BusinessType, Role
from domain.errors import BusinessError
from domain.errors import ErrorCode as DomainErrorCode
from domain.months import Month
from resolvers.inputs import decode_int_id
from resolvers.loaders import node_of
from schema import nodes
from schema.business_mutation import business_mutation, business_payload
from schema.enums import InsuranceType
from schema.payloads import IDEMPOTENCY_KEY, INPUT, ErrorCode, UserError
from schema.permissions import allow
from schema.scalars import Money, MonthScalar
from services.employer import back_payment, bases, filing, staffing
from services.employer.bases import BaseLine
from services.employer.filing import FilingRejected, LineError
from services.employer.staffing import AddLine, RemoveLine

P = TypeVar("P")

FILERS = (Role.EMPLOYER_AGENT, Role.REVIEWER)  # the agent online, a reviewer of its district at the counter
MAX_LINES = filing.MAX_FILING_LINES
EMPLOYER_ID = "The employer: an agent's own, which it may leave out; a reviewer of its district names it."
LINES = (
    f"1 to {MAX_LINES} lines, each checked on its own (FILING_TOO_LARGE above {MAX_LINES}: split the filing). "
    "When any line is refused nothing is done, and lineErrors lists every refused line."
)
LINE_ERRORS = (
    "Every refused line with its field and reason, by line; empty unless errors holds INVALID_LINES. "
    "Nothing was done: correct these lines and send the whole list again."
)
ERRORS = "Why nothing was done; INVALID_LINES when lines were refused (see lineErrors); empty on success."

BaseClamp = strawberry.enum(
    bases.Clamp,
    name="BaseClamp",
    description=(
        "Where a declared wage stands against the P4 limits: NONE within 60%..300% of the average wage, LOW under the "
        "floor, HIGH over the ceiling."
    ),
)


@strawberry.type(description="Why one line of a filing was refused (E2, E3).")
class FilingLineError:
    line: int = strawberry.field(description="The line, counting from 1 in the order sent.")
    field: str = strawberry.field(
        description="The line's field at fault: idNumber, declaredWage, insuranceTypes or lastMonth."
    )
    code: ErrorCode = strawberry.field(
        description="Stable code for programs, e.g. INVALID_ID_NUMBER, NOT_EMPLOYED_HERE."
    )
    message: str = strawberry.field(description="Explanation for a person.")


def _line_errors(root: Any) -> list[FilingLineError]:
    return [
        FilingLineError(line=row["line"], field=row["field"], code=DomainErrorCode(row["code"]), message=row["message"])
        for row in json.loads(root.refused_lines or "[]")
    ]


def _kept(line_errors: list[LineError]) -> str:
    """Refused lines as JSON text: a payload's text survives a retry with its idempotency key
    (docs/api.md 3), where a replay gives back only nodes, errors and plain values."""
    return json.dumps(
        [{"line": e.line, "field": e.field, "code": e.code.value, "message": e.message} for e in line_errors],
        ensure_ascii=False,
    )


def line_errors_field() -> Any:
    return strawberry.field(resolver=_line_errors, description=LINE_ERRORS)


class FilingRefusal:
    """A refused filing's payload carries its refused lines besides the INVALID_LINES error."""

    @classmethod
    def refused(cls, error: BusinessError) -> Any:
        lines = _kept(error.line_errors) if isinstance(error, FilingRejected) else None
        return cls(errors=[UserError.of(error)], refused_lines=lines)


# Inputs


@strawberry.input(description="A person to take on (E2).")
class AddEmployeeLine:
    id_number: str = strawberry.field(
        description="The person's 18-character resident ID number (A1); the person is registered first, at an office."
    )
    declared_wage: Money = strawberry.field(
        description=(
            "The monthly wage declared as contribution base: more than 0.00, at most 1000000.00; the base is held "
            "within 60%..300% of the average wage (P4)."
        )
    )
    insurance_types: list[InsuranceType] | None = strawberry.field(
        default=None, description="The insurance types the employer pays for the person; all five when left out (P4)."
    )


@strawberry.input(
    description=(
        f"Add staff (增员, E2): filed for the district's review; by the 20th it takes effect this month, later next "
        f"month (M3). At most {MAX_LINES} lines."
    )
)
class AddEmployeesInput:
    employer_id: strawberry.ID | None = strawberry.field(default=None, description=EMPLOYER_ID)
    lines: list[AddEmployeeLine] = strawberry.field(description=LINES)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.input(description="A person leaving (E2).")
class RemoveEmployeeLine:
    id_number: str = strawberry.field(
        description="The person's resident ID number (A1); employed by this employer now."
    )
    last_month: MonthScalar | None = strawberry.field(
        default=None,
        description=(
            "The last month employed and paid for; by default the month before the removal takes effect, and never "
            "later."
        ),
    )


@strawberry.input(
    description=(
        f"Remove staff (减员, E2): filed for the district's review; by the 20th it takes effect this month, later next "
        f"month (M3). At most {MAX_LINES} lines."
    )
)
class RemoveEmployeesInput:
    employer_id: strawberry.ID | None = strawberry.field(default=None, description=EMPLOYER_ID)
    lines: list[RemoveEmployeeLine] = strawberry.field(description=LINES)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.input(description="A person's declared monthly wage for the year (E3).")
class ContributionBaseLine:
    id_number: str = strawberry.field(
        description="The person's resident ID number (A1); employed by this employer in the year."
    )
    declared_wage: Money = strawberry.field(
        description="The monthly wage: 0.00 to 1000000.00; the base is held within 60%..300% of the average wage (P4)."
    )


@strawberry.input(
    description=(
        f"Declare the staff's contribution bases for the year (申报缴费基数, E3); their months of the year not yet "
        f"paid are priced again. At most {MAX_LINES} lines."
    )
)
class DeclareContributionBaseInput:
    employer_id: strawberry.ID | None = strawberry.field(default=None, description=EMPLOYER_ID)
    year: int = strawberry.field(description="The year in force: bases are declared for this year.")
    lines: list[ContributionBaseLine] = strawberry.field(description=LINES)
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.input(
    description="Pay, by bank transfer, past months the employer did not pay (单位补缴, E4), each with interest (P5)."
)
class EmployerBackPayInput:
    employer_id: strawberry.ID | None = strawberry.field(default=None, description=EMPLOYER_ID)
    months: list[MonthScalar] = strawberry.field(
        description=(
            "Months before this one, each named once and each owing something (Employer.owedByMonth); at most 360."
        )
    )
    person_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Only these persons' months; all the staff's when left out."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.input(
    description="Accept a submitted staff filing, or reject one not yet in effect with a reason the agent reads (E2)."
)
class ReviewTransactionInput:
    transaction_id: strawberry.ID = strawberry.field(
        description="An ADD_EMPLOYEES or REMOVE_EMPLOYEES filing of an employer of your district."
    )
    accept: bool = strawberry.field(
        description="True accepts a SUBMITTED filing; false rejects a SUBMITTED or ACCEPTED one."
    )
    reason: str | None = strawberry.field(
        default=None, description="Required to reject: why, for the agent (at most 500 characters)."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.input(
    description=(
        "The paper materials of an accepted staff filing were handed in at the office: the change takes effect (E2)."
    )
)
class ConfirmMaterialsInput:
    transaction_id: strawberry.ID = strawberry.field(description="An ACCEPTED filing of an employer of your district.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


# Payloads


@business_payload("The staff filing, awaiting the district's review.", errors=ERRORS)
class AddEmployeesPayload(FilingRefusal):
    transaction: nodes.BusinessTransaction | None = strawberry.field(
        default=None,
        description="The ADD_EMPLOYEES filing: SUBMITTED, with the month it takes effect and its lineCount.",
    )
    line_errors: list[FilingLineError] = line_errors_field()
    refused_lines: strawberry.Private[str | None] = None


@business_payload("The staff filing, awaiting the district's review.", errors=ERRORS)
class RemoveEmployeesPayload(FilingRefusal):
    transaction: nodes.BusinessTransaction | None = strawberry.field(
        default=None,
        description="The REMOVE_EMPLOYEES filing: SUBMITTED, with the month it takes effect and its lineCount.",
    )
    line_errors: list[FilingLineError] = line_errors_field()
    refused_lines: strawberry.Private[str | None] = None


@strawberry.type(description="A person's declared wage and the base it gives (E3, P4).")
class DeclaredBase:
    line: int = strawberry.field(description="The line, counting from 1 in the order sent.")
    id_number: str = strawberry.field(description="The person's resident ID number, masked (docs/api.md 8).")
    declared_wage: Money = strawberry.field(description="The monthly wage declared.")
    base: Money = strawberry.field(
        description="The contribution base: the wage held within 60%..300% of the average wage."
    )
    clamp: BaseClamp = strawberry.field(
        description=(
            "Whether the wage was raised to the floor (LOW), cut to the ceiling (HIGH), or taken as it is (NONE)."
        )
    )
    repriced_periods: int = strawberry.field(
        description="The person's months of the year not yet paid that were priced again."
    )
    person_id: strawberry.Private[int]

    @strawberry.field(description="The person.")
    async def person(self, info: strawberry.Info) -> nodes.Person | None:
        return await info.context.loaders.person.load(self.person_id)


@business_payload("The bases declared and the months priced again.", errors=ERRORS)
class DeclareContributionBasePayload(FilingRefusal):
    transaction: nodes.BusinessTransaction | None = strawberry.field(
        default=None, description="The DECLARE_CONTRIBUTION_BASE business, COMPLETED."
    )
    line_errors: list[FilingLineError] = line_errors_field()
    refused_lines: strawberry.Private[str | None] = None

    @strawberry.field(description="The year declared.")
    async def year(self, info: strawberry.Info) -> int | None:
        details = await _details(info, self.transaction)
        return None if details is None else details["year"]

    @strawberry.field(description="The year's average monthly wage the bases were held against (P1).")
    async def average_wage(self, info: strawberry.Info) -> Money | None:
        details = await _details(info, self.transaction)
        return None if details is None else Decimal(details["average_wage"])

    @strawberry.field(description="One result a line, in the order sent.")
    async def lines(self, info: strawberry.Info) -> list[DeclaredBase] | None:
        details = await _details(info, self.transaction)
        if details is None:
            return None
        return [
            DeclaredBase(
                line=row["line"],
                id_number=row["id_number"],
                declared_wage=Decimal(row["declared_wage"]),
                base=Decimal(row["base"]),
                clamp=bases.Clamp(row["clamp"]),
                repriced_periods=row["repriced_periods"],
                person_id=row["person_id"],
            )
            for row in details["lines"]
        ]


@strawberry.type(description="One month back-paid (E4).")
class BackPaidMonth:
    month: MonthScalar = strawberry.field(description="The contribution month.")
    periods: int = strawberry.field(
        description="How many periods (a person and an insurance type each) of the month were paid."
    )
    principal: Money = strawberry.field(description="The month's contributions, both shares (P4).")
    interest: Money = strawberry.field(description="Interest from the month to this month (P5).")


@business_payload(
    "What the employer pays by bank transfer; the months are PAID (via EMPLOYER_BACK_PAY) and their arrears closed.",
    transaction="The EMPLOYER_BACK_PAY business, COMPLETED.",
    errors="Why nothing was paid (INVALID_MONTH: nothing owed for a month, or not a past month); empty on success.",
)
class EmployerBackPayPayload:
    @strawberry.field(description="The months' contributions.")
    async def principal(self, info: strawberry.Info) -> Money | None:
        return await self._amount(info, "principal")

    @strawberry.field(description="Interest on them to this month (P5).")
    async def interest(self, info: strawberry.Info) -> Money | None:
        return await self._amount(info, "interest")

    @strawberry.field(description="Principal plus interest: the transfer's amount.")
    async def total(self, info: strawberry.Info) -> Money | None:
        return await self._amount(info, "total")

    @strawberry.field(description="One line a month, oldest first.")
    async def lines(self, info: strawberry.Info) -> list[BackPaidMonth] | None:
        details = await _details(info, self.transaction)
        if details is None:
            return None
        return [
            BackPaidMonth(
                month=Month.parse(row["month"]),
                periods=row["periods"],
                principal=Decimal(row["principal"]),
                interest=Decimal(row["interest"]),
            )
            for row in details["lines"]
        ]

    async def _amount(self, info: strawberry.Info, name: str) -> Decimal | None:
        details = await _details(info, self.transaction)
        return None if details is None else Decimal(details[name])


@business_payload(
    "The filing as decided.",
    errors=(
        "Why nothing was decided (REASON_REQUIRED, NOT_REVIEWABLE, OUT_OF_SCOPE; INVALID_LINES when lines are no "
        "longer valid, see lineErrors); empty on success."
    ),
)
class ReviewTransactionPayload(FilingRefusal):
    transaction: nodes.BusinessTransaction | None = strawberry.field(
        default=None,
        description=(
            "The filing: ACCEPTED (its effectiveMonth moved on when accepted after the 20th, see effectiveMonthMoves) "
            "or REJECTED with the decisionReason."
        ),
    )
    line_errors: list[FilingLineError] = line_errors_field()
    refused_lines: strawberry.Private[str | None] = None


@business_payload(
    "The filing in effect: staff taken on, with their policies and months due, or let go.",
    errors=(
        "Why nothing took effect (MATERIALS_NOT_EXPECTED, OUT_OF_SCOPE; INVALID_LINES when lines are no longer valid, "
        "see lineErrors); empty on success."
    ),
)
class ConfirmMaterialsPayload(FilingRefusal):
    transaction: nodes.BusinessTransaction | None = strawberry.field(default=None, description="The filing, COMPLETED.")
    employments: list[nodes.Employment] | None = strawberry.field(
        default=None, description="The employments begun (an addition) or ended (a removal), by person."
    )
    periods_created: int | None = strawberry.field(
        default=None, description="An addition's months due made, from the month it takes effect to this month (P4)."
    )
    periods_dropped: int | None = strawberry.field(
        default=None, description="A removal's months after the last month employed that are no longer due."
    )
    line_errors: list[FilingLineError] = line_errors_field()
    refused_lines: strawberry.Private[str | None] = None


# Resolving


def _employer_id(info: strawberry.Info, employer_id: strawberry.ID | None) -> int:
    """The employer named, else the agent's own."""
    if employer_id is not None:
        return decode_int_id(employer_id, "Employer", "employerId")
    if info.context.viewer.employer_id is None:
        raise BusinessError(DomainErrorCode.INVALID_INPUT, "name the employer", "employerId")
    return info.context.viewer.employer_id


def _transaction_id(opaque: strawberry.ID) -> int:
    return decode_int_id(opaque, "BusinessTransaction", "transactionId")


def _transaction(info: strawberry.Info, transaction: models.BusinessTransaction) -> nodes.BusinessTransaction:
    """The transaction's node, its details (just saved) primed for the fields derived from them."""
    info.context.loaders.transaction_details.prime(transaction.id, transaction.details, force=True)
    return node_of(nodes.BusinessTransaction, transaction)


async def _details(info: strawberry.Info, transaction: nodes.BusinessTransaction | None) -> dict[str, Any] | None:
    """The recorded outcome: read from the transaction, a retry with the same key shows the same."""
    return None if transaction is None else await info.context.loaders.transaction_details.load(transaction.db_id)


@strawberry.type
class EmployerMutations:
    @business_mutation(
        description=(
            f"Add staff (增员, E2), at most {MAX_LINES} lines: filed SUBMITTED for the district's review; by the 20th "
            f"it takes effect this month, later next month (M3). A refused line refuses the filing: errors holds "
            f"INVALID_LINES and lineErrors every refused line."
        ),
        extensions=[allow(*FILERS)],
    )
    async def add_employees(
        self, info: strawberry.Info, input: Annotated[AddEmployeesInput, INPUT]
    ) -> AddEmployeesPayload:
        transaction = await staffing.add_employees(
            info.context.viewer,
            _employer_id(info, input.employer_id),
            [AddLine(line.id_number, line.declared_wage, line.insurance_types) for line in input.lines],
        )
        return AddEmployeesPayload(transaction=_transaction(info, transaction))

    @business_mutation(
        description=(
            f"Remove staff (减员, E2), at most {MAX_LINES} lines: filed SUBMITTED for the district's review; by the "
            f"20th it takes effect this month, later next month (M3). A refused line refuses the filing: errors holds "
            f"INVALID_LINES and lineErrors every refused line."
        ),
        extensions=[allow(*FILERS)],
    )
    async def remove_employees(
        self, info: strawberry.Info, input: Annotated[RemoveEmployeesInput, INPUT]
    ) -> RemoveEmployeesPayload:
        transaction = await staffing.remove_employees(
            info.context.viewer,
            _employer_id(info, input.employer_id),
            [RemoveLine(line.id_number, line.last_month) for line in input.lines],
        )
        return RemoveEmployeesPayload(transaction=_transaction(info, transaction))

    @business_mutation(
        description=(
            f"Declare the staff's contribution bases for the year in force (E3), at most {MAX_LINES} lines: each base "
            f"is the wage held within 60%..300% of the average wage (P4), and their months of the year not yet paid "
            f"are priced again. A refused line refuses the declaration: errors holds INVALID_LINES and lineErrors "
            f"every refused line."
        ),
        extensions=[allow(*FILERS)],
    )
    async def declare_contribution_base(
        self, info: strawberry.Info, input: Annotated[DeclareContributionBaseInput, INPUT]
    ) -> DeclareContributionBasePayload:
        declared = await bases.declare_contribution_base(
            info.context.viewer,
            _employer_id(info, input.employer_id),
            input.year,
            [BaseLine(line.id_number, line.declared_wage) for line in input.lines],
        )
        return DeclareContributionBasePayload(transaction=_transaction(info, declared.transaction))

    @business_mutation(
        description=(
            "Back-pay past months the employer did not pay (E4): each unpaid month of its staff (or of the persons "
            "named) is paid by bank transfer with interest to this month (P5), and its arrears closed."
        ),
        extensions=[allow(*FILERS)],
    )
    async def employer_back_pay(
        self, info: strawberry.Info, input: Annotated[EmployerBackPayInput, INPUT]
    ) -> EmployerBackPayPayload:
        person_ids = (
            None
            if input.person_ids is None
            else [decode_int_id(opaque, "Person", "personIds") for opaque in input.person_ids]
        )
        paid = await back_payment.employer_back_pay(
            info.context.viewer, _employer_id(info, input.employer_id), input.months, person_ids
        )
        return EmployerBackPayPayload(transaction=_transaction(info, paid.transaction))

    @business_mutation(
        description=(
            "Accept or reject a staff filing (E2), by a reviewer of the employer's district. Accepted after the 20th "
            "of the month it was to take effect in, it takes effect a month later (M3). Each line is checked again on "
            "acceptance."
        ),
        extensions=[allow(Role.REVIEWER)],
    )
    async def review_transaction(
        self, info: strawberry.Info, input: Annotated[ReviewTransactionInput, INPUT]
    ) -> ReviewTransactionPayload:
        transaction = await staffing.review(
            info.context.viewer, _transaction_id(input.transaction_id), input.accept, input.reason
        )
        return ReviewTransactionPayload(transaction=_transaction(info, transaction))

    @business_mutation(
        description=(
            "Confirm the paper materials of an accepted staff filing (E2, the one visit), by a reviewer of the "
            "employer's district: an addition's employments, employer-channel policies and months due from the month "
            "it takes effect are made; a removal's employments and policies end."
        ),
        extensions=[allow(Role.REVIEWER)],
    )
    async def confirm_materials(
        self, info: strawberry.Info, input: Annotated[ConfirmMaterialsInput, INPUT]
    ) -> ConfirmMaterialsPayload:
        done = await staffing.confirm_materials(info.context.viewer, _transaction_id(input.transaction_id))
        added = done.transaction.business_type is BusinessType.ADD_EMPLOYEES
        return ConfirmMaterialsPayload(
            transaction=_transaction(info, done.transaction),
            employments=[node_of(nodes.Employment, employment) for employment in done.employments],
            periods_created=len(done.periods) if added else None,
            periods_dropped=None if added else done.dropped_periods,
        )

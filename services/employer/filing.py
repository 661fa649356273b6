"""What the employer's businesses share: the line-by-line checks of a filing and its refusal, the
employer's lock, and the record of a business with every line.

A filing is all or nothing. Each line is checked on its own and, when any fails, nothing is filed
and the refusal (``FilingRejected``) lists every failing line, so that an agent corrects line 37
of 200 instead of the whole filing. Every filing and decision locks the employer's row first, so one
employer's filings and decisions run one after the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import models
from domain.enums import BusinessType, EmployerStatus, InsuranceType, Role, TransactionStatus
from domain.errors import BusinessError, ErrorCode
from domain.identifiers import InvalidIdentifier, normalise_resident_id
from domain.months import Month
from services.common.transactions import record_transaction
from services.common.viewer import Viewer

MAX_FILING_LINES = 500
MAX_DECLARED_WAGE = Decimal("1000000.00")
EMPLOYER_TYPES = tuple(InsuranceType)  # P4: an addition insures all five unless told otherwise


@dataclass(frozen=True)
class LineError:
    """Why one line of a filing is refused; ``line`` counts from 1, as the agent's list does."""

    line: int
    field: str
    code: ErrorCode
    message: str


class FilingRejected(BusinessError):
    """Some lines are refused, so nothing was done; ``line_errors`` says which and why."""

    def __init__(self, line_errors: list[LineError], outcome: str) -> None:
        self.line_errors = sorted(line_errors, key=lambda e: e.line)
        lines = sorted({e.line for e in self.line_errors})
        first = ", ".join(str(n) for n in lines[:10]) + (", ..." if len(lines) > 10 else "")
        super().__init__(
            ErrorCode.INVALID_LINES,
            f"{len(lines)} line{'s' if len(lines) > 1 else ''} refused (line {first}): {outcome}",
            "lines",
        )


class LineErrors:
    """The refused lines of a filing, gathered so that one refusal reports them all."""

    def __init__(self) -> None:
        self.items: list[LineError] = []
        self.lines: set[int] = set()

    def add(self, line: int, field: str, code: ErrorCode, message: str) -> None:
        self.items.append(LineError(line, field, code, message))
        self.lines.add(line)

    def failed(self, line: int) -> bool:
        return line in self.lines

    def raise_any(self, outcome: str) -> None:
        if self.items:
            raise FilingRejected(self.items, outcome)


# Checking lines


def check_size(lines: Sequence[object]) -> None:
    if not lines:
        raise BusinessError(ErrorCode.INVALID_INPUT, "a filing has at least one line", "lines")
    if len(lines) > MAX_FILING_LINES:
        raise BusinessError(
            ErrorCode.FILING_TOO_LARGE,
            f"a filing has at most {MAX_FILING_LINES} lines, this one {len(lines)}: split it",
            "lines",
        )


def id_numbers(raw_numbers: Sequence[str], errors: LineErrors) -> dict[int, str]:
    """Line -> ID number in its stored form, for the lines that pass A1 and name someone new."""
    first_line: dict[str, int] = {}
    for number, raw in enumerate(raw_numbers, 1):
        try:
            id_number = normalise_resident_id(raw)
        except InvalidIdentifier as exc:
            errors.add(number, "idNumber", ErrorCode.INVALID_ID_NUMBER, str(exc))
            continue
        if id_number in first_line:
            errors.add(
                number, "idNumber", ErrorCode.INVALID_INPUT, f"the same ID number is on line {first_line[id_number]}"
            )
            continue
        first_line[id_number] = number
    return {number: id_number for id_number, number in first_line.items()}


NOT_REGISTERED = (
    ErrorCode.PERSON_NOT_REGISTERED,
    "no person is registered with this ID number: register them at an office first",
)


async def registered(
    numbers: dict[int, str], errors: LineErrors, refusal: tuple[ErrorCode, str] = NOT_REGISTERED
) -> dict[int, models.Person]:
    """Line -> registered person; registering a person is a business of its own, done first. A
    number of no one is refused with ``refusal``: where saying "not registered" would tell the
    employer something about a stranger, the answer a registered stranger gets (A6)."""
    found = {p.id_number: p for p in await models.Person.filter(id_number__in=list(numbers.values()))}
    persons = {}
    for number, id_number in numbers.items():
        if id_number in found:
            persons[number] = found[id_number]
        else:
            errors.add(number, "idNumber", *refusal)
    return persons


def declared_wage_problem(wage: object, *, zero_allowed: bool) -> str | None:
    if not isinstance(wage, Decimal) or not wage.is_finite():
        return "a monthly wage is a decimal amount such as 6500.00"
    if wage.as_tuple().exponent < -2:  # type: ignore[operator]
        return "a monthly wage has at most two decimal places (M1)"
    if wage < 0 or (wage == 0 and not zero_allowed):
        return f"the declared monthly wage must be {'0.00 or more' if zero_allowed else 'more than 0.00'}"
    if wage > MAX_DECLARED_WAGE:
        return f"a declared monthly wage is at most {MAX_DECLARED_WAGE}"
    return None


# Locks and records


def _acts_for(actor: Viewer, employer: models.Employer) -> bool:
    """A6: the employer's own agent online, or a reviewer of its district at the counter."""
    if actor.role is Role.EMPLOYER_AGENT:
        return actor.employer_id == employer.id
    return actor.role is Role.REVIEWER and actor.district_id == employer.district_id


async def locked_employer(actor: Viewer, employer_id: int) -> models.Employer:
    """The employer, row-locked for the rest of the transaction, so that its filings serialize."""
    employer = await models.Employer.select_for_update(no_key=True).get_or_none(id=employer_id)
    if employer is None or not _acts_for(actor, employer):
        raise BusinessError(ErrorCode.OUT_OF_SCOPE, "you do not act for this employer", "employerId")
    if employer.status is EmployerStatus.CLOSED:
        raise BusinessError(ErrorCode.EMPLOYER_CLOSED, "this employer is closed", "employerId")
    return employer


async def record_with_lines(
    business_type: BusinessType,
    actor: Viewer,
    employer: models.Employer,
    status: TransactionStatus,
    effective: Month,
    summary: dict[str, Any],
    lines: list[dict[str, Any]],
) -> models.BusinessTransaction:
    transaction = await record_transaction(
        business_type,
        actor,
        district_id=employer.district_id,
        employer_id=employer.id,
        status=status,
        effective_month=effective.to_int(),
        details=summary,
    )
    # record_transaction keeps at most 100 items of a list; a filing keeps every line (ID numbers masked).
    transaction.details = {**transaction.details, "lines": lines}
    await transaction.save(update_fields=["details"])
    return transaction

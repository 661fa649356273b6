"""Passbook deposits reported by the bank (F9): counted once, even when reported twice."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

import models
from domain.enums import BusinessType, LedgerKind, TransactionStatus
from domain.errors import BusinessError, ErrorCode
from services.common import clock
from services.common.transactions import record_transaction
from services.common.viewer import Viewer

MAX_DEPOSIT = Decimal("1000000.00")  # one counter deposit; larger sums are a keying error
MAX_REFERENCE = 64


@dataclass(frozen=True)
class Deposit:
    entry: models.LedgerEntry
    passbook: models.Passbook
    transaction: models.BusinessTransaction | None
    already_recorded: bool


async def record_deposit(actor: Viewer, account_number: str, amount: Decimal, bank_reference: str) -> Deposit:
    """Book a deposit and raise the balance in one transaction. The bank's reference is unique in
    the ledger, so a second report of the same deposit finds the first and books nothing."""
    reference = bank_reference.strip()
    if not 1 <= len(reference) <= MAX_REFERENCE or not reference.isprintable():
        raise BusinessError(
            ErrorCode.INVALID_INPUT, f"a bank reference has 1 to {MAX_REFERENCE} printable characters", "bankReference"
        )
    if amount <= 0 or amount > MAX_DEPOSIT:
        raise BusinessError(
            ErrorCode.INVALID_AMOUNT, f"a deposit is more than 0.00 and at most {MAX_DEPOSIT}", "amount"
        )
    passbook = await models.Passbook.get_or_none(account_number=account_number.strip())
    if passbook is None:
        raise BusinessError(ErrorCode.NOT_FOUND, "no passbook has this account number", "accountNumber")
    earlier = await _earlier(reference, passbook, amount)
    if earlier is not None:
        return earlier
    try:
        async with in_transaction():
            # Locked and added in Python: exact decimals on every engine (SQLite keeps them as text).
            passbook = await models.Passbook.select_for_update(no_key=True).get(id=passbook.id)
            passbook.balance = passbook.balance + amount
            await passbook.save(update_fields=["balance", "updated_at"])
            entry = await models.LedgerEntry.create(
                passbook_id=passbook.id,
                kind=LedgerKind.DEPOSIT,
                amount=amount,
                balance_after=passbook.balance,
                month=clock.this_month().to_int(),
                bank_reference=reference,
                booked_at=clock.now(),
            )
            person = await models.Person.get(id=passbook.person_id)
            transaction = await record_transaction(
                BusinessType.RECORD_DEPOSIT,
                actor,
                district_id=person.district_id,
                person_id=person.id,
                status=TransactionStatus.COMPLETED,
                details={"amount": str(amount), "bank_reference": reference},
            )
    except IntegrityError:  # the same reference booked by a concurrent report
        earlier = await _earlier(reference, passbook, amount)
        if earlier is None:
            raise
        return earlier
    return Deposit(entry, passbook, transaction, already_recorded=False)


async def _earlier(reference: str, passbook: models.Passbook, amount: Decimal) -> Deposit | None:
    entry = await models.LedgerEntry.get_or_none(bank_reference=reference)
    if entry is None:
        return None
    if entry.passbook_id != passbook.id or entry.amount != amount:
        raise BusinessError(
            ErrorCode.BANK_REFERENCE_REUSED, "this bank reference was recorded for another deposit", "bankReference"
        )
    return Deposit(entry, await models.Passbook.get(id=passbook.id), None, already_recorded=True)

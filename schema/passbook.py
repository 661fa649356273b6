"""Passbook deposits recorded by the bank (F9)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain.enums import Role
from resolvers.loaders import node_of
from schema import nodes
from schema.business_mutation import business_mutation, business_payload
from schema.payloads import IDEMPOTENCY_KEY, INPUT
from schema.permissions import allow
from schema.scalars import Money
from services.collection import deposits


@strawberry.input(description="A deposit into a contribution passbook, as the bank reports it (F9).")
class RecordDepositInput:
    account_number: str = strawberry.field(description="The passbook's account number.")
    amount: Money = strawberry.field(description="Yuan deposited: more than 0.00, at most 1000000.00.")
    bank_reference: str = strawberry.field(
        description="The bank's own reference: a deposit reported twice is counted once."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@business_payload(
    "The booked deposit and the passbook after it.",
    transaction="The RECORD_DEPOSIT business, when booked now.",
    errors="Why nothing was booked; empty on success.",
)
class RecordDepositPayload:
    entry: nodes.LedgerEntry | None = strawberry.field(default=None, description="The DEPOSIT movement.")
    passbook: nodes.Passbook | None = strawberry.field(default=None, description="The passbook, with its new balance.")
    already_recorded: bool | None = strawberry.field(
        default=None, description="True when this bank reference was booked before: nothing changed."
    )


@strawberry.type
class PassbookMutations:
    @business_mutation(
        description="Record a passbook deposit reported by the bank (F9).", extensions=[allow(Role.BANK)]
    )
    async def record_deposit(
        self, info: strawberry.Info, input: Annotated[RecordDepositInput, INPUT]
    ) -> RecordDepositPayload:
        done = await deposits.record_deposit(
            info.context.viewer, input.account_number, input.amount, input.bank_reference
        )
        return RecordDepositPayload(
            entry=node_of(nodes.LedgerEntry, done.entry),
            passbook=node_of(nodes.Passbook, done.passbook),
            already_recorded=done.already_recorded,
            transaction=None if done.transaction is None else node_of(nodes.BusinessTransaction, done.transaction),
        )

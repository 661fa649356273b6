"""Bulk writing for the demo city: rows as tuples, many rows a statement (services.bulk), ids
assigned here so that rows can point at each other before anything is written; PostgreSQL's
sequences are moved past them afterwards so that later inserts by the application keep working.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from models.bulk import Table, write_rows

# The tables the demo city writes, in the order foreign keys allow them to be filled.
DISTRICT = Table("district", ("id", "code", "name"))
COMMUNITY = Table("community", ("id", "district_id", "code", "name"))
OFFICE = Table("office", ("id", "district_id", "name", "address"))
EMPLOYER = Table("employer", ("id", "credit_code", "name", "district_id", "address", "status", "registered_at"))
PERSON = Table(
    "person",
    (
        "id",
        "id_number",
        "name",
        "gender",
        "birth_date",
        "archive_birth_date",
        "retirement_class",
        "category",
        "district_id",
        "community_id",
        "phone",
        "address",
        "registered_at",
        "updated_at",
    ),
)
PASSBOOK = Table("passbook", ("id", "person_id", "account_number", "balance", "opened_at", "updated_at"))
EMPLOYMENT = Table(
    "employment",
    (
        "id",
        "person_id",
        "employer_id",
        "start_month",
        "end_month",
        "declared_wage",
        "status",
    ),
)
POLICY = Table(
    "policy",
    (
        "id",
        "person_id",
        "insurance_type",
        "channel",
        "employer_id",
        "status",
        "grade",
        "start_month",
        "end_month",
        "created_at",
    ),
)
PERIOD = Table(
    "contribution_period",
    (
        "id",
        "policy_id",
        "person_id",
        "month",
        "insurance_type",
        "channel",
        "grade",
        "base",
        "rate",
        "amount",
        "employer_amount",
        "status",
        "paid_via",
        "paid_at",
        "created_at",
    ),
)
TRANSACTION = Table(
    "business_transaction",
    (
        "id",
        "business_type",
        "status",
        "channel",
        "person_id",
        "employer_id",
        "district_id",
        "submitted_at",
        "effective_month",
        "details",
        "decided_at",
        "decision_reason",
    ),
)
ARREAR = Table(
    "arrear",
    (
        "id",
        "period_id",
        "person_id",
        "month",
        "insurance_type",
        "principal",
        "status",
        "interest",
        "interest_as_of",
        "created_at",
        "resolved_at",
    ),
)
PAYMENT_ORDER = Table(
    "payment_order",
    (
        "id",
        "person_id",
        "kind",
        "status",
        "principal",
        "interest",
        "total",
        "collection_month",
        "transaction_id",
        "created_at",
        "settled_at",
    ),
)
PAYMENT_ORDER_LINE = Table(
    "payment_order_line",
    (
        "id",
        "order_id",
        "arrear_id",
        "month",
        "insurance_type",
        "base",
        "principal",
        "interest",
    ),
)
LEDGER_ENTRY = Table(
    "ledger_entry",
    (
        "id",
        "passbook_id",
        "kind",
        "amount",
        "balance_after",
        "month",
        "period_id",
        "payment_order_id",
        "bank_reference",
        "booked_at",
    ),
)

TABLES_IN_WRITE_ORDER = (
    DISTRICT,
    COMMUNITY,
    OFFICE,
    EMPLOYER,
    PERSON,
    PASSBOOK,
    EMPLOYMENT,
    POLICY,
    PERIOD,
    TRANSACTION,
    ARREAR,
    PAYMENT_ORDER,
    PAYMENT_ORDER_LINE,
    LEDGER_ENTRY,
)


@dataclass
class BulkWriter:
    """Collects rows per table and writes them in foreign-key order, a batch a statement."""

    connection: BaseDBAsyncClient
    written: dict[str, int] = field(default_factory=dict)
    _pending: dict[Table, list[tuple]] = field(default_factory=dict)
    _next_id: dict[Table, int] = field(default_factory=dict)

    @property
    def dialect(self) -> str:
        return self.connection.capabilities.dialect

    async def start_ids(self) -> None:
        """Number new rows after any row already there."""
        for table in TABLES_IN_WRITE_ORDER:
            rows = await self.connection.execute_query_dict(f'SELECT MAX(id) AS top FROM "{table.name}"')
            self._next_id[table] = (rows[0]["top"] or 0) + 1

    def new_id(self, table: Table) -> int:
        value = self._next_id[table]
        self._next_id[table] = value + 1
        return value

    def add(self, table: Table, row: tuple[Any, ...]) -> None:
        self._pending.setdefault(table, []).append(row)

    def count(self, table: Table) -> int:
        return self.written.get(table.name, 0) + len(self._pending.get(table, ()))

    async def flush(self) -> None:
        for table in TABLES_IN_WRITE_ORDER:
            rows = self._pending.pop(table, None)
            if rows:
                await self._write(table, rows)

    async def _write(self, table: Table, rows: list[tuple]) -> None:
        await write_rows(self.connection, table, rows)
        self.written[table.name] = self.written.get(table.name, 0) + len(rows)

    async def move_sequences_past_ids(self) -> None:
        """PostgreSQL hands out ids from sequences that know nothing of ids assigned here."""
        if self.dialect != "postgres":
            return  # SQLite's AUTOINCREMENT already follows the largest id written
        for table in TABLES_IN_WRITE_ORDER:
            await self.connection.execute_query(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), MAX(id))"
                f' FROM "{table.name}" HAVING MAX(id) IS NOT NULL'
            )

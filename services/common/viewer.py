"""Who is asking: the signed-in account and what it acts for (A3, A6)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.enums import Role


@dataclass(frozen=True, slots=True)
class Viewer:
    account_id: int
    username: str
    role: Role
    person_id: int | None = None
    employer_id: int | None = None
    community_id: int | None = None  # a person's community, or a clerk's
    district_id: int | None = None  # a person's, an employer's, or a staff member's district
    session_id: int | None = None

"""Subscriptions, over WebSocket (graphql-transport-ws): changes pushed as they happen (docs/api.md 5)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

import models
from domain.enums import JobStatus, Role
from resolvers.inputs import BadUserInput, decode_id, decode_int_id
from resolvers.loaders import fetch_nodes
from resolvers.scopes import scoped
from schema.nodes import BusinessTransaction, Job
from schema.permissions import allow

POLL_SECONDS = 0.5  # jobs and reviews happen in other processes: their rows are read again this often
FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED)
TRANSACTION_WATCHERS = (Role.PERSON, Role.EMPLOYER_AGENT, Role.CLERK, Role.REVIEWER, Role.ADMIN)
# What a subscriber is told about: the state, the reviewer's decision, the month it takes effect.
WATCHED_COLUMNS = ("id", "status", "decided_at", "effective_month")


async def _watched_subject(
    info: strawberry.Info, person_id: strawberry.ID | None, employer_id: strawberry.ID | None
) -> dict[str, int]:
    """Whose transactions: the person or employer named, if the viewer may read them; by default
    the viewer's own person or employer."""
    viewer, loaders = info.context.viewer, info.context.loaders
    if person_id is not None and employer_id is not None:
        raise BadUserInput("name a person or an employer, not both", "employerId")
    if person_id is not None:
        person = decode_int_id(person_id, "Person", "personId")
        if await loaders.person.load(person) is None:
            raise BadUserInput(f"no person {person_id!r} within your reach", "personId")
        return {"person_id": person}
    if employer_id is not None:
        employer = decode_int_id(employer_id, "Employer", "employerId")
        if await loaders.employer.load(employer) is None:
            raise BadUserInput(f"no employer {employer_id!r} within your reach", "employerId")
        return {"employer_id": employer}
    if viewer.role is Role.PERSON and viewer.person_id is not None:
        return {"person_id": viewer.person_id}
    if viewer.role is Role.EMPLOYER_AGENT and viewer.employer_id is not None:
        return {"employer_id": viewer.employer_id}
    raise BadUserInput("name the person (personId) or the employer (employerId)", "personId")


@strawberry.type(
    description=(
        "Changes pushed over WebSocket (graphql-transport-ws), signed in with the token in connection_init. "
        "A socket whose session ends (logout, password change, revoked certificate: A8) is closed at once with "
        "code 4401 (Session ended) and sends nothing more; sign in again for a new token."
    )
)
class Subscription:
    @strawberry.subscription(
        description=(
            "The job now, then again at each change of its state, progress or error, until it succeeds or fails."
        ),
        extensions=[allow(Role.ADMIN)],
    )
    async def job_updates(
        self,
        info: strawberry.Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The job's global id.")],
    ) -> AsyncGenerator[Job, None]:
        kind, key = decode_id(id, "id")
        job_id = info.context.loaders.job.parse_key(key) if kind == "Job" else None
        if job_id is None:
            raise BadUserInput(f"{id!r} is not the id of a Job", "id")
        seen = None
        while True:
            found = await fetch_nodes(Job, scoped(models.Job.filter(id=job_id), models.Job, info.context.viewer))
            if not found:
                raise BadUserInput(f"no job {id!r}", "id")
            job = found[0]
            state = (job.status, job.progress, job.error, job.attempts)
            if state != seen:
                seen = state
                info.context.load_afresh()
                yield job
            if job.status in FINISHED:
                return
            await asyncio.sleep(POLL_SECONDS)

    @strawberry.subscription(
        description=(
            "A person's or an employer's business transactions as they change (docs/api.md 4): nothing is sent for the "
            "state at subscribing; then each transaction filed afterwards, and each whose status, decision or "
            "effective month changes, is sent as it is then. A person follows their own, an agent its employer's; "
            "staff name a person or an employer within their reach."
        ),
        extensions=[allow(*TRANSACTION_WATCHERS)],
    )
    async def transaction_updates(
        self,
        info: strawberry.Info,
        person_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="The person whose transactions to follow; a person may leave it out."),
        ] = None,
        employer_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="The employer whose transactions to follow; an agent may leave it out."),
        ] = None,
    ) -> AsyncGenerator[BusinessTransaction, None]:
        viewer = info.context.viewer
        subject = await _watched_subject(info, person_id, employer_id)
        # Scoped as every read is: an agent naming an employee still sees only its employer's filings.
        watched = scoped(models.BusinessTransaction.filter(**subject), models.BusinessTransaction, viewer)
        seen: dict[int, tuple] | None = None  # id -> (status, decided_at, effective_month)
        while True:
            now = {row[0]: row[1:] for row in await watched.values_list(*WATCHED_COLUMNS)}
            changed = [] if seen is None else sorted(key for key, state in now.items() if seen.get(key) != state)
            seen = now
            if changed:
                # Read whole, in the order filed. A row changed again since the poll is sent as it is
                # now, and remembered so, not to be sent twice.
                for transaction in await fetch_nodes(
                    BusinessTransaction, watched.filter(id__in=changed).order_by("id")
                ):
                    seen[transaction.db_id] = (transaction.status, transaction.decided_at, transaction.effective_month)
                    info.context.load_afresh()  # its person's details as they are now
                    yield transaction
            await asyncio.sleep(POLL_SECONDS)

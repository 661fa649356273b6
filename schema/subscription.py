"""Subscriptions, over WebSocket (graphql-transport-ws): changes pushed as they happen (API.md 5)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

import models
from domain.enums import JobStatus, Role
from resolvers.loaders import fetch_nodes
from resolvers.scopes import scoped
from schema.errors import BadUserInput
from schema.nodes import Job
from schema.permissions import allow
from schema.relay import decode_id

POLL_SECONDS = 0.5  # jobs run in other processes: their row is read again this often
FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED)


@strawberry.type(description="Changes pushed over WebSocket (graphql-transport-ws).")
class Subscription:
    @strawberry.subscription(description="The job now, then again at each change of its state, progress or error, until it succeeds or fails.",
                             extensions=[allow(Role.ADMIN)])
    async def job_updates(
        self, info: strawberry.Info, id: Annotated[strawberry.ID, strawberry.argument(description="The job's global id.")],
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
                yield job
            if job.status in FINISHED:
                return
            await asyncio.sleep(POLL_SECONDS)

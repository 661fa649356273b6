"""Administration and batch (docs/api.md 5): the mutations that start the city-wide jobs."""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain.enums import Role
from domain.errors import BusinessError
from resolvers.loaders import node_of
from schema import nodes
from schema.business_mutation import business_mutation, business_payload
from schema.payloads import IDEMPOTENCY_KEY, INPUT, UserError
from schema.permissions import allow
from schema.scalars import Money, MonthScalar
from services.collection import batch


@strawberry.input(description="Run the month-end debit of a month (M4, P6).")
class RunMonthEndInput:
    month: MonthScalar = strawberry.field(description="A month that has ended (or ends today), at most 12 months back.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.input(description="Refresh the interest of every owed arrear to this month (P5).")
class RecalculateArrearsInput:
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@business_payload(
    "The job started, or the one already started for the same work.",
    errors="Why nothing was started; JOB_ALREADY_STARTED comes with that job.",
)
class JobPayload:
    job: nodes.Job | None = strawberry.field(
        default=None, description="Follow it with job(id) or the jobUpdates subscription."
    )

    @classmethod
    def refused(cls, error: BusinessError) -> JobPayload:
        job = node_of(nodes.Job, error.job) if isinstance(error, batch.JobRunning) else None
        return cls(job=job, errors=[UserError.of(error)])


@strawberry.input(description="Publish or correct a year's average monthly wage (P1).")
class PublishAverageWageInput:
    year: int = strawberry.field(description="The contribution year.")
    average_wage: Money = strawberry.field(description="Yuan a month, more than 0.00.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@business_payload("The published value and the re-pricing job it started.")
class PublishAverageWagePayload:
    parameter: nodes.Parameter | None = strawberry.field(
        default=None, description="The AVERAGE_MONTHLY_WAGE value of the year."
    )
    job: nodes.Job | None = strawberry.field(
        default=None, description="The REPRICE_YEAR job re-pricing the months not yet paid."
    )


@strawberry.type
class BatchMutations:
    @business_mutation(
        description=(
            "Start the month-end debit of a month for the whole city (M4); at most one per month. Returns the job at "
            "once."
        ),
        extensions=[allow(Role.ADMIN)],
    )
    async def run_month_end(self, info: strawberry.Info, input: Annotated[RunMonthEndInput, INPUT]) -> JobPayload:
        return JobPayload(job=node_of(nodes.Job, await batch.start_month_end(info.context.viewer, input.month)))

    @business_mutation(
        description=(
            "Start the refresh of arrears interest to this month (P5); at most one a day. Returns the job at once."
        ),
        extensions=[allow(Role.ADMIN)],
    )
    async def recalculate_arrears(
        self, info: strawberry.Info, input: Annotated[RecalculateArrearsInput, INPUT]
    ) -> JobPayload:
        return JobPayload(job=node_of(nodes.Job, await batch.start_arrears_interest(info.context.viewer)))

    @business_mutation(
        description=(
            "Publish or correct a year's average monthly wage (P1) and start re-pricing its months not yet paid."
        ),
        extensions=[allow(Role.ADMIN)],
    )
    async def publish_average_wage(
        self, info: strawberry.Info, input: Annotated[PublishAverageWageInput, INPUT]
    ) -> PublishAverageWagePayload:
        parameter, job = await batch.publish_average_wage(info.context.viewer, input.year, input.average_wage)
        return PublishAverageWagePayload(parameter=node_of(nodes.Parameter, parameter), job=node_of(nodes.Job, job))

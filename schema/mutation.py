"""The root Mutation, assembled from per-area parts."""

from __future__ import annotations

import strawberry

from schema.access import AccessMutations
from schema.appointments import AppointmentMutations
from schema.batch import BatchMutations
from schema.employer import EmployerMutations
from schema.flexible import FlexibleMutations
from schema.passbook import PassbookMutations
from schema.registration import RegistrationMutations


@strawberry.type(description="Every business of the hall, one mutation each (docs/api.md 2-4).")
class Mutation(
    RegistrationMutations,
    AccessMutations,
    FlexibleMutations,
    PassbookMutations,
    BatchMutations,
    AppointmentMutations,
    EmployerMutations,
):
    pass

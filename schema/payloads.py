"""What every mutation returns besides its objects: the list of typed user errors (docs/api.md 2)."""

from __future__ import annotations

import strawberry

from domain.errors import BusinessError
from domain.errors import ErrorCode as DomainErrorCode

ErrorCode = strawberry.enum(DomainErrorCode, description="Stable codes of business-rule and validation failures.")


@strawberry.type(description="A business-rule or validation failure; nothing was changed.")
class UserError:
    field: str | None = strawberry.field(description="The input field at fault (camelCase path), if one is.")
    code: ErrorCode = strawberry.field(description="Stable code for programs.")
    message: str = strawberry.field(description="Explanation for a person.")

    @classmethod
    def of(cls, error: BusinessError) -> UserError:
        return cls(field=error.field, code=error.code, message=error.message)


IDEMPOTENCY_KEY = "Retrying with the same key returns the first result and changes nothing more (docs/api.md 3)."
INPUT = strawberry.argument(description="What to do; every mutation takes one input (docs/api.md 2).")

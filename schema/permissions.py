"""Permissions, declared once on each root field and mutation (docs/rules.md A6; docs/api.md 2).

``extensions=[allow(Role.CLERK, ...)]`` on a field: an anonymous caller gets UNAUTHENTICATED, a
signed-in caller of another role FORBIDDEN, both as top-level errors, and a refused mutation is
written to the audit trail. ``extensions=[public()]`` declares a field open to anyone. What a
permitted caller then sees is narrowed row by row (resolvers.scopes).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from graphql import OperationType
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension
from strawberry.permission import BasePermission, PermissionExtension

from domain.enums import AuditOutcome, Role
from services.common.audit import record

STAFF = (Role.CLERK, Role.REVIEWER, Role.ADMIN)
EVERY_ROLE = tuple(Role)


class SessionStillValid(SchemaExtension):
    """A WebSocket signs in once, at connection_init: check its session again before each
    operation, so that a logout, a password change, a revoked certificate or expiry ends it (A8).
    (Before each message it sends too, and a notice closes it: server.view.SessionBoundSocket.)"""

    async def on_operation(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        if isinstance(getattr(context, "request", None), WebSocket) and context.authorization is not None:
            await context.sign_in_again()
        yield


class SignedIn(BasePermission):
    message = "Sign in first: send Authorization: Bearer <token> from login."
    error_extensions = {"code": "UNAUTHENTICATED"}

    async def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        if info.context.viewer is not None:
            return True
        await _audit_refusal(info, kwargs, "not signed in")
        return False


class RoleIn(BasePermission):
    error_extensions = {"code": "FORBIDDEN"}

    def __init__(self, roles: tuple[Role, ...]) -> None:
        self.roles = frozenset(roles)
        self.message = "Your role may not do this; it is for " + ", ".join(sorted(r.value for r in self.roles)) + "."

    async def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        if info.context.viewer.role in self.roles:
            return True
        await _audit_refusal(info, kwargs, f"role {info.context.viewer.role.value} refused")
        return False


class DeclaredPermission(PermissionExtension):
    """A PermissionExtension that says which roles it lets in (None: anyone, anonymous included)."""

    def __init__(self, roles: tuple[Role, ...] | None) -> None:
        self.roles = None if roles is None else frozenset(roles)
        checks: list[BasePermission] = [] if roles is None else [SignedIn(), RoleIn(roles)]
        super().__init__(checks, use_directives=False)


def self_service() -> DeclaredPermission:
    """Flexible-employment self-service: the person online, or their community clerk at a kiosk.
    Whether the person may self-serve (A5: not the employed, nor the retired) is a business rule,
    answered in the payload alike to both (services.common.self_service)."""
    return DeclaredPermission((Role.PERSON, Role.CLERK))


def allow(*roles: Role) -> DeclaredPermission:
    if not roles:
        raise ValueError("name the roles allowed, or declare the field public()")
    return DeclaredPermission(roles)


def public() -> DeclaredPermission:
    return DeclaredPermission(None)


async def _audit_refusal(info: Any, arguments: dict[str, Any], detail: str) -> None:
    if info.operation.operation is not OperationType.MUTATION:
        return
    await record(
        info.context, operation=info.field_name, arguments=arguments, outcome=AuditOutcome.REFUSED, detail=detail
    )

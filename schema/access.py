"""Online-service access (A3-A6): granting it, certificates, signing in and out, passwords."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from tortoise.transactions import in_transaction

import models
from domain.enums import BusinessType, Role, TransactionStatus
from resolvers.inputs import decode_int_id
from resolvers.loaders import node_of
from schema import nodes
from schema.business_mutation import business_mutation, business_payload
from schema.payloads import IDEMPOTENCY_KEY, INPUT
from schema.permissions import EVERY_ROLE, allow, public
from services import access
from services.common.transactions import record_transaction
from services.common.viewer import Viewer

SHOWN_ONCE = "Shown once, in this answer only: it is stored hashed and a retry does not show it again."


@strawberry.input(
    description=(
        "Open online access for a registered person or employer after the commitment letter was signed (A3): give "
        "exactly one of personId and employerId."
    )
)
class GrantOnlineAccessInput:
    person_id: strawberry.ID | None = strawberry.field(
        default=None, description="The person (a clerk of their community grants it)."
    )
    employer_id: strawberry.ID | None = strawberry.field(
        default=None, description="The employer whose agent gets access (a reviewer of its district grants it)."
    )
    place: str = strawberry.field(description="The office where the commitment letter (网上办事承诺书) was signed.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@business_payload(
    "The new account's credentials, to hand over on paper.",
    transaction="The GRANT_ONLINE_ACCESS business.",
    errors="Why no access was granted; empty on success.",
)
class GrantOnlineAccessPayload:
    username: str | None = strawberry.field(default=None, description="The username to sign in with.")
    initial_password: str | None = strawberry.field(default=None, description=f"The first password. {SHOWN_ONCE}")
    certificate_password: str | None = strawberry.field(
        default=None, description=f"The password that installs a certificate on a device (A4). {SHOWN_ONCE}"
    )


@strawberry.input(description="Install a digital certificate on this device (A4).")
class InstallCertificateInput:
    username: str = strawberry.field(description="The account's username.")
    password: str = strawberry.field(description="The account's password.")
    certificate_password: str = strawberry.field(description="The certificate password issued with the account.")
    device_name: str = strawberry.field(
        description="A name for this device, to recognise it in the list of certificates."
    )
    idempotency_key: str | None = strawberry.field(
        default=None, description="Ignored: a device installs as often as it needs."
    )


@business_payload(
    "The device credential to keep on this device.", errors="Why nothing was installed; empty on success."
)
class InstallCertificatePayload:
    device_credential: str | None = strawberry.field(
        default=None, description=f"Send it with every login from this device. {SHOWN_ONCE}"
    )
    certificate: nodes.Certificate | None = strawberry.field(default=None, description="The installed certificate.")


@strawberry.input(description="Sign in: persons and employer agents also send their device credential (A4).")
class LoginInput:
    username: str = strawberry.field(description="The username.")
    password: str = strawberry.field(description="The password.")
    device_credential: str | None = strawberry.field(
        default=None, description="This device's credential from installCertificate."
    )
    idempotency_key: str | None = strawberry.field(
        default=None, description="Ignored: every login opens a session of its own."
    )


@business_payload(
    "A session token for Authorization: Bearer <token>.",
    errors="Why the sign-in failed; the same whether or not the username exists.",
)
class LoginPayload:
    token: str | None = strawberry.field(default=None, description="The bearer token.")
    expires_at: dt.datetime | None = strawberry.field(default=None, description="When the token stops working.")


@strawberry.input(description="End this session.")
class LogoutInput:
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@business_payload("The session has ended.", errors="Always empty.")
class LogoutPayload:
    pass


@strawberry.input(description="Choose a new password; every other session of the account ends.")
class ChangePasswordInput:
    old_password: str = strawberry.field(description="The current password.")
    new_password: str = strawberry.field(
        description="8 to 128 characters, with a letter and a digit, not the username."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@business_payload(
    "The password was changed.",
    transaction="The CHANGE_PASSWORD business, for persons and agents.",
    errors="Why the password stayed; empty on success.",
)
class ChangePasswordPayload:
    pass


@strawberry.input(description="Revoke one of your device certificates: that device signs in no more.")
class RevokeCertificateInput:
    certificate_id: strawberry.ID = strawberry.field(description="The certificate (from me.certificates).")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@business_payload(
    "The revoked certificate.",
    transaction="The REVOKE_CERTIFICATE business.",
    errors="Why nothing was revoked; empty on success.",
)
class RevokeCertificatePayload:
    certificate: nodes.Certificate | None = strawberry.field(default=None, description="The certificate, now revoked.")


async def _self_service(business_type: BusinessType, account: models.Account) -> models.BusinessTransaction | None:
    """A security business of a person or an agent, recorded in their district."""
    viewer = Viewer(
        account.id, account.username, account.role, person_id=account.person_id, employer_id=account.employer_id
    )
    if account.person_id is not None:
        district_id = (await models.Person.get(id=account.person_id)).district_id
    elif account.employer_id is not None:
        district_id = (await models.Employer.get(id=account.employer_id)).district_id
    else:
        return None
    return await record_transaction(
        business_type,
        viewer,
        district_id=district_id,
        person_id=account.person_id,
        employer_id=account.employer_id,
        status=TransactionStatus.COMPLETED,
    )


def _transaction(row: models.BusinessTransaction | None) -> nodes.BusinessTransaction | None:
    return None if row is None else node_of(nodes.BusinessTransaction, row)


@strawberry.type
class AccessMutations:
    @business_mutation(
        description=(
            "Grant online access (A3): a clerk to persons of their community, a reviewer to employers of their "
            "district."
        ),
        extensions=[allow(Role.CLERK, Role.REVIEWER)],
    )
    async def grant_online_access(
        self, info: strawberry.Info, input: Annotated[GrantOnlineAccessInput, INPUT]
    ) -> GrantOnlineAccessPayload:
        if (input.person_id is None) == (input.employer_id is None):
            raise access.AccessError(access.ErrorCode.INVALID_INPUT, "give either personId or employerId", "personId")
        person = employer = None
        if input.person_id is not None:
            person = await _subject(models.Person, decode_int_id(input.person_id, "Person", "personId"), "personId")
        else:
            employer = await _subject(
                models.Employer, decode_int_id(input.employer_id, "Employer", "employerId"), "employerId"
            )
        async with in_transaction():  # the account and its business, or neither
            granted = await access.grant_online_access(
                info.context.viewer, person=person, employer=employer, place=input.place
            )
            transaction = await record_transaction(
                BusinessType.GRANT_ONLINE_ACCESS,
                info.context.viewer,
                status=TransactionStatus.COMPLETED,
                district_id=(person or employer).district_id,
                person_id=person and person.id,
                employer_id=employer and employer.id,
                details={"username": granted.username, "place": input.place},
            )
        return GrantOnlineAccessPayload(
            username=granted.username,
            initial_password=granted.initial_password,
            certificate_password=granted.certificate_password,
            transaction=_transaction(transaction),
        )

    @business_mutation(description="Install a certificate on this device (A4).", extensions=[public()])
    async def install_certificate(
        self, info: strawberry.Info, input: Annotated[InstallCertificateInput, INPUT]
    ) -> InstallCertificatePayload:
        installed = await access.install_certificate(
            input.username, input.password, input.certificate_password, input.device_name, info.context.client_address
        )
        await _self_service(BusinessType.INSTALL_CERTIFICATE, await installed.certificate.account)
        return InstallCertificatePayload(
            device_credential=installed.device_credential, certificate=nodes.Certificate.of(installed.certificate)
        )

    @business_mutation(
        description="Sign in. Five failures in a row lock the username for 15 minutes (A6).", extensions=[public()]
    )
    async def login(self, info: strawberry.Info, input: Annotated[LoginInput, INPUT]) -> LoginPayload:
        result = await access.login(
            input.username, input.password, input.device_credential, info.context.client_address
        )
        return LoginPayload(token=result.token, expires_at=result.expires_at)

    @business_mutation(description="Sign out: the token stops working.", extensions=[allow(*EVERY_ROLE)])
    async def logout(self, info: strawberry.Info, input: Annotated[LogoutInput | None, INPUT] = None) -> LogoutPayload:
        await access.logout(info.context.viewer)
        return LogoutPayload()

    @business_mutation(
        description="Change the password; the account's other sessions end.", extensions=[allow(*EVERY_ROLE)]
    )
    async def change_password(
        self, info: strawberry.Info, input: Annotated[ChangePasswordInput, INPUT]
    ) -> ChangePasswordPayload:
        await access.change_password(info.context.viewer, input.old_password, input.new_password)
        account = await models.Account.get(id=info.context.viewer.account_id)
        return ChangePasswordPayload(
            transaction=_transaction(await _self_service(BusinessType.CHANGE_PASSWORD, account))
        )

    @business_mutation(
        description="Revoke one of your device certificates (A4); its sessions end.",
        extensions=[allow(Role.PERSON, Role.EMPLOYER_AGENT)],
    )
    async def revoke_certificate(
        self, info: strawberry.Info, input: Annotated[RevokeCertificateInput, INPUT]
    ) -> RevokeCertificatePayload:
        certificate_id = decode_int_id(input.certificate_id, "Certificate", "certificateId")
        certificate = await access.revoke_certificate(info.context.viewer, certificate_id)
        account = await models.Account.get(id=info.context.viewer.account_id)
        return RevokeCertificatePayload(
            certificate=nodes.Certificate.of(certificate),
            transaction=_transaction(await _self_service(BusinessType.REVOKE_CERTIFICATE, account)),
        )


async def _subject(model, key: int, field: str):
    found = await model.get_or_none(id=key)
    if found is None:
        raise access.AccessError(access.ErrorCode.NOT_FOUND, "no such registered person or employer", field)
    return found

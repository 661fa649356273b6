"""Registering persons and employers at an office (参保登记; A1, A2, E1)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

import models
from domain.enums import BusinessType, Gender, PersonCategory, RetirementClass, Role, TransactionStatus
from domain.errors import BusinessError, ErrorCode
from domain.identifiers import InvalidIdentifier, normalise_credit_code, parse_resident_id
from services.common import clock
from services.common.contact import phone_of
from services.common.transactions import record_transaction
from services.common.viewer import Viewer


@dataclass(frozen=True)
class PersonRegistration:
    id_number: str
    name: str
    community_id: int
    phone: str | None = None
    address: str | None = None
    archive_birth_date: dt.date | None = None
    retirement_class: RetirementClass = RetirementClass.WORKER


def _text(value: str, field: str, longest: int) -> str:
    text = value.strip()
    if not 1 <= len(text) <= longest or not text.isprintable():
        raise BusinessError(ErrorCode.INVALID_INPUT, f"give 1 to {longest} printable characters", field)
    return text


async def register_person(actor: Viewer, form: PersonRegistration) -> tuple[models.Person, models.BusinessTransaction]:
    """A clerk registers the people of their community, a reviewer those of their district."""
    try:
        resident = parse_resident_id(form.id_number)
    except InvalidIdentifier as exc:
        raise BusinessError(ErrorCode.INVALID_ID_NUMBER, str(exc), "idNumber") from None
    if resident.birth_date > clock.today():
        raise BusinessError(ErrorCode.INVALID_ID_NUMBER, "the birth date in the ID number is in the future", "idNumber")
    name = _text(form.name, "name", 64)
    community = await models.Community.get_or_none(id=form.community_id)
    if community is None or not _serves(actor, community):
        raise BusinessError(ErrorCode.OUT_OF_SCOPE, "you do not serve this community", "communityId")
    if form.archive_birth_date is not None and form.archive_birth_date > clock.today():
        raise BusinessError(ErrorCode.INVALID_INPUT, "an archive birth date is in the past", "archiveBirthDate")
    async with in_transaction() as connection:
        try:
            person = await models.Person.create(
                id_number=resident.number,
                name=name,
                birth_date=resident.birth_date,
                gender=Gender.MALE if resident.is_male else Gender.FEMALE,
                archive_birth_date=form.archive_birth_date if form.archive_birth_date != resident.birth_date else None,
                retirement_class=form.retirement_class,
                category=PersonCategory.UNINSURED,
                district_id=community.district_id,
                community_id=community.id,
                phone=None if form.phone is None or not form.phone.strip() else phone_of(form.phone),
                address=_optional(form.address, "address", 200),
                using_db=connection,
            )
        except IntegrityError:
            raise BusinessError(
                ErrorCode.ALREADY_REGISTERED, "a person with this ID number is registered", "idNumber"
            ) from None
        transaction = await record_transaction(
            BusinessType.REGISTER_PERSON,
            actor,
            district_id=community.district_id,
            person_id=person.id,
            status=TransactionStatus.COMPLETED,
            details={"name": name, "community_id": community.id},
            using_db=connection,
        )
    return person, transaction


async def register_employer(
    actor: Viewer, credit_code: str, name: str, district_id: int, address: str | None
) -> tuple[models.Employer, models.BusinessTransaction]:
    """A reviewer registers the employers of their district (E1)."""
    try:
        code = normalise_credit_code(credit_code)
    except InvalidIdentifier as exc:
        raise BusinessError(ErrorCode.INVALID_CREDIT_CODE, str(exc), "creditCode") from None
    district = await models.District.get_or_none(id=district_id)
    if district is None or (actor.role is Role.REVIEWER and actor.district_id != district.id):
        raise BusinessError(ErrorCode.OUT_OF_SCOPE, "you do not serve this district", "districtId")
    async with in_transaction() as connection:
        try:
            employer = await models.Employer.create(
                credit_code=code,
                name=_text(name, "name", 128),
                district_id=district.id,
                address=_optional(address, "address", 200),
                using_db=connection,
            )
        except IntegrityError:
            raise BusinessError(
                ErrorCode.ALREADY_REGISTERED, "an employer with this credit code is registered", "creditCode"
            ) from None
        transaction = await record_transaction(
            BusinessType.REGISTER_EMPLOYER,
            actor,
            district_id=district.id,
            employer_id=employer.id,
            status=TransactionStatus.COMPLETED,
            details={"name": employer.name},
            using_db=connection,
        )
    return employer, transaction


def _serves(actor: Viewer, community: models.Community) -> bool:
    if actor.role is Role.ADMIN:
        return True
    if actor.role is Role.CLERK:
        return actor.community_id == community.id
    return actor.role is Role.REVIEWER and actor.district_id == community.district_id


def _optional(value: str | None, field: str, longest: int) -> str | None:
    return None if value is None or not value.strip() else _text(value, field, longest)

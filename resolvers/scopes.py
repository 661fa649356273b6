"""Row scoping (A6): which rows a viewer may read, as a filter every loader and list applies.

A person sees themself; an employer agent their employer, the persons it employs or employed and
what it paid for them (not their own flexible insurance nor their passbook); a clerk the persons of
their community; a reviewer their district: its persons, its employers and their staff; an
administrator everything; a bank operator passbooks; an analyst nothing personal. Offices and
their slots are open to every signed-in viewer; an appointment to its subject, the clerk of the
person's community and the reviewers of the office's district. Rows out of scope read as absent.
"""

from __future__ import annotations

from typing import Any

from tortoise.expressions import Q, Subquery
from tortoise.models import Model

import models
from domain.enums import Role

NOTHING = Q(id__in=[])


def visible_persons(viewer: Any) -> Q | None:
    """None: every person."""
    role = viewer.role if viewer else None
    if role is Role.ADMIN:
        return None
    if role is Role.REVIEWER:  # the district's residents, and the staff of its employers (E2)
        staff = models.Employment.filter(employer__district_id=viewer.district_id).values("person_id")
        return Q(district_id=viewer.district_id) | Q(id__in=Subquery(staff))
    if role is Role.CLERK:
        return Q(community_id=viewer.community_id)
    if role is Role.PERSON:
        return Q(id=viewer.person_id)
    if role is Role.EMPLOYER_AGENT:
        return Q(id__in=Subquery(models.Employment.filter(employer_id=viewer.employer_id).values("person_id")))
    return NOTHING


def _of_visible_persons(viewer: Any, column: str = "person_id") -> Q | None:
    persons = visible_persons(viewer)
    if persons is None:
        return None
    if persons is NOTHING:
        return NOTHING
    return Q(**{f"{column}__in": Subquery(models.Person.filter(persons).values("id"))})


def visible_employers(viewer: Any) -> Q | None:
    role = viewer.role if viewer else None
    if role is Role.ADMIN:
        return None
    if role is Role.REVIEWER:  # the district's employers, and those employing its residents
        employing = models.Employment.filter(person__district_id=viewer.district_id).values("employer_id")
        return Q(district_id=viewer.district_id) | Q(id__in=Subquery(employing))
    if role is Role.EMPLOYER_AGENT:
        return Q(id=viewer.employer_id)
    if role in (Role.PERSON, Role.CLERK):  # the employers of the persons they see
        return Q(id__in=Subquery(models.Employment.filter(_of_visible_persons(viewer)).values("employer_id")))
    return NOTHING


def visible_transactions(viewer: Any) -> Q | None:
    role = viewer.role if viewer else None
    if role is Role.ADMIN:
        return None
    if role is Role.REVIEWER:
        return Q(district_id=viewer.district_id)
    if role is Role.EMPLOYER_AGENT:
        return Q(employer_id=viewer.employer_id)
    if role in (Role.PERSON, Role.CLERK):
        return _of_visible_persons(viewer)
    return NOTHING


def visible_audit_events(viewer: Any) -> Q | None:
    """Administrators read the whole trail; a reviewer what the accounts of their district did."""
    role = viewer.role if viewer else None
    if role is Role.ADMIN:
        return None
    if role is Role.REVIEWER:
        district = viewer.district_id
        return (
            Q(account__district_id=district)
            | Q(account__person__district_id=district)
            | Q(account__employer__district_id=district)
            | Q(account__community__district_id=district)
        )
    return NOTHING


def _passbook_rows(viewer: Any, column: str) -> Q | None:
    """A person's own money: the bank keeps it, the employer does not see it."""
    if viewer is not None and viewer.role is Role.BANK:
        return None
    if viewer is not None and viewer.role is Role.EMPLOYER_AGENT:
        return NOTHING
    return _of_visible_persons(viewer, column)


def _own_business(viewer: Any, column: str = "person_id") -> Q | None:
    """A person's own orders and applications: not their employer's to see."""
    if viewer is not None and viewer.role is Role.EMPLOYER_AGENT:
        return NOTHING
    return _of_visible_persons(viewer, column)


def _insurance_rows(viewer: Any, employer_column: str) -> Q | None:
    """An agent sees the insurance its employer pays, not the staff's own flexible insurance."""
    if viewer is not None and viewer.role is Role.EMPLOYER_AGENT:
        return Q(**{employer_column: viewer.employer_id})
    return _of_visible_persons(viewer)


def _employments(viewer: Any) -> Q | None:
    role = viewer.role if viewer else None
    if role is Role.EMPLOYER_AGENT:
        return Q(employer_id=viewer.employer_id)
    if role is Role.REVIEWER:
        return Q(employer__district_id=viewer.district_id) | Q(person__district_id=viewer.district_id)
    return _of_visible_persons(viewer)


def visible_appointments(viewer: Any) -> Q | None:
    """Q1: the subject's own visits, the clerk's community's persons', the visits kept at the
    reviewer's district's offices (whoever they are for)."""
    role = viewer.role if viewer else None
    if role is Role.ADMIN:
        return None
    if role is Role.REVIEWER:
        return Q(slot__office__district_id=viewer.district_id)
    # An account bound to nothing sees nothing: person_id=None would match every employer's visit.
    if role is Role.EMPLOYER_AGENT and viewer.employer_id is not None:
        return Q(employer_id=viewer.employer_id)
    if role is Role.PERSON and viewer.person_id is not None:
        return Q(person_id=viewer.person_id)
    if role is Role.CLERK:
        return _of_visible_persons(viewer)
    return NOTHING


def _signed_in(viewer: Any) -> Q | None:
    return None if viewer is not None else NOTHING


def _administrators(viewer: Any) -> Q | None:
    return None if viewer is not None and viewer.role is Role.ADMIN else NOTHING


SCOPES = {
    models.Person: visible_persons,
    models.Employer: visible_employers,
    models.BusinessTransaction: visible_transactions,
    models.Employment: _employments,
    models.Policy: lambda viewer: _insurance_rows(viewer, "employer_id"),
    models.ContributionPeriod: lambda viewer: _insurance_rows(viewer, "policy__employer_id"),
    models.Arrear: lambda viewer: _insurance_rows(viewer, "period__policy__employer_id"),
    models.Passbook: lambda viewer: _passbook_rows(viewer, "person_id"),
    models.LedgerEntry: lambda viewer: _passbook_rows(viewer, "passbook__person_id"),
    models.PaymentOrder: _own_business,
    models.PaymentOrderLine: lambda viewer: _own_business(viewer, "order__person_id"),
    models.MedicalCardApplication: _own_business,
    models.District: _signed_in,
    models.Community: _signed_in,
    models.Office: _signed_in,  # offices and their free places are no one's personal data
    models.AppointmentSlot: _signed_in,
    models.Appointment: visible_appointments,
    models.Parameter: lambda viewer: None,  # the rules are public
    models.Job: _administrators,
    models.AuditEvent: visible_audit_events,
    models.Certificate: lambda viewer: (
        None if viewer and viewer.role is Role.ADMIN else Q(account_id=viewer.account_id) if viewer else NOTHING
    ),
}


def scope(model: type[Model], viewer: Any) -> Q | None:
    """The filter of the rows of ``model`` the viewer may read; None when all of them."""
    return SCOPES[model](viewer)


def scoped(queryset, model: type[Model], viewer: Any):
    condition = scope(model, viewer)
    return queryset if condition is None else queryset.filter(condition)

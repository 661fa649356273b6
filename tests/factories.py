"""Small, exact test data: each test builds just what it asserts on."""

from __future__ import annotations

import datetime as dt
import io
import itertools
from decimal import Decimal
from functools import cache

from PIL import Image
from skimage import data as skimage_data

import models
from domain.enums import (
    ArrearStatus,
    Channel,
    Gender,
    InsuranceType,
    LedgerKind,
    PaidVia,
    ParameterCode,
    PeriodStatus,
    PersonCategory,
    Role,
)
from domain.identifiers import make_credit_code, make_resident_id
from domain.months import Month
from services.common import clock
from services.common.viewer import Viewer

_sequence = itertools.count(1)


async def district(code: str = "420102", name: str = "江岸区") -> models.District:
    found = await models.District.get_or_none(code=code)
    return found or await models.District.create(code=code, name=name)


async def community(home: models.District, name: str = "百步亭社区") -> models.Community:
    return await models.Community.create(district=home, code=f"{home.code}{next(_sequence):03d}", name=name)


async def person(
    home: models.Community,
    name: str = "张伟",
    category: PersonCategory = PersonCategory.FLEXIBLE,
    birth: dt.date = dt.date(1980, 5, 17),
    male: bool = True,
) -> models.Person:
    number = next(_sequence) % 499  # the sequence has three digits
    sequence = number * 2 + 1 if male else number * 2 + 2
    area = (await home.district).code
    return await models.Person.create(
        id_number=make_resident_id(area, birth, sequence),
        name=name,
        gender=Gender.MALE if male else Gender.FEMALE,
        birth_date=birth,
        category=category,
        district_id=home.district_id,
        community=home,
    )


async def employer(home: models.District, name: str = "武汉江城物流有限公司") -> models.Employer:
    organisation = f"{next(_sequence):08d}"
    return await models.Employer.create(
        credit_code=make_credit_code(f"9142{home.code[2:6]}", organisation),
        name=name,
        district=home,
    )


async def flexible_pension(owner: models.Person, start: Month, grade: str = "1.00") -> models.Policy:
    return await models.Policy.create(
        person=owner,
        insurance_type=InsuranceType.PENSION,
        channel=Channel.FLEXIBLE,
        grade=Decimal(grade),
        start_month=start.to_int(),
    )


async def flexible_medical(owner: models.Person, start: Month) -> models.Policy:
    return await models.Policy.create(
        person=owner,
        insurance_type=InsuranceType.MEDICAL,
        channel=Channel.FLEXIBLE,
        start_month=start.to_int(),
    )


async def periods(
    policy: models.Policy,
    first: Month,
    count: int,
    base: str,
    rate: str,
    amount: str,
    status: PeriodStatus = PeriodStatus.PAID,
) -> list[models.ContributionPeriod]:
    rows = [
        models.ContributionPeriod(
            policy_id=policy.id,
            person_id=policy.person_id,
            month=first.plus(i).to_int(),
            insurance_type=policy.insurance_type,
            channel=policy.channel,
            base=Decimal(base),
            rate=Decimal(rate),
            amount=Decimal(amount),
            status=status,
            paid_via=PaidVia.PASSBOOK_DEBIT if status == PeriodStatus.PAID else None,
            paid_at=clock.now() if status == PeriodStatus.PAID else None,
        )
        for i in range(count)
    ]
    await models.ContributionPeriod.bulk_create(rows)
    months = [row.month for row in rows]
    return await models.ContributionPeriod.filter(policy_id=policy.id, month__in=months).order_by("month")


async def arrears(period_rows: list[models.ContributionPeriod], status: ArrearStatus = ArrearStatus.OPEN) -> None:
    await models.Arrear.bulk_create(
        [
            models.Arrear(
                period_id=p.id,
                person_id=p.person_id,
                month=p.month,
                insurance_type=p.insurance_type,
                principal=p.amount,
                status=status,
            )
            for p in period_rows
        ]
    )


async def passbook(owner: models.Person, deposits: list[tuple[str, str]]) -> models.Passbook:
    """A passbook with deposits given as (bank reference, amount)."""
    book = await models.Passbook.create(person=owner, account_number=f"6221{owner.id:012d}")
    balance = Decimal("0.00")
    for reference, amount in deposits:
        balance += Decimal(amount)
        await models.LedgerEntry.create(
            passbook=book,
            kind=LedgerKind.DEPOSIT,
            amount=Decimal(amount),
            balance_after=balance,
            month=clock.this_month().to_int(),
            bank_reference=reference,
            booked_at=clock.now(),
        )
    book.balance = balance
    await book.save()
    return book


async def viewer(
    role: Role,
    *,
    person: models.Person | None = None,
    employer: models.Employer | None = None,
    community: models.Community | None = None,
    district: models.District | None = None,
) -> Viewer:
    """An account of ``role`` bound to what it acts for, as the viewer of a request."""
    account = await models.Account.create(
        username=f"{role.value.lower()}{next(_sequence)}",
        password_hash="not-used-in-this-test",
        role=role,
        person=person,
        employer=employer,
        community=community,
        district=district or (await community.district if community else None),
    )
    if person is not None:
        community_id, district_id = person.community_id, person.district_id
    else:
        community_id = community.id if community else None
        district_id = account.district_id if account.district_id else (employer.district_id if employer else None)
    return Viewer(
        account.id,
        account.username,
        role,
        person_id=account.person_id,
        employer_id=account.employer_id,
        community_id=community_id,
        district_id=district_id,
    )


async def average_wage(year: int, amount: str) -> models.Parameter:
    """Publish the average monthly wage of ``year`` (P1)."""
    return await models.Parameter.create(
        code=ParameterCode.AVERAGE_MONTHLY_WAGE, effective_from=year * 100 + 1, value=Decimal(amount)
    )


@cache
def portrait(width: int, height: int) -> Image.Image:
    """scikit-image's astronaut (one frontal face on a plain backdrop) scaled to ``width`` wide and
    cut to ``height`` from the top."""
    face = Image.fromarray(skimage_data.astronaut())
    return face.resize((width, width), Image.Resampling.BICUBIC).crop((0, 0, width, height))


def face_photo(width: int = 1600, height: int = 1200) -> bytes:
    """A JPEG photo of one face, as a phone would send it."""
    buffer = io.BytesIO()
    portrait(width, height).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def photo(image_format: str = "JPEG", size: tuple[int, int] = (600, 800)) -> bytes:
    """A small real image with no face: the upload check passes it, the photo job refuses it."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (235, 235, 235)).save(buffer, format=image_format)
    return buffer.getvalue()

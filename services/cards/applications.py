"""Medical-card applications (制卡申请, F2): the uploaded photo is kept, checked later (P7), and
the person visits the district office by the 20th to finish the card (M3)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tortoise.transactions import in_transaction

import models
from domain.enums import (
    BusinessType,
    CardApplicationStatus,
    Channel,
    InsuranceType,
    JobKind,
    PolicyStatus,
    TransactionStatus,
)
from domain.errors import BusinessError, ErrorCode
from domain.months import LOCAL_TZ, Month, is_on_time
from jobs.queue import create_job, queue_committed
from services.cards import photos as card_photos
from services.common import clock
from services.common.self_service import locked_subject
from services.common.transactions import record_transaction
from services.common.viewer import Viewer
from settings import get_settings

OPEN_APPLICATIONS = (
    CardApplicationStatus.PHOTO_PENDING,
    CardApplicationStatus.PHOTO_ACCEPTED,
    CardApplicationStatus.PHOTO_REJECTED,
)
EXTENSIONS = {"JPEG": "jpg", "PNG": "png"}


def visit_deadline(today: dt.date) -> dt.date:
    """F2: by the 20th of this month, or of next month when the application is made after the 20th."""
    month = Month.of(today)
    return (month if is_on_time(today) else month.plus(1)).deadline()


def checked_photo(photo: bytes | None) -> card_photos.UploadedImage:
    """The cheap check made at upload time; the full check and normalisation run as a job."""
    if photo is None:
        raise BusinessError(
            ErrorCode.PHOTO_REQUIRED, "medical insurance needs an electronic photo for the card (F2)", "photo"
        )
    try:
        return card_photos.check_upload(photo)
    except card_photos.PhotoRejected as rejection:
        raise BusinessError(ErrorCode.INVALID_PHOTO, rejection.message, "photo") from None


async def open_application(
    person: models.Person, transaction: models.BusinessTransaction, photo: bytes, image: card_photos.UploadedImage
) -> tuple[models.MedicalCardApplication, models.Job]:
    """Inside the caller's transaction: the application, its original photo stored beside it, and
    the QUEUED job that will check the photo, committed together."""
    await refuse_over_daily_limit(person)
    application = await models.MedicalCardApplication.create(
        person_id=person.id, transaction_id=transaction.id, visit_deadline=visit_deadline(clock.today())
    )
    application.original_photo = _store_original(application.id, photo, image.format)
    await application.save(update_fields=["original_photo", "updated_at"])
    job = await create_job(
        JobKind.CARD_PHOTO, {"application_id": application.id}, dedupe_key=f"card-photo:{application.id}"
    )
    return application, job


async def refuse_over_daily_limit(person: models.Person) -> None:
    """At most CARD_APPLICATIONS_PER_DAY applications a person a day, however made (enrollment or
    a new card): each stores a photo and queues a check. Counted from the database, after the
    caller's lock on the person's row, so that it holds across server processes."""
    limit = get_settings().card_applications_per_day
    midnight = dt.datetime.combine(clock.today(), dt.time(), LOCAL_TZ)
    made = await models.MedicalCardApplication.filter(
        person_id=person.id,
        transaction__submitted_at__gte=midnight,
        transaction__submitted_at__lt=midnight + dt.timedelta(days=1),
    ).count()
    if made >= limit:
        raise BusinessError(
            ErrorCode.TOO_MANY_ATTEMPTS,
            f"at most {limit} medical-card applications a day: apply again tomorrow",
            "personId",
        )


async def queue_photo_check(job: models.Job) -> None:
    """After the commit, so that the worker sees the application. Should the queue be down, the job
    stays QUEUED and a worker's sweep queues it."""
    await queue_committed(job)


async def apply_medical_card(
    actor: Viewer, person_id: int, photo: bytes | None
) -> tuple[models.MedicalCardApplication, models.BusinessTransaction]:
    """A new card with a new photo for a person insured for medical care (lost card, photo refused).
    Earlier unfinished applications expire: only the newest photo makes a card."""
    image = checked_photo(photo)
    async with in_transaction():
        person = await locked_subject(actor, person_id)
        insured = await models.Policy.exists(
            person_id=person.id,
            insurance_type=InsuranceType.MEDICAL,
            channel=Channel.FLEXIBLE,
            status=PolicyStatus.ACTIVE,
        )
        if not insured:
            raise BusinessError(
                ErrorCode.NOT_ENROLLED,
                "a medical card is for persons enrolled in flexible medical insurance",
                "personId",
            )
        await models.MedicalCardApplication.filter(person_id=person.id, status__in=OPEN_APPLICATIONS).update(
            status=CardApplicationStatus.EXPIRED, updated_at=clock.now()
        )
        transaction = await record_transaction(
            BusinessType.APPLY_MEDICAL_CARD,
            actor,
            district_id=person.district_id,
            person_id=person.id,
            status=TransactionStatus.SUBMITTED,
            details={"photo_format": image.format, "photo_bytes": image.byte_count},
        )
        application, job = await open_application(person, transaction, photo, image)
    await queue_photo_check(job)
    return application, transaction


def _store_original(application_id: int, photo: bytes, image_format: str) -> str:
    """The original upload is kept as received, named by its application."""
    folder = Path(get_settings().media_dir) / "card-photos" / "originals"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{application_id}.{EXTENSIONS[image_format]}"
    path.write_bytes(photo)
    return str(path)

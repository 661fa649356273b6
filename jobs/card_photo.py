"""The medical-card photo job (F2, P7): check and normalise an application's uploaded photo."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import models
from domain.enums import CardApplicationStatus
from jobs.runner import Progress
from services.cards import photos as card_photos
from services.cards.standard import photo_standard_in_force
from services.common import clock
from settings import get_settings


def card_photo_folder() -> Path:
    return Path(get_settings().media_dir) / "card-photos" / "cards"


async def check_card_photo(job: models.Job, progress: Progress) -> dict[str, Any]:
    """Accept the photo, stored normalised and named by the ID number, or reject it with a reason
    the person understands. Only a PHOTO_PENDING application changes: a rerun changes nothing."""
    application = await models.MedicalCardApplication.get_or_none(id=job.params["application_id"])
    if application is None:
        raise LookupError(f"medical-card application {job.params['application_id']} does not exist")
    if application.status is not CardApplicationStatus.PHOTO_PENDING:
        return {"status": application.status.value, "unchanged": True}
    person = await models.Person.get(id=application.person_id)
    original = Path(application.original_photo).read_bytes()
    standard = await photo_standard_in_force()  # P7 as the parameter table has it this month
    try:  # decoding and face detection hold the CPU: off the event loop
        photo = await asyncio.to_thread(card_photos.normalise, original, person.id_number, standard)
    except card_photos.PhotoRejected as rejection:
        await _decide(application, CardApplicationStatus.PHOTO_REJECTED, rejection_reason=rejection.message)
        return {"status": "PHOTO_REJECTED", "problem": rejection.reason_code.value}
    await progress(0.8)
    path = _store(photo)
    await _decide(application, CardApplicationStatus.PHOTO_ACCEPTED, card_photo=str(path))
    return {"status": "PHOTO_ACCEPTED", "bytes": len(photo.jpeg), "file": path.name}


def _store(photo: card_photos.CardPhoto) -> Path:
    """Written beside, then renamed: a reader never sees half a file."""
    folder = card_photo_folder()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / photo.filename
    partial = path.with_suffix(".part")
    partial.write_bytes(photo.jpeg)
    os.replace(partial, path)
    return path


async def _decide(application: models.MedicalCardApplication, status: CardApplicationStatus, **changes: Any) -> None:
    await models.MedicalCardApplication.filter(id=application.id, status=CardApplicationStatus.PHOTO_PENDING).update(
        status=status, updated_at=clock.now(), **changes
    )

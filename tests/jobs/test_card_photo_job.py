"""The medical-card photo job (F2, P7): an enrollment's photo is checked after the commit, and
the application is accepted with a card photo named by the ID number, or rejected with a reason."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import models
from domain.enums import CardApplicationStatus, InsuranceType, JobStatus, ParameterCode, PersonCategory, Role
from domain.identifiers import make_resident_id
from domain.parameters import CARD_PHOTO_STANDARD
from jobs.queue import ArqQueue, use_queue
from services import flexible
from services.cards.applications import apply_medical_card
from services.common import clock
from tests import factories, hostile_photos

pytestmark = pytest.mark.usefixtures("db")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def applicant():
    await factories.average_wage(2026, "8000.00")
    home = await factories.community(await factories.district())
    person = await factories.person(home, name="林娜", male=False, category=PersonCategory.UNINSURED)
    # An ID number whose check character is X: the card photo is named with an upper-case X (P7).
    sequence = next(s for s in range(2, 999, 2) if make_resident_id("420102", dt.date(1990, 5, 17), s).endswith("X"))
    person.id_number = make_resident_id("420102", dt.date(1990, 5, 17), sequence)
    await person.save(update_fields=["id_number"])
    return person, await factories.viewer(Role.PERSON, person=person)


async def enroll(applicant, photo: bytes) -> models.MedicalCardApplication:
    person, me = applicant
    done = await flexible.enroll(me, person.id, [InsuranceType.MEDICAL], None, None, photo)
    return done.card_application


async def test_a_photo_with_one_face_is_accepted_and_stored_by_id_number(applicant, held_jobs):
    application = await enroll(applicant, factories.face_photo())
    job = await models.Job.get(kind="CARD_PHOTO")
    assert (job.status, job.params) == (JobStatus.QUEUED, {"application_id": application.id})
    await held_jobs.run_all()
    checked = await models.MedicalCardApplication.get(id=application.id)
    assert checked.status is CardApplicationStatus.PHOTO_ACCEPTED and checked.rejection_reason is None
    card = Path(checked.card_photo)
    assert card.name == f"{applicant[0].id_number}.jpg" and card.name.endswith("X.jpg")
    assert 14 * 1024 <= card.stat().st_size <= 40 * 1024
    with Image.open(card) as image:
        assert (image.format, image.size, image.mode) == ("JPEG", (358, 441), "RGB")
    assert Path(checked.original_photo).read_bytes() == factories.face_photo()  # the original is kept
    job = await models.Job.get(id=job.id)
    assert job.status is JobStatus.SUCCEEDED and job.result["status"] == "PHOTO_ACCEPTED"


async def test_a_photo_without_a_face_is_rejected_with_a_reason_a_person_understands(applicant, held_jobs):
    application = await enroll(applicant, factories.photo())
    await held_jobs.run_all()
    checked = await models.MedicalCardApplication.get(id=application.id)
    assert checked.status is CardApplicationStatus.PHOTO_REJECTED and checked.card_photo is None
    assert "no face" in checked.rejection_reason
    job = await models.Job.get(kind="CARD_PHOTO")
    assert (job.status, job.result) == (JobStatus.SUCCEEDED, {"status": "PHOTO_REJECTED", "problem": "NO_FACE"})


async def test_the_photo_is_checked_to_the_standard_in_force(applicant, held_jobs):
    """An administrator publishes another standard (P7) in the parameter table: the job follows it."""
    one_inch = {
        **CARD_PHOTO_STANDARD,
        "width": 295,
        "height": 413,
        "face_width_px": 170,
        "max_bytes": 30 * 1024,
        "min_bytes": 10 * 1024,
    }
    await models.Parameter.create(
        code=ParameterCode.CARD_PHOTO_STANDARD, effective_from=clock.this_month().to_int(), value_json=one_inch
    )
    application = await enroll(applicant, factories.face_photo())
    await held_jobs.run_all()
    checked = await models.MedicalCardApplication.get(id=application.id)
    assert checked.status is CardApplicationStatus.PHOTO_ACCEPTED
    assert 10 * 1024 <= Path(checked.card_photo).stat().st_size <= 30 * 1024
    with Image.open(checked.card_photo) as image:
        assert image.size == (295, 413)


async def test_a_superseded_application_is_left_as_it_is(applicant, held_jobs):
    person, me = applicant
    first = await enroll(applicant, factories.face_photo())
    await apply_medical_card(me, person.id, factories.photo("PNG"))
    await held_jobs.run_all()
    assert (await models.MedicalCardApplication.get(id=first.id)).status is CardApplicationStatus.EXPIRED
    results = await models.Job.filter(kind="CARD_PHOTO").order_by("created_at").values_list("result", flat=True)
    assert results == [{"status": "EXPIRED", "unchanged": True}, {"status": "PHOTO_REJECTED", "problem": "NO_FACE"}]


async def test_a_costly_photo_stored_before_the_upload_check_knew_it_is_rejected_unread(applicant, held_jobs):
    """An original kept from before the check refused it (the probe's 170 KB white PNG of 6300 x
    6300, 475 MB to decode): the job refuses it from its header, as the upload now would."""
    application = await enroll(applicant, factories.face_photo())
    Path(application.original_photo).write_bytes(hostile_photos.white_rgba_png())
    await held_jobs.run_all()
    checked = await models.MedicalCardApplication.get(id=application.id)
    assert checked.status is CardApplicationStatus.PHOTO_REJECTED and checked.card_photo is None
    assert checked.rejection_reason == "a PNG photo may have at most 6 megapixels: send it as a JPEG"
    job = await models.Job.get(kind="CARD_PHOTO")
    assert (job.status, job.result) == (JobStatus.SUCCEEDED, {"status": "PHOTO_REJECTED", "problem": "TOO_MANY_PIXELS"})


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (REDIS_URL)")
async def test_an_arq_worker_checks_the_photo(applicant, arq_settings):
    settings = arq_settings
    queue_name = settings.job_queue_name
    queue = ArqQueue(settings)
    use_queue(queue)
    worker = None
    try:
        application = await enroll(applicant, factories.face_photo())
        environment = {**os.environ, "DATABASE_URL": settings.database_url, "JOB_QUEUE_NAME": queue_name}
        worker = subprocess.Popen(
            [sys.executable, "main.py", "worker"],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(300):
            checked = await models.MedicalCardApplication.get(id=application.id)
            if checked.status is not CardApplicationStatus.PHOTO_PENDING:
                break
            await asyncio.sleep(0.1)
        assert checked.status is CardApplicationStatus.PHOTO_ACCEPTED
        assert Path(checked.card_photo).name == f"{applicant[0].id_number}.jpg"
    finally:
        use_queue(None)
        await queue.close()
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=10)

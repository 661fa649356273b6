"""Photos made to cost the server memory, sent through the graph (F2, P7): refused at upload with
INVALID_PHOTO and a reason, nothing stored, no job queued; never an internal error."""

from __future__ import annotations

import pytest

import models
from domain.enums import PersonCategory, Role
from tests import factories
from tests import hostile_photos as hostile
from tests.graphql_client import run

pytestmark = pytest.mark.usefixtures("db")

CARD = """mutation Card($input: ApplyMedicalCardInput!) { applyMedicalCard(input: $input) {
  cardApplication { status } errors { field code message } } }"""
ENROLL = """mutation Enroll($input: EnrollFlexibleInput!) { enrollFlexible(input: $input) {
  cardApplication { status } errors { field code message } } }"""

COSTLY = {
    "the probe's white 6300 x 6300 RGBA PNG": (hostile.white_rgba_png, "at most 6 megapixels"),
    "16-bit grey PNG": (hostile.grey16_png, "8-bit colour"),
    "animated PNG": (hostile.animated_png, "still image"),
    "48 MB of PNG text": (hostile.text_bomb_png, "too much text"),
    "10,001 PNG chunks": (hostile.many_chunks_png, "too many parts"),
    "CMYK JPEG": (hostile.cmyk_jpeg, "CMYK"),
    "progressive JPEG of 54 MB of coefficients": (
        lambda: hostile.jpeg_header_only(3000, 3000, 0xC2, sampling=(0x11, 0x11, 0x11)),
        "progressive",
    ),
}


@pytest.fixture
async def person():
    await factories.average_wage(2026, "8000.00")
    home = await factories.community(await factories.district())
    person = await factories.person(home, name="周敏", category=PersonCategory.UNINSURED)
    return await factories.viewer(Role.PERSON, person=person)


async def stored(media_dir) -> tuple:
    return (
        await models.MedicalCardApplication.all().count(),
        await models.BusinessTransaction.all().count(),
        await models.Policy.all().count(),
        await models.Job.all().count(),
        sorted(media_dir.rglob("*")),
    )


@pytest.mark.parametrize("name", COSTLY)
async def test_a_costly_photo_is_refused_at_upload_and_changes_nothing(person, media_dir, name):
    make, words = COSTLY[name]
    before = await stored(media_dir)
    enrolment = await run(ENROLL, viewer=person, input={"insuranceTypes": ["MEDICAL"], "photo": make()})
    assert "errors" not in enrolment  # no internal error: a refusal in the payload
    [error] = enrolment["data"]["enrollFlexible"]["errors"]
    assert (error["field"], error["code"]) == ("photo", "INVALID_PHOTO") and words in error["message"]
    assert await stored(media_dir) == before

    await run(ENROLL, viewer=person, input={"insuranceTypes": ["MEDICAL"], "photo": factories.photo()})
    before = await stored(media_dir)
    card = await run(CARD, viewer=person, input={"photo": make()})
    assert "errors" not in card
    [error] = card["data"]["applyMedicalCard"]["errors"]
    assert (error["field"], error["code"]) == ("photo", "INVALID_PHOTO") and words in error["message"]
    assert await stored(media_dir) == before

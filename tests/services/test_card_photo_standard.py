"""The card-photo standard (P7) is a parameter: the photo check follows the value in force, not the
default written in the code."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from PIL import Image

import models
from domain.enums import ParameterCode
from domain.identifiers import make_resident_id
from domain.months import Month
from domain.parameters import CARD_PHOTO_STANDARD
from services.cards.photos import DEFAULT_STANDARD, PhotoStandard, normalise
from services.cards.standard import photo_standard_in_force
from services.common import clock
from tests import factories

pytestmark = pytest.mark.usefixtures("db")
ID_NUMBER = make_resident_id("420102", dt.date(1990, 5, 17), 3)

# A one-inch photo (一寸照), as an administrator would publish it.
ONE_INCH = {
    **CARD_PHOTO_STANDARD,
    "width": 295,
    "height": 413,
    "face_width_px": 170,
    "face_width_tolerance_px": 12,
    "min_bytes": 10 * 1024,
    "max_bytes": 30 * 1024,
}


async def publish(value: dict, month: Month) -> None:
    """A new value of the standard from ``month``, as a new row of the parameter table."""
    await models.Parameter.create(
        code=ParameterCode.CARD_PHOTO_STANDARD, effective_from=month.to_int(), value_json=value, note="one-inch photos"
    )


async def test_the_standard_in_force_is_the_parameters_latest_value():
    this_month = clock.this_month()
    assert await photo_standard_in_force() == DEFAULT_STANDARD
    await publish(ONE_INCH, this_month)
    assert await photo_standard_in_force() == PhotoStandard(295, 413, 170, 12, 10 * 1024, 30 * 1024)
    assert await photo_standard_in_force(this_month.plus(-1)) == DEFAULT_STANDARD


async def test_the_photo_check_follows_the_parameter():
    before = normalise(factories.face_photo(), ID_NUMBER, await photo_standard_in_force())
    with Image.open(io.BytesIO(before.jpeg)) as image:
        assert image.size == (358, 441) and before.face_box[2] == 207
    await publish(ONE_INCH, clock.this_month())
    after = normalise(factories.face_photo(), ID_NUMBER, await photo_standard_in_force())
    with Image.open(io.BytesIO(after.jpeg)) as image:
        assert (image.format, image.size, image.mode) == ("JPEG", (295, 413), "RGB")
    assert after.face_box[2] == 170 and 10 * 1024 <= len(after.jpeg) <= 30 * 1024


def test_a_standard_the_normalisation_cannot_meet_is_refused():
    with pytest.raises(ValueError, match="format"):
        PhotoStandard.of({**CARD_PHOTO_STANDARD, "format": "PNG"})
    with pytest.raises(ValueError):
        PhotoStandard.of({**CARD_PHOTO_STANDARD, "min_bytes": 50 * 1024})
    with pytest.raises(ValueError):
        PhotoStandard.of({key: value for key, value in CARD_PHOTO_STANDARD.items() if key != "width"})

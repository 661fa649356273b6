"""The memory of a photo check (F2, P7), measured as bytes: how far a fresh process's resident
memory rises above where it stood while it checks one file (at upload, then in the job), after it
has checked an ordinary photo once, as a server has. Linux only: the peak is reset through
/proc/self/clear_refs and read as VmHWM. glibc is told to hand every large buffer back when freed,
so that one kept from the warming-up does not hide a buffer of the check.

The bound: a check decodes at most MAX_DECODED_PIXELS (6 megapixels, 24 MB in Pillow), at most
twice that while an EXIF rotation or a transparent background is undone, so 64 MiB leaves room
for the rest (the grey copy, OpenCV). Measured: 46 and 53 MiB for the worst files below (75 and
216 MiB before the budget); the probe's 170 KB white PNG of 6300 x 6300 took 470 MiB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import hostile_photos

ROOT = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024
CHECK_BOUND = 64 * MiB  # a photo the check accepts, the worst it can be
REFUSED_BOUND = 4 * MiB  # a file refused from its header: nothing decoded

CHILD = """
import json, sys
from pathlib import Path
from services.cards.photos import PhotoRejected, check_upload, normalise
from tests import factories

def resident(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024

ID_NUMBER = "11010519491231002X"
normalise(factories.face_photo(), ID_NUMBER)  # a warm process: OpenCV's cascade loaded, used once
data = Path(sys.argv[1]).read_bytes()
Path("/proc/self/clear_refs").write_text("5")  # the peak starts again from here
before = resident("VmRSS")
outcome = {}
for name, check in (("upload", check_upload), ("job", lambda photo: normalise(photo, ID_NUMBER))):
    try:
        check(data)
        outcome[name] = "ACCEPTED"
    except PhotoRejected as rejection:
        outcome[name] = rejection.reason_code.value
outcome["growth"] = resident("VmHWM") - before
print(json.dumps(outcome))
"""

pytestmark = pytest.mark.skipif(
    not os.access("/proc/self/clear_refs", os.W_OK), reason="needs Linux's /proc/self/clear_refs"
)


def peak_growth(data: bytes, folder: Path) -> dict:
    """Made here and read there, so that making the file leaves nothing in the checking process."""
    path = folder / "photo"
    path.write_bytes(data)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        cwd=ROOT,
        env={**os.environ, "MALLOC_MMAP_THRESHOLD_": str(128 * 1024)},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(done.stdout)


def test_the_probes_white_png_is_refused_without_decoding(tmp_path: Path) -> None:
    outcome = peak_growth(hostile_photos.white_rgba_png(), tmp_path)
    assert (outcome["upload"], outcome["job"]) == ("TOO_MANY_PIXELS", "TOO_MANY_PIXELS")
    assert outcome["growth"] < REFUSED_BOUND


@pytest.mark.parametrize("make", [hostile_photos.largest_rgba_png, hostile_photos.large_jpeg_with_small_face])
def test_the_worst_photo_accepted_is_checked_within_the_bound(make, tmp_path: Path) -> None:
    outcome = peak_growth(make(), tmp_path)
    assert (outcome["upload"], outcome["job"]) == ("ACCEPTED", "ACCEPTED")
    assert outcome["growth"] < CHECK_BOUND

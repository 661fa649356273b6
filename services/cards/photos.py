"""Medical-card photos (F2, P7): the cheap check made on upload and the normalisation done by the
background job, as pure functions on bytes.

``check_upload`` reads only the header: size of the file, format, dimensions, colour, and what
would make decoding it costly. ``normalise`` makes the same check first, then decodes the photo,
finds exactly one face, frames it as the card-photo standard asks (358 x 441, face about 207 px
wide, head about two thirds of the frame), whitens a plain light background and encodes a
baseline JPEG of 14-40 KB named by the ID number.

The standard is the parameter CARD_PHOTO_STANDARD (P7), effective-dated like every parameter: the
caller reads the value in force (``services.cards.standard``) and passes it as a ``PhotoStandard``;
without one, the default value of docs/rules.md applies.

Decisions:

- Background: the border strip of the framed photo (top, and the sides above the shoulders) must
  be white already or plain and light; that colour is then whitened where it reaches the border,
  never inside the oval of the face (so a face or hair of the same colour stays). A busy or dark
  background is refused (BACKGROUND_NOT_PLAIN): whitening a dark wall would also whiten dark hair,
  and a busy one cannot be told from the person. Beyond the photo's edges the card is white.
- File size: the highest quality from 30 to 95 whose file is at most 40 KB. When quality 95 gives
  less than 14 KB, full-resolution colour (no chroma subsampling) and quality up to 100 are tried;
  a photo still under 14 KB is refused (TOO_LITTLE_DETAIL), as is one over 40 KB at quality 30
  (TOO_NOISY): the standard's size bounds are never met by padding the file or by a ruined image.
- Face: OpenCV's frontal-face Haar cascade, searched quickly on a small grey copy, then measured
  again at the card's scale; ``CardPhoto.face_box`` is where the framing puts that box on the card.
- Memory: a check never decodes more than MAX_DECODED_PIXELS (4 bytes each in Pillow, twice while
  an EXIF rotation or a transparent background is undone): some 55 MB at most, whatever the file
  (``bench.card_photo``). A JPEG is decoded reduced (libjpeg's 1/2, 1/4, 1/8 scales, ``draft``),
  so its face must be MIN_FACE_PX wide at the largest scale within the budget: in a 12-megapixel
  photo, decoded at half its size at most, 200 px. A PNG cannot be decoded reduced, so one above
  the budget is refused from its header. Decoding PNGs in a child process under a memory limit was
  not chosen: a process start per photo, the machine's memory still spent, and a kernel limit
  (RLIMIT_AS, RLIMIT_DATA) counts address space reserved (OpenCV's, the allocator's), not used, so
  it is loose or fails good photos. A photograph takes a byte or more a pixel as PNG: the 10 MB
  upload limit already held photographic PNGs near 6 megapixels. The card needs 0.16.
- A phone's multi-picture JPEG (MPO: the photo, then a depth or gain map) is a JPEG: only its first
  picture is ever read.
- Before Pillow parses a byte, the header is walked here (``_png_header``, ``_jpeg_header``): what
  the standard (P7: 24-bit colour) can never use, or what would make the decoder hold far more
  than the pixels, is refused the same way at upload and in the job: 16-bit or CMYK colour, an
  animated PNG, inflated PNG text over MAX_INFLATED_METADATA, more than MAX_PNG_CHUNKS chunks or
  MAX_JPEG_SCANS scans, a progressive JPEG whose coefficients (kept whole, at any scale) exceed the
  budget.
"""

from __future__ import annotations

import io
import math
import struct
import threading
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageOps

from domain.identifiers import normalise_resident_id
from domain.parameters import CARD_PHOTO_STANDARD

MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000  # checked from the header, before any decoding (decompression bombs)
FORMATS = ("JPEG", "PNG")
MAX_DECODED_PIXELS = 6_000_000  # what a check decodes at most: a PNG's whole, a JPEG's reduced
COEFFICIENT_BUDGET = MAX_DECODED_PIXELS * 4  # bytes of a multi-scan JPEG's DCT coefficients
MAX_INFLATED_METADATA = 1024 * 1024  # bytes of a PNG's compressed text and ICC profile, inflated
MAX_PNG_CHUNKS = 10_000  # encoders write IDAT in pieces of 8 KB or more: a 10 MB file has 1,300
MAX_JPEG_SCANS = 100  # encoders write 10 (libjpeg's progressive script) to 30; each is a pass
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# PNG colour types (PNG 11.2.2) and the bit depths each allows; 16 is refused (P7: 24-bit colour).
PNG_DEPTHS = {0: (1, 2, 4, 8), 2: (8,), 3: (1, 2, 4, 8), 4: (8,), 6: (8,)}
PNG_COMPRESSED = {b"zTXt": 1, b"iCCP": 1, b"iTXt": 2}  # bytes after the keyword's NUL before the data
JPEG_DCT_FRAMES = {0xC0, 0xC1, 0xC2, 0xC9, 0xCA}  # baseline, extended, progressive (Huffman, arithmetic)
JPEG_OTHER_FRAMES = {0xC3, 0xC5, 0xC6, 0xC7, 0xCB, 0xCD, 0xCE, 0xCF}  # lossless, hierarchical
JPEG_PROGRESSIVE = {0xC2, 0xCA}

MIN_FACE_PX = 100  # narrower in the original, the card face would be blown up more than twice
# Card row of the face box's top as a share of the card's height (row 128 of 441): crown near the
# top edge, head about 2/3 of the frame.
FACE_TOP_SHARE = 128 / 441
DARK_LIMIT = 70  # mean luminance (0-255) of the middle of the face

WORK_SIDE = 1600  # decode at least this long a side first; large JPEGs decode at 1/2 to 1/8 scale
CLEAR_VOTES = 12  # a quick search's single face with fewer votes is checked by a thorough one
FAINT_VOTES = 0.5  # a detection with fewer votes than this share of the best one is noise
SMALL_FACE_SHARE = 0.5  # faces narrower than this share of the main one are in the background

CHROMA_WEIGHTS = np.array([1.0, 3.0, 3.0], dtype=np.float32)  # Y, Cr, Cb
WHITE_YCRCB = np.array([255.0, 128.0, 128.0], dtype=np.float32) * CHROMA_WEIGHTS
BACKGROUND_NEAR = 30  # weighted YCrCb distance from the background colour: whitened fully
BACKGROUND_FAR = 50  # ... and faded to the photo at this distance
PLAIN_SHARE = 0.85  # of the border strip near the background colour
LIGHT_LIMIT = 120  # luminance of the background colour
QUALITY_RANGE = (30, 95)
WHITE = (255, 255, 255)


class PhotoProblem(str, Enum):
    EMPTY = "EMPTY"
    TOO_LARGE_FILE = "TOO_LARGE_FILE"
    NOT_AN_IMAGE = "NOT_AN_IMAGE"
    UNSUPPORTED_FORMAT = "UNSUPPORTED_FORMAT"
    TOO_MANY_PIXELS = "TOO_MANY_PIXELS"
    UNSUPPORTED_COLOURS = "UNSUPPORTED_COLOURS"
    ANIMATED = "ANIMATED"
    TOO_MUCH_METADATA = "TOO_MUCH_METADATA"
    TOO_MANY_PARTS = "TOO_MANY_PARTS"
    TRUNCATED = "TRUNCATED"
    DAMAGED = "DAMAGED"
    NO_FACE = "NO_FACE"
    SEVERAL_FACES = "SEVERAL_FACES"
    FACE_TOO_SMALL = "FACE_TOO_SMALL"
    TOO_DARK = "TOO_DARK"
    BACKGROUND_NOT_PLAIN = "BACKGROUND_NOT_PLAIN"
    TOO_NOISY = "TOO_NOISY"
    TOO_LITTLE_DETAIL = "TOO_LITTLE_DETAIL"


@dataclass(frozen=True, slots=True)
class PhotoStandard:
    """The card-photo standard (P7), as the normalisation applies it."""

    width: int  # of the card photo, in pixels
    height: int
    face_width_px: int  # the face box's width on the card
    face_width_tolerance_px: int
    min_bytes: int  # of the JPEG file
    max_bytes: int

    # What the normalisation always makes; a standard asking for anything else cannot be met.
    MADE = {"format": "JPEG", "colour_bits": 24, "background": "white"}

    @classmethod
    def of(cls, value: Mapping[str, Any]) -> PhotoStandard:
        """From the parameter's JSON value; ValueError for one that is incomplete, or that asks
        for what the normalisation cannot make."""
        for name, made in cls.MADE.items():
            if value.get(name, made) != made:
                raise ValueError(f"card-photo standard: {name} {value[name]!r} is not supported, only {made!r}")
        try:
            standard = cls(
                **{
                    name: int(value[name])
                    for name in (
                        "width",
                        "height",
                        "face_width_px",
                        "face_width_tolerance_px",
                        "min_bytes",
                        "max_bytes",
                    )
                }
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"card-photo standard: {error!r} in {dict(value)!r}") from None
        if not (
            0 < standard.face_width_px <= standard.width
            and 0 < standard.height
            and 0 < standard.min_bytes <= standard.max_bytes
        ):
            raise ValueError(f"card-photo standard: inconsistent values {dict(value)!r}")
        return standard

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    @property
    def face_top(self) -> int:
        """The card row of the face box's top."""
        return round(self.height * FACE_TOP_SHARE)


DEFAULT_STANDARD = PhotoStandard.of(CARD_PHOTO_STANDARD)


class PhotoRejected(Exception):
    """A photo that cannot make a card photo; ``message`` is for the person who sent it."""

    def __init__(self, reason_code: PhotoProblem, message: str) -> None:
        super().__init__(message)
        self.reason_code, self.message = reason_code, message


@dataclass(frozen=True, slots=True)
class UploadedImage:
    format: str  # "JPEG" or "PNG"
    width: int  # as stored, before any EXIF rotation
    height: int
    byte_count: int


@dataclass(frozen=True, slots=True)
class CardPhoto:
    jpeg: bytes
    filename: str
    face_box: tuple[int, int, int, int]  # x, y, width, height on the card photo
    quality: int


class _Source(io.BytesIO):
    """The upload as Pillow reads it, noting a read past its end: the decoder wanted more data, so
    the file is truncated, whatever ``ImageFile.LOAD_TRUNCATED_IMAGES`` says."""

    ran_out = False

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        if not chunk and size != 0:
            self.ran_out = True
        return chunk


@dataclass(frozen=True, slots=True)
class _Decoded:
    image: Image.Image  # RGB, upright
    scale: float  # decoded pixels per pixel of the original


def check_upload(data: bytes) -> UploadedImage:
    """The check made on upload (F2), and first in the job: a JPEG or PNG of at most 10 MiB and 40
    megapixels that a check can decode within its budget, from the header only (see the module's
    notes). Pillow's own decompression-bomb limit is a global others may change, so the pixel count
    is checked here on every call."""
    if not data:
        raise PhotoRejected(PhotoProblem.EMPTY, "the photo file is empty")
    if len(data) > MAX_PHOTO_BYTES:
        raise PhotoRejected(PhotoProblem.TOO_LARGE_FILE, "the photo file is larger than 10 MB")
    if data.startswith(PNG_SIGNATURE):
        image_format, (width, height) = "PNG", _png_header(data)
    elif data.startswith(b"\xff\xd8\xff"):
        image_format, (width, height) = "JPEG", _jpeg_header(data)
    else:
        image_format, width, height = None, 0, 0
    # Pillow reads the header too: for the other formats, and so that the job, which decodes with
    # it, opens only what the upload accepted.
    image = _open(io.BytesIO(data), [image_format] if image_format else None)
    opened = "JPEG" if image.format == "MPO" else image.format  # a phone's multi-picture JPEG
    image.close()
    if opened not in FORMATS:
        raise PhotoRejected(PhotoProblem.UNSUPPORTED_FORMAT, "the photo must be a JPEG or PNG image")
    if image.size != (width, height):
        raise PhotoRejected(PhotoProblem.DAMAGED, "the photo file is damaged")
    return UploadedImage(opened, width, height, len(data))


def _too_many_pixels(width: int, height: int) -> None:
    if width < 1 or height < 1:
        raise PhotoRejected(PhotoProblem.DAMAGED, "the photo file is damaged")
    if width * height > MAX_PIXELS:
        raise PhotoRejected(PhotoProblem.TOO_MANY_PIXELS, "the photo has more than 40 megapixels")


def _png_header(data: bytes) -> tuple[int, int]:
    """Width and height from IHDR, after a walk over every chunk's length and type (no pixel is
    inflated): 8-bit colour, still, within the pixel budget, its text and ICC profile small."""
    truncated = PhotoRejected(PhotoProblem.TRUNCATED, "the photo file is incomplete: send it again")
    position, parts, inflated = len(PNG_SIGNATURE), 0, 0
    width = height = 0
    while True:
        if position + 12 > len(data):
            raise truncated
        length, kind = struct.unpack_from(">I4s", data, position)
        body, position = position + 8, position + 12 + length
        if position > len(data):
            raise truncated
        parts += 1
        if parts > MAX_PNG_CHUNKS:
            raise PhotoRejected(
                PhotoProblem.TOO_MANY_PARTS, "the PNG file is cut into too many parts: save it again as a photo"
            )
        if parts == 1:
            if kind != b"IHDR" or length != 13:
                raise PhotoRejected(PhotoProblem.DAMAGED, "the photo file is damaged")
            width, height, depth, colour, *_ = struct.unpack_from(">IIBBBBB", data, body)
            if depth not in PNG_DEPTHS.get(colour, ()):
                raise PhotoRejected(
                    PhotoProblem.UNSUPPORTED_COLOURS,
                    "the photo must have 8-bit colour (24-bit RGB or grey): save it again as such",
                )
            _too_many_pixels(width, height)
            if width * height > MAX_DECODED_PIXELS:  # a PNG is decoded whole: no reduced decoding
                raise PhotoRejected(
                    PhotoProblem.TOO_MANY_PIXELS,
                    f"a PNG photo may have at most {MAX_DECODED_PIXELS // 1_000_000} megapixels: send it as a JPEG",
                )
        elif kind == b"acTL":  # an animated PNG (APNG) announces its frames before any
            raise PhotoRejected(PhotoProblem.ANIMATED, "the photo must be a still image, not an animation")
        elif kind == b"IEND":
            return width, height
        elif kind in PNG_COMPRESSED:
            inflated += _inflated_size(data[body : position - 4], PNG_COMPRESSED[kind], MAX_INFLATED_METADATA)
            if inflated > MAX_INFLATED_METADATA:
                raise PhotoRejected(
                    PhotoProblem.TOO_MUCH_METADATA,
                    "the photo file carries too much text beside the image: save it again without it",
                )


def _inflated_size(body: bytes, flags: int, limit: int) -> int:
    """The inflated size of a compressed PNG text or ICC chunk, inflated piecewise and counted no
    further than past ``limit``; an uncompressed iTXt counts nothing (its size is the file's)."""
    keyword_end = body.find(b"\0")
    if keyword_end < 0 or (flags == 2 and body[keyword_end + 1 : keyword_end + 2] != b"\x01"):
        return 0
    stream = body[keyword_end + 1 + flags :]
    if flags == 2:  # iTXt: language and translated keyword, each ended by a NUL, come first
        for _ in range(2):
            stream = stream[stream.find(b"\0") + 1 :]
    inflater, size = zlib.decompressobj(), 0
    try:
        while size <= limit and not inflater.eof:
            piece = inflater.decompress(stream, 64 * 1024)
            stream = inflater.unconsumed_tail
            if not piece and not stream:
                break
            size += len(piece)
    except zlib.error:
        pass  # Pillow makes of it what it does of any broken text: nothing
    return size


def _jpeg_header(data: bytes) -> tuple[int, int]:
    """Width and height from the frame header, after a walk over the markers to the first scan:
    8-bit grey or colour (no CMYK), a DCT frame, at most MAX_JPEG_SCANS scans, and a multi-scan image
    (progressive, or not interleaved) whose whole coefficient buffer fits the budget."""
    truncated = PhotoRejected(PhotoProblem.TRUNCATED, "the photo file is incomplete: send it again")
    damaged = PhotoRejected(PhotoProblem.DAMAGED, "the photo file is damaged")
    position, frame = 2, None
    while True:
        if position >= len(data) or data[position] != 0xFF:
            raise truncated if position >= len(data) else damaged
        while position < len(data) and data[position] == 0xFF:  # fill bytes
            position += 1
        if position + 3 > len(data):
            raise truncated
        marker, length = data[position], int.from_bytes(data[position + 1 : position + 3], "big")
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # no length
            position += 1
            continue
        segment, position = data[position + 3 : position + 1 + length], position + 1 + length
        if length < 2 or marker in (0x00, 0xD8, 0xD9):
            raise damaged
        if position > len(data):
            raise truncated
        if marker in JPEG_OTHER_FRAMES:
            raise PhotoRejected(
                PhotoProblem.UNSUPPORTED_FORMAT, "a lossless or hierarchical JPEG is not supported: send a photo JPEG"
            )
        if marker in JPEG_DCT_FRAMES:
            if frame is not None or len(segment) < 6 or len(segment) < 6 + 3 * segment[5]:
                raise damaged
            frame = marker, segment
        elif marker == 0xDA:  # the first scan: the header is over
            if frame is None or not segment:
                raise damaged
            return _jpeg_frame(*frame, scan_components=segment[0], data=data, first_scan=position)


def _scan_count(data: bytes, first_scan: int) -> int:
    """The scans: a marker's 0xFF cannot occur inside coded data (it is stuffed), so each start of
    scan is found by its two bytes, in one pass to the file's end (the other pictures of a
    multi-picture file add their few)."""
    return 1 + data.count(b"\xff\xda", first_scan)


def _jpeg_frame(marker: int, frame: bytes, scan_components: int, data: bytes, first_scan: int) -> tuple[int, int]:
    precision, height, width, components = struct.unpack_from(">BHHB", frame)
    if components == 4:
        raise PhotoRejected(
            PhotoProblem.UNSUPPORTED_COLOURS, "the photo is in CMYK (print) colours: save it again as RGB"
        )
    if precision != 8 or components not in (1, 3):
        raise PhotoRejected(
            PhotoProblem.UNSUPPORTED_COLOURS,
            "the photo must have 8-bit colour (24-bit RGB or grey): save it again as such",
        )
    _too_many_pixels(width, height)
    sampling = [(frame[7 + 3 * n] >> 4, frame[7 + 3 * n] & 15) for n in range(components)]
    if any(not (1 <= h <= 4 and 1 <= v <= 4) for h, v in sampling):
        raise PhotoRejected(PhotoProblem.DAMAGED, "the photo file is damaged")
    if marker in JPEG_PROGRESSIVE or scan_components < components:
        # Each scan is a pass over the image; one scan is all a single-scan file may have.
        if _scan_count(data, first_scan) > MAX_JPEG_SCANS:
            raise PhotoRejected(
                PhotoProblem.TOO_MANY_PARTS, "the JPEG file is cut into too many scans: save it again as a photo"
            )
        # libjpeg keeps every coefficient of such a file until its last scan, at any output scale:
        # 64 of 2 bytes for each 8 x 8 block of each component, padded to whole MCUs.
        h_max, v_max = max(h for h, _ in sampling), max(v for _, v in sampling)
        mcu_columns, mcu_rows = math.ceil(width / (8 * h_max)), math.ceil(height / (8 * v_max))
        coefficients = sum(mcu_columns * h * mcu_rows * v * 128 for h, v in sampling)
        if coefficients > COEFFICIENT_BUDGET:
            raise PhotoRejected(
                PhotoProblem.TOO_MANY_PIXELS,
                "a progressive (multi-scan) JPEG this large cannot be checked: send the photo as the camera saved it",
            )
    return width, height


def normalise(data: bytes, id_number: str, standard: PhotoStandard = DEFAULT_STANDARD) -> CardPhoto:
    """The job's check and normalisation of a card photo (F2, P7), to ``standard``: the one in
    force. Raises ``PhotoRejected`` for a photo that cannot make a card photo,
    ``InvalidIdentifier`` for a malformed ID number."""
    number = normalise_resident_id(id_number)  # upper-case X (P7)
    upload = check_upload(data)
    decoded = _decode(data, upload, _reduction(upload, WORK_SIDE / max(upload.width, upload.height)))
    box = _single_face(decoded, standard, finest=1 / _reduction(upload, 1.0))
    reduction = _reduction(upload, standard.face_width_px * decoded.scale / box[2])
    if box[2] < standard.face_width_px and 1 / reduction > decoded.scale:
        # The face is too narrow at this scale for a sharp card: decode again, larger, after
        # letting the first go (one decoded image at a time).
        coarse, decoded = decoded.scale, None
        decoded = _decode(data, upload, reduction)
        box = tuple(v * decoded.scale / coarse for v in box)
    card, padded = _frame(decoded.image, box, standard)
    face = _card_face_box(box, standard)
    card = _whiten_background(card, padded, face)
    jpeg, quality = _encode(Image.fromarray(card), standard)
    return CardPhoto(jpeg, f"{number}.jpg", face, quality)


def _open(source: io.BytesIO, formats: list[str] | None = None) -> Image.Image:
    try:
        return Image.open(source, formats=formats)
    except Image.DecompressionBombError:  # Pillow's own limit, when lower than ours
        raise PhotoRejected(PhotoProblem.TOO_MANY_PIXELS, "the photo has more than 40 megapixels") from None
    except (OSError, SyntaxError, ValueError):  # UnidentifiedImageError is an OSError
        raise PhotoRejected(PhotoProblem.NOT_AN_IMAGE, "the file is not an image") from None


def _reduction(upload: UploadedImage, scale: float) -> int:
    """The JPEG scale denominator to decode at, 1, 2, 4 or 8: the largest giving at least ``scale``,
    but never more pixels than MAX_DECODED_PIXELS (a PNG has no other than 1, and its header kept
    it within the budget)."""
    if upload.format != "JPEG":
        return 1
    wanted = max((d for d in (1, 2, 4, 8) if d * scale <= 1), default=1)
    affordable = next(
        d
        for d in (1, 2, 4, 8)
        if d == 8 or math.ceil(upload.width / d) * math.ceil(upload.height / d) <= MAX_DECODED_PIXELS
    )
    return max(wanted, affordable)


def _decode(data: bytes, upload: UploadedImage, reduction: int) -> _Decoded:
    """Decode fully, a JPEG at 1/``reduction`` of its size; turned upright from its EXIF
    orientation and made RGB."""
    source = _Source(data)
    image = _open(source, [upload.format])
    if image.size != (upload.width, upload.height):
        raise PhotoRejected(PhotoProblem.DAMAGED, "the photo file is damaged")
    if reduction > 1:  # Pillow picks the largest reduction whose size is at least the one asked
        image.draft("RGB", (max(1, upload.width // reduction), max(1, upload.height // reduction)))
    source.ran_out = False
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError):
        if source.ran_out:
            raise PhotoRejected(PhotoProblem.TRUNCATED, "the photo file is incomplete: send it again") from None
        raise PhotoRejected(PhotoProblem.DAMAGED, "the photo file is damaged") from None
    if source.ran_out:
        raise PhotoRejected(PhotoProblem.TRUNCATED, "the photo file is incomplete: send it again")
    actual = image.size[0] / upload.width
    ImageOps.exif_transpose(image, in_place=True)
    return _Decoded(_rgb(image), actual)


def _rgb(image: Image.Image) -> Image.Image:
    """24-bit colour (P7); transparency becomes white background."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        rgba = image if image.mode in ("RGBA", "LA") else image.convert("RGBA")  # pasted as they are
        flat = Image.new("RGB", rgba.size, WHITE)
        flat.paste(rgba, mask=rgba)  # by its alpha
        return flat
    return image.convert("RGB")  # 16-bit and CMYK never come here: refused from the header


_detectors = threading.local()  # a cascade is not safe to share between threads


def _cascade() -> cv2.CascadeClassifier:
    cascade = getattr(_detectors, "cascade", None)
    if cascade is None:
        cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
        if cascade.empty():
            raise RuntimeError("OpenCV's frontal-face cascade could not be loaded")
        _detectors.cascade = cascade
    return cascade


@dataclass(frozen=True, slots=True)
class _Search:
    side: int  # longest side of the grey copy searched
    scale_factor: float  # between the cascade's window sizes
    min_neighbours: int  # overlapping detections a face needs
    min_px: int  # smallest face searched, on the grey copy


QUICK = _Search(256, 1.2, 3, 26)  # faces of a tenth of the photo or more: a card photo's
THOROUGH = _Search(480, 1.1, 5, 48)  # when the quick one is unsure: more votes, fewer mistakes
SMALL = _Search(960, 1.2, 3, 24)  # when both find none: a small face, to say so


def _single_face(decoded: _Decoded, standard: PhotoStandard, finest: float = 1.0) -> tuple[float, float, float, float]:
    """The one face in the photo (P7), as x, y, width, height on the decoded image; ``finest`` is
    the largest scale the photo may be decoded at, where the face must be MIN_FACE_PX wide."""
    grey = decoded.image.convert("L")
    faces = _detect(grey, QUICK)
    if len(faces) != 1 or faces[0][1] < CLEAR_VOTES:
        faces = _detect(grey, THOROUGH)
    smallest = THOROUGH.min_px / min(1.0, THOROUGH.side / max(grey.size))  # on the decoded image
    if not faces and smallest / decoded.scale > MIN_FACE_PX / 2:
        faces = _detect(grey, SMALL, max_px=smallest * 1.3)
    if not faces:
        raise PhotoRejected(PhotoProblem.NO_FACE, "no face found in the photo")
    if len(faces) > 1:
        raise PhotoRejected(
            PhotoProblem.SEVERAL_FACES, f"{_count(len(faces))} faces found: the photo must show only you"
        )
    (x, y, w, h), _votes = faces[0]
    if w / decoded.scale < MIN_FACE_PX:
        raise PhotoRejected(PhotoProblem.FACE_TOO_SMALL, "the face is too small: take the photo closer")
    if w * finest / decoded.scale < MIN_FACE_PX:  # at the largest scale within the budget
        raise PhotoRejected(
            PhotoProblem.FACE_TOO_SMALL, "the face is too small in so large a photo: crop it around the head"
        )
    middle = grey.crop((round(x + w / 5), round(y + h / 5), round(x + w * 4 / 5), round(y + h * 4 / 5)))
    if np.asarray(middle).mean() < DARK_LIMIT:
        raise PhotoRejected(PhotoProblem.TOO_DARK, "the image is too dark")
    return _refined(grey, (x, y, w, h), standard.face_width_px)


def _refined(
    grey: Image.Image, box: tuple[float, float, float, float], face_width: int
) -> tuple[float, float, float, float]:
    """The face box measured again at the card's scale (``face_width`` on the card) with fine
    steps: the searches above step the window by 10-20 %, more than the standard's tolerance on
    the face width (P7)."""
    x, y, w, h = box
    zoom = face_width / w
    region = (
        max(0.0, x - w * 0.3),
        max(0.0, y - h * 0.3),
        min(float(grey.width), x + w * 1.3),
        min(float(grey.height), y + h * 1.3),
    )
    size = (round((region[2] - region[0]) * zoom), round((region[3] - region[1]) * zoom))
    patch = np.asarray(grey.resize(size, Image.Resampling.BILINEAR, box=region))
    # Smaller windows are kept: they take part in the average that makes the box, unbiased so.
    boxes = _cascade().detectMultiScale(patch, scaleFactor=1.05, minNeighbors=3, minSize=(round(face_width * 0.6),) * 2)
    if len(boxes) == 0:
        return box
    centre = ((x - region[0]) * zoom + face_width / 2, (y - region[1]) * zoom + face_width / 2)
    bx, by, bw, bh = min(boxes, key=lambda b: (b[0] + b[2] / 2 - centre[0]) ** 2 + (b[1] + b[3] / 2 - centre[1]) ** 2)
    return region[0] + bx / zoom, region[1] + by / zoom, bw / zoom, bh / zoom


def _detect(
    grey: Image.Image, search: _Search, max_px: float | None = None
) -> list[tuple[tuple[float, float, float, float], int]]:
    """Faces and their votes, on ``grey``'s scale, less faint detections and faces far smaller than
    the main one (a poster, a person far behind)."""
    ratio = min(1.0, search.side / max(grey.size))
    if ratio < 1.0:
        size = (max(1, round(grey.width * ratio)), max(1, round(grey.height * ratio)))
        grey = grey.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    largest = math.ceil(max_px * ratio) if max_px else 0
    if largest and largest < search.min_px:
        return []
    boxes, votes = _cascade().detectMultiScale2(
        np.asarray(grey),
        scaleFactor=search.scale_factor,
        minNeighbors=search.min_neighbours,
        minSize=(search.min_px, search.min_px),
        maxSize=(largest, largest),
    )
    found = [(tuple(float(v) / ratio for v in box), int(n)) for box, n in zip(boxes, votes)]
    if not found:
        return []
    best_box, best_votes = max(found, key=lambda item: item[1])
    return [(box, n) for box, n in found if n >= FAINT_VOTES * best_votes and box[2] >= SMALL_FACE_SHARE * best_box[2]]


def _count(n: int) -> str:
    return {2: "two", 3: "three", 4: "four"}.get(n, str(n))


def _frame(
    image: Image.Image, box: tuple[float, float, float, float], standard: PhotoStandard
) -> tuple[np.ndarray, np.ndarray]:
    """The card-sized RGB pixels around the face, and where they lie outside the photo (white)."""
    x, _y, w, _h = box
    zoom = standard.face_width_px / w  # card pixels per decoded pixel
    width, height = standard.size
    left, top = x + w / 2 - width / 2 / zoom, box[1] - standard.face_top / zoom
    right, bottom = left + width / zoom, top + height / zoom
    inside = (max(0.0, left), max(0.0, top), min(float(image.width), right), min(float(image.height), bottom))
    padded = np.ones((height, width), dtype=bool)
    if inside == (left, top, right, bottom):
        card = image.resize(standard.size, Image.Resampling.LANCZOS, box=inside)
        padded[:] = False
        return np.asarray(card), padded
    card = Image.new("RGB", standard.size, WHITE)
    to = [
        round((inside[0] - left) * zoom),
        round((inside[1] - top) * zoom),
        round((inside[2] - left) * zoom),
        round((inside[3] - top) * zoom),
    ]
    if to[2] > to[0] and to[3] > to[1]:
        part = image.resize((to[2] - to[0], to[3] - to[1]), Image.Resampling.LANCZOS, box=inside)
        card.paste(part, (to[0], to[1]))
        padded[to[1] : to[3], to[0] : to[2]] = False
    return np.asarray(card), padded


def _card_face_box(box: tuple[float, float, float, float], standard: PhotoStandard) -> tuple[int, int, int, int]:
    """The face box on the card: the framing puts it at the same place every time."""
    face_width = standard.face_width_px
    face_height = round(box[3] * face_width / box[2])
    return round(standard.width / 2 - face_width / 2), standard.face_top, face_width, face_height


def _border_strip(height: int, width: int) -> np.ndarray:
    """The top rows and the sides above the shoulders: background in a well-framed photo."""
    strip = np.zeros((height, width), dtype=bool)
    band = max(2, width // 24)
    strip[:band, :] = True
    strip[: height * 3 // 5, :band] = True
    strip[: height * 3 // 5, width - band :] = True
    return strip


def _whiten_background(card: np.ndarray, padded: np.ndarray, face: tuple[int, int, int, int]) -> np.ndarray:
    """White background (P7): a plain, light background is whitened where it reaches the top or the
    sides, never on the face; any other is refused. Colours are compared in YCrCb with the colour
    differences weighted up: a wall's light varies, its hue hardly, and skin differs from it in hue."""
    height, width = padded.shape
    colours = cv2.cvtColor(card, cv2.COLOR_RGB2YCrCb).astype(np.float32) * CHROMA_WEIGHTS
    ys, xs = np.nonzero(_border_strip(height, width) & ~padded)
    if len(ys) == 0:
        return card  # all padding: white already
    plane = _background_plane(colours[ys, xs], xs / width, ys / height)
    across = (np.arange(width, dtype=np.float32) / width)[None, :]
    down = (np.arange(height, dtype=np.float32) / height)[:, None]
    distance = _distance(colours, WHITE_YCRCB[None, :], across, down)
    if plane is not None:
        distance = np.minimum(distance, _distance(colours, plane, across, down))
    candidate = ((distance < BACKGROUND_FAR) & ~_face_oval(height, width, face)) | padded
    count, labels = cv2.connectedComponents(candidate.view(np.uint8), connectivity=4)
    reaches_edge = np.zeros(count, dtype=bool)
    reaches_edge[labels[0, :]] = reaches_edge[labels[:, 0]] = reaches_edge[labels[:, -1]] = True
    reaches_edge[0] = False  # label 0: not background-coloured
    alpha = np.clip((BACKGROUND_FAR - distance) * np.float32(1 / (BACKGROUND_FAR - BACKGROUND_NEAR)), 0.0, 1.0)
    alpha[padded] = 1.0
    alpha *= reaches_edge[labels]
    whitened = card.astype(np.float32)
    whitened += alpha[..., None] * (np.float32(255.5) - whitened)
    return whitened.astype(np.uint8)


def _background_plane(samples: np.ndarray, across: np.ndarray, down: np.ndarray) -> np.ndarray | None:
    """The background's colour from the border strip, as a plane (c0 + c1 * across + c2 * down, for
    the gradient of a lit wall); None when the strip is white already. Refuses a busy or dark one."""
    whitish = _distance(samples, WHITE_YCRCB[None, :], across, down) < BACKGROUND_FAR
    rest = ~whitish
    if rest.mean() <= 1 - PLAIN_SHARE:
        return None
    plane = _plane(samples[rest], across[rest], down[rest])
    near = _distance(samples[rest], plane, across[rest], down[rest]) < BACKGROUND_FAR
    if near.sum() >= 3:  # again, without the hair and shoulders
        plane = _plane(samples[rest][near], across[rest][near], down[rest][near])
    plain = whitish | (_distance(samples, plane, across, down) < BACKGROUND_FAR)
    if plain.mean() < PLAIN_SHARE or plane[0, 0] + (plane[1, 0] + plane[2, 0]) / 2 < LIGHT_LIMIT:
        raise PhotoRejected(
            PhotoProblem.BACKGROUND_NOT_PLAIN,
            "the background must be plain and light: stand before a white or pale wall",
        )
    return plane


def _plane(colours: np.ndarray, across: np.ndarray, down: np.ndarray) -> np.ndarray:
    design = np.stack([np.ones(len(colours)), across, down], axis=1).astype(np.float32)
    return np.linalg.lstsq(design, colours, rcond=None)[0].astype(np.float32)


def _distance(colours: np.ndarray, plane: np.ndarray, across: np.ndarray, down: np.ndarray) -> np.ndarray:
    """Distance of each colour from the plane's colour at its place; a one-row plane is constant."""
    expected = plane[0]
    if len(plane) == 3:
        expected = expected + across[..., None] * plane[1] + down[..., None] * plane[2]
    difference = colours - expected
    return np.sqrt(np.einsum("...k,...k->...", difference, difference))


def _face_oval(height: int, width: int, face: tuple[int, int, int, int]) -> np.ndarray:
    """Forehead to chin around the face box: never background, whatever its colour."""
    x, y, w, h = face
    centre_x, centre_y = x + w / 2, y + h * 0.5
    across = ((np.arange(width, dtype=np.float32) - centre_x) / (w * 0.45))[None, :]
    down = ((np.arange(height, dtype=np.float32) - centre_y) / (h * 0.6))[:, None]
    return across * across + down * down <= 1.0


def _encode(card: Image.Image, standard: PhotoStandard = DEFAULT_STANDARD) -> tuple[bytes, int]:
    """A baseline JPEG within the standard's file size (14-40 KB, P7) at the highest quality that
    fits; see the module's notes."""
    encoded = _highest_fitting(card, QUALITY_RANGE, subsampling=2, max_bytes=standard.max_bytes)
    if encoded is None:
        raise PhotoRejected(
            PhotoProblem.TOO_NOISY, "the photo is too grainy for the card: take it again in better light"
        )
    if len(encoded[0]) < standard.min_bytes:
        encoded = _highest_fitting(
            card,
            (QUALITY_RANGE[0], 100),
            subsampling=0,  # full-resolution colour
            max_bytes=standard.max_bytes,
        )
        if encoded is None or len(encoded[0]) < standard.min_bytes:
            raise PhotoRejected(
                PhotoProblem.TOO_LITTLE_DETAIL, "the photo is too blurred for the card: take a sharper photo"
            )
    return encoded


def _highest_fitting(
    card: Image.Image, qualities: tuple[int, int], subsampling: int, max_bytes: int
) -> tuple[bytes, int] | None:
    """The highest quality whose file is at most ``max_bytes``, by bisection: the size grows with
    the quality."""
    low, high = qualities
    encoded = _jpeg(card, high, subsampling)
    if len(encoded) <= max_bytes:
        return encoded, high
    encoded = _jpeg(card, low, subsampling)
    if len(encoded) > max_bytes:
        return None
    best = encoded, low
    while high - low > 1:  # low fits, high does not
        middle = (low + high) // 2
        encoded = _jpeg(card, middle, subsampling)
        if len(encoded) <= max_bytes:
            best, low = (encoded, middle), middle
        else:
            high = middle
    return best


def _jpeg(card: Image.Image, quality: int, subsampling: int) -> bytes:
    buffer = io.BytesIO()
    card.save(buffer, "JPEG", quality=quality, subsampling=subsampling, progressive=False, optimize=False)
    return buffer.getvalue()

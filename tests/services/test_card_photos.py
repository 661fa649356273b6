"""Medical-card photos (F2, P7): the upload check and the normalisation, on photos made here from
scikit-image's astronaut portrait (one frontal face on a plain grey backdrop)."""

from __future__ import annotations

import datetime as dt
import io
import struct
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFile, JpegImagePlugin

from domain.identifiers import InvalidIdentifier, make_resident_id
from services.cards import photos as card_photos
from services.cards.photos import CardPhoto, PhotoProblem, PhotoRejected, check_upload, normalise
from tests import hostile_photos as hostile
from tests.factories import portrait

CARD_WIDTH, CARD_HEIGHT = 358, 441


@cache
def id_number_with_x() -> str:
    """An ID number whose check character is X, given with a lower-case x."""
    sequence = next(s for s in range(1, 1000) if make_resident_id("420102", dt.date(1990, 5, 17), s).endswith("X"))
    return make_resident_id("420102", dt.date(1990, 5, 17), sequence)[:17] + "x"


def jpeg(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, **options)
    return buffer.getvalue()


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


@cache
def twelve_megapixels() -> bytes:
    return jpeg(portrait(4000, 3000))


@cache
def normalised() -> CardPhoto:
    return normalise(twelve_megapixels(), id_number_with_x())


def faces_on(card: bytes) -> list[tuple[int, int, int, int]]:
    grey = np.asarray(Image.open(io.BytesIO(card)).convert("L"))
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    return [tuple(int(v) for v in box) for box in cascade.detectMultiScale(grey, 1.05, 5, minSize=(60, 60))]


def rejection(data: bytes) -> PhotoRejected:
    """Why the job refuses the photo."""
    with pytest.raises(PhotoRejected) as caught:
        normalise(data, id_number_with_x())
    return caught.value


def upload_rejection(data: bytes) -> PhotoRejected:
    """Why the upload is refused."""
    with pytest.raises(PhotoRejected) as caught:
        check_upload(data)
    return caught.value


def png_header_only(width: int, height: int, idat: bytes = b"") -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grey
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@cache
def bomb_png() -> bytes:
    """A complete 30000 x 30000 PNG of about 100 KB: 112 MB of zero rows, compressed as a stream."""
    row_bytes = 1 + 30000 // 8 + 1  # filter byte, then 1-bit pixels
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(b"\x00" * row_bytes * 500) for _ in range(60)) + compressor.flush()
    return png_header_only(30000, 30000, idat)


# The card photo itself (P7)


def test_a_12_megapixel_photo_makes_a_standard_card_photo() -> None:
    card = normalised()
    image = Image.open(io.BytesIO(card.jpeg))
    assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (CARD_WIDTH, CARD_HEIGHT))
    assert "progressive" not in image.info and "progression" not in image.info
    assert 14 * 1024 <= len(card.jpeg) <= 40 * 1024
    assert 30 <= card.quality <= 100
    assert card.filename == id_number_with_x().upper() + ".jpg" and card.filename.endswith("X.jpg")


def test_the_face_is_207_pixels_wide_and_centred() -> None:
    card = normalised()
    x, y, w, h = card.face_box
    assert w == 207 and abs(x + w / 2 - CARD_WIDTH / 2) <= 1
    [(fx, fy, fw, fh)] = faces_on(card.jpeg)
    assert abs(fw - 207) <= 14
    assert abs(fx + fw / 2 - CARD_WIDTH / 2) <= 20
    assert fy + fh / 2 < CARD_HEIGHT * 0.6  # eyes and face in the upper part


def test_the_background_is_white() -> None:
    pixels = np.asarray(Image.open(io.BytesIO(normalised().jpeg)).convert("RGB")).astype(int)
    assert pixels[:12, :].min() >= 235  # above the head
    assert pixels[150:220, :12].mean() >= 245 and pixels[150:220, -12:].mean() >= 245  # beside it
    face = pixels[200:300, 120:240]
    assert face.mean() < 220 and (face[..., 0] - face[..., 2]).mean() > 20  # skin kept


def test_an_exif_rotated_photo_comes_out_upright() -> None:
    upright = portrait(2400, 1800)
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # orientation 6: turn clockwise to view
    exif = Image.Exif()
    exif[0x0112] = 6
    card = normalise(jpeg(stored, exif=exif.tobytes()), id_number_with_x())
    assert Image.open(io.BytesIO(card.jpeg)).size == (CARD_WIDTH, CARD_HEIGHT)
    [(_x, _y, w, _h)] = faces_on(card.jpeg)
    assert abs(w - 207) <= 14


def test_a_face_near_the_edge_is_padded_with_white() -> None:
    near_edge = portrait(1600, 1200).crop((500, 40, 1600, 1200))  # the card reaches past the top left
    pixels = np.asarray(Image.open(io.BytesIO(normalise(jpeg(near_edge), id_number_with_x()).jpeg))).astype(int)
    assert pixels[:8, :].min() >= 235 and pixels[:200, :30].mean() >= 245


def test_a_small_face_in_a_large_photo_is_refused_within_the_decoding_budget() -> None:
    """A 12-megapixel JPEG is decoded at half its size at most (MAX_DECODED_PIXELS): there a face
    of about 160 pixels is 80 wide, too few for the card's 207. Cropped around the head, the same
    photo is decoded whole and accepted."""
    photo = Image.new("RGB", (4000, 3000), (225, 225, 228))
    photo.paste(portrait(800, 800), (1600, 400))
    problem = rejection(jpeg(photo))
    assert (problem.reason_code, problem.message) == (
        PhotoProblem.FACE_TOO_SMALL,
        "the face is too small in so large a photo: crop it around the head",
    )
    card = normalise(jpeg(photo.crop((1300, 300, 2700, 1350))), id_number_with_x())
    assert abs(card.face_box[2] - 207) <= 14


def test_a_transparent_png_gets_a_white_background() -> None:
    mask = Image.new("L", (1600, 1200), 0)
    ImageDraw.Draw(mask).ellipse((330, 0, 1300, 1200), fill=255)  # head and shoulders kept
    clear = np.dstack([np.asarray(portrait(1600, 1200)), np.asarray(mask)])
    clear[np.asarray(mask) == 0, :3] = 0  # black under the transparency: it must not show
    card = normalise(png(Image.fromarray(clear, "RGBA")), id_number_with_x())
    pixels = np.asarray(Image.open(io.BytesIO(card.jpeg))).astype(int)
    assert Image.open(io.BytesIO(card.jpeg)).mode == "RGB"
    assert pixels[:12, :].min() >= 235 and pixels[150:220, :12].mean() >= 245


def test_a_palette_png_is_accepted() -> None:
    card = normalise(png(portrait(1600, 1200).convert("P", palette=Image.Palette.ADAPTIVE)), id_number_with_x())
    assert Image.open(io.BytesIO(card.jpeg)).mode == "RGB"


def test_a_multi_picture_jpeg_is_a_jpeg() -> None:
    photo = portrait(1600, 1200)
    buffer = io.BytesIO()
    photo.save(buffer, "MPO", save_all=True, append_images=[photo.resize((800, 600))])
    assert check_upload(buffer.getvalue()).format == "JPEG"
    assert normalise(buffer.getvalue(), id_number_with_x()).filename.endswith("X.jpg")


def test_photos_are_normalised_alike_in_parallel_threads() -> None:
    data = jpeg(portrait(1600, 1200))
    alone = normalise(data, id_number_with_x())
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda _: normalise(data, id_number_with_x()), range(4)))
    assert all(card == alone for card in together)


# What the job refuses


def test_two_faces_are_refused() -> None:
    one = portrait(1200, 1200)
    pair = Image.new("RGB", (2400, 1200))
    pair.paste(one, (0, 0))
    pair.paste(one, (1200, 0))
    problem = rejection(jpeg(pair))
    assert problem.reason_code is PhotoProblem.SEVERAL_FACES
    assert problem.message == "two faces found: the photo must show only you"


def test_a_landscape_without_a_face_is_refused() -> None:
    sky = np.linspace(90, 230, 1200, dtype=np.float32)[:, None, None] * np.array([0.6, 0.8, 1.0], np.float32)
    landscape = np.broadcast_to(sky, (1200, 1600, 3)).copy()
    landscape[800:] = (70, 110, 50)  # a field
    problem = rejection(jpeg(Image.fromarray(landscape.astype(np.uint8))))
    assert (problem.reason_code, problem.message) == (PhotoProblem.NO_FACE, "no face found in the photo")


def test_a_dark_photo_is_refused() -> None:
    dark = Image.eval(portrait(1600, 1200), lambda v: int(v * 0.3))
    problem = rejection(jpeg(dark))
    assert (problem.reason_code, problem.message) == (PhotoProblem.TOO_DARK, "the image is too dark")


def test_a_small_face_is_refused() -> None:
    photo = Image.new("RGB", (1200, 900), (200, 200, 205))
    photo.paste(portrait(384, 384), (400, 200))  # a face about 70 px wide
    assert rejection(jpeg(photo)).reason_code is PhotoProblem.FACE_TOO_SMALL


def test_a_busy_background_is_refused() -> None:
    photo = np.asarray(portrait(1600, 1200)).copy()
    rng = np.random.default_rng(7)
    tiles = rng.integers(0, 256, (1200 // 40, 1600 // 40, 3), dtype=np.uint8).repeat(40, 0).repeat(40, 1)
    mask = Image.new("L", (1600, 1200), 0)
    ImageDraw.Draw(mask).ellipse((520, 100, 1000, 760), fill=255)  # the head stays
    keep = np.asarray(mask) > 0
    photo[~keep] = tiles[~keep]
    assert rejection(jpeg(Image.fromarray(photo))).reason_code is PhotoProblem.BACKGROUND_NOT_PLAIN


def test_a_truncated_jpeg_is_refused_not_half_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    data = twelve_megapixels()
    half = data[: len(data) // 2]
    assert check_upload(half).format == "JPEG"  # the header is whole
    assert rejection(half).reason_code is PhotoProblem.TRUNCATED
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)  # set by other code: not relied upon
    assert rejection(half).reason_code is PhotoProblem.TRUNCATED


def test_a_truncated_png_is_refused() -> None:
    data = png(portrait(800, 600))
    assert rejection(data[: len(data) * 2 // 3]).reason_code is PhotoProblem.TRUNCATED


def test_a_malformed_id_number_is_refused() -> None:
    with pytest.raises(InvalidIdentifier):
        normalise(twelve_megapixels(), "42010219900517123")


# The check on upload (F2)


def test_upload_check_reads_the_header() -> None:
    image = check_upload(twelve_megapixels())
    assert image == card_photos.UploadedImage("JPEG", 4000, 3000, len(twelve_megapixels()))
    assert check_upload(png(portrait(800, 600))).format == "PNG"


@pytest.mark.parametrize(
    "data, problem",
    [
        (b"", PhotoProblem.EMPTY),
        (b"Dear office, please find my photo attached.\n" * 20, PhotoProblem.NOT_AN_IMAGE),
        (b"\xff\xd8\xff\xe0" + bytes(11 * 1024 * 1024), PhotoProblem.TOO_LARGE_FILE),
    ],
)
def test_upload_check_refuses(data: bytes, problem: PhotoProblem) -> None:
    assert upload_rejection(data).reason_code is problem


def test_a_gif_is_an_unsupported_format() -> None:
    buffer = io.BytesIO()
    portrait(200, 200).save(buffer, "GIF")
    problem = upload_rejection(buffer.getvalue())
    assert (problem.reason_code, problem.message) == (
        PhotoProblem.UNSUPPORTED_FORMAT,
        "the photo must be a JPEG or PNG image",
    )


def test_a_decompression_bomb_is_refused_from_its_header(monkeypatch: pytest.MonkeyPatch) -> None:
    data = bomb_png()
    assert len(data) < 200 * 1024
    start = time.perf_counter()
    assert upload_rejection(data).reason_code is PhotoProblem.TOO_MANY_PIXELS
    assert time.perf_counter() - start < 0.5
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # Pillow's own limit lifted elsewhere
    assert upload_rejection(data).reason_code is PhotoProblem.TOO_MANY_PIXELS
    assert rejection(data).reason_code is PhotoProblem.TOO_MANY_PIXELS


def test_more_than_40_megapixels_are_refused_below_pillows_limit() -> None:
    assert upload_rejection(png_header_only(7000, 6000)).reason_code is PhotoProblem.TOO_MANY_PIXELS
    assert check_upload(hostile.jpeg_header_only(8000, 5000)).width == 8000  # exactly 40 megapixels


# Files made to cost the check memory or time: refused from the header, at upload and in the job


@pytest.mark.parametrize(
    "make, problem, words",
    [
        (hostile.white_rgba_png, PhotoProblem.TOO_MANY_PIXELS, "a PNG photo may have at most 6 megapixels"),
        (lambda: hostile.png_file(2450, 2450, 8, 2), PhotoProblem.TOO_MANY_PIXELS, "send it as a JPEG"),
        (hostile.grey16_png, PhotoProblem.UNSUPPORTED_COLOURS, "8-bit colour"),
        (lambda: hostile.png_file(64, 48, 16, 6), PhotoProblem.UNSUPPORTED_COLOURS, "8-bit colour"),
        (hostile.cmyk_jpeg, PhotoProblem.UNSUPPORTED_COLOURS, "CMYK"),
        (lambda: hostile.jpeg_header_only(64, 48, 0xC1, precision=12), PhotoProblem.UNSUPPORTED_COLOURS, "8-bit"),
        (hostile.animated_png, PhotoProblem.ANIMATED, "still image"),
        (hostile.text_bomb_png, PhotoProblem.TOO_MUCH_METADATA, "too much text"),
        (hostile.many_chunks_png, PhotoProblem.TOO_MANY_PARTS, "too many parts"),
        (lambda: hostile.jpeg_header_only(64, 48, 0xC2, scans=101), PhotoProblem.TOO_MANY_PARTS, "too many scans"),
        # 54 MB of coefficients, kept whole by libjpeg whatever the scale decoded
        (
            lambda: hostile.jpeg_header_only(3000, 3000, 0xC2, sampling=(0x11, 0x11, 0x11)),
            PhotoProblem.TOO_MANY_PIXELS,
            "progressive",
        ),
        (  # not interleaved: one component a scan, kept whole the same
            lambda: hostile.jpeg_header_only(4000, 3000, scan_components=1),
            PhotoProblem.TOO_MANY_PIXELS,
            "progressive",
        ),
        (lambda: hostile.jpeg_header_only(64, 48, 0xC3), PhotoProblem.UNSUPPORTED_FORMAT, "lossless"),
    ],
)
def test_a_costly_file_is_refused_alike_at_upload_and_in_the_job(make, problem: PhotoProblem, words: str) -> None:
    data = make()
    at_upload = upload_rejection(data)
    assert at_upload.reason_code is problem and words in at_upload.message
    assert rejection(data).reason_code is problem


def test_what_ordinary_files_carry_is_accepted() -> None:
    """A PNG with its text and ICC profile, a progressive or non-interleaved 12-megapixel JPEG with
    colour subsampled as encoders do, a grey-and-alpha PNG: within the limits."""
    icc = zlib.compress(bytes(3000))
    ordinary = hostile.with_chunks(
        hostile.small_png(),
        hostile.chunk(b"iCCP", b"sRGB\x00\x00" + icc),
        hostile.chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"taken at the office " * 1000)),
        hostile.chunk(b"tEXt", b"Software\x00an editor"),
    )
    assert check_upload(ordinary).format == "PNG"
    assert check_upload(hostile.jpeg_header_only(3264, 2448, 0xC2)).width == 3264  # 8 MP, 4:2:0
    assert check_upload(hostile.jpeg_header_only(2000, 1500, scan_components=1)).width == 2000
    assert check_upload(hostile.many_chunks_png(10_000)).format == "PNG"
    grey = Image.fromarray(np.asarray(portrait(1600, 1200).convert("LA")))
    assert Image.open(io.BytesIO(normalise(png(grey), id_number_with_x()).jpeg)).mode == "RGB"


@pytest.mark.parametrize("seed", ["png", "jpeg"])
def test_a_damaged_header_is_refused_as_a_photo_problem_never_an_error(seed: str) -> None:
    """Every cut and every changed byte of a header: accepted, or refused with a reason."""
    if seed == "png":
        data = hostile.with_chunks(
            hostile.small_png(), hostile.chunk(b"iTXt", b"k\x00\x01\x00en\x00t\x00" + zlib.compress(b"y" * 500))
        )
    else:
        data = hostile.saved(Image.new("RGB", (64, 48), (200, 100, 50)), "JPEG", progressive=True)
    header = data[: min(len(data), 700)]
    variants = [data[:n] for n in range(len(header))]
    variants += [data[:n] + bytes((value,)) + data[n + 1 :] for n in range(len(header)) for value in (0, 0x7F, 0xFF)]
    for variant in variants:
        try:
            check_upload(variant)
        except PhotoRejected:
            pass


# The file size bounds (P7)


def test_a_flat_card_is_too_little_detail_to_reach_14_kb() -> None:
    with pytest.raises(PhotoRejected) as caught:
        card_photos._encode(Image.new("RGB", (CARD_WIDTH, CARD_HEIGHT), (240, 240, 240)))
    assert caught.value.reason_code is PhotoProblem.TOO_LITTLE_DETAIL


def test_a_grainy_card_cannot_fit_40_kb() -> None:
    noise = np.random.default_rng(3).integers(0, 256, (CARD_HEIGHT, CARD_WIDTH, 3), dtype=np.uint8)
    with pytest.raises(PhotoRejected) as caught:
        card_photos._encode(Image.fromarray(noise))
    assert caught.value.reason_code is PhotoProblem.TOO_NOISY


def test_a_card_under_14_kb_gets_full_resolution_colour() -> None:
    """Flat light with fine colour: small with the colour subsampled, within bounds without."""
    ycrcb = np.full((CARD_HEIGHT, CARD_WIDTH, 3), 128, dtype=np.float32)
    ycrcb[..., 0] = 180
    colour = np.random.default_rng(5).normal(0, 3, (CARD_HEIGHT // 3 + 1, CARD_WIDTH // 3 + 1, 2))
    ycrcb[..., 1:] += colour.repeat(3, 0).repeat(3, 1)[:CARD_HEIGHT, :CARD_WIDTH]
    card = Image.fromarray(cv2.cvtColor(np.clip(ycrcb, 0, 255).astype(np.uint8), cv2.COLOR_YCrCb2RGB))
    assert len(card_photos._jpeg(card, 95, subsampling=2)) < 14 * 1024
    encoded, _quality = card_photos._encode(card)
    assert 14 * 1024 <= len(encoded) <= 40 * 1024
    assert JpegImagePlugin.get_sampling(Image.open(io.BytesIO(encoded))) == 0

"""Photo files made to cost a checker memory or time (decompression bombs and their kin), built
from their bytes so that making them costs the test little, and the worst files the check accepts.
Shared by the photo check's tests, its memory test and the upload through the graph."""

from __future__ import annotations

import io
import struct
import zlib
from functools import cache

from PIL import Image

from tests.factories import portrait

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_file(width: int, height: int, depth: int, colour: int, *chunks: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return PNG_SIGNATURE + chunk(b"IHDR", header) + b"".join(chunks) + chunk(b"IEND", b"")


def saved(image: Image.Image, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


@cache
def white_rgba_png(side: int = 6300) -> bytes:
    """The probe's file: a complete, white, opaque RGBA PNG of ``side`` squared pixels, 170 KB for
    6300 (159 MB decoded, 500 MB peak in the check that decoded it)."""
    row = b"\x00" + b"\xff" * (side * 4)  # filter byte, then white opaque pixels
    compressor = zlib.compressobj(6)
    rows = [compressor.compress(row * 100) for _ in range(side // 100)]
    idat = b"".join(rows) + compressor.compress(row * (side % 100)) + compressor.flush()
    return png_file(side, side, 8, 6, chunk(b"IDAT", idat))


def small_png(**options) -> bytes:
    return saved(Image.new("RGB", (64, 48), (235, 235, 235)), "PNG", **options)


def with_chunks(png: bytes, *chunks: bytes) -> bytes:
    """``png`` with ``chunks`` inserted after its header chunk."""
    after_header = len(PNG_SIGNATURE) + 25
    return png[:after_header] + b"".join(chunks) + png[after_header:]


@cache
def text_bomb_png() -> bytes:
    """48 zTXt chunks of 1 MB of text each, 50 KB compressed: below Pillow's own 64 MB of text."""
    body = b"Comment\x00\x00" + zlib.compress(b"a" * (1024 * 1024 - 1), 9)
    return with_chunks(small_png(), *[chunk(b"zTXt", body)] * 48)


def many_chunks_png(count: int = 10_001) -> bytes:
    """A small PNG of ``count`` chunks in all, its image data in all but two, most of them empty."""
    png = small_png()
    idat_start = png.index(b"IDAT") - 4
    (length,) = struct.unpack_from(">I", png, idat_start)
    idat = png[idat_start + 8 : idat_start + 8 + length]
    pieces = [chunk(b"IDAT", idat)] + [chunk(b"IDAT", b"")] * (count - 3)
    return png[:idat_start] + b"".join(pieces) + chunk(b"IEND", b"")


def animated_png() -> bytes:
    frames = [Image.new("RGB", (64, 48), colour) for colour in ((235, 235, 235), (20, 20, 20))]
    return saved(frames[0], "PNG", save_all=True, append_images=frames[1:])


def jpeg_header_only(
    width: int,
    height: int,
    frame: int = 0xC0,
    precision: int = 8,
    sampling: tuple[int, ...] = (0x22, 0x11, 0x11),
    scan_components: int | None = None,
    scans: int = 1,
) -> bytes:
    """Start of image, a frame header and ``scans`` scan headers (empty scans), end of image: what
    the header check reads."""

    def segment(marker: int, body: bytes) -> bytes:
        return bytes((0xFF, marker)) + struct.pack(">H", len(body) + 2) + body

    components = b"".join(bytes((n + 1, hv, 0)) for n, hv in enumerate(sampling))
    sof = segment(frame, struct.pack(">BHHB", precision, height, width, len(sampling)) + components)
    in_scan = scan_components or len(sampling)
    sos = segment(0xDA, bytes((in_scan,)) + b"".join(bytes((n + 1, 0)) for n in range(in_scan)) + b"\x00\x3f\x00")
    return b"\xff\xd8" + sof + (sos + b"\x00") * scans + b"\xff\xd9"


def cmyk_jpeg() -> bytes:
    return saved(Image.new("CMYK", (64, 48), (0, 0, 0, 10)), "JPEG")


def grey16_png() -> bytes:
    return saved(Image.new("I;16", (64, 48), 60000), "PNG")


def exif_turned() -> bytes:
    """EXIF orientation 6: turn clockwise to view."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return exif.tobytes()


def largest_rgba_png(side: int = 2449) -> bytes:
    """The worst PNG the check accepts: within the budget (side squared, 6.0 megapixels), with a
    transparent background to flatten and an EXIF rotation to undo, each a second image."""
    turned = portrait(side, side).convert("RGBA").transpose(Image.Transpose.ROTATE_90)
    return saved(turned, "PNG", compress_level=1, exif=exif_turned())


def large_jpeg_with_small_face(size: tuple[int, int] = (6000, 4000), face_side: int = 2000) -> bytes:
    """24 megapixels, EXIF-turned, with a face (about a fifth of ``face_side``) narrower than the
    card's at the first, reduced decoding: a check without a budget then decoded it whole."""
    photo = Image.new("RGB", size, (225, 225, 228))
    photo.paste(portrait(face_side, face_side), ((size[0] - face_side) // 2, size[1] // 8))
    return saved(photo.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=90, exif=exif_turned())

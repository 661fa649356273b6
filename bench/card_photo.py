"""Card-photo normalisation (P7): time per 12-megapixel JPEG on one core, and the peak memory of a
check.

Makes 12-megapixel photos from scikit-image's astronaut portrait (the test extra), each framed,
scaled and lit a little differently, with sensor-like grain, landscape and portrait alike. Then, in
a fresh process pinned to one core, times ``normalise`` on each, and, as the baseline in the same
run, a plain full decode of the same JPEG with Pillow.

Memory: the peak resident memory of one check (``check_upload`` then ``normalise``) above where the
warmed-up process stood, read from Linux's VmHWM after resetting it (/proc/self/clear_refs), each
in a fresh process: for three of the 12-megapixel JPEGs, and for files made to cost memory: the
white 6300 x 6300 RGBA PNG of 170 KB an outside probe sent, the largest PNG the check accepts
(transparent, EXIF-turned) and a 24-megapixel JPEG whose face is small at the first decoding.

    python -m bench.card_photo [--photos 30] [--seed 1]
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import resource
import statistics
import struct
import tempfile
import time
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from bench.machine import cpu_model, python

LANDSCAPE, PORTRAIT = (4000, 3000), (3000, 4000)
ID_NUMBER = "11010519491231002X"
PROBE_SIDE = 6300  # the probe's PNG: 39.7 megapixels, below the 40 of the upload limit


def make_photos(count: int, seed: int, folder: Path) -> list[Path]:
    from skimage.data import astronaut

    rng = np.random.default_rng(seed)
    source = Image.fromarray(astronaut())
    grain = rng.normal(0, 3.5, (512, 512, 3)).astype(np.float32)  # tiled: cheap to make
    paths = []
    for n in range(count):
        width, height = LANDSCAPE if n % 3 else PORTRAIT
        side = int(max(width, height) * rng.uniform(1.0, 1.3))
        scaled = source.resize((side, side), Image.Resampling.BICUBIC)
        centre = 224 * side / 512  # of the face, across
        left = int(np.clip(centre - width * rng.uniform(0.35, 0.65), 0, side - width))
        top = int(rng.uniform(0, min(side - height, side * 20 / 512)))  # the hair stays in the frame
        pixels = np.asarray(scaled.crop((left, top, left + width, top + height)), dtype=np.float32)
        pixels *= rng.uniform(0.9, 1.1)
        pixels += np.tile(grain, (height // 512 + 1, width // 512 + 1, 1))[:height, :width]
        path = folder / f"photo-{n:03d}.jpg"
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path, quality=int(rng.integers(88, 96)))
        paths.append(path)
    return paths


def measure(paths: list[Path]) -> dict:
    """In a fresh process, so its peak memory is the work's own."""
    pinned = hasattr(os, "sched_setaffinity")
    if pinned:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    from services.cards.photos import PhotoRejected, normalise

    photos = [path.read_bytes() for path in paths]
    normalise(photos[0], ID_NUMBER)  # the cascade loads once
    Image.open(io.BytesIO(photos[0])).load()
    rss_before = _reset_peak_rss()

    seconds, cards, rejected = [], [], []
    for data in photos:
        start = time.perf_counter()
        try:
            cards.append(normalise(data, ID_NUMBER))
        except PhotoRejected as rejection:
            rejected.append(rejection.reason_code.value)
        seconds.append(time.perf_counter() - start)
    rss_after = _peak_rss()

    tracemalloc.start()
    for data in photos[:5]:
        try:
            normalise(data, ID_NUMBER)
        except PhotoRejected:
            pass
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    decode = []
    for data in photos:
        start = time.perf_counter()
        Image.open(io.BytesIO(data)).load()
        decode.append(time.perf_counter() - start)
    return {
        "pinned": pinned,
        "seconds": seconds,
        "decode": decode,
        "rejected": rejected,
        "sizes": [len(card.jpeg) for card in cards],
        "qualities": [card.quality for card in cards],
        "rss_before_kb": rss_before,
        "rss_after_kb": rss_after,
        "traced_peak": traced_peak,
        "photo_bytes": [len(data) for data in photos],
    }


def white_png(side: int) -> bytes:
    """A complete white, opaque RGBA PNG, compressed row by row as an encoder would."""
    row = b"\x00" + b"\xff" * (side * 4)
    compressor = zlib.compressobj(6)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def costly_files() -> dict[str, bytes]:
    from skimage.data import astronaut

    from services.cards.photos import MAX_DECODED_PIXELS

    exif = Image.Exif()
    exif[0x0112] = 6  # turn clockwise to view: the check turns it, a second image for a while
    source = Image.fromarray(astronaut())
    side = int(MAX_DECODED_PIXELS**0.5)
    largest = source.resize((side, side), Image.Resampling.BICUBIC).convert("RGBA")
    mask = Image.new("L", largest.size, 0)
    ImageDraw.Draw(mask).ellipse((side // 5, 0, side * 4 // 5, side), fill=255)  # head and shoulders
    largest.putalpha(mask)
    png = io.BytesIO()
    largest.transpose(Image.Transpose.ROTATE_90).save(png, "PNG", compress_level=1, exif=exif.tobytes())
    wide = Image.new("RGB", (6000, 4000), (225, 225, 228))
    wide.paste(source.resize((2000, 2000), Image.Resampling.BICUBIC), (2000, 500))
    jpeg = io.BytesIO()
    wide.transpose(Image.Transpose.ROTATE_90).save(jpeg, "JPEG", quality=90, exif=exif.tobytes())
    return {
        f"the probe's white RGBA PNG, {PROBE_SIDE} x {PROBE_SIDE}": white_png(PROBE_SIDE),
        f"the largest PNG accepted, {side} x {side} RGBA, EXIF-turned": png.getvalue(),
        "24-megapixel JPEG, EXIF-turned, face small at the first decoding": jpeg.getvalue(),
    }


def check_peak(data: bytes, warm_up: bytes) -> dict:
    """In a fresh process: one check's peak above the warmed-up process, and its outcome."""
    from services.cards.photos import PhotoRejected, check_upload, normalise

    normalise(warm_up, ID_NUMBER)
    before = _reset_peak_rss()
    try:
        check_upload(data)
        normalise(data, ID_NUMBER)
        outcome = "accepted"
    except PhotoRejected as rejection:
        outcome = f"refused, {rejection.reason_code.value}"
    return {"outcome": outcome, "growth_kb": _peak_rss() - before, "bytes": len(data)}


def _in_fresh_process(function, *args):
    """glibc told to hand every large buffer back when freed, so that none left by the warming-up
    hides one the check holds from the peak."""
    os.environ["MALLOC_MMAP_THRESHOLD_"] = str(128 * 1024)
    try:
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            return pool.apply(function, args)
    finally:
        del os.environ["MALLOC_MMAP_THRESHOLD_"]


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss() -> int:
    """The resident size now, with the peak reset to it where Linux allows; ru_maxrss elsewhere
    (it keeps the parent's peak across exec, so it only bounds the work's own)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return _status_kb("VmRSS") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _peak_rss() -> int:
    return _status_kb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        paths = make_photos(args.photos, args.seed, Path(folder))
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            result = pool.apply(measure, (paths,))
        warm_up = paths[-1].read_bytes()
        ordinary = [_in_fresh_process(check_peak, path.read_bytes(), warm_up) for path in paths[:3]]
        costly = {name: _in_fresh_process(check_peak, data, warm_up) for name, data in costly_files().items()}

    import cv2

    ms = [s * 1000 for s in result["seconds"]]
    decode_ms = [s * 1000 for s in result["decode"]]
    median, baseline = statistics.median(ms), statistics.median(decode_ms)
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} CPUs, "
        f"{'pinned to one core' if result['pinned'] else 'not pinned'}; "
        f"{python()}, "
        f"Pillow {Image.__version__}, OpenCV {cv2.__version__}"
    )
    print(f"photos: {len(ms)} JPEGs of 12 megapixels, {statistics.mean(result['photo_bytes']) / 1e6:.1f} MB on average")
    print(f"normalise: median {median:.1f} ms, p95 {p95(ms):.1f} ms, max {max(ms):.1f} ms")
    print(f"baseline, full Pillow decode of the same JPEG: median {baseline:.1f} ms")
    print(f"ratio normalise/decode: {median / baseline:.2f}")
    print(
        f"peak memory: RSS grew {(result['rss_after_kb'] - result['rss_before_kb']) / 1024:.1f} MB over "
        f"the warmed-up process ({result['rss_after_kb'] / 1024:.0f} MB peak), "
        f"tracemalloc peak {result['traced_peak'] / 1e6:.1f} MB (Python and NumPy only)"
    )
    growths = ", ".join(f"+{peak['growth_kb'] / 1024:.1f}" for peak in ordinary)
    print(
        "peak memory of one check, above the warmed-up process before it, each in a fresh process: "
        f"12-megapixel JPEG {growths} MB"
    )
    for name, peak in costly.items():
        print(f"  {name} ({peak['bytes'] / 1024:.0f} KB): {peak['outcome']}, +{peak['growth_kb'] / 1024:.1f} MB")
    if result["sizes"]:
        print(
            f"cards: {min(result['sizes'])}-{max(result['sizes'])} bytes, "
            f"quality {min(result['qualities'])}-{max(result['qualities'])}"
        )
    if result["rejected"]:
        print(f"rejected: {len(result['rejected'])} ({', '.join(sorted(set(result['rejected'])))})")


if __name__ == "__main__":
    main()

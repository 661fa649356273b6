"""A real `serve --workers 2` whose server processes stop answering for a while, as on a machine
too loaded to schedule them: they are waited for, not killed and replaced over and over."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from settings import Settings

ROOT = Path(__file__).resolve().parents[2]
UVICORN_DEFAULT_HEALTHCHECK_SECONDS = 5  # what serve used to leave uvicorn at


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def children(pid: int) -> set[int]:
    """The server processes `serve` supervises (multiprocessing's helpers left out)."""
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                command = Path(f"/proc/{child}/cmdline").read_bytes()
            except FileNotFoundError:  # gone meanwhile
                continue
            if b"resource_tracker" not in command and b"semaphore_tracker" not in command:
                found.add(int(child))
    return found


def healthz(port: int) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return response.status
    except OSError:
        return None


@pytest.fixture
def two_workers(test_settings: Settings, tmp_path: Path) -> Iterator[tuple[subprocess.Popen, int]]:
    database_url = test_settings.database_url
    if test_settings.uses_embedded_database:  # a copy of the migrated test database: serve migrates it
        database_url = f"sqlite://{tmp_path / 'hall.sqlite3'}"
        shutil.copyfile(test_settings.database_url.removeprefix("sqlite://"), tmp_path / "hall.sqlite3")
    port = free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")},
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "MEDIA_DIR": str(tmp_path / "media"),
        "GRAPHIQL": "false",
    }
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "main.py", "serve", "--workers", "2"], cwd=ROOT, env=environment, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 120
        while not (healthz(port) == 200 and len(children(server.pid)) == 2):
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.2)
        yield server, port
    finally:
        for child in children(server.pid) if server.poll() is None else ():
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGCONT)
        server.send_signal(signal.SIGINT)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads the process tree from /proc")
def test_server_processes_that_stop_answering_for_a_while_are_kept(two_workers: tuple[subprocess.Popen, int]) -> None:
    server, port = two_workers
    workers = children(server.pid)

    for worker in workers:
        os.kill(worker, signal.SIGSTOP)  # not scheduled at all, as under a load that starves it
    try:
        time.sleep(UVICORN_DEFAULT_HEALTHCHECK_SECONDS + 3)  # past the supervisor's old patience
    finally:
        for worker in workers:
            with contextlib.suppress(ProcessLookupError):  # killed by its supervisor
                os.kill(worker, signal.SIGCONT)

    assert server.poll() is None
    assert healthz(port) == 200
    assert children(server.pid) == workers  # the same processes: none killed and replaced

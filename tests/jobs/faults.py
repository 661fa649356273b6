"""Faults for the job tests, made with real processes: arq workers to kill and pause, a Redis of
the test's own to flush or start late, and a TCP proxy to cut between a worker and PostgreSQL.
The shared PostgreSQL and Redis are never stopped, paused or flushed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def needs_postgres_and_redis() -> bool:
    return bool(os.environ.get("REDIS_URL") and os.environ.get("DATABASE_URL", "").startswith("postgres"))


async def wait_for(condition: Callable[[], Awaitable[T | None]], seconds: float = 30.0) -> T:
    """Poll ``condition`` until it returns something; a bound, so that a regression fails instead of hanging."""
    for _ in range(int(seconds / 0.05)):
        found = await condition()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"still waiting after {seconds} s")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Worker:
    """`python main.py worker` with the environment given; its log (JSON lines) in a file."""

    def __init__(self, environment: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, "main.py", "worker"],
                cwd=ROOT,
                env=environment,
                stdout=subprocess.DEVNULL,
                stderr=output,
            )

    def has_logged(self, text: str) -> bool:
        return text in self.log.read_text(errors="replace")

    async def started(self) -> None:
        """Once its start-up is done (jobs.worker.startup)."""
        await wait_for(self._ready)

    async def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"the worker stopped: {self.log.read_text(errors='replace')[-2000:]}")
        return self.has_logged("worker ready")

    def pause(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    async def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        await self._exited()

    async def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a paused worker cannot stop
            self.process.terminate()
            try:
                await self._exited()
            except AssertionError:
                self.process.kill()
                await self._exited()

    async def _exited(self) -> None:
        # Polled, not waited for: the test's event loop may be running the proxy the worker talks through.
        await wait_for(self._gone, seconds=10)

    async def _gone(self) -> bool:
        return self.process.poll() is not None


@contextlib.asynccontextmanager
async def workers(environment: dict[str, str], folder: Path) -> AsyncIterator[Callable[[], Worker]]:
    """``start()`` starts another worker; all of them are stopped at the end."""
    started: list[Worker] = []

    def start() -> Worker:
        worker = Worker(environment, folder / f"worker-{len(started) + 1}.log")
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            await worker.stop()


def worker_environment(database_url: str, redis_url: str, queue_name: str, **settings: Any) -> dict[str, str]:
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "JOB_QUEUE_NAME": queue_name,
        "LOG_LEVEL": "INFO",
    }
    environment.update({name.upper(): str(value) for name, value in settings.items()})
    return environment


class OwnRedis:
    """A Redis server of the test's own on a free port, keeping nothing on disk: to flush, or to
    start after the hall found it down."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None

    async def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            await wait_for(self._answers, seconds=10)
        except BaseException:
            self.stop()
            raise

    async def _answers(self) -> bool:
        try:
            async with self.client() as redis:
                return await redis.ping()
        except (OSError, RedisError):
            return False

    @contextlib.asynccontextmanager
    async def client(self) -> AsyncIterator[Redis]:
        redis = Redis.from_url(self.url, socket_connect_timeout=1)
        try:
            yield redis
        finally:
            await redis.aclose()

    async def flushall(self) -> None:
        async with self.client() as redis:
            await redis.flushall()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


class TcpProxy:
    """Forwards 127.0.0.1:port to a target port; ``cut`` drops every connection and refuses new
    ones (a database gone away), ``restore`` accepts them again on the same port."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._transports: set[asyncio.BaseTransport] = set()
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accepted, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accepted(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.transport.abort()
            return
        self._transports.update((client_writer.transport, server_writer.transport))
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await asyncio.gather(self._pipe(client_reader, server_writer), self._pipe(server_reader, client_writer))
        finally:
            if task is not None:
                self._tasks.discard(task)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            writer.transport.abort()

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for transport in self._transports:
            transport.abort()
        self._transports.clear()

    async def restore(self) -> None:
        await self.start()

    async def close(self) -> None:
        await self.cut()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

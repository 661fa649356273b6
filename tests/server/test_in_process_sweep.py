"""On the embedded defaults the server runs the jobs, so the server sweeps them: a job a killed
server left waiting is queued again when the next one starts."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

import models
from domain.enums import JobKind
from jobs.queue import create_job
from jobs.runner import wall_clock
from main import create_app
from settings import Settings
from tests.server.conftest import running

pytestmark = pytest.mark.usefixtures("db")


async def test_a_job_left_waiting_is_queued_when_the_server_starts(test_settings: Settings, held_jobs) -> None:
    left = await create_job(JobKind.REFRESH_STATISTICS, {})  # recorded, never queued: its server died
    await models.Job.filter(id=left.id).update(created_at=wall_clock() - dt.timedelta(hours=1))
    app = create_app(Settings(database_url=test_settings.database_url, redis_url=None, graphiql=False))
    async with running(app):
        for _ in range(50):
            if str(left.id) in held_jobs.job_ids:
                break
            await asyncio.sleep(0.05)
    assert held_jobs.job_ids == [str(left.id)]

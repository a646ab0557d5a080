"""A worker process killed inside a step body: another worker resumes the run; the killed
attempt counts, so a step without retries left is failed instead of run again."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import pytest
import worldline as wl

from .. import runtime_app as app

pytestmark = pytest.mark.requires("multiprocess")


@pytest.mark.parametrize("retry", [True, False], ids=["retried", "exhausted"])
async def test_killed_worker_inside_step(world, world_namespace_url, tmp_path, retry):
    marker = str(tmp_path / "marker")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "worldline", "worker", "worldline_conformance.runtime_app",
        "--world", world_namespace_url, "--poll", "0.05", "--visibility-timeout", "1",
        "--inline-grace", "1", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        handle = await wl.start(app.crash_wf, marker, retry, world=world)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while not await asyncio.to_thread(os.path.exists, marker):  # the body is running
            assert loop.time() < deadline and proc.returncode is None
            await asyncio.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    async with wl.Worker(world, poll=0.05, visibility_timeout=1, inline_grace=1):
        if retry:
            assert await handle.result(timeout=30) == "recovered"
        else:
            with pytest.raises(wl.WorkflowError) as info:
                await handle.result(timeout=30)
            assert info.value.type == "StepAttemptsExhausted"
    (step,), _ = await world.steps.list(handle.run_id)
    assert step.attempt == (2 if retry else 1)

"""Several ``worldline worker`` processes share one world; SIGTERM stops them cleanly."""

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


def _spawn(url: str, concurrency: int = 4) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "worldline", "worker", "worldline_conformance.runtime_app",
           "--world", url, "--concurrency", str(concurrency), "--poll", "0.05"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


async def _stop(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    out = await asyncio.to_thread(proc.communicate, timeout=30)
    return proc.returncode, out[1].decode()


async def test_two_worker_processes_share_the_world(world, world_namespace_url, tmp_path):
    """Each worker takes one message at a time and the step only returns once two processes
    are inside it, so both workers must take part — by construction, not by timing."""
    procs = [_spawn(world_namespace_url, concurrency=1) for _ in range(2)]
    for proc in procs:
        assert proc.stderr is not None
        line = await asyncio.to_thread(proc.stderr.readline)
        assert b"worker ready" in line, line
    try:
        handles = [await wl.start(app.meet_wf, str(tmp_path), 2, world=world) for _ in range(2)]
        pids = {await h.result(timeout=60) for h in handles}
        more = [await wl.start(app.pids_wf, 3, world=world) for _ in range(6)]
        for handle in more:  # and ordinary work keeps flowing through both
            assert set(await handle.result(timeout=60)) <= {p.pid for p in procs}
    finally:
        stopped = [await _stop(p) for p in procs]
    assert pids == {p.pid for p in procs}, f"expected both workers to run steps, saw {pids}"
    assert os.getpid() not in pids
    for code, err in stopped:
        assert code == 0, err
        assert "worker stopped" in err

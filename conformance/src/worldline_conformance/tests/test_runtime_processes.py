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


def _spawn(url: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "worldline", "worker", "worldline_conformance.runtime_app",
           "--world", url, "--concurrency", "4", "--poll", "0.05"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


async def _stop(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    out = await asyncio.to_thread(proc.communicate, timeout=30)
    return proc.returncode, out[1].decode()


async def test_two_worker_processes_share_the_world(world, world_namespace_url):
    procs = [_spawn(world_namespace_url) for _ in range(2)]
    for proc in procs:  # both lease before the first run is started
        assert proc.stderr is not None
        line = await asyncio.to_thread(proc.stderr.readline)
        assert b"worker ready" in line, line
    try:
        handles = [await wl.start(app.pids_wf, 3, world=world) for _ in range(12)]
        results = [await h.result(timeout=60) for h in handles]
    finally:
        stopped = [await _stop(p) for p in procs]
    pids = {pid for result in results for pid in result}
    assert pids <= {p.pid for p in procs}
    assert len(pids) == 2, f"expected both workers to run steps, saw {pids}"
    assert os.getpid() not in pids
    for code, err in stopped:
        assert code == 0, err
        assert "worker stopped" in err

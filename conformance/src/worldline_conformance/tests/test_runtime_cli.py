"""The ``worldline`` CLI against the world under test (subprocesses, an embedded worker)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid

import pytest
import worldline as wl

from .runtime_helpers import wait_for, worker  # noqa: F401

pytestmark = [pytest.mark.requires("multiprocess"), pytest.mark.usefixtures("worker")]


async def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "worldline", *args],
                                   capture_output=True, text=True, timeout=60)


async def test_start_list_show_events_and_resume(world, world_namespace_url):
    url = ["--world", world_namespace_url]
    started = await cli("start", "rt.sequential", "[5]", *url, "--wait", "30", "--json")
    assert started.returncode == 0, started.stderr
    out = json.loads(started.stdout)
    assert out["result"] == 116
    listed = await cli("runs", "list", *url, "--json")
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [out["run_id"]]
    shown = await cli("runs", "show", out["run_id"], *url, "--json")
    assert json.loads(shown.stdout)["status"] == "completed"
    events = await cli("runs", "events", out["run_id"], *url, "--json")
    assert json.loads(events.stdout)[-1]["type"] == "run_completed"

    token = f"cli-{uuid.uuid4().hex}"
    handle = await wl.start("rt.hooks", token, 1, world=world)

    async def live() -> bool:
        try:
            await world.hooks.get_by_token(token)
            return True
        except wl.NotFound:
            return False

    await wait_for(live)
    resumed = await cli("hooks", "resume", token, '{"ok": true}', *url)
    assert resumed.returncode == 0, resumed.stderr
    assert await handle.result(timeout=30) == [{"ok": True}]


async def test_errors_are_one_line_with_non_zero_exit(world_namespace_url):
    bad_world = await cli("runs", "list", "--world", "nosuch://x")
    assert bad_world.returncode != 0
    assert "nosuch" in bad_world.stderr and len(bad_world.stderr.strip().splitlines()) == 1
    missing = await cli("runs", "show", "run_01ARZ3NDEKTSV4RRFFQ69G5FAV",
                        "--world", world_namespace_url)
    assert missing.returncode != 0 and "NotFound" in missing.stderr
    token = await cli("hooks", "resume", "nobody-holds-this", "1",
                      "--world", world_namespace_url)
    assert token.returncode != 0 and "nobody-holds-this" in token.stderr

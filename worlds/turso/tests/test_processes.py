"""Several OS processes writing one database at once (an embedded libSQL file; the remote
database too when one is given): every transition is one transaction, so the log stays
dense and contested writes have exactly one winner.

Each child opens its own world on the file, reports ready, and starts only when the parent
has seen every child ready (a barrier through the pipes), then writes as fast as it can.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter

import pytest
from worldline import Conflict
from worldline.ids import new_id
from worldline.model import NewEvent
from worldline_conformance.logcheck import check_world_logs
from worldline_turso import open_world

PROCESSES = 4
OWN_STEPS = 33  # x3 transitions each (created, started, completed) = 99 per process
SHARED_STEPS = 20  # every process races step_created on these: one winner each
MESSAGES = 120  # leased by all processes at once: each exactly once


async def _child(url: str, run_id: str, me: int) -> dict[str, object]:
    world = open_world(url)
    await world.open()
    try:
        print("ready", flush=True)
        sys.stdin.readline()  # the barrier: "go" once every child is ready
        won = lost = 0
        for i in range(OWN_STEPS):
            step_id = f"step_p{me}_{i:03d}"
            await world.events.create(run_id, NewEvent("step_created", step_id,
                                                       {"step_name": "own"}))
            await world.events.create(run_id, NewEvent("step_started", step_id))
            await world.events.create(run_id, NewEvent("step_completed", step_id,
                                                       {"output": me}))
            shared = f"step_shared_{i % SHARED_STEPS:03d}"
            try:
                await world.events.create(run_id, NewEvent("step_created", shared,
                                                           {"step_name": f"p{me}"}))
                won += 1
            except Conflict:
                lost += 1
        leased: list[str] = []
        while batch := await world.queue.lease(["jobs"], visibility_timeout=300, limit=3):
            for message in batch:
                leased.append(message.message_id)
                assert await world.queue.ack(message)
        return {"won": won, "lost": lost, "leased": leased}
    finally:
        await world.close()


@pytest.mark.timeout(300)
async def test_four_processes_share_one_database(turso_url: str) -> None:
    url = turso_url
    world = open_world(url)
    await world.open()
    try:
        run_id = new_id("run")
        await world.events.create(run_id, NewEvent("run_created", data={"workflow_name": "wf",
                                                                        "input": None}))
        await world.events.create(run_id, NewEvent("run_started"))
        queued = {await world.queue.enqueue("jobs", {"n": n}) for n in range(MESSAGES)}
        children = [await asyncio.create_subprocess_exec(
            sys.executable, __file__, url, run_id, str(me),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
            for me in range(PROCESSES)]
        for child in children:
            assert child.stdout is not None
            assert (await child.stdout.readline()).strip() == b"ready"
        for child in children:
            assert child.stdin is not None
            child.stdin.write(b"go\n")
        outputs = await asyncio.wait_for(
            asyncio.gather(*(child.communicate() for child in children)), 240)
        assert [child.returncode for child in children] == [0] * PROCESSES, outputs
        reports = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]

        leased = Counter(m for report in reports for m in report["leased"])
        assert set(leased) == queued and set(leased.values()) == {1}
        assert sum(r["won"] for r in reports) == SHARED_STEPS

        events = await world.raw_events(run_id)
        expected = 2 + PROCESSES * OWN_STEPS * 3 + SHARED_STEPS
        assert [e["seq"] for e in events] == list(range(1, expected + 1))
        created = Counter(e["correlation_id"] for e in events if e["type"] == "step_created")
        assert set(created.values()) == {1}
        assert len(created) == PROCESSES * OWN_STEPS + SHARED_STEPS
        run = await world.runs.get(run_id)
        assert run.last_seq == expected
        await check_world_logs(world)
        await world.destroy()
    finally:
        await world.close()


if __name__ == "__main__":
    report = asyncio.run(_child(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    print(json.dumps(report), flush=True)

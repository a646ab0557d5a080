"""Several worlds and threads of one process on one database. On an embedded file libsql
keeps the GIL while it waits for SQLite's lock, so without the per-file turn-taking these
writes stall until the busy timeout and fail with 'database is locked'."""

from __future__ import annotations

import asyncio
from collections import Counter

from worldline import Conflict
from worldline.ids import new_id
from worldline.model import NewEvent
from worldline_turso import open_world

WORLDS = 3
TASKS = 8  # per world, more than the pool's threads
ROUNDS = 25


async def test_threads_of_one_process_take_turns(turso_url: str) -> None:
    worlds = [open_world(turso_url) for _ in range(WORLDS)]
    for world in worlds:
        await world.open()
    try:
        run_id = new_id("run")
        await worlds[0].events.create(run_id, NewEvent("run_created",
                                                       data={"workflow_name": "wf"}))
        await worlds[0].events.create(run_id, NewEvent("run_started"))
        start = asyncio.Event()

        async def writer(world_index: int, task: int) -> int:
            await start.wait()
            world, won = worlds[world_index], 0
            for i in range(ROUNDS):
                try:  # every task races every other for the same ids
                    await world.events.create(run_id, NewEvent("step_created", f"step_{i:03d}",
                                                                {"step_name": "s"}))
                    won += 1
                except Conflict:
                    pass
                await world.events.create(run_id, NewEvent(
                    "step_created", f"step_w{world_index}_t{task}_{i:03d}", {"step_name": "s"}))
            return won

        tasks = [asyncio.create_task(writer(w, t)) for w in range(WORLDS) for t in range(TASKS)]
        start.set()
        wins = await asyncio.gather(*tasks)
        assert sum(wins) == ROUNDS
        events = await worlds[0].raw_events(run_id)
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        assert len(events) == 2 + ROUNDS + WORLDS * TASKS * ROUNDS
        assert set(Counter(e["correlation_id"] for e in events[2:]).values()) == {1}
        await worlds[0].destroy()
    finally:
        for world in worlds:
            await world.close()

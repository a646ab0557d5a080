"""The runtime's next batch (``expect_seq`` where this process's last write left the log)
is decided on what that write left, in one round trip: no read. The guards that turn a
stale memory into the reading path's answer are checked on every world by the conformance
suite (``test_events_two_writers.py``)."""

from __future__ import annotations

import pytest
import worldline_postgres.events as events
from worldline import NewEvent
from worldline.ids import new_id


def ev(type: str, correlation_id: str | None = None, **data: object) -> NewEvent:
    return NewEvent(type=type, correlation_id=correlation_id, data=dict(data))


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The runs the reading path (round trip 1) read, in order."""
    seen: list[str] = []
    original = events._read

    async def counted(conn, run_id, batch):
        seen.append(run_id)
        return await original(conn, run_id, batch)

    monkeypatch.setattr(events, "_read", counted)
    return seen


async def test_the_runtimes_next_batches_read_nothing(pworld, reads):
    run_id, first, second = new_id("run"), new_id("step"), new_id("step")
    await pworld.events.create_batch(run_id, [ev("run_created", workflow_name="w"),
                                              ev("run_started")])
    await pworld.events.create_batch(run_id, [ev("step_created", first, step_name="s"),
                                              ev("step_started", first, inline=True)])
    assert reads == [run_id, run_id]
    await pworld.events.create_batch(run_id, [
        ev("step_completed", first, output=1), ev("step_created", second, step_name="s"),
        ev("step_started", second, inline=True)], expect_seq=4)
    await pworld.events.create_batch(run_id, [ev("step_completed", second, output=2),
                                              ev("run_completed", output=3)], expect_seq=7)
    assert reads == [run_id, run_id]
    assert (await pworld.runs.get(run_id)).status == "completed"

"""Differential test: random event sequences against the world and against a reference
model (the pure rules over in-memory projections) must agree on every outcome — the error
class, the appended event type or the no-op — and on the final projections and log."""

from __future__ import annotations

import random
from typing import Any

import pytest
from worldline import NewEvent, WorldError
from worldline.ids import new_id
from worldline.model import Hook, Run, Step, Wait, utcnow
from worldline.rules import decide, validate

from ..helpers import ERROR, ev, iso_in

ROUNDS = 20
EVENTS_PER_ROUND = 30


class Model:
    """The projections of one run, kept by applying ``rules.decide`` decisions."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.run: Run | None = None
        self.entities: dict[str, Step | Wait | Hook] = {}
        self.log: list[str] = []
        self.disposed: set[str] = set()  # hook ids may not be created again (see below)

    def token_holder(self, token: str) -> Hook | None:
        return next((e for e in self.entities.values()
                     if isinstance(e, Hook) and e.token == token), None)

    def apply(self, event: NewEvent) -> str | type[WorldError] | None:
        """The expected outcome: the appended type, None for a no-op, or the error class."""
        event = validate(self.run_id, event)
        cid = event.correlation_id
        holder = self.token_holder(event.data["token"]) if event.type == "hook_created" \
            else None
        try:
            d = decide(self.run_id, event, self.run, self.entities.get(cid or ""),
                       now=utcnow(), token_holder=holder)
        except WorldError as err:
            return type(err)
        if d.event_type is None:
            return None
        self.run = d.run
        if d.entity_changed and d.entity is not None and cid:
            self.entities[cid] = d.entity
        if d.delete_entity and cid:
            del self.entities[cid]
            self.disposed.add(cid)
        if d.clear_run_children:
            self.entities = {k: v for k, v in self.entities.items() if isinstance(v, Step)}
        self.log.append(d.event_type.value)
        return d.event_type.value


def random_event(rng: random.Random, ids: dict[str, list[str]]) -> NewEvent:
    kind = rng.choice(["run", "step", "step", "step", "wait", "hook", "hook"])
    if kind == "run":
        return rng.choice([ev("run_created", workflow_name="wf"), ev("run_started"),
                           ev("run_completed", output=1), ev("run_failed", error=ERROR),
                           ev("run_cancelled")])
    cid = rng.choice(ids[kind])
    if kind == "step":
        return rng.choice([
            ev("step_created", cid, step_name="s"), ev("step_started", cid),
            ev("step_completed", cid, output=rng.randint(0, 9)),
            ev("step_failed", cid, error=ERROR),
            ev("step_retrying", cid, error=ERROR,
               retry_after=iso_in(rng.choice([-60, 3600])))])
    if kind == "wait":
        return rng.choice([ev("wait_created", cid, resume_at=iso_in(1)),
                           ev("wait_completed", cid)])
    return rng.choice([ev("hook_created", cid, token=rng.choice(ids["token"])),
                       ev("hook_received", cid, payload=1), ev("hook_disposed", cid)])


async def outcome(world: Any, run_id: str, event: NewEvent) -> str | type[WorldError] | None:
    try:
        result = await world.events.create(run_id, event)
    except WorldError as err:
        return type(err)
    return None if result.event is None else result.event.type.value


@pytest.mark.parametrize("seed", range(3))
async def test_world_agrees_with_reference_model(world, raw_events, seed):
    rng = random.Random(seed)
    for _ in range(ROUNDS):
        run_id = new_id("run")
        suffix = run_id[4:]
        ids = {k: [f"{k}_{n}{suffix}" for n in "ab"] for k in ("step", "wait", "hook", "token")}
        model = Model(run_id)
        for n in range(EVENTS_PER_ROUND):
            event = ev("run_created", workflow_name="wf") if n == 0 \
                else random_event(rng, ids)
            if event.type == "hook_created" and event.correlation_id in model.disposed:
                continue  # re-creating a disposed hook id: test_hook_id_is_not_reusable
            expected = model.apply(event)
            got = await outcome(world, run_id, event)
            assert got == expected, f"{event} after {model.log}: world {got}, model {expected}"
        assert [e["type"] for e in await raw_events(run_id)] == model.log
        assert model.run is not None
        assert (await world.runs.get(run_id)).status == model.run.status
        steps = {s.step_id: (s.status, s.attempt) for s in (await world.steps.list(run_id)).items}
        assert steps == {k: (v.status, v.attempt) for k, v in model.entities.items()
                         if isinstance(v, Step)}
        waits = {w.wait_id: w.status for w in (await world.waits.list(run_id)).items}
        assert waits == {k: v.status for k, v in model.entities.items() if isinstance(v, Wait)}
        hooks = {h.hook_id: h.token for h in (await world.hooks.list(run_id)).items}
        assert hooks == {k: v.token for k, v in model.entities.items() if isinstance(v, Hook)}

"""Model-based test: the world under test and the reference world (``memory://``) receive the
same random sequences of calls — every event type, valid and invalid, on a handful of runs,
steps, waits, hooks and tokens, and queue enqueue / lease / ack / retry / defer / extend with
idempotency keys — and must give the same answers and hold the same state throughout.

Ids and clock times are the only things masked (:mod:`worldline_conformance.reference`).
Times in events come from a fixed set (long past, far future), so TooEarly is
deterministic; its seconds-left are not compared.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import uuid
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    rule,
    run_state_machine_as_test,
)
from worldline import Enqueue, EventType, Message, NewEvent, NotFound, World
from worldline.protocol import Order

from ..reference import (
    FUTURE,
    PAST,
    Bridge,
    all_pages,
    entity_view,
    event_view,
    reference_world,
    result_view,
    snapshot,
)

CLIENT_TYPES = [t.value for t in EventType if t is not EventType.HOOK_CONFLICT]
STATUSES = [None, "pending", "running", "completed", "failed", "cancelled"]

_scalars = (st.booleans() | st.integers(-(2**53), 2**53)
            | st.sampled_from([0.5, -2.25, 1e-3]) | st.text(st.characters(codec="utf-8"),
                                                           max_size=4))
JSON_VALUES = st.recursive(
    st.none() | _scalars, lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=6)
ERRORS = st.fixed_dictionaries({"name": st.sampled_from(["Boom", "Oops"]),
                                "message": st.text(max_size=5)})

#: SPEC §3 refuses a second hook_created with the same correlation id (and the log checker
#: flags it), but rules.decide accepts it once the first hook was disposed (the hook row is
#: gone). Until the two agree, the model does not re-create a disposed hook id; flip this to
#: check the fix.
REUSE_DISPOSED_HOOK_IDS = False

#: settings sized so the test takes ~20-40 s on the local world
#: (``WORLDLINE_MODEL_EXAMPLES=2000`` for a soak run)
MODEL_SETTINGS = settings(max_examples=int(os.environ.get("WORLDLINE_MODEL_EXAMPLES", "60")),
                          stateful_step_count=50, deadline=None,
                          database=None, suppress_health_check=list(HealthCheck))


def _optional(draw: Any, data: dict[str, Any], key: str, values: st.SearchStrategy[Any]) -> None:
    if draw(st.integers(0, 3)):
        data[key] = draw(values)


class _Model(RuleBasedStateMachine):
    """Drives ``sut`` (set by the test) and a fresh reference world in lock-step."""

    sut: World
    call: Bridge

    def __init__(self) -> None:
        super().__init__()
        nonce = uuid.uuid4().hex[:10]
        self.ref = reference_world()
        self.run_ids = [f"run_{nonce}{i}" for i in range(3)]
        self.workflows = [f"wf-{nonce}-{i}" for i in range(2)]
        self.tokens = [f"tok-{nonce}-{i}" for i in range(2)]
        self.run_keys = [f"idem-{nonce}-{i}" for i in range(2)]
        self.queues = [f"q-{nonce}-{i}" for i in range(2)]
        self.msg_keys = [f"msg-{nonce}-{i}" for i in range(3)]
        self.ids = {"step": ["step_a", "step_b"], "wait": ["wait_a", "wait_b"],
                    "hook": ["hook_a", "hook_b"]}
        self.counter = itertools.count()
        self.ref_to_sut: dict[str, str] = {}
        self.sut_to_ref: dict[str, str] = {}
        self.leases: list[tuple[Message, Message]] = []
        self.disposed: set[tuple[str, str]] = set()

    # -- helpers -------------------------------------------------------------------------

    def both(self, make: Any, view: Any = lambda x: x) -> Any:
        """Call ``make(world)`` on both worlds; assert equal answers; return the answer."""
        expected = self.call.outcome(lambda: make(self.ref), view)
        actual = self.call.outcome(lambda: make(self.sut), view)
        assert actual == expected, f"world answered {actual!r}, reference {expected!r}"
        return expected

    def pair_ids(self, ref_id: str, sut_id: str) -> None:
        """Message ids differ between worlds but must correspond one to one."""
        assert self.ref_to_sut.setdefault(ref_id, sut_id) == sut_id, \
            f"reference message {ref_id} is {self.ref_to_sut[ref_id]} in the world, not {sut_id}"
        assert self.sut_to_ref.setdefault(sut_id, ref_id) == ref_id, \
            f"world message {sut_id} is both {self.sut_to_ref[sut_id]} and {ref_id}"

    def event_data(self, draw: Any, etype: str) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if etype == "run_created":
            data["workflow_name"] = draw(st.sampled_from(self.workflows))
            _optional(draw, data, "input", JSON_VALUES)
            _optional(draw, data, "idempotency_key", st.sampled_from([None, *self.run_keys]))
        elif etype in ("run_completed", "step_completed"):
            _optional(draw, data, "output", JSON_VALUES)
        elif etype in ("run_failed", "step_failed"):
            data["error"] = draw(ERRORS)
        elif etype == "run_cancelled":
            _optional(draw, data, "reason", st.none() | st.text(max_size=4))
        elif etype == "step_created":
            data["step_name"] = draw(st.sampled_from(["fetch", "save"]))
            _optional(draw, data, "input", JSON_VALUES)
        elif etype == "step_retrying":
            data["error"] = draw(ERRORS)
            _optional(draw, data, "retry_after", st.sampled_from([None, PAST, FUTURE]))
        elif etype == "wait_created":
            data["resume_at"] = draw(st.sampled_from([PAST, FUTURE]))
        elif etype == "hook_created":
            data["token"] = draw(st.sampled_from(self.tokens))
            _optional(draw, data, "metadata", JSON_VALUES)
        elif etype == "hook_received":
            _optional(draw, data, "payload", JSON_VALUES)
        return data

    def enqueue_spec(self, draw: Any) -> Enqueue:
        return Enqueue(queue=draw(st.sampled_from(self.queues)),
                       payload={"n": next(self.counter), "v": draw(JSON_VALUES)},
                       idempotency_key=draw(st.sampled_from([None, *self.msg_keys])),
                       delay=draw(st.sampled_from([0.0, 600.0])))

    def append(self, run_id: str, event: NewEvent, enqueue: Enqueue | None) -> None:
        if not REUSE_DISPOSED_HOOK_IDS and event.type == "hook_created" \
                and (run_id, event.correlation_id) in self.disposed:
            return
        answer = self.both(lambda w: w.events.create(run_id, event, enqueue=enqueue),
                           result_view)
        if event.type == "hook_disposed" and answer[0] == "ok":
            self.disposed.add((run_id, str(event.correlation_id)))

    # -- events --------------------------------------------------------------------------

    @initialize(data=st.data())
    def create_first_run(self, data: st.DataObject) -> None:
        """Start every example with one live run so deeper states are reached."""
        event = NewEvent("run_created", data={"workflow_name": self.workflows[0]})
        self.both(lambda w: w.events.create(self.run_ids[0], event), result_view)
        if data.draw(st.booleans()):
            self.both(lambda w: w.events.create(self.run_ids[0], NewEvent("run_started")),
                      result_view)

    @rule(data=st.data())
    def create_event(self, data: st.DataObject) -> None:
        draw = data.draw
        run_id = draw(st.sampled_from(self.run_ids))
        etype = draw(st.sampled_from(CLIENT_TYPES))
        kind = etype.split("_", 1)[0]
        cid = None if kind == "run" else draw(st.sampled_from(self.ids[kind]))
        event = NewEvent(etype, cid, self.event_data(draw, etype))
        enqueue = self.enqueue_spec(draw) if draw(st.integers(0, 3)) == 0 else None
        self.append(run_id, event, enqueue)

    @rule(data=st.data())
    def create_likely_event(self, data: st.DataObject) -> None:
        """An event the reference world would probably accept, so examples reach deep
        states (running steps, retries, live hooks, token conflicts) and not only errors."""
        choices = self.call(self.likely_events())
        if not choices:  # every run is over: only refusals are left to try
            return
        run_id, etype, cid = data.draw(st.sampled_from(choices))
        if etype == "run_end":
            etype = data.draw(st.sampled_from(["run_completed", "run_failed", "run_cancelled"]))
        event = NewEvent(etype, cid, self.event_data(data.draw, etype))
        enqueue = self.enqueue_spec(data.draw) if data.draw(st.integers(0, 3)) == 0 else None
        self.append(run_id, event, enqueue)

    # the same rule under more names: Hypothesis picks it more often
    create_likely_event_2 = create_likely_event
    create_likely_event_3 = create_likely_event
    create_likely_event_4 = create_likely_event

    async def likely_events(self) -> list[tuple[str, str, str | None]]:
        out: list[tuple[str, str, str | None]] = []
        for run_id in self.run_ids:
            try:
                run = await self.ref.runs.get(run_id)
            except NotFound:
                out.append((run_id, "run_created", None))
                continue
            if run.status == "pending":
                out += [(run_id, "run_started", None)] * 3 + [(run_id, "run_cancelled", None)]
            if run.status.terminal:
                continue
            if run.status == "running":
                out.append((run_id, "run_end", None))
            steps = {s.step_id: str(s.status) for s in (await self.ref.steps.list(run_id)).items}
            waits = {w.wait_id: str(w.status) for w in (await self.ref.waits.list(run_id)).items}
            hooks = {h.hook_id for h in (await self.ref.hooks.list(run_id)).items}
            for step_id in self.ids["step"]:
                status = steps.get(step_id)
                if status is None:
                    out.append((run_id, "step_created", step_id))
                elif status == "pending":
                    out += [(run_id, "step_started", step_id)] * 2
                elif status == "running":
                    out += [(run_id, t, step_id) for t in ("step_completed", "step_failed",
                                                            "step_retrying", "step_retrying")]
            for wait_id in self.ids["wait"]:
                status = waits.get(wait_id)
                out.append((run_id, "wait_created" if status is None else "wait_completed",
                            wait_id))
            for hook_id in self.ids["hook"]:
                out += [(run_id, "hook_received", hook_id)] * 2 + \
                    [(run_id, "hook_disposed", hook_id)] if hook_id in hooks else \
                    [(run_id, "hook_created", hook_id)] * ((run_id, hook_id) not in self.disposed)
        return out

    @rule(data=st.data())
    def create_malformed_event(self, data: st.DataObject) -> None:
        draw = data.draw
        run_id = draw(st.sampled_from(self.run_ids))
        etype = draw(st.sampled_from(CLIENT_TYPES))
        kind = etype.split("_", 1)[0]
        cid = None if kind == "run" else draw(st.sampled_from(self.ids[kind]))
        good = self.event_data(draw, etype)
        how = draw(st.sampled_from(["type", "conflict", "cid", "key", "missing", "value"]))
        if how == "type":
            event = NewEvent(draw(st.sampled_from(["run_paused", "step", "", "RUN_CREATED"])),
                             cid, good)
        elif how == "conflict":
            event = NewEvent("hook_conflict", "hook_a", {"token": self.tokens[0]})
        elif how == "cid":
            wrong = {"run": "step_a", "step": "wait_a", "wait": None, "hook": "hook_"}[kind]
            event = NewEvent(etype, wrong, good)
        elif how == "key":
            event = NewEvent(etype, cid, {**good, "colour": "red"})
        elif how == "missing" and any(k in good for k in ("workflow_name", "step_name", "error",
                                                          "resume_at", "token")):
            required = next(k for k in ("workflow_name", "step_name", "error", "resume_at",
                                        "token") if k in good)
            event = NewEvent(etype, cid, {k: v for k, v in good.items() if k != required})
        else:
            typed = {"run_created": ("workflow_name", 5), "run_failed": ("error", "boom"),
                     "step_retrying": ("retry_after", "soon"), "wait_created": ("resume_at",
                                                                                "2030-01-01"),
                     "hook_created": ("token", ""), "step_created": ("step_name", None)}
            key, value = typed.get(etype, ("unexpected", 1))
            event = NewEvent(etype, cid, {**good, key: value})
        answer = self.both(lambda w: w.events.create(run_id, event), result_view)
        assert answer[:2] == ("error", "ValidationError"), f"{event} was accepted: {answer}"

    # -- reads ---------------------------------------------------------------------------

    @rule(data=st.data())
    def read_one(self, data: st.DataObject) -> None:
        draw = data.draw
        run_id = draw(st.sampled_from(self.run_ids))
        what = draw(st.sampled_from(["run", "step", "wait", "hook", "token"]))
        with_data = draw(st.booleans())
        if what == "run":
            self.both(lambda w: w.runs.get(run_id, with_data=with_data), entity_view)
        elif what == "step":
            step_id = draw(st.sampled_from(self.ids["step"]))
            self.both(lambda w: w.steps.get(run_id, step_id, with_data=with_data), entity_view)
        elif what == "wait":
            wait_id = draw(st.sampled_from(self.ids["wait"]))
            self.both(lambda w: w.waits.get(run_id, wait_id), entity_view)
        elif what == "hook":
            hook_id = draw(st.sampled_from(self.ids["hook"]))
            self.both(lambda w: w.hooks.get(run_id, hook_id), entity_view)
        else:
            token = draw(st.sampled_from(self.tokens))
            self.both(lambda w: w.hooks.get_by_token(token), entity_view)

    @rule(data=st.data())
    def list_pages(self, data: st.DataObject) -> None:
        draw = data.draw
        limit = draw(st.integers(1, 3))
        order: Order = draw(st.sampled_from(["asc", "desc"]))
        with_data = draw(st.booleans())
        status = draw(st.sampled_from(STATUSES))
        workflow = draw(st.sampled_from([None, *self.workflows]))
        run_id = draw(st.sampled_from(self.run_ids))

        async def runs(w: World) -> list[Any]:
            found = await all_pages(lambda c: w.runs.list(
                workflow_name=workflow, status=status, limit=limit, cursor=c, order=order,
                with_data=with_data))
            mine = set(self.run_ids)  # other examples share the world under test
            return [entity_view(r) for r in found if r.run_id in mine]

        async def events(w: World) -> list[Any]:
            return [event_view(e) for e in await all_pages(lambda c: w.events.list(
                run_id, limit=limit, cursor=c, order=order, with_data=with_data))]

        self.both(runs)
        self.both(events)

    @rule()
    def compare_everything(self) -> None:
        self.check_state()

    def check_state(self) -> None:
        expected = self.call(snapshot(self.ref, self.run_ids, self.workflows))
        actual = self.call(snapshot(self.sut, self.run_ids, self.workflows, order="desc"))
        for key, value in expected.items():
            if key.startswith(("runs:", "steps:", "waits:", "hooks:", "events:")):
                actual[key] = actual[key][::-1]  # listed in descending order
            assert actual[key] == value, f"{key}: world has {actual[key]!r}, reference {value!r}"

    # -- queue ---------------------------------------------------------------------------

    @rule(data=st.data())
    def enqueue(self, data: st.DataObject) -> None:
        spec = self.enqueue_spec(data.draw)
        ref_id = self.call(self.ref.queue.enqueue(spec.queue, spec.payload,
                                                  idempotency_key=spec.idempotency_key,
                                                  delay=spec.delay))
        sut_id = self.call(self.sut.queue.enqueue(spec.queue, spec.payload,
                                                  idempotency_key=spec.idempotency_key,
                                                  delay=spec.delay))
        self.pair_ids(ref_id, sut_id)

    @rule(data=st.data())
    def lease(self, data: st.DataObject) -> None:
        queues = data.draw(st.lists(st.sampled_from(self.queues), min_size=1, max_size=2,
                                    unique=True))
        got = [self.call(w.queue.lease(queues, visibility_timeout=600.0, limit=50))
               for w in (self.ref, self.sut)]

        def view(messages: list[Message]) -> dict[int, tuple[Any, ...]]:
            return {m.payload["n"]: (m.queue, m.payload, m.attempt, m.deliveries,
                                     m.idempotency_key) for m in messages}

        assert view(got[1]) == view(got[0]), \
            f"world leased {view(got[1])}, reference {view(got[0])}"
        by_n = {m.payload["n"]: m for m in got[1]}
        for ref_msg in got[0]:
            sut_msg = by_n[ref_msg.payload["n"]]
            self.pair_ids(ref_msg.message_id, sut_msg.message_id)
            self.leases.append((ref_msg, sut_msg))

    @rule(data=st.data())
    def settle(self, data: st.DataObject) -> None:
        if not self.leases:
            return
        ref_msg, sut_msg = data.draw(st.sampled_from(self.leases))
        how = data.draw(st.sampled_from(["ack", "retry", "defer", "extend"]))
        delay = data.draw(st.sampled_from([0.0, 600.0]))
        answers = []
        for world, message in ((self.ref, ref_msg), (self.sut, sut_msg)):
            if how == "ack":
                answers.append(self.call(world.queue.ack(message)))
            elif how == "extend":
                answers.append(self.call(world.queue.extend(message, 600.0)))
            else:
                settle = world.queue.retry if how == "retry" else world.queue.defer
                answers.append(self.call(settle(message, delay)))
        assert answers[1] == answers[0], f"{how}: world said {answers[1]}, reference {answers[0]}"

    lease_2 = lease
    settle_2 = settle

    def teardown(self) -> None:
        try:
            self.check_state()
        finally:
            self.call(self.ref.destroy())


@pytest.mark.timeout(600)  # a loaded machine or a remote world may need more than 120 s
async def test_world_matches_reference_model(world_factory):
    """Random call sequences give the same answers and state as the reference world."""
    sut = await world_factory()
    bridge = Bridge(asyncio.get_running_loop())
    machine = type("WorldModel", (_Model,), {"sut": sut, "call": bridge})
    await asyncio.to_thread(run_state_machine_as_test, machine, settings=MODEL_SETTINGS)

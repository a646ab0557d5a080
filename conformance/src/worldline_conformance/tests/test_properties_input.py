"""Property tests for bad input: malformed events, non-JSON payloads, garbage ids, page
arguments, queue arguments and URLs. Each gets a typed :class:`worldline.WorldlineError`
(never another exception), and the world's data is unchanged afterwards."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings
from worldline import (
    Enqueue,
    EventType,
    NewEvent,
    UnknownWorldError,
    ValidationError,
    World,
    WorldlineError,
    connect,
)
from worldline.cursor import encode_cursor
from worldline.ids import new_id
from worldline.plugins import WorldSpec, available_worlds

from ..helpers import ERROR, ev, make_hook, make_run, make_step, make_wait
from ..reference import FUTURE, Bridge, snapshot

PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, database=None,
                             suppress_health_check=list(HealthCheck))

CLIENT_TYPES = [t.value for t in EventType if t is not EventType.HOOK_CONFLICT]
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=5)
GARBAGE = (st.text(max_size=8) | st.integers() | st.none() | st.binary(max_size=4)
           | st.lists(st.integers(), max_size=2) | st.floats() | st.booleans()
           | st.dictionaries(st.text(max_size=2), st.integers(), max_size=2))


class _Opaque:
    """Not JSON-compatible."""


NOT_JSON = st.sampled_from([_Opaque(), {1, 2}, b"bytes", complex(1, 2), {(1, 2): "tuple key"},
                            float("nan"), float("inf"), range(3)])


def _is_run_id(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("run_") and len(value) >= 5


class Populated:
    """A world with a running run (running step, waiting wait, live hook), a completed run,
    and a queue; ``unchanged()`` asserts a snapshot of all of it is as it was."""

    def __init__(self, world: World, call: Bridge) -> None:
        self.world, self.call = world, call
        self.workflow = f"wf-{new_id('run')[-8:]}"
        self.queue = f"q-{new_id('msg')[-8:]}"

    async def build(self) -> Populated:
        world = self.world
        self.live = await make_run(world, "running", workflow_name=self.workflow)
        self.done = await make_run(world, "completed", workflow_name=self.workflow)
        self.step = await make_step(world, self.live, "running")
        self.wait = await make_wait(world, self.live, resume_in=3600)
        self.hook, self.token = await make_hook(world, self.live)
        self.before = await self.state()
        return self

    async def state(self) -> dict[str, Any]:
        found = await snapshot(self.world, [self.live, self.done], [self.workflow])
        found["queue"] = await self.world.queue.lease([self.queue], limit=10)
        return found

    def unchanged(self) -> None:
        after = self.call(self.state())
        assert after == self.before, "a refused call changed the world's data"

    def refused(self, make: Callable[[], Any], error: type[WorldlineError] = WorldlineError,
                ) -> WorldlineError:
        """``make()`` raises ``error`` (a WorldlineError) and changes nothing."""
        async def go() -> WorldlineError | None:
            try:
                await make()
            except WorldlineError as exc:
                return exc
            return None
        exc = self.call(go())
        assert exc is not None, "the call was accepted"
        assert isinstance(exc, error), f"expected {error.__name__}, got {exc!r}"
        assert str(exc)
        self.unchanged()
        return exc


async def _populated(world_factory: Any) -> Populated:
    world = await world_factory()
    return await Populated(world, Bridge(asyncio.get_running_loop())).build()


def _valid_data(etype: str) -> dict[str, Any]:
    valid: dict[str, dict[str, Any]] = {
        "run_created": {"workflow_name": "wf"}, "run_failed": {"error": ERROR},
        "step_created": {"step_name": "s"}, "step_failed": {"error": ERROR},
        "step_retrying": {"error": ERROR}, "wait_created": {"resume_at": FUTURE},
        "hook_created": {"token": "t"}}
    return dict(valid.get(etype, {}))


@st.composite
def malformed_events(draw: Any, p: Populated) -> tuple[Any, Any]:
    """(run id, event) pairs that are malformed whatever the world's state."""
    run_id = draw(st.sampled_from([p.live, p.done, new_id("run")]))
    etype = draw(st.sampled_from(CLIENT_TYPES))
    kind = etype.split("_", 1)[0]
    cid = None if kind == "run" else draw(st.sampled_from(
        {"step": [p.step, "step_new"], "wait": [p.wait, "wait_new"],
         "hook": [p.hook, "hook_new"]}[kind]))
    data = _valid_data(etype)
    how = draw(st.sampled_from(["run_id", "not_event", "type", "cid", "data", "key",
                                "value", "missing", "time"]))
    if how == "run_id":
        return draw(GARBAGE.filter(lambda v: not _is_run_id(v))), NewEvent(etype, cid, data)
    if how == "not_event":
        return run_id, draw(GARBAGE | st.builds(dict, type=st.just(etype), data=st.just(data)))
    if how == "type":
        bad = draw(GARBAGE.filter(lambda v: not (isinstance(v, str) and v in CLIENT_TYPES)))
        return run_id, NewEvent(bad, cid, data)
    if how == "cid":
        bad = draw(GARBAGE.filter(lambda v: v not in (None, run_id)) if kind == "run" else
                   GARBAGE.filter(lambda v: not (isinstance(v, str) and v.startswith(kind + "_")
                                                 and len(v) > len(kind) + 1)))
        return run_id, NewEvent(etype, bad, data)
    if how == "data":
        return run_id, NewEvent(etype, cid, draw(GARBAGE.filter(lambda v: not isinstance(v,
                                                                                         dict))))
    if how == "key":
        key = draw(st.text(min_size=1, max_size=6).filter(
            lambda k: k not in {"workflow_name", "input", "idempotency_key", "output", "error",
                                "reason", "step_name", "retry_after", "resume_at", "token",
                                "metadata", "payload"}))
        return run_id, NewEvent(etype, cid, {**data, key: draw(JSON)})
    if how == "missing" and data:
        return run_id, NewEvent(etype, cid, {})
    if etype == "run_created" and draw(st.booleans()):
        bad_key = draw(st.just("") | st.integers() | st.lists(st.text(), max_size=1))
        return run_id, NewEvent(etype, cid, {**data, "idempotency_key": bad_key})
    typed = {"run_created": ("workflow_name", st.integers() | st.just("")),
             "run_failed": ("error", st.text() | st.lists(st.integers())),
             "step_failed": ("error", st.text() | st.none()),
             "step_created": ("step_name", st.integers() | st.just("") | st.none()),
             "hook_created": ("token", st.integers() | st.just("")),
             "run_cancelled": ("reason", st.integers() | st.lists(st.text())),
             "wait_created": ("resume_at", st.integers() | st.none()),
             "step_retrying": ("retry_after", st.integers() | st.lists(st.text()))}
    if how == "time" or etype not in typed:
        key = draw(st.sampled_from(["resume_at", "retry_after"]))
        etype, cid = ("wait_created", "wait_new") if key == "resume_at" else \
            ("step_retrying", p.step)
        value = draw(st.text(max_size=12).filter(lambda s: not _iso_with_offset(s))
                     | st.just("2030-01-01T00:00:00"))
        return run_id, NewEvent(etype, cid, {**_valid_data(etype), key: value})
    key, values = typed[etype]
    return run_id, NewEvent(etype, cid, {**data, key: draw(values)})


def _iso_with_offset(text: str) -> bool:
    from datetime import datetime
    try:
        return datetime.fromisoformat(text).tzinfo is not None
    except ValueError:
        return False


async def test_malformed_events_are_validation_errors(world_factory):
    """Every malformed event is a ValidationError, whatever the run's state; nothing is
    written."""
    p = await _populated(world_factory)

    @PROPERTY_SETTINGS
    @given(st.data())
    def check(data: st.DataObject) -> None:
        run_id, event = data.draw(malformed_events(p))
        p.refused(lambda: p.world.events.create(run_id, event), ValidationError)

    await asyncio.to_thread(check)


@st.composite
def events_with_bad_payloads(draw: Any, p: Populated) -> tuple[NewEvent, Enqueue | None]:
    """Events that would be accepted but for a payload (or message) that is not JSON."""
    bad = draw(NOT_JSON)
    nested = draw(st.sampled_from([bad, [1, bad], {"k": {"deep": bad}}]))
    choice = draw(st.sampled_from(["step", "hook", "run", "metadata", "enqueue"]))
    if choice == "step":
        return ev("step_completed", p.step, output=nested), None
    if choice == "hook":
        return ev("hook_received", p.hook, payload=nested), None
    if choice == "run":
        return ev("run_completed", output=nested), None
    if choice == "metadata":
        return ev("hook_created", "hook_new", token="fresh", metadata=nested), None
    return ev("hook_received", p.hook, payload=1), Enqueue(p.queue, {"x": nested})


async def test_non_json_payloads_are_validation_errors(world_factory):
    """A payload that is not JSON-compatible (objects, sets, bytes, NaN, tuple keys) is a
    ValidationError and writes nothing — neither the event nor its message."""
    p = await _populated(world_factory)

    @PROPERTY_SETTINGS
    @given(st.data())
    def check(data: st.DataObject) -> None:
        event, enqueue = data.draw(events_with_bad_payloads(p))
        p.refused(lambda: p.world.events.create(p.live, event, enqueue=enqueue),
                  ValidationError)

    await asyncio.to_thread(check)


async def test_bad_queue_arguments_are_validation_errors(world_factory):
    """Bad enqueue / lease arguments are ValidationErrors; nothing is enqueued."""
    p = await _populated(world_factory)
    queue = p.world.queue
    bad_enqueue: st.SearchStrategy[tuple[Any, Any, Any, Any]] = st.one_of(
        st.tuples(GARBAGE.filter(lambda v: not (isinstance(v, str) and v)), st.just({}),
                  st.none(), st.just(0.0)),
        st.tuples(st.just(p.queue), GARBAGE.filter(lambda v: not isinstance(v, dict)),
                  st.none(), st.just(0.0)),
        st.tuples(st.just(p.queue), st.builds(lambda b: {"v": b}, NOT_JSON), st.none(),
                  st.just(0.0)),
        st.tuples(st.just(p.queue), st.just({}),
                  GARBAGE.filter(lambda v: v is not None and not (isinstance(v, str) and v)),
                  st.just(0.0)),
        st.tuples(st.just(p.queue), st.just({}), st.none(),
                  GARBAGE.filter(lambda v: not (isinstance(v, int | float)
                                                and not isinstance(v, bool) and v >= 0
                                                and math.isfinite(v)))))

    @PROPERTY_SETTINGS
    @given(bad_enqueue)
    def check(args: tuple[Any, Any, Any, Any]) -> None:
        name, payload, key, delay = args
        p.refused(lambda: queue.enqueue(name, payload, idempotency_key=key, delay=delay),
                  ValidationError)

    await asyncio.to_thread(check)


async def test_garbage_ids_and_page_arguments_are_typed_errors(world_factory):
    """Reads given garbage ids, cursors, limits, orders or statuses answer normally or with
    a WorldlineError — never another exception — and change nothing."""
    p = await _populated(world_factory)
    w = p.world
    cursors = GARBAGE | st.lists(JSON, max_size=3).map(lambda v: encode_cursor(*v))
    reads: list[Callable[[Any], Any]] = [
        lambda x: w.runs.get(x), lambda x: w.steps.get(p.live, x),
        lambda x: w.steps.get(x, p.step), lambda x: w.waits.get(p.live, x),
        lambda x: w.waits.get(x, p.wait), lambda x: w.hooks.get(p.live, x),
        lambda x: w.hooks.get(x, p.hook), lambda x: w.hooks.get_by_token(x),
        lambda x: w.steps.list(x), lambda x: w.waits.list(x), lambda x: w.hooks.list(x),
        lambda x: w.events.list(x), lambda x: w.runs.list(workflow_name=x),
        lambda x: w.runs.list(status=x), lambda x: w.runs.list(limit=x),
        lambda x: w.runs.list(order=x), lambda x: w.runs.list(cursor=x),
        lambda x: w.steps.list(p.live, cursor=x), lambda x: w.events.list(p.live, cursor=x),
        lambda x: w.events.list(p.live, limit=x), lambda x: w.hooks.list(p.live, cursor=x),
        lambda x: w.waits.list(p.live, order=x),
    ]

    @PROPERTY_SETTINGS
    @given(st.sampled_from(range(len(reads))), GARBAGE | cursors)
    def check(index: int, value: Any) -> None:
        async def go() -> None:
            try:
                await reads[index](value)
            except WorldlineError as exc:
                assert str(exc)
        p.call(go())

    await asyncio.to_thread(check)
    assert await p.state() == p.before, "a read changed the world's data"


def _schemes(specs: list[WorldSpec]) -> list[str]:
    return sorted({s for spec in specs for s in spec.schemes})


def test_bad_urls_are_typed_errors(world_spec: WorldSpec):
    """``connect()`` with a malformed URL of the world's own schemes builds a world or
    raises a WorldlineError; unknown schemes are UnknownWorldError, text that is not a
    URL is a ValidationError (so is an unknown scheme with a malformed host). Nothing
    connects: no I/O happens before ``open()``."""
    known = _schemes(available_worlds())
    suffix = st.text(max_size=20) | st.sampled_from(["[", "]:x", "@", ":", "?#", "%zz", "//"])
    own = st.tuples(st.sampled_from(list(world_spec.schemes)), suffix).map("://".join)
    unknown = st.tuples(st.from_regex(r"[a-z][a-z0-9+.-]{0,10}", fullmatch=True)
                        .filter(lambda s: s not in known), suffix).map("://".join)

    @PROPERTY_SETTINGS
    @given(own)
    def check_own(url: str) -> None:
        try:
            world = connect(url)
        except WorldlineError as exc:
            assert str(exc)
        else:
            assert isinstance(world, World)

    @PROPERTY_SETTINGS
    @given(unknown)
    def check_unknown(url: str) -> None:
        with pytest.raises((UnknownWorldError, ValidationError)) as info:
            connect(url)
        scheme = url.split("://", 1)[0]
        assert isinstance(info.value, ValidationError) or f"{scheme}://" in str(info.value)

    @PROPERTY_SETTINGS
    @given(GARBAGE.filter(lambda v: bool(v) and not (isinstance(v, str) and (
        "://" in v or v.lower().startswith("file:")))))
    def check_not_url(url: Any) -> None:
        with pytest.raises(ValidationError):
            connect(url)

    check_own()
    check_unknown()
    check_not_url()

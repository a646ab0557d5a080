"""The log checker run after every conformance test (SPEC §8, last paragraph).

:func:`check_log` is pure: it checks one run's persisted log against the run's projections.
:func:`check_world_logs` reads every run of a world's namespace (paginated) and checks each,
plus the world-wide rule that hook tokens are unique among live hooks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from worldline import Hook, Page, Run, RunStatus, Step, Wait, WaitStatus, World

RUN_TERMINAL = frozenset({"run_completed", "run_failed", "run_cancelled"})
STEP_TERMINAL = frozenset({"step_completed", "step_failed"})
CREATED = frozenset({"step_created", "wait_created", "hook_created"})
_TERMINAL_STATUS = {"run_completed": RunStatus.COMPLETED, "run_failed": RunStatus.FAILED,
                    "run_cancelled": RunStatus.CANCELLED}
#: how many log lines an error message shows at most
MAX_SHOWN = 60


def _line(event: dict[str, Any]) -> str:
    cid = event.get("correlation_id")
    return f"  seq={event.get('seq')} {event.get('type')}" + (f" {cid}" if cid else "")


def _violations(events: Sequence[dict[str, Any]], steps: Sequence[Step],
                hooks: Sequence[Hook], waits: Sequence[Wait], run: Run | None) -> list[str]:
    problems: list[str] = []
    seqs = [e.get("seq") for e in events]
    if seqs != list(range(1, len(events) + 1)):
        problems.append(f"sequence numbers not dense from 1 and increasing: {seqs}")
    if events and events[0].get("type") != "run_created":
        problems.append(f"first event is {events[0].get('type')}, not run_created")

    created: Counter[tuple[str, str]] = Counter()
    step_terminals: Counter[str] = Counter()
    wait_completions: Counter[str] = Counter()
    starts: Counter[str] = Counter()
    step_state: dict[str, str] = {}
    terminal: dict[str, Any] | None = None
    for event in events:
        etype, cid = str(event.get("type")), event.get("correlation_id")
        if terminal is not None and etype in RUN_TERMINAL:
            problems.append(f"second run terminal event {etype} at seq={event.get('seq')} "
                            f"(first: {terminal.get('type')} at seq={terminal.get('seq')})")
        elif terminal is not None and not (etype in STEP_TERMINAL
                                           and step_state.get(str(cid)) == "running"):
            problems.append(f"{etype} {cid or ''} at seq={event.get('seq')} after the run's "
                            f"terminal {terminal.get('type')} at seq={terminal.get('seq')}")
        if etype in RUN_TERMINAL and terminal is None:
            terminal = event
        if etype in CREATED:
            created[(etype, str(cid))] += 1
        if etype == "wait_completed":
            wait_completions[str(cid)] += 1
        if etype.startswith("step_") and cid is not None:
            if etype in STEP_TERMINAL:
                step_terminals[cid] += 1
            if etype == "step_started":
                starts[cid] += 1
            step_state[cid] = {"step_created": "pending", "step_started": "running",
                               "step_retrying": "pending"}.get(etype, "terminal")
    for (etype, cid), count in sorted(created.items()):
        if count > 1:
            problems.append(f"{count} {etype} events for {cid}")
    for cid, count in sorted(step_terminals.items()):
        if count > 1:
            problems.append(f"{count} terminal events for step {cid}")
    for cid, count in sorted(wait_completions.items()):
        if count > 1:
            problems.append(f"{count} wait_completed events for {cid}")
    for step in steps:
        if step.attempt != starts[step.step_id]:
            problems.append(f"step {step.step_id} has attempt={step.attempt} but "
                            f"{starts[step.step_id]} step_started events")
        if ("step_created", step.step_id) not in created:
            problems.append(f"step {step.step_id} has no step_created event")
    tokens = Counter(hook.token for hook in hooks)
    for token, count in sorted(tokens.items()):
        if count > 1:
            problems.append(f"token {token!r} held by {count} live hooks")
    if run is not None:
        if terminal is not None and run.status is not _TERMINAL_STATUS[terminal["type"]]:
            problems.append(f"run status is {run.status} but the log ends it with "
                            f"{terminal['type']}")
        if terminal is None and run.status.terminal:
            problems.append(f"run status is {run.status} but the log has no terminal event")
        if run.status.terminal:
            problems.extend(f"live hook {h.hook_id} (token {h.token!r}) on a {run.status} run"
                            for h in hooks)
            problems.extend(f"waiting wait {w.wait_id} on a {run.status} run"
                            for w in waits if w.status is WaitStatus.WAITING)
    return problems


def check_log(events: Sequence[dict[str, Any]], steps: Sequence[Step] = (),
              hooks: Sequence[Hook] = (), waits: Sequence[Wait] = (),
              run: Run | None = None) -> None:
    """Check one run's persisted log (dicts with ``seq``, ``type``, ``correlation_id``, as
    ``World.raw_events`` returns them) against its steps, live hooks, waits and run.
    Raises AssertionError listing every violation and the offending log."""
    problems = _violations(events, steps, hooks, waits, run)
    if problems:
        run_id = run.run_id if run is not None else (events[0].get("run_id") if events
                                                     else None)
        shown = [_line(e) for e in events[:MAX_SHOWN]]
        if len(events) > MAX_SHOWN:
            shown.append(f"  … {len(events) - MAX_SHOWN} more")
        raise AssertionError(f"log check failed for run {run_id}:\n- " + "\n- ".join(problems)
                             + "\nlog:\n" + "\n".join(shown))


async def _all(fetch: Callable[[str | None], Awaitable[Page[Any]]]) -> AsyncIterator[Any]:
    cursor: str | None = None
    while True:
        items, cursor = await fetch(cursor)
        for item in items:
            yield item
        if cursor is None:
            return


async def _collect(fetch: Callable[[str | None], Awaitable[Page[Any]]]) -> list[Any]:
    return [item async for item in _all(fetch)]


async def children(world: World, run_id: str) -> tuple[list[Step], list[Hook], list[Wait]]:
    """Every step, live hook and wait of the run (all pages)."""

    def steps(c: str | None) -> Awaitable[Page[Step]]:
        return world.steps.list(run_id, limit=200, cursor=c, with_data=False)

    def hooks(c: str | None) -> Awaitable[Page[Hook]]:
        return world.hooks.list(run_id, limit=200, cursor=c)

    def waits(c: str | None) -> Awaitable[Page[Wait]]:
        return world.waits.list(run_id, limit=200, cursor=c)

    return await _collect(steps), await _collect(hooks), await _collect(waits)


async def check_world_logs(world: World) -> None:
    """Check every run of the world's namespace; raise AssertionError on a violation."""
    live_tokens: dict[str, list[Hook]] = {}
    async for run in _all(lambda c: world.runs.list(limit=200, cursor=c, with_data=False)):
        events = await world.raw_events(run.run_id)
        steps, hooks, waits = await children(world, run.run_id)
        check_log(events, steps, hooks, waits, run)
        for hook in hooks:
            live_tokens.setdefault(hook.token, []).append(hook)
    shared = {token: holders for token, holders in live_tokens.items() if len(holders) > 1}
    if shared:
        raise AssertionError("hook tokens held by more than one live hook: " + "; ".join(
            f"{token!r}: " + ", ".join(f"{h.run_id}/{h.hook_id}" for h in holders)
            for token, holders in sorted(shared.items())))

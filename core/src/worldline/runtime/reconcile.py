"""Reconciliation (SPEC §7): the housekeeping pass workers run periodically and
``worldline reconcile`` runs on demand.

One pass

1. deletes terminal runs that finished more than ``retention`` ago, each with everything it
   owns, through the world's atomic :meth:`~worldline.protocol.HousekeepingAPI.delete_run`
   (a pass that dies half-way leaves every run either whole or gone);
2. wakes *orphans*: live runs that no queue message names (ready, delayed or leased), that
   await no hook and whose last event is older than ``grace`` — for example a run recorded
   by a world that could not enqueue in the same unit and died in between. The wake-up is a
   workflow message de-duplicated per run and log position, so concurrent passes add one;
   a wake-up for a run that did not need it costs a replay and changes nothing;
3. settles what dead owners left behind, on worlds that have such leftovers: idempotency-key
   and hook-token claims kept apart from the run and hook records, deletions a crashed pass
   did not finish.

A live run is never changed by a pass: it only ever gains a wake-up message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..faults import fault_point
from ..model import Run, RunStatus, utcnow
from ..protocol import World
from .names import send, wake

log = logging.getLogger("worldline.reconcile")

#: default age after which terminal runs are deleted
RETENTION = timedelta(days=30)
#: default time a live run may go without a message before it counts as an orphan
GRACE = timedelta(minutes=5)
_PAGE = 200
_TERMINAL = (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)
_LIVE = (RunStatus.PENDING, RunStatus.RUNNING)


@dataclass
class ReconcileReport:
    """What one pass did."""

    deleted: list[str] = field(default_factory=list)
    woken: list[str] = field(default_factory=list)
    settled: int = 0

    def summary(self) -> str:
        return (f"deleted {len(self.deleted)} expired run(s), woke {len(self.woken)} "
                f"orphaned run(s), settled {self.settled} leftover(s)")


async def reconcile(world: World, *, retention: timedelta = RETENTION,
                    grace: timedelta = GRACE, limit: int = 1000,
                    now: datetime | None = None) -> ReconcileReport:
    """Run one reconciliation pass over ``world``; at most ``limit`` deletions."""
    if retention < timedelta(0) or grace < timedelta(0):
        raise ValueError("retention and grace must not be negative")
    now = now or utcnow()
    report = ReconcileReport()
    async for run in _expired(world, now - retention):
        if len(report.deleted) >= limit:
            break
        if await world.housekeeping.delete_run(run.run_id):
            report.deleted.append(run.run_id)
            fault_point("reconcile.mid_pass")
    queued = await world.housekeeping.queued_run_ids()
    for status in _LIVE:
        async for run in _runs(world, status):
            if run.run_id not in queued and await _orphaned(world, run, now - grace):
                await send(world, wake(run.workflow_name, run.run_id,
                                       f"{run.run_id}.reconcile.{run.last_seq}"))
                report.woken.append(run.run_id)
    report.settled = await world.housekeeping.settle_leftovers()
    return report


async def _runs(world: World, status: RunStatus) -> AsyncIterator[Run]:
    cursor = None
    while True:
        page = await world.runs.list(status=status, limit=_PAGE, cursor=cursor,
                                     with_data=False)
        for run in page.items:
            yield run
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


async def _expired(world: World, cutoff: datetime) -> AsyncIterator[Run]:
    """Terminal runs that finished before ``cutoff``. Run ids sort by creation time, so
    each status is scanned from its oldest run up to the first created after the cutoff."""
    for status in _TERMINAL:
        async for run in _runs(world, status):
            if run.created_at >= cutoff:
                break
            if (run.completed_at or run.updated_at) < cutoff:
                yield run


async def _orphaned(world: World, run: Run, idle_before: datetime) -> bool:
    """No live hook, and the last event is older than ``idle_before``."""
    if (await world.hooks.list(run.run_id, limit=1)).items:
        return False
    last = (await world.events.list(run.run_id, limit=1, order="desc",
                                    with_data=False)).items
    return bool(last) and last[0].created_at < idle_before


async def reconcile_forever(world: World, interval: float, *, stop: asyncio.Event,
                            retention: timedelta = RETENTION,
                            grace: timedelta = GRACE) -> None:
    """Run a pass every ``interval`` seconds until ``stop`` is set (workers use this; the
    first pass comes one interval after the start). A failed pass is logged and retried at
    the next interval; it never stops the worker."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
        if stop.is_set():
            return
        try:
            report = await reconcile(world, retention=retention, grace=grace)
            if report.deleted or report.woken or report.settled:
                log.info("reconcile: %s", report.summary())
        except Exception:  # a pass must never take a worker down
            log.exception("reconcile pass failed; retrying in %.0f s", interval)

"""Housekeeping (SPEC §7): what ``worldline.reconcile`` needs beyond the other APIs.

``delete_run`` is one Lua script (``lua.DELETE_RUN``): it reads the run, refuses a live one
and deletes the run with everything it owns in the same execution, so a reader sees the run
whole or gone. Hook tokens and idempotency keys live in their own hashes but are always
written in the same script as the run and hook records, so a dead owner never leaves a claim
behind, and no deletion is ever half done: ``settle_leftovers`` has nothing to settle.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from worldline.faults import fault_point
from worldline.model import RunStatus

from .log import check_text

if TYPE_CHECKING:
    from .world import RedisWorld

#: the statuses a run may be deleted in (passed to the script, which checks them)
TERMINAL = [status.value for status in RunStatus if status.terminal]


class RedisHousekeeping:
    """``world.housekeeping``."""

    def __init__(self, world: RedisWorld) -> None:
        self.world = world

    async def delete_run(self, run_id: str) -> bool:
        """Delete a terminal run and all it owns in one script; False if live or absent.

        The fault point sits before the script (the atomic unit), outside the guard that
        turns connection errors into ``WorldUnavailable``: an injected fault propagates as
        it is and leaves the run whole."""
        check_text(run_id, "run id")
        keys = self.world.keys
        fault_point("reconcile.mid_delete")
        with self.world.unavailable():
            deleted = await self.world.scripts.delete_run(
                keys=[keys.run(run_id), keys.events(run_id), keys.entities("step", run_id),
                      keys.entities("wait", run_id), keys.entities("hook", run_id),
                      keys.tokens, keys.idempotency, keys.all_runs, keys.stream_meta(run_id),
                      keys.messages, keys.payloads, keys.message_keys, keys.acked_keys],
                args=[run_id, keys.base, *TERMINAL])
        return bool(int(deleted))

    async def queued_run_ids(self) -> set[str]:
        """``payload["run_id"]`` of every message in flight: an ack deletes the payload, so
        the payloads hash holds exactly the ready, delayed and leased messages."""
        found = set()
        for payload in await self.world.client.hvals(self.world.keys.payloads):
            run_id = json.loads(payload).get("run_id")
            if isinstance(run_id, str):
                found.add(run_id)
        return found

    async def settle_leftovers(self) -> int:
        """0: token and idempotency claims are written in the same script as the run and
        hook records, and a deletion is one script, so dead owners leave nothing."""
        return 0

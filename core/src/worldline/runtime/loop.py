"""A private event loop for workflow code, stepped by the runtime until it is idle.

Workflow coroutines (and the tasks ``asyncio.gather`` / ``wait`` / ``as_completed`` create)
run on this loop; the runtime resolves their futures and calls :meth:`run_until_idle`, so
"the workflow is blocked" is exact: no callback is ready. It has no I/O selector.
"""

from __future__ import annotations

import asyncio
from asyncio import events
from typing import Any


class _NoSelector:
    def select(self, timeout: float | None) -> list[Any]:
        return []

    def close(self) -> None:
        return None


class WorkflowLoop(asyncio.BaseEventLoop):
    """An event loop without I/O, run in steps from inside another loop."""

    def __init__(self) -> None:
        super().__init__()
        self._selector = _NoSelector()
        self.set_exception_handler(lambda _loop, _context: None)

    def _process_events(self, event_list: list[Any]) -> None:
        return None

    def _write_to_self(self) -> None:
        return None

    def run_until_idle(self) -> None:
        """Run ready callbacks until none is left (workflow code is then blocked)."""
        previous = events._get_running_loop()
        events._set_running_loop(self)
        try:
            while self._ready:  # type: ignore[attr-defined]
                self._run_once()  # type: ignore[attr-defined]
        finally:
            events._set_running_loop(previous)

    def has_timers(self) -> bool:
        """True if workflow code waits on a real timer (``asyncio.sleep``): not allowed."""
        return any(not h.cancelled() for h in self._scheduled)  # type: ignore[attr-defined]

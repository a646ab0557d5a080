"""Errors raised by workflow and step code, and by the runtime to its callers."""

from __future__ import annotations

import traceback
from typing import Any

from ..errors import WorldlineError


class FatalError(Exception):
    """Raise inside a step to fail it at once, without retries."""


class RetryableError(Exception):
    """Raise inside a step to retry it, optionally after ``retry_after`` seconds."""

    def __init__(self, message: str = "", *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NonDeterminismError(WorldlineError):
    """A replay made a different call than the one recorded at the same position."""


class WorkflowError(WorldlineError):
    """A run or step failed: carries the original error's ``type``, ``message`` and
    ``traceback`` text (raised by ``RunHandle.result`` and by awaiting a failed step)."""

    def __init__(self, error: dict[str, Any], *, run_id: str | None = None) -> None:
        self.type = str(error.get("type", "Error"))
        self.message = str(error.get("message", ""))
        self.traceback = str(error.get("traceback", ""))
        self.run_id = run_id
        self.error = error
        where = f" (run {run_id})" if run_id else ""
        super().__init__(f"{self.type}: {self.message}{where}")


class RunCancelled(WorldlineError):
    """The run was cancelled (raised by ``RunHandle.result``)."""


class RunTimeout(WorldlineError, TimeoutError):
    """``RunHandle.result(timeout=…)`` elapsed before the run finished."""


def error_doc(exc: BaseException) -> dict[str, Any]:
    """The recorded form of an exception: type, message, traceback text."""
    if isinstance(exc, WorkflowError):
        return dict(exc.error)
    return {"type": type(exc).__name__, "message": str(exc),
            "traceback": "".join(traceback.format_exception(exc))}

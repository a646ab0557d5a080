"""Named fault points, for the crash and failure tests of the conformance suite.

The runtime and the worlds call :func:`fault_point` where a failure must be provable:
``"start.enqueue"`` (a world, right before it writes a run's first message),
``"step.after_started"``, ``"step.after_completed"`` (the runtime, around a step),
``"reconcile.mid_pass"`` (between two deletions of a reconcile pass),
``"reconcile.mid_delete"`` (a world, half-way through deleting one run).
Off by default: a dict lookup.

Switch a point on in-process with :func:`inject`, or in another process with the
``WORLDLINE_FAULTS`` variable: ``"step.after_started=kill,start.enqueue=raise"``. ``kill``
sends SIGKILL to the process (a real crash: no cleanup, no finally blocks); ``raise``
raises :class:`InjectedFault`.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator

ENV_VARIABLE = "WORLDLINE_FAULTS"


class InjectedFault(ConnectionError):
    """A failure raised at a fault point (looks like a dropped connection to callers)."""


_active: dict[str, BaseException | str] = {}


def _from_env() -> dict[str, str]:
    spec = os.environ.get(ENV_VARIABLE, "")
    pairs = (item.split("=", 1) for item in spec.split(",") if "=" in item)
    return {name.strip(): action.strip() for name, action in pairs}


def fault_point(name: str) -> None:
    """Fail here if the point ``name`` is switched on."""
    action = _active.get(name)
    if action is None and ENV_VARIABLE in os.environ:
        action = _from_env().get(name)
    if action is None:
        return
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if isinstance(action, BaseException):
        raise action
    raise InjectedFault(f"fault injected at {name!r}")


@contextlib.contextmanager
def inject(name: str, error: BaseException | None = None) -> Iterator[None]:
    """Switch ``name`` on for the block: raise ``error`` (default InjectedFault) there."""
    _active[name] = error if error is not None else InjectedFault(f"fault injected at {name!r}")
    try:
        yield
    finally:
        _active.pop(name, None)

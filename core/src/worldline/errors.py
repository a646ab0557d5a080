"""Typed errors of the World contract (SPEC §3) and of world selection.

Every world error carries the HTTP-style ``status`` it maps to and names the run, the
entity and the state that refused the call, so a log line is enough to understand it.
"""

from __future__ import annotations

from typing import Any


class WorldlineError(Exception):
    """Base class of every error raised by worldline."""


class WorldError(WorldlineError):
    """An event or call refused by a world. ``status`` is the HTTP-style code."""

    status: int = 500

    def __init__(
        self,
        message: str,
        *,
        run_id: str | None = None,
        entity_id: str | None = None,
        state: str | None = None,
    ) -> None:
        self.message = message
        self.run_id = run_id
        self.entity_id = entity_id
        self.state = state
        super().__init__(self._render())

    def _render(self) -> str:
        where = [f"{k}={v}" for k, v in
                 (("run", self.run_id), ("entity", self.entity_id), ("state", self.state)) if v]
        return f"[{self.status}] {self.message}" + (f" ({', '.join(where)})" if where else "")

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.__dict__))


def _rebuild(cls: type[WorldError], message: str, state: dict[str, Any]) -> WorldError:
    err = cls.__new__(cls)
    err.__dict__.update(state)
    Exception.__init__(err, err._render())
    return err


class ValidationError(WorldError):
    """The event or argument is malformed; nothing was written."""

    status = 400


class NotFound(WorldError):
    """The run, step or hook does not exist (404)."""

    status = 404


class Conflict(WorldError):
    """The transition is not allowed in the current state, or someone else did it (409).

    ``existing_run_id`` is set when a ``run_created`` carried an idempotency key that a
    live or completed run already holds.
    """

    status = 409

    def __init__(self, message: str, *, existing_run_id: str | None = None, **kw: Any) -> None:
        self.existing_run_id = existing_run_id
        super().__init__(message, **kw)


class LogMoved(Conflict):
    """``create_batch(..., expect_seq=N)``: the run's log is no longer at ``N`` (someone
    else appended); nothing was written (409)."""

    def __init__(self, message: str, *, expected: int, actual: int, **kw: Any) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(message, **kw)


class Gone(WorldError):
    """The run is over; the caller should stop quietly (410)."""

    status = 410


class TooEarly(WorldError):
    """The step may not start before its ``retry_after`` (425)."""

    status = 425

    def __init__(self, message: str, *, retry_in: float, **kw: Any) -> None:
        self.retry_in = retry_in
        super().__init__(message, **kw)


class UnknownWorldError(WorldlineError, LookupError):
    """No installed world serves the URL's scheme."""


class WorldUnavailable(WorldlineError, ConnectionError):
    """The world's server cannot be reached (names host and port where there is one)."""


class StartFailed(WorldlineError):
    """``start()`` could not hand the run to the queue; nothing was left behind. Retryable."""

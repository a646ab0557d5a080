"""The key layout. Every key of one world starts with the hash tag ``{prefix}``, so a
whole world lives in one Cluster slot and every Lua script touches keys of that slot only
(see docs/worlds/redis.md, "Cluster").

``lua.DELETE_RUN`` builds three kinds of names itself from ``base`` and the run's data —
``runs_by``, ``queue`` and ``stream`` — so a change to those must be made there too
(``tests/test_housekeeping.py`` fails if the two disagree)."""

from __future__ import annotations


class Keys:
    """Key names under one prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.base = "{" + prefix + "}"

    # -- runs and their projections (one run: a hash plus per-run collections) ---------
    def run(self, run_id: str) -> str:
        """Hash ``doc`` (the run's JSON document) and ``seq`` (its last sequence number)."""
        return f"{self.base}:run:{run_id}"

    def events(self, run_id: str) -> str:
        """List of event documents; element ``i`` has ``seq = i + 1``."""
        return f"{self.base}:events:{run_id}"

    def entities(self, kind: str, run_id: str) -> str:
        """Hash entity id -> JSON document, for ``kind`` in step, wait, hook."""
        return f"{self.base}:{kind}s:{run_id}"

    # -- global indexes -----------------------------------------------------------------
    @property
    def tokens(self) -> str:
        """Hash hook token -> the live hook's document."""
        return f"{self.base}:tokens"

    @property
    def idempotency(self) -> str:
        """Hash run idempotency key -> id of the pending, running or completed run."""
        return f"{self.base}:idem"

    @property
    def all_runs(self) -> str:
        """Sorted set (score 0, ordered by member) of every run id."""
        return f"{self.base}:runs"

    def runs_by(self, workflow_name: str | None, status: str | None) -> str:
        """The run-id index for a filter (both, one or neither)."""
        if workflow_name is None and status is None:
            return self.all_runs
        if workflow_name is None:
            return f"{self.base}:runs:st:{status}"
        if status is None:
            return f"{self.base}:runs:wf:{workflow_name}"
        return f"{self.base}:runs:wfst:{status}:{workflow_name}"

    @property
    def none(self) -> str:
        """A never-written placeholder for unused script key slots."""
        return f"{self.base}:none"

    # -- queue --------------------------------------------------------------------------
    def queue(self, name: str) -> str:
        """Sorted set message id -> visible time (epoch seconds) of one queue's messages."""
        return f"{self.base}:q:{name}"

    def notify(self, name: str) -> str:
        """List pushed on every enqueue / retry / defer; idle consumers ``BLPOP`` it."""
        return f"{self.base}:qn:{name}"

    @property
    def messages(self) -> str:
        """Hash message id -> small JSON (queue, attempt, deliveries, lease_id, key)."""
        return f"{self.base}:msgs"

    @property
    def payloads(self) -> str:
        """Hash message id -> payload JSON text (kept byte for byte)."""
        return f"{self.base}:payloads"

    @property
    def message_keys(self) -> str:
        """Hash idempotency key -> message id (pending, leased or recently acked)."""
        return f"{self.base}:qkeys"

    @property
    def acked_keys(self) -> str:
        """Sorted set idempotency key -> ack time, for the de-duplication window."""
        return f"{self.base}:qacked"

    def queue_keys(self, name: str) -> list[str]:
        """The keys the enqueue Lua function takes, in order."""
        return [self.queue(name), self.messages, self.payloads, self.message_keys,
                self.acked_keys, self.notify(name)]

    # -- streams ------------------------------------------------------------------------
    def stream_meta(self, run_id: str) -> str:
        """Hash stream name -> JSON {chunks, closed}."""
        return f"{self.base}:streams:{run_id}"

    def stream(self, run_id: str, name: str) -> str:
        """Redis Stream of one (run, name): entry ``i+1-0`` is chunk ``i``; an ``eof``
        entry after the last chunk marks the close."""
        return f"{self.base}:stream:{run_id}:{name}"

    def pattern(self) -> str:
        """SCAN pattern matching every key of this world (the prefix is glob-safe)."""
        return self.base.replace("[", "\\[").replace("*", "\\*").replace("?", "\\?") + ":*"

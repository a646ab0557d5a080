"""Contenders that live in threads or in separate OS processes, reused across rounds.

Each contender owns an event loop and a world it builds itself from a URL with
:func:`worldline.connect` (as a separate worker would). A round hands every contender one
move; the contenders wait at a shared barrier (``threading.Barrier`` or a
``multiprocessing`` barrier) and perform their moves together. The pool is started once and
driven round after round; a contender switches worlds when the URL changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import queue
import threading
import traceback
from collections.abc import Sequence
from typing import Any

from worldline import World, connect

from .moves import Move

#: seconds a contender waits at the barrier, and the pool waits for a round's outcomes
TIMEOUT = 60.0


class ContenderFailed(AssertionError):
    """A contender raised something other than a typed world error, or hung."""


def serve(index: int, inbox: Any, outbox: Any, barrier: Any) -> None:
    """A contender's loop (thread or process): ``(url, move)`` in, ``(index, outcome,
    error)`` out, ``None`` to stop."""
    loop = asyncio.new_event_loop()
    current: tuple[str, World] | None = None
    try:
        while (item := inbox.get()) is not None:
            url, move = item
            try:
                if current is None or current[0] != url:
                    if current is not None:
                        loop.run_until_complete(current[1].close())
                        current = None
                    world = connect(url)
                    loop.run_until_complete(world.open())
                    current = (url, world)
                barrier.wait(TIMEOUT)
                outbox.put((index, loop.run_until_complete(move.perform(current[1])), None))
            except BaseException as exc:  # reported to the test, which fails
                with contextlib.suppress(Exception):
                    barrier.abort()  # release the others at once instead of after TIMEOUT
                outbox.put((index, None, f"contender {index}: {exc!r}\n"
                                         f"{traceback.format_exc()}"))
    finally:
        if current is not None:
            loop.run_until_complete(current[1].close())
        loop.close()


class ContenderPool:
    """``size`` contenders of one kind (``"thread"`` or ``"process"``)."""

    def __init__(self, kind: str, size: int) -> None:
        self.kind = kind
        self.size = size
        self.broken = False
        self._workers: list[Any] = []
        if kind == "thread":
            self._inboxes: list[Any] = [queue.Queue() for _ in range(size)]
            self._outbox: Any = queue.Queue()
            self._barrier: Any = threading.Barrier(size)
            make: Any = threading.Thread
        elif kind == "process":
            ctx = multiprocessing.get_context("spawn")
            self._inboxes = [ctx.Queue() for _ in range(size)]
            self._outbox = ctx.Queue()
            self._barrier = ctx.Barrier(size)
            make = ctx.Process
        else:
            raise ValueError(f"unknown contender kind {kind!r}")
        for i in range(size):
            worker = make(target=serve, args=(i, self._inboxes[i], self._outbox, self._barrier),
                          daemon=True, name=f"race-{kind}-{i}")
            worker.start()
            self._workers.append(worker)

    def play(self, url: str, moves: Sequence[Move]) -> list[str]:
        """Run one round: contender i performs ``moves[i]``; outcomes in the same order."""
        if len(moves) != self.size:
            raise ValueError(f"{self.size} contenders need {self.size} moves, got {len(moves)}")
        for inbox, move in zip(self._inboxes, moves, strict=True):
            inbox.put((url, move))
        outcomes: list[str | None] = [None] * self.size
        errors: list[str] = []
        for _ in range(self.size):
            try:
                index, outcome, error = self._outbox.get(timeout=TIMEOUT)
            except queue.Empty:
                self.broken = True
                raise ContenderFailed(f"{self.kind} contenders gave no outcome within "
                                      f"{TIMEOUT}s") from None
            outcomes[index] = outcome
            if error:
                errors.append(error)
        if errors:
            self.broken = True
            raise ContenderFailed("\n".join(errors))
        return [str(o) for o in outcomes]

    async def round(self, url: str, moves: Sequence[Move]) -> list[str]:
        return await asyncio.to_thread(self.play, url, moves)

    def close(self) -> None:
        for inbox in self._inboxes:
            inbox.put(None)
        for worker in self._workers:
            worker.join(5)
            if self.kind == "process" and worker.is_alive():
                worker.terminate()

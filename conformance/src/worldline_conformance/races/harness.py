"""The race harness: release N contenders together at a barrier, round after round.

Three kinds of contenders (SPEC §8): ``asyncio`` tasks in the test's loop, each on its own
world from ``world_factory``; ``thread`` contenders, each with its own event loop and its
own world built by URL; ``process`` contenders, separate spawned OS processes connecting by
URL. A scenario supplies ``setup`` (fresh state for one round, and the moves to race) and
``check`` (asserts on outcomes, entities and the log after the round).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest
from worldline import World

from .moves import Move, label
from .pool import ContenderPool
from .report import KEY, RaceRecord

KINDS = ("asyncio", "thread", "process")
#: rounds per race when ``--race-rounds`` is not given (processes are slower to drive)
DEFAULT_ROUNDS = {"asyncio": 50, "thread": 40, "process": 30}

Setup = Callable[[World, int], Awaitable[tuple[Any, Sequence[Move]]]]
Check = Callable[[World, Any, list[str]], Awaitable[None]]


class PoolCache:
    """Thread and process contender pools, started once per session and per size."""

    def __init__(self) -> None:
        self._pools: dict[tuple[str, int], ContenderPool] = {}

    def get(self, kind: str, size: int) -> ContenderPool:
        pool = self._pools.get((kind, size))
        if pool is None or pool.broken:
            if pool is not None:
                pool.close()
            pool = self._pools[(kind, size)] = ContenderPool(kind, size)
        return pool

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()


class Racer:
    """Runs races of one contender kind against the test's namespace."""

    def __init__(self, kind: str, world: World, url: str,
                 factory: Callable[[], Awaitable[World]], pools: PoolCache,
                 rounds: int | None, node: pytest.Item) -> None:
        self.kind = kind
        self.world = world
        self.url = url
        self.rounds = rounds if rounds is not None else DEFAULT_ROUNDS[kind]
        #: True when ``--race-rounds`` set the rounds (soak runs)
        self.soak = rounds is not None
        self._factory = factory
        self._pools = pools
        self._node = node
        self._worlds: list[World] = []

    async def play(self, moves: Sequence[Move]) -> list[str]:
        """One round: every move performed at once by its own contender."""
        if self.kind != "asyncio":
            return await self._pools.get(self.kind, len(moves)).round(self.url, moves)
        while len(self._worlds) < len(moves):
            self._worlds.append(await self._factory())
        barrier = asyncio.Barrier(len(moves))

        async def contend(world: World, move: Move) -> str:
            await barrier.wait()
            return await move.perform(world)

        return list(await asyncio.gather(*(contend(w, m) for w, m in
                                           zip(self._worlds, moves, strict=False))))

    async def run(self, scenario: str, setup: Setup, check: Check,
                  rounds: int | None = None) -> RaceRecord:
        """Race ``rounds`` times; each round gets fresh state from ``setup`` and is checked
        by ``check``. The record goes into the test report either way."""
        record = RaceRecord(scenario=scenario, kind=self.kind, contenders=[],
                            test=self._node.nodeid)
        started = time.perf_counter()
        try:
            for i in range(rounds or self.rounds):
                ctx, moves = await setup(self.world, i)
                labels = [label(m) for m in moves]
                record.contenders = labels
                outcomes = await self.play(moves)
                try:
                    await check(self.world, ctx, outcomes)
                except AssertionError as err:
                    raise AssertionError(
                        f"{scenario} [{self.kind}] round {i}: outcomes "
                        f"{list(zip(labels, outcomes, strict=True))}: {err}") from err
                record.add(labels, outcomes)
        finally:
            record.seconds = time.perf_counter() - started
            self._node.user_properties.append((KEY, record.to_json()))
        return record

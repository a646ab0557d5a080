"""Race fixtures; :mod:`worldline_conformance.plugin` re-exports them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from worldline import World
from worldline.plugins import WorldSpec

from .harness import KINDS, PoolCache, Racer


@pytest.fixture(scope="session")
def race_pools() -> Iterator[PoolCache]:
    """Thread and process contenders, started once and reused by every race."""
    pools = PoolCache()
    yield pools
    pools.close()


@pytest.fixture
def race_rounds(request: pytest.FixtureRequest) -> int | None:
    """``--race-rounds`` (None: each contender kind's default)."""
    value = request.config.getoption("--race-rounds")
    return None if value is None else int(value)


@pytest.fixture(params=KINDS)
def racer(request: pytest.FixtureRequest, world: World, world_spec: WorldSpec,
          world_namespace_url: str, world_factory: Any, race_pools: PoolCache,
          race_rounds: int | None) -> Racer:
    """A race runner of each contender kind (asyncio tasks, threads, processes)."""
    kind = request.param
    if kind != "asyncio" and not world.capabilities.multiprocess:
        pytest.skip(f"world {world_spec.name!r} is not shared between connections "
                    "(capability 'multiprocess')")
    return Racer(kind, world, world_namespace_url, world_factory, race_pools, race_rounds,
                 request.node)

"""The pytest11 entry point: the ``--world`` option, fixtures, capability markers and the
log check that runs after every test on every run the test touched."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import os
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio
from worldline import World
from worldline.plugins import WorldSpec, find_world

from .logcheck import check_world_logs
from .races import report as race_report
from .races.fixtures import race_pools, race_rounds, racer  # noqa: F401  (fixtures)

URL_VARIABLE = "WORLDLINE_TEST_URL"
_counter = itertools.count()

WorldFactory = Callable[[], Awaitable[World]]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("worldline", "worldline conformance")
    group.addoption("--world", default=None,
                    help=f"URL of the world under test (default: ${URL_VARIABLE}, else a "
                         "temporary embedded SQLite file)")
    group.addoption("--race-rounds", type=int, default=None,
                    help="rounds per race scenario (soak runs: thousands)")
    race_report.add_options(group)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "requires(*capabilities): run only on worlds that declare these "
                   "capabilities (see worldline.Capabilities)")
    race_report.register(config)


#: the per-test time limit of a soak, per round (a hung round fails sooner, in the harness)
SOAK_SECONDS_PER_ROUND = 2.0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rounds = config.getoption("--race-rounds")
    for item in items:
        func = getattr(item, "function", None)
        if func is not None and inspect.iscoroutinefunction(func) \
                and item.get_closest_marker("asyncio") is None:
            item.add_marker(pytest.mark.asyncio)
        if rounds and "racer" in getattr(item, "fixturenames", ()):
            # a soak runs as long as its rounds take: the default per-test limit would
            # cut a loaded machine's soak short
            item.add_marker(pytest.mark.timeout(120 + SOAK_SECONDS_PER_ROUND * rounds))


@pytest.fixture(scope="session")
def world_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of the world under test."""
    url = request.config.getoption("--world") or os.environ.get(URL_VARIABLE)
    if not url:
        url = f"sqlite:///{tmp_path_factory.getbasetemp() / 'conformance.db'}"
    return str(url)


@pytest.fixture(scope="session")
def world_spec(world_url: str) -> WorldSpec:
    """The installed world serving ``world_url``."""
    return find_world(world_url)


@pytest.fixture(autouse=True)
def _check_capabilities(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("requires")
    if marker is None:
        return
    spec: WorldSpec = request.getfixturevalue("world_spec")
    url: str = request.getfixturevalue("world_url")
    capabilities = spec.factory(url).capabilities
    missing = [name for name in marker.args if not getattr(capabilities, name, False)]
    if missing:
        pytest.skip(f"world {spec.name!r} does not declare {', '.join(missing)}")


@pytest.fixture
def world_namespace(request: pytest.FixtureRequest) -> str:
    """A name unique to this test (lowercase letters, digits, underscores)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw")
    base = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:20].strip("_")
    return f"wl_{worker}_{next(_counter)}_{uuid.uuid4().hex[:6]}_{base}"


@pytest.fixture
def world_namespace_url(world_spec: WorldSpec, world_url: str, world_namespace: str) -> str:
    """The URL of the world under test, isolated for this test (pass it to subprocesses)."""
    return world_spec.namespaced(world_url, world_namespace)


@pytest_asyncio.fixture
async def world_factory(world_spec: WorldSpec,
                        world_namespace_url: str) -> AsyncIterator[WorldFactory]:
    """Open another world on this test's namespace (a separate connection, as a separate
    worker would have). After the test every run in the namespace is log-checked, then the
    namespace is destroyed."""
    opened: list[World] = []

    async def make() -> World:
        world = world_spec.factory(world_namespace_url)
        await world.open()
        opened.append(world)
        return world

    yield make
    try:
        if opened:
            await check_world_logs(opened[0])
    finally:
        if opened:
            await opened[0].destroy()
        await asyncio.gather(*(w.close() for w in opened), return_exceptions=True)


@pytest_asyncio.fixture
async def world(world_factory: WorldFactory) -> World:
    """One opened world on this test's namespace."""
    return await world_factory()


@pytest.fixture
def raw_events(world: World) -> Callable[[str], Awaitable[list[dict[str, Any]]]]:
    """The backdoor: a run's persisted events straight from storage. Override this fixture
    in a world's conftest if its raw read is not ``World.raw_events``."""
    return world.raw_events

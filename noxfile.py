"""The test matrix. `nox -l` lists the sessions; `nox -s tests` runs every world.

Sessions run inside the uv workspace environment (`uv sync` installs every member
editable), so a session costs no reinstall. Database URLs can be overridden with
`WORLDLINE_<WORLD>_URL`; the servers are started by `scripts/services.sh` when down.
"""

from __future__ import annotations

import os
import tempfile

import nox

nox.options.default_venv_backend = "none"
nox.options.sessions = ["lint", "tests"]

#: world name -> (test URL, service it needs)
WORLDS: dict[str, tuple[str, str]] = {
    "local": (f"sqlite:///{tempfile.gettempdir()}/worldline-tests/local.db", "local"),
    "postgres": ("postgresql://127.0.0.1:5432/test", "postgres"),
    "redis": ("redis://127.0.0.1:6379/0", "redis"),
    "mongo": ("mongodb://127.0.0.1:27018/worldline", "mongo"),
    "turso": (f"file:{tempfile.gettempdir()}/worldline-tests/turso.db", "turso"),
}


def world_url(world: str) -> str:
    return os.environ.get(f"WORLDLINE_{world.upper()}_URL") or WORLDS[world][0]


def pytest(session: nox.Session, *args: str) -> None:
    session.run("uv", "run", "--no-sync", "pytest", *args, *session.posargs, external=True)


def ensure_service(session: nox.Session, world: str) -> None:
    session.run("bash", "scripts/services.sh", WORLDS[world][1], external=True)


@nox.session
@nox.parametrize("world", list(WORLDS), ids=list(WORLDS))
def tests(session: nox.Session, world: str) -> None:
    """Unit tests, then the whole conformance suite against one world (pytest-xdist)."""
    ensure_service(session, world)
    if world == "local":
        pytest(session, "tests", "-q")
    pytest(session, "--pyargs", "worldline_conformance", "--world", world_url(world),
           "-n", os.environ.get("WORLDLINE_TEST_WORKERS", "auto"), "-q")
    if os.path.isdir(f"worlds/{world}/tests"):
        pytest(session, f"worlds/{world}/tests", "-q", "--world", world_url(world))


@nox.session
@nox.parametrize("world", list(WORLDS), ids=list(WORLDS))
def races(session: nox.Session, world: str) -> None:
    """The eight concurrency scenarios against one world (`-- --race-rounds 2000` to soak)."""
    ensure_service(session, world)
    pytest(session, "--pyargs", "worldline_conformance.tests", "-k", "race",
           "--world", world_url(world), "-q")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff and mypy over every package."""
    session.run("uv", "run", "--no-sync", "ruff", "check", ".", external=True)
    packages = ["worldline", "worldline_conformance",
                *[f"worldline_{w}" for w in WORLDS if w != "local"]]
    session.run("uv", "run", "--no-sync", "mypy", *[f"-p{p}" for p in packages],
                external=True)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks (`-- --world X --quick`); results go to benchmarks/results/."""
    session.run("uv", "sync", "--locked", "--quiet", "--group", "bench", external=True)
    for world in WORLDS:
        ensure_service(session, world)
    session.run("uv", "run", "--no-sync", "python", "-m", "benchmarks", *session.posargs,
                external=True)

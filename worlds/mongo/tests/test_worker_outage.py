"""The MongoDB server is stopped while a run sleeps and started again (same port, same data
directory): the worker backs off without exiting and finishes the run
(:mod:`worldline_conformance.outage`).

Runs a private nx-27017 stand-in (like ``scripts/mongo-standin.sh``) on a free port; it is
stopped afterwards."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from worldline_conformance.outage import PrivateServer, assert_worker_survives_restart

#: the stand-in's executable, installed next to the interpreter
STANDIN = Path(sys.executable).with_name("nx-27017")

pytestmark = pytest.mark.skipif(not STANDIN.exists(), reason="needs the nx-27017 stand-in")


def standin_command(port: int, directory: Path) -> list[str]:
    (directory / "data").mkdir(exist_ok=True)
    (directory / "pid").unlink(missing_ok=True)  # a pid file of ours only
    return [str(STANDIN), "--data-dir", str(directory / "data"), "--host", "127.0.0.1",
            "-p", str(port), "--log-file", str(directory / "log"),
            "--pid-file", str(directory / "pid")]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PrivateServer]:
    private = PrivateServer("nx-27017", tmp_path, standin_command)
    try:
        yield private
    finally:
        private.stop()


async def test_worker_survives_server_restart(server, caplog):
    url = f"mongodb://127.0.0.1:{server.port}/wl_outage"
    await assert_worker_survives_restart(server, url, caplog)

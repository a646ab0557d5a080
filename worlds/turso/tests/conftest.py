"""``turso_url``: an embedded file always, and the remote database named by
``$WORLDLINE_TURSO_URL`` when there is one (a scratch database: the tests wipe it)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REMOTE_VARIABLE = "WORLDLINE_TURSO_URL"


@pytest.fixture(params=["embedded", "remote"])
def turso_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "embedded":
        yield f"file:{tmp_path / 'world.db'}?busy_timeout=10"
        return
    url = os.environ.get(REMOTE_VARIABLE)
    if not url:
        pytest.skip(f"set {REMOTE_VARIABLE} to a scratch Turso / sqld database "
                    "(libsql://…, https://…, wss://…) to run the remote path")
    yield url

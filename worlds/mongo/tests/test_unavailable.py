import time

import pytest
from worldline import WorldUnavailable
from worldline_mongo import MongoWorld


async def _closed_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("query", ["?serverSelectionTimeoutMS=300", ""])
async def test_unreachable_server_is_world_unavailable_naming_host_and_port(query):
    port = await _closed_port()
    world = MongoWorld(f"mongodb://127.0.0.1:{port}/wl{query}")
    started = time.monotonic()
    with pytest.raises(WorldUnavailable, match=f"127.0.0.1:{port}"):
        await world.open()
    limit = 2.0 if query else 5.0  # default serverSelectionTimeoutMS is 3 s
    assert time.monotonic() - started < limit
    await world.close()

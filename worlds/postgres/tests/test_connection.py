"""URLs, the plugin registration, an unreachable server, values and cursors."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from worldline import NewEvent, ValidationError, WorldUnavailable, connect
from worldline.cursor import encode_cursor
from worldline.ids import new_id
from worldline.plugins import find_world
from worldline_postgres import PostgresWorld, namespaced, parse_url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_url_options_are_split_from_libpq_options():
    opts = parse_url("postgresql://u:pw@db.example:6543/app?schema=billing&pool_size=20"
                     "&sslmode=disable&migrate=false&max_poll=0.5&application_name=x")
    assert (opts.schema, opts.pool_size, opts.migrate, opts.max_poll) == \
        ("billing", 20, False, 0.5)
    assert (opts.host, opts.port) == ("db.example", "6543")
    assert "sslmode=disable" in opts.conninfo and "application_name=x" in opts.conninfo
    assert "pool_size" not in opts.conninfo and "search_path=billing" in opts.conninfo
    assert parse_url("postgres:///test").schema == "worldline"


@pytest.mark.parametrize("url", [
    "mysql://h/db", "postgresql://h/db?schema=Bad-Name", "postgresql://h/db?schema=",
    "postgresql://h/db?pool_size=0", "postgresql://h/db?max_poll=soon",
    "postgresql://h/db?migrate=maybe", "postgresql://h/db?dedupe_retention=-1"])
def test_bad_urls_are_refused_by_name(url):
    with pytest.raises(ValidationError):
        parse_url(url)


def test_namespaced_replaces_the_schema():
    url = namespaced("postgresql://h:1/db?schema=old&sslmode=disable", "new")
    assert parse_url(url).schema == "new" and "sslmode=disable" in url


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_connect_finds_the_postgres_world(scheme):
    assert find_world(f"{scheme}://h/db").name == "postgres"
    assert isinstance(connect(f"{scheme}://h/db"), PostgresWorld)


async def test_refused_connection_is_world_unavailable_naming_host_and_port():
    port = _free_port()
    world = PostgresWorld(f"postgresql://127.0.0.1:{port}/test?connect_timeout=2")
    start = time.monotonic()
    with pytest.raises(WorldUnavailable) as info:
        await world.open()
    assert f"127.0.0.1:{port}" in str(info.value)
    assert time.monotonic() - start < 5


async def test_silent_host_is_world_unavailable_within_the_connect_timeout():
    # a listening socket that never answers the startup packet: a hung server
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        port = sock.getsockname()[1]
        world = PostgresWorld(f"postgresql://127.0.0.1:{port}/test?connect_timeout=1")
        start = time.monotonic()
        with pytest.raises(WorldUnavailable) as info:
            await asyncio.wait_for(world.open(), 30)
        assert f"127.0.0.1:{port}" in str(info.value)
        assert time.monotonic() - start < 10


async def test_any_json_value_round_trips(pworld):
    # NUL characters and key order survive (columns are ``json``, stored verbatim)
    value = {"z": "a\x00b", "a": ["\x00", {"\x00k": 1.5}], "m": "é☃"}
    run_id = new_id("run")
    await pworld.events.create(run_id, NewEvent("run_created",
                                                data={"workflow_name": "w", "input": value}))
    run = await pworld.runs.get(run_id)
    assert run.input == value and list(run.input) == ["z", "a", "m"]
    events = (await pworld.events.list(run_id)).items
    assert events[0].data["input"] == value
    await pworld.queue.enqueue("q", {"v": value})
    [message] = await pworld.queue.lease(["q"])
    assert message.payload == {"v": value}


async def test_forged_cursor_is_a_validation_error(pworld):
    run_id = new_id("run")
    for cursor in (encode_cursor(5, "step_x"), encode_cursor("yesterday", "step_x")):
        with pytest.raises(ValidationError):
            await pworld.steps.list(run_id, cursor=cursor)
    with pytest.raises(ValidationError):
        await pworld.events.list(run_id, cursor=encode_cursor("1"))

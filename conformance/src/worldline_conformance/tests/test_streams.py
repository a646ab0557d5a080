"""SPEC §6: per (run, name) ordered chunk logs with live tailing."""

from __future__ import annotations

import asyncio

import pytest
from worldline import Conflict, ValidationError

from ..helpers import make_run

pytestmark = pytest.mark.requires("streams")


async def collect(world, run_id, name, start_index=0):
    return [chunk async for chunk in world.streams.read(run_id, name, start_index)]


async def test_write_read_keeps_order_and_types(world):
    run_id = await make_run(world, "running")
    chunks = ["héllo", b"\x00\xffbin", "", b"", "x" * 10_000, "end"]
    indexes = [await world.streams.write(run_id, "out", c) for c in chunks]
    assert indexes == list(range(len(chunks)))
    await world.streams.close(run_id, "out")
    got = await asyncio.wait_for(collect(world, run_id, "out"), 10)
    assert got == chunks
    assert [type(c) for c in got] == [type(c) for c in chunks]


async def test_start_index_positive_and_negative(world):
    run_id = await make_run(world, "running")
    for i in range(5):
        await world.streams.write(run_id, "s", f"c{i}")
    await world.streams.close(run_id, "s")
    assert await collect(world, run_id, "s", 3) == ["c3", "c4"]
    assert await collect(world, run_id, "s", -2) == ["c3", "c4"]
    assert await collect(world, run_id, "s", -99) == [f"c{i}" for i in range(5)]
    assert await collect(world, run_id, "s", 5) == []


async def test_streams_are_separate_by_run_and_name(world):
    run_a = await make_run(world, "running")
    run_b = await make_run(world, "running")
    await world.streams.write(run_a, "s", "a")
    await world.streams.write(run_b, "s", "b")
    await world.streams.write(run_a, "t", "t")
    for run_id, name in ((run_a, "s"), (run_b, "s"), (run_a, "t")):
        await world.streams.close(run_id, name)
    assert await collect(world, run_a, "s") == ["a"]
    assert await collect(world, run_b, "s") == ["b"]
    assert await collect(world, run_a, "t") == ["t"]


async def test_live_reader_gets_later_writes_and_ends_on_close(world, world_factory):
    run_id = await make_run(world, "running")
    writer = await world_factory()
    reader = asyncio.create_task(collect(world, run_id, "live"))
    await asyncio.sleep(0.2)  # the reader is tailing an empty stream
    assert not reader.done(), "the reader ended before the stream was closed"
    for i in range(20):
        await writer.streams.write(run_id, "live", f"{i}" if i % 2 else bytes([i]))
    assert not reader.done()
    await writer.streams.close(run_id, "live")
    got = await asyncio.wait_for(reader, 10)
    assert got == [f"{i}" if i % 2 else bytes([i]) for i in range(20)]


async def test_list_streams(world):
    run_id = await make_run(world, "running")
    await world.streams.write(run_id, "a", "1")
    await world.streams.write(run_id, "a", "2")
    await world.streams.write(run_id, "b", b"x")
    await world.streams.close(run_id, "b")
    infos = sorted(await world.streams.list(run_id), key=lambda s: s.name)
    assert [(s.run_id, s.name, s.chunks, s.closed) for s in infos] == \
        [(run_id, "a", 2, False), (run_id, "b", 1, True)]
    assert await world.streams.list(await make_run(world)) == []


async def test_write_after_close_is_conflict(world):
    run_id = await make_run(world, "running")
    await world.streams.write(run_id, "s", "only")
    await world.streams.close(run_id, "s")
    await world.streams.close(run_id, "s")  # idempotent
    with pytest.raises(Conflict) as info:
        await world.streams.write(run_id, "s", "late")
    assert info.value.status == 409 and info.value.run_id == run_id
    assert await collect(world, run_id, "s") == ["only"]
    assert [s.chunks for s in await world.streams.list(run_id)] == [1]


async def test_close_of_unwritten_stream_reads_empty(world):
    run_id = await make_run(world, "running")
    await world.streams.close(run_id, "empty")
    assert await asyncio.wait_for(collect(world, run_id, "empty"), 10) == []


@pytest.mark.parametrize("chunk", [5, None, ["a"], {"a": 1}], ids=repr)
async def test_bad_chunk_is_validation_error(world, chunk):
    run_id = await make_run(world, "running")
    with pytest.raises(ValidationError):
        await world.streams.write(run_id, "s", chunk)
    assert await world.streams.list(run_id) == []

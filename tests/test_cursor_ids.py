"""Cursors, ids and ``with_data`` stripping."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from worldline import ValidationError
from worldline.cursor import check_page_args, decode_cursor, encode_cursor
from worldline.ids import PREFIXES, id_prefix, new_id
from worldline.model import Event, EventType, Run, RunStatus
from worldline.strip import strip_data


def test_cursor_round_trip():
    cursor = encode_cursor("2026-01-01T00:00:00+00:00", "step_x")
    assert "=" not in cursor
    assert decode_cursor(cursor, 2) == ["2026-01-01T00:00:00+00:00", "step_x"]
    assert decode_cursor(encode_cursor(7), 1) == [7]


@pytest.mark.parametrize("bad", ["", "!!!", "bnVsbA", encode_cursor(1, 2), 5, None])
def test_bad_cursor(bad):
    with pytest.raises(ValidationError):
        decode_cursor(bad, 1)


@pytest.mark.parametrize("limit, order", [(0, "asc"), (10_001, "asc"), (True, "asc"),
                                          ("1", "asc"), (1, "ASC"), (1, None)])
def test_bad_page_args(limit, order):
    with pytest.raises(ValidationError):
        check_page_args(limit, order)


def test_page_args_ok():
    check_page_args(1, "asc")
    check_page_args(10_000, "desc")


def test_ids_are_prefixed_and_sortable():
    ids = [new_id("run") for _ in range(50)]
    assert all(i.startswith("run_") and len(i) == 30 for i in ids)
    assert len(set(ids)) == 50
    assert id_prefix(ids[0]) == "run" and id_prefix("plain") == ""
    assert {id_prefix(new_id(p)) for p in PREFIXES} == set(PREFIXES)
    with pytest.raises(ValueError):
        new_id("bogus")


def test_strip_data():
    now = datetime.now(UTC)
    run = Run(run_id="run_1", workflow_name="wf", status=RunStatus.COMPLETED, input=[1],
              output=2, error={"e": 1}, created_at=now, updated_at=now)
    lean = strip_data(run)
    assert (lean.input, lean.output, lean.error, lean.status) == (None, None, None, "completed")
    event = Event(event_id="evt_1", run_id="run_1", seq=1, type=EventType.RUN_CREATED,
                  correlation_id=None, data={"input": 1}, created_at=now)
    assert strip_data(event).data == {} and strip_data(event).seq == 1


def test_docs_round_trip():
    now = datetime.now(UTC)
    run = Run(run_id="run_1", workflow_name="wf", status=RunStatus.RUNNING, input={"a": 1},
              created_at=now, updated_at=now, started_at=now)
    doc = run.to_doc()
    assert doc["status"] == "running" and isinstance(doc["created_at"], str)
    assert Run.from_doc(doc) == run

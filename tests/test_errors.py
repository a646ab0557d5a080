"""Typed errors: status codes, what they name, pickling."""

from __future__ import annotations

import pickle

import pytest
from worldline import Conflict, Gone, NotFound, TooEarly, ValidationError


@pytest.mark.parametrize("cls, status", [(ValidationError, 400), (NotFound, 404),
                                         (Conflict, 409), (Gone, 410)])
def test_status_and_naming(cls, status):
    err = cls("refused", run_id="run_1", entity_id="step_1", state="running")
    assert err.status == status
    assert str(err) == f"[{status}] refused (run=run_1, entity=step_1, state=running)"


def test_extra_fields_survive_pickling():
    conflict = pickle.loads(pickle.dumps(Conflict("held", run_id="run_2",
                                                  existing_run_id="run_1")))
    assert conflict.existing_run_id == "run_1" and conflict.run_id == "run_2"
    early = pickle.loads(pickle.dumps(TooEarly("wait", run_id="run_1", retry_in=1.5)))
    assert early.retry_in == 1.5 and early.status == 425 and "run=run_1" in str(early)

"""The local world's URL parsing and namespacing."""

from __future__ import annotations

from pathlib import Path

import pytest
from worldline import ValidationError
from worldline.worlds.local import parse_url
from worldline.worlds.local.world import namespaced


def test_relative_and_absolute_paths():
    assert parse_url("sqlite:///.worldline/world.db").path == Path(".worldline/world.db")
    assert parse_url("sqlite:////var/lib/w.db").path == Path("/var/lib/w.db")


def test_options():
    opts = parse_url("sqlite:///w.db?busy_timeout=5&synchronous=NORMAL&max_poll=0.5")
    assert (opts.busy_timeout, opts.synchronous, opts.max_poll) == (5.0, "normal", 0.5)
    defaults = parse_url("sqlite:///w.db")
    assert (defaults.busy_timeout, defaults.synchronous, defaults.max_poll) == \
        (30.0, "full", 0.1)


@pytest.mark.parametrize("url, words", [
    ("postgresql:///w.db", "sqlite://"),
    ("sqlite://host/w.db", "no host"),
    ("sqlite:///", "file path"),
    ("sqlite:///:memory:", "file path"),
    ("sqlite:///w.db?colour=red", "colour"),
    ("sqlite:///w.db?synchronous=sometimes", "synchronous"),
    ("sqlite:///w.db?busy_timeout=soon", "bad number"),
])
def test_bad_urls(url, words):
    with pytest.raises(ValidationError, match=words):
        parse_url(url)


def test_namespaced_renames_file_and_keeps_query():
    assert namespaced("sqlite:////tmp/a/w.db?max_poll=1", "t1") == \
        "sqlite:////tmp/a/w-t1.db?max_poll=1"
    assert namespaced("sqlite:///w", "t2") == "sqlite:///w-t2.db"

"""URL parsing and namespacing of the turso world (no I/O)."""

from __future__ import annotations

from pathlib import Path

import pytest
from worldline.errors import ValidationError
from worldline.plugins import find_world
from worldline_turso import namespaced, parse_embedded, parse_remote
from worldline_turso.urls import redact


@pytest.mark.parametrize("url, path", [("file:/tmp/a/w.db", "/tmp/a/w.db"),
                                       ("file:///tmp/a/w.db", "/tmp/a/w.db"),
                                       ("file:rel/w.db", "rel/w.db")])
def test_embedded_paths(url: str, path: str) -> None:
    assert parse_embedded(url).path == Path(path)


def test_embedded_options() -> None:
    options = parse_embedded("file:/tmp/w.db?busy_timeout=5&synchronous=NORMAL&max_poll=0.2")
    assert (options.busy_timeout, options.synchronous, options.max_poll) == (5.0, "normal", 0.2)


@pytest.mark.parametrize("url, words", [
    ("file://host/w.db", "no host"), ("file:", "needs a file path"),
    ("file::memory:", "needs a file path"), ("file:/w.db?bogus=1", "bogus"),
    ("file:/w.db?synchronous=maybe", "synchronous"), ("file:/w.db?busy_timeout=x", "number"),
    ("file:/w.db?max_poll=-1", ">= 0")])
def test_bad_embedded_urls(url: str, words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        parse_embedded(url)


def test_namespaced_renames_the_file_and_keeps_options() -> None:
    assert namespaced("file:/tmp/w.db?max_poll=0.2", "ns1") == "file:/tmp/w-ns1.db?max_poll=0.2"
    assert namespaced("file:/tmp/w", "ns1") == "file:/tmp/w-ns1.db"


@pytest.mark.parametrize("url, target", [
    ("libsql://db-org.turso.io?authToken=tok", "wss://db-org.turso.io"),
    ("https://db-org.turso.io", "wss://db-org.turso.io"),
    ("wss://db-org.turso.io/", "wss://db-org.turso.io"),
    ("libsql://127.0.0.1:8080?tls=0", "ws://127.0.0.1:8080")])
def test_remote_urls_go_over_hrana_websocket(url: str, target: str) -> None:
    assert parse_remote(url).url == target


def test_remote_token_from_url_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLDLINE_TURSO_AUTH_TOKEN", "from-env")
    assert parse_remote("libsql://h.turso.io").auth_token == "from-env"
    assert parse_remote("libsql://h.turso.io?authToken=in-url").auth_token == "in-url"
    assert "in-url" not in repr(parse_remote("libsql://h.turso.io?authToken=in-url"))
    assert redact("libsql://h.turso.io?authToken=secret&max_poll=1") == \
        "libsql://h.turso.io?max_poll=1"


@pytest.mark.parametrize("url, words", [
    ("libsql://", "needs a host"), ("libsql://h.turso.io/db", "no path"),
    ("libsql://h.turso.io?tls=0", "tls=0 needs"), ("wss://h?tls=2", "tls must be"),
    ("libsql://h?user=x", "user")])
def test_bad_remote_urls(url: str, words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        parse_remote(url)


@pytest.mark.parametrize("url", ["file:/tmp/w.db", "libsql://h.turso.io", "https://h.turso.io",
                                 "wss://h.turso.io"])
def test_registered_for_its_schemes(url: str) -> None:
    spec = find_world(url)
    assert (spec.name, spec.package) == ("turso", "worldline-turso")

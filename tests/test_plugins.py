"""World discovery through entry points and URL errors."""

from __future__ import annotations

import pytest
import worldline
from worldline import UnknownWorldError, ValidationError
from worldline.plugins import find_world
from worldline.worlds.local import LocalWorld


def test_local_world_is_installed():
    names = {spec.name: spec for spec in worldline.available_worlds()}
    assert "local" in names and "sqlite" in names["local"].schemes


def test_unknown_scheme_lists_installed_worlds():
    with pytest.raises(UnknownWorldError) as info:
        worldline.connect("nope://x")
    text = str(info.value)
    assert "nope://" in text and "local (sqlite://)" in text
    for spec in worldline.available_worlds():
        assert spec.name in text
        assert all(f"{scheme}://" in text for scheme in spec.schemes)
    assert isinstance(info.value, LookupError)


def test_near_miss_suggests_scheme():
    with pytest.raises(UnknownWorldError, match=r"Did you mean sqlite://\?"):
        find_world("sqlit:///x.db")


@pytest.mark.parametrize("url", ["just-a-path.db", "localhost:5432", 5])
def test_not_a_url(url):
    with pytest.raises(ValidationError):
        worldline.connect(url)


def test_connect_builds_without_io(tmp_path):
    path = tmp_path / "sub" / "w.db"
    world = worldline.connect(f"sqlite:///{path}")
    assert isinstance(world, LocalWorld) and not path.parent.exists()


def test_env_variable_picks_url(monkeypatch, tmp_path):
    monkeypatch.setenv("WORLDLINE_URL", f"sqlite:///{tmp_path}/env.db")
    world = worldline.connect()
    assert isinstance(world, LocalWorld) and world.options.path == tmp_path / "env.db"

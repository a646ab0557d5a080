import pytest
from worldline import ValidationError, connect
from worldline_mongo import MongoWorld, namespaced, parse_url


def test_database_from_path_and_default():
    assert parse_url("mongodb://h:1/app").database == "app"
    assert parse_url("mongodb://h:1").database == "worldline"
    assert parse_url("mongodb://u:p@h1:1,h2:2/app?replicaSet=rs0").hosts == "h1:1,h2:2"


def test_own_options_are_not_passed_to_the_driver():
    opts = parse_url("mongodb://h:1/app?max_poll=0.5&replicaSet=rs0")
    assert opts.max_poll == 0.5
    assert "max_poll" not in opts.client_url and "replicaSet=rs0" in opts.client_url


@pytest.mark.parametrize("url", ["http://h/x", "mongodb:///x", "mongodb://h/bad.name",
                                 "mongodb://h/x?max_poll=zero"])
def test_bad_urls_are_validation_errors(url):
    with pytest.raises(ValidationError):
        parse_url(url)


def test_namespaced_replaces_the_database_keeps_options():
    assert namespaced("mongodb://h:1/app?replicaSet=rs0", "wl_1") == \
        "mongodb://h:1/wl_1?replicaSet=rs0"
    with pytest.raises(ValidationError):
        namespaced("mongodb://h:1/app", "a/b")


def test_registered_through_the_entry_point():
    assert isinstance(connect("mongodb://127.0.0.1:27018/x"), MongoWorld)
    assert isinstance(connect("mongodb+srv://cluster.example.net/x"), MongoWorld)

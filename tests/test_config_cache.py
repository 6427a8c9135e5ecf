"""rules.yaml's checked data is remembered between runs, so a run that finds it needs no PyYAML."""

from __future__ import annotations

import pytest

from asnflow import safe_yaml
from asnflow.config import load_config
from asnflow.errors import RuleError


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("ASNFLOW_CACHE_DIR", str(folder))
    return folder


def _no_yaml(monkeypatch):
    def refuse(text):
        raise AssertionError("rules.yaml was parsed again")

    monkeypatch.setattr(safe_yaml, "load", refuse)


def test_the_second_read_comes_from_the_cache_and_is_the_same(cache, monkeypatch):
    first = load_config()
    assert len(list(cache.glob("data-*.json"))) == 1
    _no_yaml(monkeypatch)
    assert load_config() == first


def test_a_changed_file_is_read_again(cache, tmp_path, monkeypatch):
    config = tmp_path / "rules.yaml"
    config.write_text("naming:\n  profile: jwst-3.0\n", encoding="utf-8")
    assert load_config(config).naming_profile == "jwst-3.0"
    config.write_text("naming:\n  profile: other\n", encoding="utf-8")
    assert load_config(config).naming_profile == "other"
    assert len(list(cache.glob("data-*.json"))) == 2


def test_data_json_cannot_hold_is_not_kept_but_read_each_time(cache, tmp_path):
    config = tmp_path / "rules.yaml"
    config.write_text("naming:\n  profile: jwst-3.0\nreleased: 2026-11-30\n1: integer key\n", encoding="utf-8")
    assert load_config(config).naming_profile == "jwst-3.0"
    assert load_config(config).naming_profile == "jwst-3.0"
    assert not list(cache.glob("data-*.json"))


def test_a_refused_file_is_refused_every_time_and_nothing_is_kept(cache, tmp_path):
    config = tmp_path / "rules.yaml"
    config.write_text("rules: [unclosed\n", encoding="utf-8")
    for _ in range(2):
        with pytest.raises(RuleError, match="not valid YAML"):
            load_config(config)
    config.write_text("rules: 7\n", encoding="utf-8")
    for _ in range(2):
        with pytest.raises(RuleError, match="rules must be a list of names"):
            load_config(config)
    assert not list(cache.glob("data-*.json"))


@pytest.mark.parametrize("damage", ["truncate", "flip", "other-value"])
def test_a_damaged_entry_is_ignored_and_replaced(cache, monkeypatch, damage):
    first = load_config()
    [entry] = cache.glob("data-*.json")
    header, _, body = entry.read_text(encoding="utf-8").partition("\n")
    if damage == "truncate":
        text = header + "\n" + body[: len(body) // 2]
    elif damage == "flip":
        text = header + "\n" + body.replace("jwst-3.0", "jwst-9.9")
    else:  # a consistent entry, but for other bytes: its header names another key
        text = header.replace('"key": "', '"key": "0', 1) + "\n" + body
    entry.write_text(text, encoding="utf-8")
    assert load_config() == first
    _no_yaml(monkeypatch)
    assert load_config() == first  # replaced by a good entry



def test_entries_are_named_and_sealed_with_sha256():
    """The cache takes SHA-256 from a built-in module rather than hashlib (which loads OpenSSL):
    it must be the same function, or entries written by another build would never be found."""
    import hashlib

    from asnflow import file_cache

    for data in (b"", b"rules", bytes(range(256)) * 300):
        assert file_cache.sha256(data).hexdigest() == hashlib.sha256(data).hexdigest()
    expected = hashlib.sha256()
    for part in (b"fmt", file_cache.__version__.encode(), b"body"):
        expected.update(len(part).to_bytes(8, "little") + part)
    assert file_cache.entry_key("fmt", b"body") == expected.hexdigest()[:32]

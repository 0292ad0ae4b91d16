"""The parsed copies of the mappings files (mappings.load): used only for the very text they
were made from, and never needed (a place that cannot be written only costs the parse)."""

from __future__ import annotations

import marshal
import sys
import tomllib

import pytest

from fwmigrate import mappings

load = mappings.load.__wrapped__        # without the per-process cache


@pytest.fixture
def texts(monkeypatch, tmp_path):
    files = {"t": b'[a]\nx = 1\n'}
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    monkeypatch.setattr(mappings, "_read", lambda name: files[name])
    monkeypatch.setattr(mappings, "_PARSED", tmp_path / "cache")
    return files


def _no_parse(text):
    raise AssertionError("parsed again")


def test_a_parsed_copy_is_written_and_then_used(texts, monkeypatch, tmp_path):
    assert load("t") == {"a": {"x": 1}}
    assert marshal.loads((tmp_path / "cache" / "mapping-t.marshal").read_bytes()) == \
        (texts["t"], {"a": {"x": 1}})
    monkeypatch.setattr(tomllib, "loads", _no_parse)
    assert load("t") == {"a": {"x": 1}}
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["mapping-t.marshal"]


def test_an_edited_file_is_parsed_again(texts, tmp_path):
    load("t")
    texts["t"] = b'[a]\nx = 2\n'
    assert load("t") == {"a": {"x": 2}}
    assert marshal.loads((tmp_path / "cache" / "mapping-t.marshal").read_bytes())[1] == \
        {"a": {"x": 2}}


def test_a_damaged_copy_is_parsed_again(texts, tmp_path):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "mapping-t.marshal").write_bytes(b"\x00garbage")
    assert load("t") == {"a": {"x": 1}}


def test_a_place_that_cannot_be_written_only_costs_the_parse(texts, tmp_path):
    (tmp_path / "cache").write_text("a file where the folder would be")
    assert load("t") == {"a": {"x": 1}}
    assert load("t") == {"a": {"x": 1}}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]


def test_tables_marshal_cannot_hold_are_parsed_every_time(texts, tmp_path):
    texts["t"] = b"when = 1979-05-27\n"        # a date: marshal has no such type
    assert load("t")["when"].year == 1979
    assert not (tmp_path / "cache" / "mapping-t.marshal").exists()
    assert list((tmp_path / "cache").iterdir()) == []


def test_nothing_is_written_where_writing_bytecode_is_turned_off(texts, monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)      # PYTHONDONTWRITEBYTECODE, -B
    assert load("t") == {"a": {"x": 1}}
    assert not (tmp_path / "cache").exists()

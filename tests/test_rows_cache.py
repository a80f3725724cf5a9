"""The parsed-rows cache (smishctl.data.rows_cache): served only for exactly the input it was parsed from,
never when damaged, and never in place of the file's checks. Real files, the real HF `datasets` parser
(counted through a wrapper), the real cache files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from smishctl.core.errors import DataError
from smishctl.data import load, rows_cache
from smishctl.data.load import TableSource
from smishctl.util import hashing

CSV = "label,text\nham,see you at 6\nspam,WIN a prize now\nsmishing,Your parcel is held: pay at http://x.co\n"


@pytest.fixture
def parses(monkeypatch):
    """How many times the HF `datasets` parser ran."""
    calls = []
    real = load._hf_load

    def counting(builder, **kwargs):
        calls.append(builder)
        return real(builder, **kwargs)

    monkeypatch.setattr(load, "_hf_load", counting)
    return calls


@pytest.fixture
def table(tmp_path) -> TableSource:
    path = tmp_path / "sms.csv"
    path.write_text(CSV, encoding="utf-8")
    return TableSource(path=path)


def read(source: TableSource, cache: Path, max_bytes: int = 2**20) -> list[dict]:
    return rows_cache.read_rows(source, cache_dir=cache, max_bytes=max_bytes)


def entries(cache: Path) -> list[Path]:
    return sorted((cache / "rows").glob("*.json"))


def test_a_file_parsed_before_is_served_without_parsing(table, tmp_path, parses):
    cache = tmp_path / "cache"
    first = read(table, cache)
    assert [r["label"] for r in first] == ["ham", "spam", "smishing"] and first[0]["row"] == 2
    assert read(table, cache) == first
    assert parses == ["csv"]
    assert len(entries(cache)) == 1


def test_a_changed_byte_is_parsed_again(table, tmp_path, parses):
    cache = tmp_path / "cache"
    read(table, cache)
    assert table.path is not None
    table.path.write_text(CSV.replace("see you at 6", "see you at 7"), encoding="utf-8")
    assert read(table, cache)[0]["text"] == "see you at 7"
    assert parses == ["csv", "csv"]


@pytest.mark.parametrize("change", [
    {"encoding": "utf-8-sig"}, {"text_column": "label", "label_column": "text"}, {"header": False},
    {"text_column": "body"}, {"label_column": "class"},
])
def test_every_read_option_is_part_of_the_key(table, change):
    sha = "0" * 64
    assert rows_cache.rows_key(sha, replace(table, **change), "csv") != rows_cache.rows_key(sha, table, "csv")


def test_the_format_the_bytes_and_the_libraries_are_part_of_the_key(table, monkeypatch):
    key = rows_cache.rows_key("0" * 64, table, "csv")
    assert rows_cache.rows_key("0" * 64, table, "tsv") != key
    assert rows_cache.rows_key("1" * 64, table, "csv") != key
    monkeypatch.setattr(hashing, "_version", lambda name: "0.0-other")
    assert rows_cache.rows_key("0" * 64, table, "csv") != key


@pytest.mark.parametrize("module", [load, rows_cache], ids=["load", "rows_cache"])
def test_a_change_to_the_parsing_code_is_part_of_the_key(table, tmp_path, monkeypatch, module):
    key = rows_cache.rows_key("0" * 64, table, "csv")
    edited = tmp_path / "edited.py"
    edited.write_bytes(Path(module.__file__).read_bytes() + b"\n# changed\n")
    monkeypatch.setattr(module, "__file__", str(edited))
    assert rows_cache.rows_key("0" * 64, table, "csv") != key


@pytest.mark.parametrize("library", ["datasets", "pandas", "pyarrow"])
def test_each_parsing_library_is_part_of_the_key(table, monkeypatch, library):
    key = rows_cache.rows_key("0" * 64, table, "csv")
    real = hashing._version
    monkeypatch.setattr(hashing, "_version", lambda name: "0.0-other" if name == library else real(name))
    assert rows_cache.rows_key("0" * 64, table, "csv") != key


def test_a_new_library_version_parses_again(table, tmp_path, parses, monkeypatch):
    cache = tmp_path / "cache"
    first = read(table, cache)
    monkeypatch.setattr(hashing, "_version", lambda name: "0.0-other")
    assert read(table, cache) == first
    assert parses == ["csv", "csv"]


def _tamper(entry: Path, edit) -> None:
    doc = json.loads(entry.read_text(encoding="utf-8"))
    edit(doc)
    entry.write_text(json.dumps(doc), encoding="utf-8")


def test_an_edited_row_is_not_served_and_the_entry_is_rewritten(table, tmp_path, parses):
    cache = tmp_path / "cache"
    truth = read(table, cache)
    [entry] = entries(cache)
    _tamper(entry, lambda doc: doc["rows"][2].update(label="ham"))
    assert read(table, cache) == truth
    assert parses == ["csv", "csv"]
    assert json.loads(entry.read_text(encoding="utf-8"))["rows"] == truth  # repaired
    assert read(table, cache) == truth and len(parses) == 2


@pytest.mark.parametrize("reshape", [
    lambda r: {**r, "row": str(r["row"])},  # a row number that is not a number
    lambda r: {**r, "extra": 1},  # a field no reader expects
    lambda r: r["text"],  # not a row at all
], ids=["row-as-text", "extra-field", "not-a-dict"])
def test_rows_of_the_wrong_shape_are_not_served_even_with_a_matching_hash(table, tmp_path, parses, reshape):
    cache = tmp_path / "cache"
    truth = read(table, cache)
    [entry] = entries(cache)

    def forge(doc):
        doc["rows"] = [reshape(r) for r in doc["rows"]]
        doc["rows_sha256"] = rows_cache._rows_sha256(doc["rows"])

    _tamper(entry, forge)
    assert read(table, cache) == truth
    assert parses == ["csv", "csv"]


def test_an_entry_for_another_file_is_not_served(table, tmp_path, parses):
    cache = tmp_path / "cache"
    other = tmp_path / "other.csv"
    other.write_text(CSV.replace("WIN a prize now", "WIN a car now"), encoding="utf-8")
    other_rows = read(replace(table, path=other), cache)
    [other_entry] = entries(cache)
    truth_key = rows_cache.rows_key(hashing.sha256_file(table.path), table, "csv")  # type: ignore[arg-type]
    # the other file's entry, copied to the name this file's entry would have
    (cache / "rows" / f"{rows_cache._digest(truth_key)}.json").write_bytes(other_entry.read_bytes())
    rows = read(table, cache)
    assert rows[1]["text"] == "WIN a prize now" and rows != other_rows
    assert parses == ["csv", "csv"]


@pytest.mark.parametrize("damage", [b"", b"{not json", b"[]", b'{"key": null}'])
def test_a_damaged_entry_is_parsed_again(table, tmp_path, parses, damage):
    cache = tmp_path / "cache"
    truth = read(table, cache)
    [entry] = entries(cache)
    entry.write_bytes(damage)
    assert read(table, cache) == truth
    assert parses == ["csv", "csv"]


def _rewrite_keeping_mtime(path: Path, text: str) -> None:
    before = path.stat()
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


SWAPPED = CSV.replace("ham,see you", "spam,see you").replace("spam,WIN", "ham,WIN")  # same size


def test_a_rewrite_that_keeps_the_mtime_is_parsed_again(table, tmp_path):
    """cp -p, rsync -t, tar, two writes within the clock tick: HF's own cache knows a file by path and
    mtime, so the parse runs in a cache folder named by the content."""
    cache = tmp_path / "cache"
    assert [r["label"] for r in read(table, cache)] == ["ham", "spam", "smishing"]
    _rewrite_keeping_mtime(table.path, SWAPPED)  # type: ignore[arg-type]
    assert [r["label"] for r in read(table, cache)] == ["spam", "ham", "smishing"]
    # and the entry stored for the new bytes holds the new bytes' rows, served without HF's cache
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (cache / "rows").rename(fresh / "rows")
    assert [r["label"] for r in read(table, fresh)] == ["spam", "ham", "smishing"]


def test_a_file_rewritten_while_it_is_parsed_is_not_cached(table, tmp_path, monkeypatch):
    """The entry would hold the new content's rows under the old content's key."""
    real = load._hf_load

    def rewrite_then_parse(builder, **kwargs):
        table.path.write_text(CSV.replace("see you at 6", "rewritten"), encoding="utf-8")  # type: ignore[union-attr]
        return real(builder, **kwargs)

    monkeypatch.setattr(load, "_hf_load", rewrite_then_parse)
    read(table, tmp_path / "cache")
    assert entries(tmp_path / "cache") == []


def test_the_file_checks_run_on_a_cache_hit(table, tmp_path):
    cache = tmp_path / "cache"
    read(table, cache)
    with pytest.raises(DataError, match="above the"):
        read(table, cache, max_bytes=10)


def test_a_big_file_is_not_copied_into_the_cache(table, tmp_path, parses, monkeypatch):
    monkeypatch.setattr(rows_cache, "MAX_CACHED_BYTES", 10)
    cache = tmp_path / "cache"
    assert read(table, cache) == read(table, cache)
    assert parses == ["csv", "csv"] and entries(cache) == []


def test_a_cache_that_cannot_be_written_only_costs_the_parse(table, tmp_path, parses):
    blocked = tmp_path / "cache"
    blocked.mkdir()
    (blocked / "rows").write_text("a file where the folder would go", encoding="utf-8")
    assert read(table, blocked) == read(table, blocked)
    assert parses == ["csv", "csv"]


def test_an_entry_too_big_to_be_read_back_is_not_written(tmp_path, monkeypatch):
    entry = tmp_path / "rows" / "e.json"
    monkeypatch.setattr(rows_cache, "MAX_ENTRY_BYTES", 200)
    rows_cache.write_entry(entry, {"k": 1}, [{"text": "x" * 200, "label": "ham", "row": 2}])
    assert not entry.exists()
    rows_cache.write_entry(entry, {"k": 1}, [{"text": "x", "label": "ham", "row": 2}])
    assert rows_cache.read_entry(entry, {"k": 1}) == [{"text": "x", "label": "ham", "row": 2}]


@pytest.mark.parametrize("value", [b"bytes", float("nan")])
def test_values_json_does_not_keep_exactly_are_not_cached(tmp_path, value):
    entry = tmp_path / "rows" / "e.json"
    rows_cache.write_entry(entry, {"k": 1}, [{"text": value, "label": "ham", "row": 2}])
    assert not entry.exists()
    rows_cache.write_entry(entry, {"k": 1}, [{"text": "fine", "label": "ham", "row": 2}])
    assert rows_cache.read_entry(entry, {"k": 1}) == [{"text": "fine", "label": "ham", "row": 2}]


def test_a_dataset_parsed_before_loads_without_importing_datasets(tmp_path):
    """What makes promote and compare start fast: the second load of the default dataset, split and
    all, gives the same splits and never imports HF `datasets` (nor pandas)."""
    code = """
import json, sys
from smishctl.core.config import load_settings
from smishctl.data.prepare import load_dataset_splits
ds = load_dataset_splits(None, load_settings())
print(json.dumps({"test": ds.split_hash("test"), "train": ds.split_hash("train"),
                  "imported": sorted(m for m in ("datasets", "pandas") if m in sys.modules)}))
"""
    project = tmp_path / "proj"
    project.mkdir()

    def run() -> dict:
        out = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True,
                             env={**os.environ, "SMISHCTL_HOME": str(project),
                                  "SMISHCTL_CACHE": str(tmp_path / "cache")}, check=True)
        return json.loads(out.stdout.splitlines()[-1])

    cold, warm = run(), run()
    assert cold["imported"] == ["datasets", "pandas"]
    assert warm["imported"] == []
    assert (warm["test"], warm["train"]) == (cold["test"], cold["train"])

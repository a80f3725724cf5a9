"""The dataset layer on the real reference files and on small files built per test."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from smishctl.data.fetch import fetch
from smishctl.data.prepare import (
    SplitOptions,
    clean_rows,
    deduplicate,
    load_dataset_splits,
    sample,
    stratified_split,
    text_key,
)
from smishctl.data.registry import REGISTRY
from smishctl.errors import DataError


@pytest.fixture(scope="module")
def phishing(tmp_path_factory):
    from smishctl.config import load_settings

    root = tmp_path_factory.mktemp("data")
    return load_dataset_splits("sms-phishing", load_settings(root))


def test_reference_dataset_quirks_are_normalised(phishing):
    # Label case varies in the source (Smishing/smishing, Spam/spam): three lower-case labels remain.
    assert phishing.labels == ("ham", "spam", "smishing")
    assert phishing.stats["rows"] == 5971
    assert phishing.stats["duplicates_removed"] == 140
    assert phishing.stats["conflicting_texts_dropped"] == 34
    all_items = [e for s in phishing.splits.values() for e in s]
    assert len(all_items) == phishing.stats["examples"] == 5971 - 140 - 34
    # HTML entities are unescaped for the model; the raw text keeps them; tabs/CRLF are gone.
    with_entity = [e for e in all_items if "&lt;" in e.raw_text]
    assert with_entity and all("&lt;" not in e.text and "<" in e.text for e in with_entity)
    assert not any(e.text != e.text.strip() or "\t" in e.text or "\r" in e.text for e in all_items)
    # U+FFFD replacement characters from the source are kept (not silently dropped rows).
    assert any("\ufffd" in e.text for e in all_items)


def test_splits_are_stratified_disjoint_and_leak_free(phishing):
    ids = {name: {e.id for e in items} for name, items in phishing.splits.items()}
    assert not ids["train"] & ids["test"] and not ids["train"] & ids["dev"] and not ids["dev"] & ids["test"]
    keys = {name: {text_key(e.raw_text) for e in items} for name, items in phishing.splits.items()}
    assert not keys["train"] & keys["test"]
    sizes = {n: len(v) for n, v in phishing.splits.items()}
    total = sum(sizes.values())
    assert abs(sizes["train"] / total - 0.6) < 0.01 and abs(sizes["test"] / total - 0.2) < 0.01
    for name, items in phishing.splits.items():
        share = Counter(e.label for e in items)["smishing"] / len(items)
        assert 0.08 < share < 0.10, (name, share)


def test_split_hash_is_stable_and_seed_dependent(phishing, tmp_path):
    from smishctl.config import load_settings

    again = load_dataset_splits("sms-phishing", load_settings(tmp_path))
    assert again.split_hash("test") == phishing.split_hash("test")
    other = load_dataset_splits("sms-phishing", load_settings(tmp_path), options=SplitOptions(seed=99))
    assert other.split_hash("test") != phishing.split_hash("test")


def test_uci_tsv_with_unbalanced_quotes_loads_every_row(tmp_path):
    from smishctl.config import load_settings

    ds = load_dataset_splits("uci-sms-spam", load_settings(tmp_path))
    assert ds.labels == ("ham", "spam")
    assert ds.stats["rows"] == 5574  # QUOTE_NONE: a stray quote does not swallow following lines


def test_checksum_mismatch_is_an_error(tmp_path, monkeypatch):
    from smishctl.config import load_settings

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / REGISTRY["sms-phishing"].filename).write_text("LABEL,TEXT\nham,hi\n")
    monkeypatch.setenv("SMISHCTL_DATA_MIRROR", str(mirror))
    with pytest.raises(DataError, match="checksum mismatch"):
        fetch(REGISTRY["sms-phishing"], load_settings(tmp_path / "proj"))
    assert not (tmp_path / "proj" / "datasets" / "cache" / REGISTRY["sms-phishing"].filename).exists()


def _settings(tmp_path):
    from smishctl.config import load_settings

    return load_settings(tmp_path)


def test_custom_csv_with_named_columns(tmp_path):
    f = tmp_path / "mine.csv"
    rows = ["msg,cls"] + [f"hello number {i},HAM" for i in range(10)] + [f"win prize {i} now,Spam" for i in range(10)]
    f.write_text("\n".join(rows) + "\n")
    ds = load_dataset_splits(str(f), _settings(tmp_path), text_column="msg", label_column="cls")
    assert ds.labels == ("ham", "spam")
    assert sum(len(s) for s in ds.splits.values()) == 20


@pytest.mark.parametrize("fmt", ["jsonl", "json", "parquet"])
def test_other_formats(tmp_path, fmt):
    data = [{"text": f"message {i}", "label": "ham" if i % 2 else "spam"} for i in range(12)]
    f = tmp_path / f"d.{fmt}"
    if fmt == "jsonl":
        f.write_text("".join(json.dumps(r) + "\n" for r in data))
    elif fmt == "json":
        f.write_text(json.dumps(data))
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(data), f)
    ds = load_dataset_splits(str(f), _settings(tmp_path))
    assert sum(len(s) for s in ds.splits.values()) == 12


@pytest.mark.parametrize(
    "content,message",
    [
        ("text,label\nhi,ham\nyo,\n", "row 3: empty label"),
        ("text,label\nhi,ham\nyo,phish\n", "unknown label 'phish'"),
        ("words,label\nhi,ham\n", "has no column 'text'"),
    ],
)
def test_bad_files_give_one_clear_error(tmp_path, content, message):
    f = tmp_path / "bad.csv"
    f.write_text(content)
    labels = ("ham", "spam") if "phish" in content else None
    with pytest.raises(DataError, match=message):
        load_dataset_splits(str(f), _settings(tmp_path), labels=labels)


def test_undecodable_bytes_name_the_offset(tmp_path):
    f = tmp_path / "latin.csv"
    f.write_bytes("text,label\ncaf\xe9,ham\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"not valid utf-8: byte 0xe9 at offset 14"):
        load_dataset_splits(str(f), _settings(tmp_path))


def test_missing_file_and_unknown_name(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_dataset_splits(str(tmp_path / "nope.csv"), _settings(tmp_path))
    with pytest.raises(DataError, match="unknown dataset 'nosuch'"):
        load_dataset_splits("nosuch", _settings(tmp_path))


def test_empty_and_long_messages_are_skipped_or_truncated():
    rows = [{"text": "  ", "label": "ham", "row": 2}, {"text": "x" * 5000, "label": "spam", "row": 3},
            {"text": None, "label": "ham", "row": 4}, {"text": "ok", "label": "ham", "row": 5}]
    examples, stats = clean_rows(rows, ("ham", "spam"), max_chars=1600)
    assert stats["skipped_empty"] == 2 and stats["truncated_long"] == 1
    assert [len(e.text) for e in examples] == [1600, 2]


def test_conflicting_duplicates_policy():
    rows = [{"text": "Same TEXT", "label": "spam", "row": 2}, {"text": "same text ", "label": "smishing", "row": 3},
            {"text": "same   text", "label": "spam", "row": 4}, {"text": "other", "label": "ham", "row": 5}]
    examples, _ = clean_rows(rows, None, 1600)
    dropped, s1 = deduplicate(examples, "drop")
    assert [e.text for e in dropped] == ["other"] and s1["conflicting_texts_dropped"] == 1
    majority, _ = deduplicate(examples, "majority")
    assert sorted(e.label for e in majority) == ["ham", "spam"]


def test_duplicates_never_straddle_splits():
    rows = [{"text": f"msg {i % 50}", "label": "ham" if i % 2 else "spam", "row": i} for i in range(200)]
    examples, _ = clean_rows(rows, None, 1600)
    kept, stats = deduplicate(examples, "drop")
    assert stats["duplicates_removed"] == 150
    splits = stratified_split(kept, (0.6, 0.2, 0.2), seed=1)
    seen = [e.id for s in splits.values() for e in s]
    assert len(seen) == len(set(seen)) == 50


def test_balanced_sample():
    rows = [{"text": f"h{i}", "label": "ham", "row": i} for i in range(90)]
    rows += [{"text": f"s{i}", "label": "spam", "row": i} for i in range(10)]
    examples, _ = clean_rows(rows, None, 1600)
    picked = sample(examples, 12, balanced=True)
    assert Counter(e.label for e in picked) == {"ham": 6, "spam": 6}
    assert sample(examples, 5) == examples[:5]

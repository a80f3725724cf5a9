"""The dataset layer on the real reference files and on small files built per test."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from smishctl.core.errors import DataError
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


@pytest.fixture(scope="module")
def phishing(tmp_path_factory):
    from smishctl.core.config import load_settings

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
    from smishctl.core.config import load_settings

    again = load_dataset_splits("sms-phishing", load_settings(tmp_path))
    assert again.split_hash("test") == phishing.split_hash("test")
    other = load_dataset_splits("sms-phishing", load_settings(tmp_path), options=SplitOptions(seed=99))
    assert other.split_hash("test") != phishing.split_hash("test")


def test_uci_tsv_with_unbalanced_quotes_loads_every_row(tmp_path):
    from smishctl.core.config import load_settings

    ds = load_dataset_splits("uci-sms-spam", load_settings(tmp_path))
    assert ds.labels == ("ham", "spam")
    assert ds.stats["rows"] == 5574  # QUOTE_NONE: a stray quote does not swallow following lines


def test_checksum_mismatch_is_an_error(tmp_path, monkeypatch):
    from smishctl.core.config import load_settings

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / REGISTRY["sms-phishing"].filename).write_text("LABEL,TEXT\nham,hi\n")
    monkeypatch.setenv("SMISHCTL_DATA_MIRROR", str(mirror))
    with pytest.raises(DataError, match="checksum mismatch"):
        fetch(REGISTRY["sms-phishing"], load_settings(tmp_path / "proj"))
    assert not (tmp_path / "proj" / "datasets" / "cache" / REGISTRY["sms-phishing"].filename).exists()


def _settings(tmp_path):
    from smishctl.core.config import load_settings

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


# -- template-aware splits -------------------------------------------------------------------------

# The split hashes of sms-phishing (seed 13) before template-aware splits existed: `exact` must keep them.
EXACT_HASHES = {
    "train": "e41bdcf251b77492784f7f6ad18ef9a3573b9cd1b00db7c9c6434fccbf67529a",
    "dev": "d9edca3b3c37c0561aa7323dd6e5455aeafff814b919646fa151a18b7ca4605e",
    "test": "9fe0ab0ef31ee114e81f78f6618f836fbe95f879eefa7a12a0dfab3c37cc07ab",
}


def test_exact_policy_keeps_the_old_splits_bit_for_bit(tmp_path):
    from smishctl.core.config import load_settings

    ds = load_dataset_splits("sms-phishing", load_settings(tmp_path), options=SplitOptions(policy="exact"))
    assert {name: ds.split_hash(name) for name in ds.splits} == EXACT_HASHES
    assert ds.provenance["split_policy"] == "exact" and "template_threshold" not in ds.provenance


def test_template_policy_is_the_default_and_recorded(phishing):
    assert phishing.provenance["split_policy"] == "template"
    assert phishing.provenance["template_threshold"] == 0.8
    assert phishing.split_hash("test") != EXACT_HASHES["test"]
    s = phishing.stats
    assert s["template_groups"] < s["examples"] and 1 < s["largest_template_group"] <= 50


def test_no_test_item_is_a_masked_near_copy_of_a_training_item(phishing):
    from smishctl.data.templates import masked_vectorizer, similar_pairs

    vec = masked_vectorizer().fit([e.text for s in phishing.splits.values() for e in s])
    train = vec.transform([e.text for e in phishing.split("train")])
    for name in ("dev", "test"):
        other = vec.transform([e.text for e in phishing.split(name)])
        rows, _, sims = similar_pairs(other, 0.9, train)
        assert len(rows) == 0, (name, len(rows), sims[:5])
    # The same check fails on the exact policy: the test is not vacuous.
    exact = stratified_split([e for s in phishing.splits.values() for e in s], (0.6, 0.2, 0.2), 13)
    rows, _, _ = similar_pairs(vec.transform([e.text for e in exact["test"]]), 0.9,
                               vec.transform([e.text for e in exact["train"]]))
    assert len(rows) > 20


def test_template_splits_keep_label_shares(phishing):
    sizes = {n: len(v) for n, v in phishing.splits.items()}
    total = sum(sizes.values())
    assert abs(sizes["train"] / total - 0.6) < 0.01 and abs(sizes["test"] / total - 0.2) < 0.01
    for name, items in phishing.splits.items():
        share = Counter(e.label for e in items)["smishing"] / len(items)
        assert 0.08 < share < 0.10, (name, share)


def test_masking_groups_variable_parts_only():
    from smishctl.data.templates import mask, template_groups

    a = "WIN £500! Call 09061790121 or visit http://win.example.com/x1 now, ref 77"
    b = "WIN £900! Call +44 7700 900123 or visit www.prize.co.uk now, ref 12"
    assert mask(a) == mask(b).replace("£900", "£500") or mask(a).split("_url_")[0].endswith("visit ")
    assert "_phone_" in mask(b) and "_url_" in mask(a) and "_email_" in mask("mail x.y@bank.com today")
    texts = [a, b, "see you at the station at 5, love", "Your parcel is held, pay the fee at bit.ly/abc"]
    groups = template_groups(texts)
    assert groups[0] == groups[1] and len({groups[0], groups[2], groups[3]}) == 3


def _rows(n_templates: int, copies: int, label: str, seed: int = 0) -> list[dict]:
    """n distinct templates (random letter words), each in `copies` variants differing by a number."""
    import random
    import string

    rng = random.Random(seed)
    rows = []
    for _ in range(n_templates):
        base = " ".join("".join(rng.choices(string.ascii_lowercase, k=7)) for _ in range(6))
        rows += [{"text": f"{base} call {1000 + c} now", "label": label, "row": len(rows)} for c in range(copies)]
    return rows


def test_template_groups_never_straddle_and_splits_are_stable():
    from smishctl.data.prepare import template_split

    rows = _rows(60, 3, "spam") + _rows(200, 1, "ham", seed=1)
    examples, _ = clean_rows(rows, None, 1600)
    splits, stats = template_split(examples, (0.6, 0.2, 0.2), 5, 0.8)
    assert stats["template_groups"] == 260 and stats["largest_template_group"] == 3
    where = {e.id: name for name, items in splits.items() for e in items}
    by_text = {e.text.rsplit(" call", 1)[0]: set() for e in examples}
    for e in examples:
        by_text[e.text.rsplit(" call", 1)[0]].add(where[e.id])
    assert all(len(s) == 1 for s in by_text.values())
    # Unrelated rows added: every earlier example keeps its split except near the cut points.
    more, _ = clean_rows(rows + _rows(20, 1, "ham", seed=2), None, 1600)
    again, _ = template_split(more, (0.6, 0.2, 0.2), 5, 0.8)
    where2 = {e.id: name for name, items in again.items() for e in items}
    moved = sum(where[i] != where2[i] for i in where)
    assert moved <= 0.1 * len(where), moved
    # Deterministic, and seeded.
    assert template_split(examples, (0.6, 0.2, 0.2), 5, 0.8)[0] == splits
    assert template_split(examples, (0.6, 0.2, 0.2), 6, 0.8)[0] != splits


def test_split_policy_reaches_run_records_and_bad_names_exit_2(cli, settings):
    r = cli("data", "--split-policy", "exact", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["splits"]["test"]["hash"] == EXACT_HASHES["test"]
    r = cli("data")
    assert r.returncode == 0 and "split policy: template" in r.stdout and "largest" in r.stdout
    r = cli("evaluate", "--model", "classic/tfidf-svm", "--limit", "6", "--split-policy", "exact", "--json")
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)
    assert rec["dataset"]["provenance"]["split_policy"] == "exact" and "split_policy" not in rec["identity"]
    r = cli("evaluate", "--model", "classic/tfidf-svm", "--limit", "6", "--json")
    rec = json.loads(r.stdout)
    assert rec["dataset"]["provenance"]["split_policy"] == "template"
    assert rec["identity"]["split_policy"] == "template@0.8"
    for args in (("data",), ("evaluate", "--limit", "2"), ("optimize",), ("compare", "--models", "classic/tfidf-svm")):
        r = cli(*args, "--split-policy", "fuzzy")
        assert r.returncode == 2 and "unknown split policy 'fuzzy'" in r.stderr, (args, r.stderr)
        assert not any(settings.runs_dir.glob("*fuzzy*"))
    (settings.root / "smishctl.toml").write_text(
        (settings.root / "smishctl.toml").read_text().replace('split_policy = "template"', 'split_policy = "exact"'))
    r = cli("data", "--json")
    assert json.loads(r.stdout)["provenance"]["split_policy"] == "exact"
    (settings.root / "smishctl.toml").write_text(
        (settings.root / "smishctl.toml").read_text().replace('split_policy = "exact"', 'split_policy = "x"'))
    r = cli("data")
    assert r.returncode == 2 and "smishctl.toml: data.split_policy = 'x'" in r.stderr


# -- leaks are near-copies (smishctl.data.leaks) ----------------------------------------------------

LEARNED = ["EVRI: your parcel is held, pay the 1.45 GBP fee at https://evri-redeliver.top/pay/88231 now",
           "see you at the station at 5, love",
           "Your account has been suspended, please verify your details at our secure page today to restore "
           "access to online banking",
           "K"]


def test_near_copies_are_the_same_template_not_only_the_same_text():
    from smishctl.data.leaks import near_copies, template_key
    from smishctl.data.templates import masked_vectorizer

    scored = ["evri: Your parcel is held!! pay the 2.99 GBP fee at http://evri-parcel.top/x/1 now !!",  # number+URL
              "see you at the station at 5, love x",                                                   # " x" appended
              "Your account has been suspended, please verify your details at our secure page tomorrow to restore "
              "access to online banking",                                                             # a word changed
              "k.",                                                                                   # no word to weigh
              "lunch at noon? the usual place by the river",                                          # unrelated
              "see you at the cinema at 9, the film starts soon"]                                     # shares words only
    found = near_copies(LEARNED, scored)
    assert found.scored.tolist() == [True, True, True, True, False, False]
    assert found.learned.tolist() == [True, True, True, True]
    # The word change is caught by the cosine alone (its key differs, its cosine is under 1 and over the
    # threshold); "k." by the key alone (no word of two letters: a zero vector); the last one is below it.
    vec = masked_vectorizer().fit([*LEARNED, *scored])
    cos = (vec.transform([scored[2], scored[5]]) @ vec.transform([LEARNED[2], LEARNED[1]]).T).toarray()
    assert 0.8 <= cos[0, 0] < 0.99 and 0.2 < cos[1, 1] < 0.8, cos
    assert template_key(scored[2]) != template_key(LEARNED[2]) and template_key("k.") == template_key("K")
    assert template_key(scored[0]) == template_key(LEARNED[0]) and template_key(":-) :-) x") == template_key(":-)")
    # A link or address with its dots swapped is still masked as one.
    assert template_key("visit www!prize-club!co!uk now") == template_key("visit www.prize-club.co.uk now")
    assert not near_copies([], scored).scored.any() and near_copies(LEARNED, []).learned.tolist() == [False] * 4
    assert near_copies([":)"], ["k !!"]).n_scored == 1                     # no word anywhere: the keys decide


def test_a_datasets_own_splits_hold_no_leak_under_their_policy_and_the_check_is_fast(phishing, tmp_path):
    """Compared as the split was drawn, an honest split holds no near-copy (the check never refuses it);
    the legacy exact split holds many at the template threshold. ~3.5k x 1.2k in well under two seconds."""
    import time

    from smishctl.core.config import load_settings
    from smishctl.data.leaks import near_copies, split_near_copies

    train = [e.text for e in phishing.split("train")]
    for name in ("dev", "test"):
        started = time.perf_counter()
        assert split_near_copies(phishing, train, [e.text for e in phishing.split(name)]).n_scored == 0
        assert time.perf_counter() - started < 5
    exact = load_dataset_splits("sms-phishing", load_settings(tmp_path), options=SplitOptions(policy="exact"))
    exact_train, exact_test = [e.text for e in exact.split("train")], [e.text for e in exact.split("test")]
    assert split_near_copies(exact, exact_train, exact_test).n_scored == 0           # identical text only
    assert split_near_copies(exact, exact_train, [exact_train[0].upper()]).n_scored == 1
    assert near_copies(exact_train, exact_test).n_scored > 50                          # its known near-copies

"""Label corrections as an overlay: applied by the data layer, counted, part of the dataset identity,
splits of other items unchanged, stale corrections warned about."""

from __future__ import annotations

import json

from smishctl.data.corrections import add_correction, corrections_path, remove_correction
from smishctl.data.prepare import load_dataset_splits


def test_corrections_apply_count_identity_and_keep_splits(settings, cli, capfd):
    before = load_dataset_splits(None, settings)
    target = before.split("test")[5]
    new = "spam" if target.label != "spam" else "ham"
    entry = add_correction(settings, "sms-phishing", item_id=target.id, text=target.text, old_label=target.label,
                           new_label=new, reason="template of a known campaign")
    after = load_dataset_splits(None, settings)
    assert {e.id: e.label for e in after.split("test")}[target.id] == new
    for name in ("train", "dev", "test"):  # every item stays in its split
        assert [e.id for e in after.split(name)] == [e.id for e in before.split(name)]
    assert after.split_hash("train") == before.split_hash("train")
    assert after.split_hash("test") != before.split_hash("test")
    assert after.stats["corrections_applied"] == 1 and after.stats["labels_corrected"] == 1
    assert after.provenance["corrections"]["sha256"]
    r = cli("data", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["stats"]["labels_corrected"] == 1
    # A stale correction (its item is gone) is a warning, not a crash.
    add_correction(settings, "sms-phishing", item_id="0000deadbeef0000", text="gone", old_label="ham",
                   new_label="spam")
    capfd.readouterr()
    stale = load_dataset_splits(None, settings)
    assert stale.stats["corrections_stale"] == 1
    assert "stale label correction" in capfd.readouterr().err
    assert stale.provenance["corrections"]["sha256"] != after.provenance["corrections"]["sha256"]
    assert remove_correction(settings, "sms-phishing", entry["id"]) == 1
    assert len(corrections_path(settings, "sms-phishing").read_text().splitlines()) == 1


def test_a_correction_whose_text_changed_is_stale_not_applied(settings):
    ds = load_dataset_splits(None, settings)
    item = ds.split("train")[0]
    add_correction(settings, "sms-phishing", item_id=item.id, text=item.text + " (edited)", old_label=item.label,
                   new_label="spam" if item.label != "spam" else "ham")
    again = load_dataset_splits(None, settings)
    assert {e.id: e.label for e in again.split("train")}[item.id] == item.label
    assert again.stats["corrections_stale"] == 1 and again.stats["corrections_applied"] == 0
    assert again.split_hash("train") == ds.split_hash("train")

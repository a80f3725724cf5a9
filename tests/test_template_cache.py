"""The template-group cache (smishctl.data.templates): an entry is served for the same texts and
threshold computed by the same code and libraries; other code, another library version or a damaged
file is a recomputation. The real grouping (TF-IDF, connected components) on a few texts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from smishctl.data import templates
from smishctl.util import hashing

TEXTS = ["Your parcel 123 is held, pay at http://a.co", "Your parcel 456 is held, pay at http://b.co",
         "see you at six", "lunch tomorrow?"]


@pytest.fixture
def computed(monkeypatch):
    """How many times the grouping was computed (not served), with the per-process memo emptied
    before each call so that only the disk cache can serve it."""
    calls = []
    real = templates._template_groups

    def counting(texts, threshold):
        calls.append(len(texts))
        return real(texts, threshold)

    monkeypatch.setattr(templates, "_template_groups", counting)
    return calls


def groups(cache: Path) -> list[int]:
    templates._GROUPS.clear()
    return templates.template_groups(TEXTS, 0.8, cache).tolist()


def test_a_grouping_computed_before_is_served(tmp_path, computed):
    first = groups(tmp_path)
    assert first[0] == first[1] and len(set(first)) == 3  # the two parcel scams are one template
    assert groups(tmp_path) == first
    assert computed == [4]


def test_other_grouping_code_is_a_miss(tmp_path, computed, monkeypatch):
    first = groups(tmp_path)
    edited = tmp_path / "templates.py"
    edited.write_bytes(Path(templates.__file__).read_bytes() + b"\n# masking changed\n")
    monkeypatch.setattr(templates, "__file__", str(edited))
    assert groups(tmp_path) == first
    assert computed == [4, 4]


@pytest.mark.parametrize("library", ["scikit-learn", "scipy", "numpy"])
def test_another_version_of_each_grouping_library_is_a_miss(tmp_path, computed, monkeypatch, library):
    groups(tmp_path)
    real = hashing._version
    monkeypatch.setattr(hashing, "_version", lambda name: "0.0-other" if name == library else real(name))
    groups(tmp_path)
    assert computed == [4, 4]


@pytest.mark.parametrize("damage", [
    lambda path: path.write_bytes(path.read_bytes()[:20]),  # cut
    lambda path: np.save(path, np.array([0, 0, 9, 1])),  # a group number out of range
    lambda path: np.save(path, np.array([0, 0, 1])),  # one group too few
])
def test_a_damaged_file_is_recomputed(tmp_path, computed, damage):
    first = groups(tmp_path)
    [entry] = tmp_path.glob("*.npy")
    damage(entry)
    assert groups(tmp_path) == first
    assert computed == [4, 4]

"""The durability README promises for predictions.jsonl: every line flushed at once, fsynced at most once
a second and on close."""

from __future__ import annotations

import os

from smishctl.store.runs import PredictionWriter


def _row(i: int) -> dict:
    return {"item_id": str(i), "index": i, "gold": "ham", "pred": "ham", "status": "ok", "latency_ms": 1.0}


def test_lines_are_flushed_at_once_and_fsynced_at_most_once_a_second(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    path = tmp_path / "predictions.jsonl"
    writer = PredictionWriter(path)
    for i in range(200):
        writer.write(_row(i))
        assert path.read_text().count("\n") == i + 1  # visible to another reader before close
    assert len(synced) <= 1  # 200 lines in well under a second: not one fsync each
    writer.close()
    assert len(synced) >= 1 and len(synced) <= 2  # and one on close


def test_a_slow_run_is_fsynced_as_it_goes(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    writer = PredictionWriter(tmp_path / "predictions.jsonl", fsync_every=0.0)  # every line is "a second later"
    for i in range(5):
        writer.write(_row(i))
    assert len(synced) == 5
    writer.close()

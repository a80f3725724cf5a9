"""A file rewritten with its modification time kept (cp -p, tar, rsync -t, touch -r, or two writes within
a coarse filesystem's mtime tick) must be parsed again: HF `datasets` keys its own Arrow cache by the
file's path and mtime only, so it hands back the old file's rows, and the rows cache then stores them
under the new bytes' sha256, where every later load is served them."""

from __future__ import annotations

import os
from pathlib import Path

from smishctl.data import rows_cache
from smishctl.data.load import TableSource

OLD = "label,text\nham,see you at 6\nspam,WIN a prize now\n"
NEW = "label,text\nspam,see you at 6\nham,WIN a prize now\n"  # the labels swapped; same size


def _rewrite_keeping_mtime(path: Path, text: str) -> None:
    before = path.stat()
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_a_rewrite_that_keeps_the_mtime_serves_the_new_rows(tmp_path):
    path = tmp_path / "sms.csv"
    path.write_text(OLD, encoding="utf-8")
    cache = tmp_path / "cache"
    assert [r["label"] for r in rows_cache.read_rows(TableSource(path=path), cache_dir=cache, max_bytes=2**20)] \
        == ["ham", "spam"]
    _rewrite_keeping_mtime(path, NEW)
    rows = rows_cache.read_rows(TableSource(path=path), cache_dir=cache, max_bytes=2**20)
    assert [r["label"] for r in rows] == ["spam", "ham"]


def test_an_entry_keyed_by_new_bytes_holds_the_new_bytes_rows(tmp_path):
    """Even once HF's cache is gone, the entry written under the new sha256 must not hold the old rows."""
    path = tmp_path / "sms.csv"
    path.write_text(OLD, encoding="utf-8")
    cache = tmp_path / "cache"
    rows_cache.read_rows(TableSource(path=path), cache_dir=cache, max_bytes=2**20)
    _rewrite_keeping_mtime(path, NEW)
    rows_cache.read_rows(TableSource(path=path), cache_dir=cache, max_bytes=2**20)
    fresh = tmp_path / "fresh"  # another HF cache: only the rows cache's entries are shared
    fresh.mkdir()
    (cache / "rows").rename(fresh / "rows")
    rows = rows_cache.read_rows(TableSource(path=path), cache_dir=fresh, max_bytes=2**20)
    assert [r["label"] for r in rows] == ["spam", "ham"]

"""Split one evaluation into N deterministic shards (for N CI jobs); `smishctl.ops.merge` joins them.

An item belongs to shard K of N when `sha256(item id) mod N == K - 1`: the assignment depends only on
the item (its id is derived from its normalised text), not on the order or the number of items, so every
job computes the same partition independently. Shard runs record the hash and size of the full item list
and each prediction's index in it, so `merge_runs` can rebuild exactly the run an unsharded evaluation
would have produced (same items hash, same config hash, same order, same metrics).
"""

from __future__ import annotations

import hashlib
import re

from smishctl.core.errors import ConfigError
from smishctl.data.prepare import content_hash

SHARD_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_shard(text: str) -> tuple[int, int]:
    m = SHARD_RE.match(text or "")
    if not m:
        raise ConfigError(f"invalid shard {text!r}", hint="use K/N with 1 <= K <= N, e.g. --shard 2/4")
    k, n = int(m.group(1)), int(m.group(2))
    if not 1 <= k <= n:
        raise ConfigError(f"invalid shard {text!r}: K must be between 1 and N", hint="e.g. --shard 1/4 … 4/4")
    return k, n


def shard_of(item_id: str, n: int) -> int:
    """1-based shard number of an item."""
    return int.from_bytes(hashlib.sha256(item_id.encode("utf-8")).digest()[:8], "big") % n + 1


def select(items: list, shard: str) -> tuple[list, list[int], dict]:
    """(items of the shard, their positions in `items`, the shard record)."""

    k, n = parse_shard(shard)
    positions = [i for i, ex in enumerate(items) if shard_of(ex.id, n) == k]
    info = {"index": k, "count": n, "full_items_hash": content_hash(items), "full_n_items": len(items)}
    return [items[i] for i in positions], positions, info

"""A run's identity: the hash of everything that decides its predictions (model string, endpoint,
prompt and its checksum, dataset, exact items, decoding, adapter). Two runs with the same hash are the
same configuration, so one can stand in for the other (reuse, resume, merged shards)."""

from __future__ import annotations

import hashlib
import json


def config_hash(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]

"""Identities: what makes two runs the same configuration, and what makes a run evidence about a
served system.

`config_hash` hashes everything that decides a run's predictions (model string, endpoint, prompt and
its checksum, dataset, exact items, decoding, adapter); two runs with the same hash can stand in for
one another (reuse, resume, merged shards).

`ServingIdentity` is the part of that identity that production repeats for every message: the model
and its endpoint (a LoRA adapter's checksum is part of both), the program's checksum, the decision
(adapter, calibration, threshold), and the input hardening and injection guard. It is computed by one
function (`smishctl.store.serving.serving_identity`) for evaluate, promote, compare against production
and `load_production()`, so a run is accepted as evidence only for the system it measured.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields


def config_hash(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ServingIdentity:
    model: str  # the litellm model string (a fine-tuned artifact's names its adapter's checksum)
    endpoint: str  # ModelSpec.endpoint_tag: which endpoint (and weights, and LoRA adapter), never a key
    program_sha256: str  # the artifact's program.json checksum; "zero-shot" for the baseline
    adapter: dict | None  # the decision: adapter name, label words, calibration bias, threshold
    harden: bool = True
    guard: bool = True

    # The run identity keys each field is stored under (run.json `identity`; kept as they were named
    # before this type existed, so config hashes of earlier runs do not change).
    _KEYS = {"model": "model", "endpoint": "endpoint", "program_sha256": "prompt_sha", "adapter": "adapter"}

    def identity_keys(self) -> dict:
        """The fields as run identity keys; harden and guard appear only when off (as runs always had)."""
        out = {key: getattr(self, name) for name, key in self._KEYS.items()}
        if not self.harden:
            out["harden"] = False
        if not self.guard and self.harden:
            out["guard"] = False
        return out

    @classmethod
    def from_identity(cls, identity: dict) -> ServingIdentity:
        """The serving part of a run's identity (any schema version: absent harden/guard mean on;
        no guard runs without hardening, which carries it)."""
        harden = identity.get("harden", True) is not False
        return cls(model=str(identity.get("model", "")), endpoint=str(identity.get("endpoint", "")),
                   program_sha256=str(identity.get("prompt_sha", "")), adapter=identity.get("adapter"),
                   harden=harden, guard=harden and identity.get("guard", True) is not False)

    def to_dict(self) -> dict:
        return asdict(self)

    def differences(self, other: ServingIdentity) -> list[str]:
        """'field: this vs other' for every field that differs (empty when the same system)."""

        def show(v) -> str:
            return json.dumps(v, sort_keys=True) if isinstance(v, dict) else str(v)

        return [f"{f.name} {show(getattr(self, f.name))} vs {show(getattr(other, f.name))}"
                for f in fields(self) if getattr(self, f.name) != getattr(other, f.name)]

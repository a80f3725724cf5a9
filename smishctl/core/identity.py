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

A run's stored identity is read only through `ServingIdentity.from_record`, which recomputes what it
can (`record_problems`: the identity hashes to the config hash, every serving key is there, harden and
guard are as the run's config records them, the dataset block agrees) and refuses the record otherwise:
a missing key is never read as a default. A promotion record's identity is read by `from_dict`, which
requires every field.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from smishctl.core.errors import ConfigError


def config_hash(parts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ServingIdentity:
    model: str  # the litellm model string (a fine-tuned artifact's names its adapter's checksum)
    endpoint: str  # ModelSpec.endpoint_tag: which endpoint (and weights, and LoRA adapter), never a key
    program_sha256: str  # the artifact's program.json checksum; "zero-shot" for the baseline
    adapter: dict[str, Any] | None  # the decision: adapter name, label words, calibration bias, threshold
    harden: bool  # no defaults: an identity names every field (a missing one is never read as 'on')
    guard: bool

    # The run identity keys each field is stored under (run.json `identity`; kept as they were named
    # before this type existed, so config hashes of earlier runs do not change).
    _KEYS = {"model": "model", "endpoint": "endpoint", "program_sha256": "prompt_sha", "adapter": "adapter"}

    def identity_keys(self) -> dict[str, Any]:
        """The fields as run identity keys; harden and guard appear only when off (as runs always had)."""
        out = {key: getattr(self, name) for name, key in self._KEYS.items()}
        if not self.harden:
            out["harden"] = False
        if not self.guard and self.harden:
            out["guard"] = False
        return out

    @classmethod
    def from_record(cls, identity: dict[str, Any], config: dict[str, Any], stored_hash: str, dataset: dict[str, Any] | None = None) -> ServingIdentity:
        """The system a run measured, read from its record: refused (ConfigError) unless the identity
        agrees with the run's config, config hash and dataset block (record_problems). The switches
        come from the config, where every run records them; an absent key is never read as a default."""
        problems = record_problems(identity, config, stored_hash, dataset)
        if problems:
            raise ConfigError(f"its record is inconsistent ({'; '.join(problems)})",
                              hint="its run.json was edited or damaged; evaluate again")
        harden = config["harden"]
        return cls(model=identity["model"], endpoint=identity["endpoint"], program_sha256=identity["prompt_sha"],
                   adapter=identity["adapter"], harden=harden, guard=harden and config["guard"])

    @classmethod
    def from_dict(cls, data: object) -> ServingIdentity:
        """A stored serving identity (a promotion record's `serving`): every field present and typed."""
        if not isinstance(data, dict):
            raise ConfigError("the serving identity is not a JSON object")
        missing = [f.name for f in fields(cls) if f.name not in data]
        if missing:
            raise ConfigError(f"the serving identity lacks {', '.join(missing)}")
        bad = [f.name for f in fields(cls) if not isinstance(data[f.name], _TYPES[f.name])]
        if bad:
            raise ConfigError(f"the serving identity has a malformed {', '.join(bad)}")
        return cls(**{f.name: data[f.name] for f in fields(cls)})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def differences(self, other: ServingIdentity) -> list[str]:
        """'field: this vs other' for every field that differs (empty when the same system)."""

        def show(v: object) -> str:
            return json.dumps(v, sort_keys=True) if isinstance(v, dict) else str(v)

        return [f"{f.name} {show(getattr(self, f.name))} vs {show(getattr(other, f.name))}"
                for f in fields(self) if getattr(self, f.name) != getattr(other, f.name)]


# The JSON types of each field (a stored identity is checked against them, never coerced).
_TYPES: dict[str, type | tuple[type, ...]] = {"model": str, "endpoint": str, "program_sha256": str, "adapter": (dict, type(None)),
          "harden": bool, "guard": bool}
SWITCHES = ("harden", "guard")  # recorded in the run's config; in its identity only when off


def record_problems(identity: object, config: object, stored_hash: object, dataset: object = None) -> list[str]:
    """What a run record's identity says that its config, config hash or dataset block does not (empty
    when they agree). The identity must hash to the config hash (a deleted or edited key breaks it), hold
    every serving key, and carry harden/guard exactly as its config's switches put them there."""
    if not isinstance(identity, dict) or not isinstance(config, dict):
        return ["its identity or config is not a JSON object"]
    out: list[str] = []
    if not isinstance(stored_hash, str) or config_hash(identity) != stored_hash:
        out.append("its identity does not hash to its config_hash")
    keys = ServingIdentity._KEYS
    missing = [key for key in keys.values() if key not in identity]
    if missing:
        out.append(f"its identity lacks {', '.join(missing)}")
    wrong = [key for name, key in keys.items() if key in identity and not isinstance(identity[key], _TYPES[name])]
    if wrong:
        out.append(f"its identity has a malformed {', '.join(wrong)}")
    unset = [s for s in SWITCHES if not isinstance(config.get(s), bool)]
    if unset:
        out.append(f"its config does not record {' or '.join(unset)} (true or false)")
    else:
        want = ServingIdentity("", "", "", None, harden=config["harden"], guard=config["guard"]).identity_keys()
        out += [f"its identity says {s} {identity.get(s, '(absent)')} but its config says "
                f"{str(want.get(s, '(absent)')).lower()}" for s in SWITCHES if identity.get(s) != want.get(s)]
    if dataset is not None:
        out += _dataset_problems(identity, config, dataset)
    return out


def _dataset_problems(identity: dict[str, Any], config: dict[str, Any], dataset: object) -> list[str]:
    """The run's dataset block against its identity and config (which the config hash covers)."""
    if not isinstance(dataset, dict):
        return ["its dataset block is not a JSON object"]
    checks = [("name", dataset.get("name"), identity.get("dataset")),
              ("items_hash", dataset.get("items_hash"), identity.get("items_hash")),
              ("split", dataset.get("split"), config.get("split"))]
    train = identity.get("train")
    if train is not None:  # a classic model trained on another dataset: the block names the same data
        given = dataset.get("train_dataset")
        block: dict[str, Any] = given if isinstance(given, dict) else {}
        train = train if isinstance(train, dict) else {}
        checks += [(f"train_dataset.{k}", block.get(k), train.get(k)) for k in ("dataset", "split_hash")]
    out = [f"its dataset {key} is {'(absent)' if have is None else have}, not {want}"
           for key, have, want in checks if have is None or have != want]
    n = dataset.get("n_items")
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        out.append("its dataset block does not record n_items")
    return out

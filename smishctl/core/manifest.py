"""The manifest of a prompt artifact (manifest.json): what it is (labels, program kind), where it came
from (model, dataset, optimizer), and the checksum of every file it holds. Versioned like the run
record: reading migrates through append-only steps, writing stamps the current version, unknown keys
survive. Its file list is what verification, staging and release copy and check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from smishctl.core.errors import DataError
from smishctl.core.records import migrate
from smishctl.core.shapes import DICT, NONE, STR, STRS, Shape, check

# The types of the manifest fields readers use (smishctl.core.shapes): checked on every read.
MANIFEST_SHAPE: Shape = {"id": STR, "files": DICT, "labels": STRS, "program_kind": STR, "model": DICT, "dataset": DICT,
                  "optimizer": (DICT, STR, NONE), "base_model": (DICT, NONE), "version": (STR, NONE),
                  "parent": (STR, NONE), "created_at": (STR, NONE), "dev_metrics": DICT, "spend": DICT}

MANIFEST_SCHEMA_VERSION = 2  # 1: manifests written before the field existed
PROGRAM_FILE = "program.json"


def _manifest_v1_to_v2(m: dict[str, Any]) -> dict[str, Any]:
    m.setdefault("program_kind", "predict")  # the first artifacts were all plain DSPy Predict programs
    return m


MANIFEST_MIGRATIONS: list[tuple[int, Callable[[dict[str, Any]], dict[str, Any]]]] = [(1, _manifest_v1_to_v2)]


@dataclass
class ArtifactManifest:
    id: str
    files: dict[str, str]  # file name -> SHA-256: every file of the artifact but the manifest and card
    labels: tuple[str, ...] = ()
    program_kind: str = "predict"  # predict | knn | lora
    model: dict[str, Any] = field(default_factory=dict)  # ModelSpec.public() of the model it was made for
    dataset: dict[str, Any] = field(default_factory=dict)  # name, provenance, split hashes, train/dev items
    optimizer: dict[str, Any] = field(default_factory=dict)
    base_model: dict[str, Any] | None = None  # lora: {name, gguf_file, sha256, architecture}
    version: str | None = None
    parent: str | None = None
    created_at: str | None = None
    schema_version: int = MANIFEST_SCHEMA_VERSION
    extra: dict[str, Any] = field(default_factory=dict)  # everything else (scores, spend, search, card data)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "manifest") -> ArtifactManifest:
        check(data, MANIFEST_SHAPE, where)
        data = migrate({"schema_version": 1, **data}, MANIFEST_MIGRATIONS, where,
                       current=MANIFEST_SCHEMA_VERSION)
        files = data.get("files")
        if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
            raise DataError(f"{where} has no file checksums")
        if PROGRAM_FILE not in files:
            raise DataError(f"{where} does not checksum {PROGRAM_FILE}")
        labels = data.get("labels") or ()
        if not isinstance(labels, list | tuple) or not all(isinstance(lab, str) for lab in labels):
            raise DataError(f"{where} has malformed labels")
        known = {f.name for f in fields(cls)} - {"extra", "labels"}
        data.pop("labels", None)
        return cls(labels=tuple(labels), **{k: data.pop(k) for k in list(data) if k in known}, extra=data)

    def to_dict(self) -> dict[str, Any]:
        head = {"id": self.id, "version": self.version, "parent": self.parent, "created_at": self.created_at,
                "schema_version": self.schema_version, "labels": list(self.labels),
                "program_kind": self.program_kind, "model": self.model, "dataset": self.dataset,
                "optimizer": self.optimizer}
        if self.base_model is not None:
            head["base_model"] = self.base_model
        return {**head, **self.extra, "files": self.files}

    @property
    def model_name(self) -> str | None:
        return self.model.get("name") if isinstance(self.model, dict) else None

    @property
    def dataset_name(self) -> str | None:
        return self.dataset.get("name") if isinstance(self.dataset, dict) else None

    @property
    def optimizer_name(self) -> str | None:
        return self.optimizer.get("name") if isinstance(self.optimizer, dict) else self.optimizer

    @property
    def program_sha256(self) -> str:
        return self.files[PROGRAM_FILE]

    @property
    def is_lora(self) -> bool:
        return self.program_kind == "lora"

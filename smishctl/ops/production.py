"""`load_production()`: the production prompt as a ready classifier, built exactly as it was evaluated."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from smishctl.core.config import load_settings
from smishctl.core.errors import ConfigError, SmishError
from smishctl.core.identity import ServingIdentity
from smishctl.models.lm import build_lm
from smishctl.solve.build import build_solver
from smishctl.store.artifacts import MANIFEST, PROGRAM
from smishctl.store.production import current_dir, verify_release
from smishctl.store.programs import load_program
from smishctl.store.serving import production_serving
from smishctl.util.fs import read_json


@dataclass
class ProductionClassifier:
    """The production prompt over its model: `classify(text) -> label`."""

    artifact_id: str
    release: str
    labels: tuple[str, ...]
    manifest: dict
    solver: object
    serving: ServingIdentity | None = None  # what this classifier runs (smishctl.core.identity)

    def predict(self, text: str) -> dict:
        """The full record: pred, status (ok | invalid | error), latency, tokens, cost."""
        return self.solver(text)

    def classify(self, text: str) -> str:
        row = self.solver(text)
        if row["status"] == "ok":
            return row["pred"]
        if row["status"] == "invalid":
            raise SmishError(f"the model gave no valid label (raw output: {row.get('raw')!r})", exit_code=1)
        raise SmishError(f"the model call failed: {row.get('error')}", exit_code=3)



def load_production(root: str | os.PathLike | None = None, *, model: str | None = None) -> ProductionClassifier:
    """A ready classifier from prompts/production/current (checksums verified).

    `model` overrides the model recorded in the artifact's manifest (e.g. another endpoint)."""

    settings = load_settings(Path(root) if root else None)
    cur = current_dir(settings)
    if not (cur / MANIFEST).is_file() or not (cur / PROGRAM).is_file():
        raise ConfigError(f"nothing is in production under {settings.production_dir}",
                          hint="promote an artifact first: smishctl promote ARTIFACT")
    manifest = read_json(cur / MANIFEST)
    art = verify_release(cur)
    labels = art.info.labels
    if not labels:
        raise ConfigError(f"production artifact {art.id} has no labels in its manifest")
    program = load_program(art, labels)
    # The serving identity promote required of the release's evaluation (store.serving.production_serving),
    # and the same builder as `evaluate`: production is hardened and decided exactly as it was evaluated.
    spec, adapter, serving = production_serving(art, settings, model)
    lm = build_lm(spec, settings)
    solver = build_solver(program, lm, spec, labels, adapter, harden=serving.harden, guard=serving.guard)
    return ProductionClassifier(artifact_id=art.id, release=cur.resolve().name, labels=labels,
                                manifest=manifest, solver=solver, serving=serving)

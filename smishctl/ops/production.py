"""`load_production()`: the production prompt as a ready classifier, built exactly as it was evaluated."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from smishctl.core.config import Settings, load_settings
from smishctl.core.errors import ConfigError, SmishError
from smishctl.core.identity import ServingIdentity
from smishctl.core.records import Solver
from smishctl.models.lm import build_lm
from smishctl.models.registry import ModelSpec
from smishctl.solve.adapters import AdapterConfig
from smishctl.solve.build import build_solver
from smishctl.store.artifacts import Artifact
from smishctl.store.production import RELEASE_FILE, Release, read_current, verify_release
from smishctl.store.programs import load_program
from smishctl.store.serving import production_serving


@dataclass
class ProductionClassifier:
    """The production prompt over its model: `classify(text) -> label`."""

    artifact_id: str
    release: str
    labels: tuple[str, ...]
    manifest: dict[str, Any]
    solver: Solver
    serving: ServingIdentity | None = None  # what this classifier runs (smishctl.core.identity)

    def predict(self, text: str) -> dict[str, Any]:
        """The full record: pred, status (ok | invalid | error), latency, tokens, cost."""
        return self.solver(text)

    def classify(self, text: str) -> str:
        row = self.solver(text)
        if row["status"] == "ok":
            return str(row["pred"])
        if row["status"] == "invalid":
            raise SmishError(f"the model gave no valid label (raw output: {row.get('raw')!r})", exit_code=1)
        raise SmishError(f"the model call failed: {row.get('error')}", exit_code=3)



def served_system(settings: Settings, current: Release, model: str | None = None,
                  ) -> tuple[Artifact, ModelSpec, AdapterConfig, ServingIdentity]:
    """(release artifact, model spec, adapter config, serving identity) of what production would serve now,
    from today's configuration and the released artifact (store.serving.production_serving); refused
    (ConfigError) unless it is the system the release was promoted for (its promotion record's
    `serving`). `model` overrides the manifest's model: another model then may differ in model and
    endpoint only."""
    art = verify_release(Path(current.dir or ""))
    spec, adapter, serving = production_serving(art, settings, model)
    where = f"production release {current.release} ({art.id})"
    try:
        promoted = ServingIdentity.from_dict(current.serving)
    except ConfigError as exc:
        raise ConfigError(f"{where}: its {RELEASE_FILE} does not say what was promoted ({exc})",
                          hint="promote the artifact again") from None
    ignore = ("model", "endpoint") if model and spec.name != current.model_name else ()
    changed = [f.name for f in fields(ServingIdentity)
               if f.name not in ignore and getattr(serving, f.name) != getattr(promoted, f.name)]
    if changed:
        shown = "; ".join(f"{name} {_show(getattr(serving, name))} now, {_show(getattr(promoted, name))} when "
                          "promoted" for name in changed)
        raise ConfigError(f"{where} would not serve what was promoted: {shown}",
                          hint=f"restore the settings of model {spec.name} in smishctl.toml, or re-evaluate and "
                          f"promote it again (smishctl promote {art.id})")
    return art, spec, adapter, serving


def _show(value: object) -> str:
    return json.dumps(value, sort_keys=True) if isinstance(value, dict) else str(value)


def load_production(root: str | os.PathLike[str] | None = None, *, model: str | None = None) -> ProductionClassifier:
    """A ready classifier from prompts/production/current: checksums verified, and the system it serves
    checked against the one promoted (served_system).

    `model` overrides the model recorded in the artifact's manifest (e.g. another endpoint)."""

    settings = load_settings(Path(root) if root else None)
    current = read_current(settings)  # a missing or damaged release is refused; None: never promoted
    if current is None:
        raise ConfigError(f"nothing is in production under {settings.production_dir}",
                          hint="promote an artifact first: smishctl promote ARTIFACT")
    art, spec, adapter, serving = served_system(settings, current, model)
    labels = art.info.labels
    if not labels:
        raise ConfigError(f"production artifact {art.id} has no labels in its manifest")
    program = load_program(art, labels)
    # The same builder as `evaluate`: production is hardened and decided exactly as it was evaluated.
    lm = build_lm(spec, settings)
    solver = build_solver(program, lm, spec, labels, adapter, harden=serving.harden, guard=serving.guard)
    return ProductionClassifier(artifact_id=art.id, release=current.release, labels=labels,
                                manifest=art.manifest, solver=solver, serving=serving)

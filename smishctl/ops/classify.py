"""Classify messages with the production prompt (or any prompt): the quickest way to try the product
and the way a shell pipeline uses it. Built like `evaluate` builds its solver, hardening included,
so a message is classified exactly as it was evaluated."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from smishctl.core.config import Settings
from smishctl.core.errors import ConfigError
from smishctl.data.load import decode_utf8
from smishctl.data.prepare import load_dataset_splits
from smishctl.data.registry import DEFAULT_DATASET, REGISTRY
from smishctl.models.lm import build_lm
from smishctl.models.registry import resolve_model
from smishctl.ops.production import load_production
from smishctl.signals import extract, load_lists
from smishctl.signals.lists import ReferenceLists
from smishctl.solve.build import build_solver
from smishctl.solve.classic import build_classic_solver
from smishctl.store.artifacts import ZERO_SHOT, artifact_labels, is_lora, resolve_artifact
from smishctl.store.production import read_current
from smishctl.store.programs import load_adapter_config, load_program
from smishctl.store.serving import model_for

NO_PRODUCTION_NOTE = "nothing is in production: classifying zero-shot; promote an artifact to use it"


@dataclass
class Classifier:
    solver: Any  # a built solver (smishctl.solve.build): called on a text; production's carries .spec
    prompt: str
    model: str
    labels: tuple[str, ...]
    note: str | None = None  # one line for the user (e.g. why zero-shot was used), never part of a result
    signal_lists: ReferenceLists | None = field(default=None, repr=False)  # the project's reference lists (smishctl.signals)
    release: str | None = None  # the production release that answers (e.g. r0003); None for any other prompt

    def __call__(self, text: str) -> dict[str, Any]:
        if not text or not text.strip():
            raise ConfigError("empty message", hint="pass the SMS text to classify")
        row = self.solver(text)
        return {"text": text, "label": row["pred"], "status": row["status"], "probs": row.get("probs"),
                "error": row.get("error"), "latency_ms": row.get("latency_ms"),
                "signals": extract(text, self.signal_lists).to_dict()}

    def neighbours(self, text: str) -> list[dict[str, Any]] | None:
        """The training messages a kNN program shows the model for `text`, most similar first; None for
        any other program."""
        program: Any = getattr(self.solver, "program", None)
        if not hasattr(program, "neighbours"):
            return None
        shown = program.neighbours(text)
        ranked = shown if getattr(program, "order", "") == "nearest-first" else list(reversed(shown))
        return [{"text": t, "label": lab} for t, lab in ranked]


def load_classifier(settings: Settings, prompt: str | None = None, model: str | None = None) -> Classifier:
    """`prompt` None: what is in production, else (never promoted) zero-shot with a note (a first try in a fresh project);
    'production': what is in production only (exit 2 when nothing is yet). A classic model takes no
    prompt: without one it is simply trained on the default dataset."""
    if prompt is None and model and resolve_model(model, settings).extra.get("classic"):
        prompt = ZERO_SHOT
    note = None
    if prompt is None:
        if _in_production(settings):
            prompt = "production"
        else:
            prompt, note = ZERO_SHOT, NO_PRODUCTION_NOTE
    if prompt in ("", "production"):
        pc = load_production(settings.root, model=model)  # built, hardened, as evaluate builds it
        solver: Any = pc.solver  # a built solver (smishctl.solve.build) carries its model spec
        return Classifier(solver, pc.artifact_id, solver.spec.name, pc.labels, signal_lists=_lists(settings),
                          release=pc.release)

    art = resolve_artifact(settings.prompts_dir, prompt)
    spec = model_for(art, settings, model or (None if art.is_zero_shot or is_lora(art) else art.info.model_name))
    if spec.extra.get("classic"):
        ds = load_dataset_splits(DEFAULT_DATASET, settings)
        solver = build_classic_solver(spec, ds, art)
        return Classifier(solver, art.id, spec.name, ds.labels, signal_lists=_lists(settings))

    labels = artifact_labels(art, REGISTRY[DEFAULT_DATASET].labels)
    solver = build_solver(load_program(art, labels), build_lm(spec, settings), spec, labels, load_adapter_config(art))
    return Classifier(solver, art.id, spec.name, labels, note, signal_lists=_lists(settings))


def _lists(settings: Settings) -> ReferenceLists:
    """The reference lists signals are read against: the bundled ones and the project's `[signals]`."""
    return load_lists(settings.section("signals"))


def _in_production(settings: Settings) -> bool:
    """Whether production ever had a release: a missing or damaged current release is an error (raised
    by read_current), never a reason to fall back to zero-shot."""
    return read_current(settings) is not None


def decode_input(data: bytes, where: str) -> list[str]:
    """Non-empty lines of UTF-8 input; undecodable bytes or no message at all are an error."""

    text = decode_utf8(data, where)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise ConfigError(f"{where} holds no message", hint="give one SMS per line")
    return lines

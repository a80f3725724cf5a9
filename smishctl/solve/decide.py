"""The decision rule fitted on dev rows after a search (optimize) or a training run (finetune): a per-label
bias, kept only when it wins under cross-validation unless forced, and an optional recall threshold."""

from __future__ import annotations

from dataclasses import dataclass, replace

from smishctl.core.errors import ConfigError
from smishctl.solve.adapters import AdapterConfig
from smishctl.solve.calibration import cross_validated_bias, fit_bias, scored_rows, threshold_for_recall

CALIBRATE_CHOICES = ("auto", "on", "off")


@dataclass(frozen=True)
class DevDecision:
    adapter: AdapterConfig  # the adapter config with the bias and decision it keeps
    calibration: dict | None  # what cross-validation found (solve.calibration), or why nothing was tried
    decision: dict | None  # the recall threshold (threshold_for_recall), when one was asked for


def parse_recall_target(text: str | None) -> tuple[str, float] | None:
    """'smishing=0.95' -> ('smishing', 0.95)."""
    if not text:
        return None
    label, sep, value = text.partition("=")
    try:
        target = float(value)
    except ValueError:
        target = None
    if not sep or not label.strip() or target is None or not 0 < target <= 1:
        raise ConfigError(f"bad --recall-target {text!r}", hint="use LABEL=RECALL, e.g. --recall-target smishing=0.95")
    return label.strip().lower(), target


def decide_on_dev(rows: list[dict], labels: tuple[str, ...], adapter: AdapterConfig, calibrate: str,
                  recall_target: tuple[str, float] | None, seed: int) -> DevDecision:
    """Calibration (kept only when it wins under cross-validation, unless forced) and an optional
    recall threshold, both fitted on the dev rows' label probabilities."""
    has_probs = adapter.name == "score" and scored_rows(rows)
    if (calibrate != "off" or recall_target) and not has_probs:
        if recall_target:
            raise ConfigError("--recall-target needs label probabilities", hint="use --adapter score")
        return DevDecision(adapter, {"kept": False, "reason": "no label probabilities"}, None)
    bias: dict = {}
    calibration = None
    if calibrate != "off":
        cv = cross_validated_bias(rows, labels, seed=seed)
        if calibrate == "on":
            bias = fit_bias(rows, labels)
            cv = {**cv, "kept": True, "forced": True, "bias": bias}
        bias = cv.get("bias") or {}
        calibration = cv
    decision = threshold_for_recall(rows, labels, *recall_target, bias=bias) if recall_target else {}
    return DevDecision(replace(adapter, bias=bias, decision=decision), calibration, decision or None)


def bias_before_prior(adapter: AdapterConfig, prior_weight: float | None) -> AdapterConfig:
    """The bias was fitted on the rows' final (prior-combined) probabilities, but the adapter adds it to
    the model's log-probabilities, which the prior then scales by 1 - weight: store it scaled back up."""
    if not prior_weight or not adapter.bias:
        return adapter
    return replace(adapter, bias={lab: b / (1 - prior_weight) for lab, b in adapter.bias.items()})

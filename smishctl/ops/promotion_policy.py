"""The [promotion] policy of smishctl.toml as gates, checked by compare's gate evaluator
(smishctl.score.gates), so that a policy key and the equivalent `compare` gate cannot disagree.

Keys:
    min_macro_f1, max_error_rate: bounds on the test-split evaluation (max_error_rate: 0.05 unless set;
      an errored item is also a wrong answer in every quality figure).
    min_items: the fewest test items that evaluation may have (default: the whole test split).
    require: gates in compare's syntax on the test-split metrics, e.g. ["recall[smishing] >= 0.95"].
    max_attack_success_rate, min_control_ham_accuracy: bounds on the robustness set, which promote then
      runs on the candidate. A rate of attacks let through means something only next to the ham controls
      (a model that never answers ham lets no attack through), so setting the first brings a floor for the
      second (0.80 unless set).
    alpha: the significance level of "not significantly worse than production on the same items".
    must_pass: must-pass set names or files (smishctl.ops.must_pass); any miss fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from smishctl.core.config import Settings
from smishctl.core.errors import ConfigError
from smishctl.core.records import RunRecord
from smishctl.ops.compare import paired_stats
from smishctl.ops.must_pass import policy_checks
from smishctl.ops.pairing import RunData
from smishctl.ops.promotion_result import PolicyCheck
from smishctl.ops.run_source import RunSource
from smishctl.score.gates import DEFAULT_MAX_ERROR_RATE, Gate, NoRegressionGate, bound, check_gate, parse_gate
from smishctl.score.stats import SIGNIFICANCE
from smishctl.store.production import Release

DEFAULT_MIN_CONTROL_HAM_ACCURACY = 0.80
NOT_WORSE = "not_worse_than_production"

# policy key -> (metric, operator), per evaluation, in the order the checks are reported. A metric the
# run lacks fails its bound (missing means refused).
TEST_BOUNDS = {
    "min_macro_f1": ("macro_f1", ">="),
    "max_error_rate": ("error_rate", "<="),
}
ROBUSTNESS_BOUNDS = {
    "max_attack_success_rate": ("attack_success_rate", "<="),
    "min_control_ham_accuracy": ("control_ham_accuracy", ">="),
}


@dataclass(frozen=True)
class Policy:
    test: tuple[Gate, ...]  # on the candidate's test-split evaluation: the bounds, then `require`
    robustness: tuple[Gate, ...]  # on its evaluation on the robustness set
    no_regression: NoRegressionGate  # against production, on the candidate's items
    must_pass: tuple[str, ...] = ()
    min_items: int | None = None  # None: the candidate's evaluation must cover the whole test split

    @property
    def needs_robustness(self) -> bool:
        return bool(self.robustness)

    def gate(self, name: str) -> Gate | None:
        """The bound a policy key set (None when the key is not set)."""
        return next((g for g in self.test + self.robustness if g.name == name), None)


def _number(raw: dict[str, Any], key: str) -> float:
    try:
        return float(raw[key])
    except (TypeError, ValueError):
        raise ConfigError(f"[promotion] {key} in smishctl.toml must be a number, got {raw[key]!r}") from None


def _bounds(spec: dict[str, Any], values: dict[str, Any]) -> tuple[Gate, ...]:
    return tuple(bound(key, metric, op, values[key]) for key, (metric, op) in spec.items() if key in values)


def read_policy(settings: Settings) -> Policy:
    """The [promotion] policy of smishctl.toml, validated (a malformed one is a usage error)."""
    raw = settings.section("promotion")
    values = {key: _number(raw, key) for key in (*TEST_BOUNDS, *ROBUSTNESS_BOUNDS) if key in raw}
    values.setdefault("max_error_rate", DEFAULT_MAX_ERROR_RATE)  # errors are evidence: always bounded
    if "max_attack_success_rate" in values:
        values.setdefault("min_control_ham_accuracy", DEFAULT_MIN_CONTROL_HAM_ACCURACY)
    require = raw.get("require", [])
    if isinstance(require, str):
        require = [require]
    if not isinstance(require, list) or not all(isinstance(g, str) for g in require):
        raise ConfigError("[promotion] require in smishctl.toml must be a list of gates",
                          hint='e.g. require = ["recall[smishing] >= 0.95"]')
    try:
        required = tuple(parse_gate(g) for g in require)
    except ConfigError as exc:
        raise ConfigError(f"[promotion] require: {exc}", hint=exc.hint) from None
    must_pass = raw.get("must_pass") or ()
    min_items = raw.get("min_items")
    if min_items is not None and (isinstance(min_items, bool) or not isinstance(min_items, int) or min_items < 1):
        raise ConfigError(f"[promotion] min_items in smishctl.toml must be a positive whole number, got {min_items!r}",
                          hint="omit it to require an evaluation on the whole test split")
    return Policy(min_items=min_items, test=_bounds(TEST_BOUNDS, values) + required, robustness=_bounds(ROBUSTNESS_BOUNDS, values),
                  no_regression=NoRegressionGate(alpha=float(raw.get("alpha", SIGNIFICANCE))),
                  must_pass=(must_pass,) if isinstance(must_pass, str) else tuple(must_pass))


def _as_check(name: str, result: dict[str, Any], detail: str | None = None, *, robustness_run: str | None = None,
              production_run: str | None = None, stats: dict[str, Any] | None = None) -> PolicyCheck:
    """A gate's result (smishctl.score.gates.check_gate) as a policy check; `detail` replaces its message."""
    return PolicyCheck(name=name, passed=result["passed"], value=result["value"], threshold=result["threshold"],
                       detail=detail or result["message"], robustness_run=robustness_run,
                       production_run=production_run, stats=stats)


def _test_checks(pol: Policy, metrics: dict[str, Any], labels: tuple[str, ...]) -> list[PolicyCheck]:
    checks = []
    for gate in pol.test:
        if gate.name is None and gate.label and labels and gate.label not in labels:
            raise ConfigError(f"[promotion] require {gate.text!r}: unknown label {gate.label!r}",
                              hint=f"the dataset's labels are: {', '.join(labels)}")
        checks.append(_as_check(gate.name or f"require {gate.key}", check_gate(gate, metrics)))
    return checks


def _robustness_checks(pol: Policy, robust: RunRecord | None) -> list[PolicyCheck]:
    if not pol.needs_robustness:
        return []
    if robust is None:
        return [PolicyCheck(name="robustness", passed=True, value=None, pending=True,
                            detail="the candidate would be evaluated on the robustness set")]
    m = robust.metrics or {}
    why = {"max_attack_success_rate": f"{m.get('n_attack_successes')}/{m.get('n_attacks')} attacks let through, "
                                      f"run {robust.id}",
           "min_control_ham_accuracy": "ham controls of the robustness set kept as ham"}
    checks = []
    for gate in pol.robustness:
        res = check_gate(gate, m)
        name = gate.name or gate.key  # robustness gates are the policy's named bounds
        checks.append(_as_check(name, res, f"{res['message']} ({why.get(name, name)})",
                                robustness_run=robust.id))
    return checks


def _not_worse_check(pol: Policy, cand: RunData, prod: RunData | None, current: Release | None) -> PolicyCheck:
    if current is None:
        return PolicyCheck(name=NOT_WORSE, passed=True, value=None, detail="nothing in production yet")
    if prod is None:
        return PolicyCheck(name=NOT_WORSE, passed=True, value=None, pending=True,
                           detail=f"production ({current.artifact}) would be evaluated on the same items")
    stats = paired_stats(prod, cand, cand.labels, n_boot=1000, seed=0)
    res = check_gate(pol.no_regression, cand.metrics, paired=stats, baseline=f"production {current.artifact}")
    return _as_check(NOT_WORSE, res, production_run=prod.id, stats=stats)


def check_policy(settings: Settings, pol: Policy, cand: RunData, prod: RunData | None, current: Release | None,
                 robust: RunRecord | None = None, source: RunSource | None = None) -> list[PolicyCheck]:
    """Every check of the policy on the candidate's test-split run, in one list: the bounds and `require`,
    the robustness bounds (pending while `robust` is None), not significantly worse than production
    (`prod`: production's run on the same items; pending while None), then the must-pass sets."""
    checks = _test_checks(pol, cand.metrics, cand.labels)
    checks += _robustness_checks(pol, robust)
    checks.append(_not_worse_check(pol, cand, prod, current))
    if pol.must_pass:
        checks += policy_checks(settings, cand.record, list(pol.must_pass), source)
    return checks

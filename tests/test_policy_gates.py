"""A [promotion] policy key and the equivalent `compare` gate give the same verdict on the same run.

Both are checked by the one gate evaluator (smishctl.score.gates), so that they cannot drift apart:
here every policy key is set, each candidate is judged by `promote --dry-run` and by `compare` against
production, and the verdicts are compared key by key. Runs are synthetic (no model); the robustness
runs carry the exact configuration promote asks for, so it reuses them."""

from __future__ import annotations

import json

import pytest
from factories import PROMOTION_ITEMS, accept_small_promotions, make_artifact, promotion_run, record_run

from smishctl.ops.compare import CompareOptions, compare_runs
from smishctl.ops.compare_sources import production_run
from smishctl.ops.evaluate import EvalConfig
from smishctl.ops.pairing import load_run
from smishctl.ops.promote import promote
from smishctl.ops.promotion_result import PolicyCheck

POLICY = {"min_items": PROMOTION_ITEMS, "min_macro_f1": 0.8, "max_error_rate": 0.05, "require": ["recall[smishing] >= 0.95"],
          "max_attack_success_rate": 0.5, "min_control_ham_accuracy": 0.8}
# policy check name -> how compare spells the same rule
EQUIVALENT = {
    "min_macro_f1": "macro_f1>=0.8",
    "max_error_rate": "--max-error-rate 0.05",
    "require recall[smishing]": "recall[smishing]>=0.95",
    "not_worse_than_production": "--no-regression",
    "max_attack_success_rate": "attack_success_rate<=0.5",
    "min_control_ham_accuracy": "control_ham_accuracy>=0.8",
}
ROBUSTNESS_GATES = ["attack_success_rate<=0.5", "control_ham_accuracy>=0.8"]


def _robustness_run(settings, art, test_record: dict, answer: str | None) -> None:
    """The candidate's run on the robustness set: every message answered `answer` (None: its gold label)."""
    record_run(settings, EvalConfig(model=test_record["model"]["name"], prompt=art.id, dataset="robustness",
                                    split="test"), answer=lambda _k, ex: answer or ex.label)


@pytest.fixture()
def candidates(settings):
    """`good` in production; candidates of graded quality, each with a test-split run and a robustness run."""
    def art_with_run(name, instructions, wrong=(), errors=()):
        art = make_artifact(settings, instructions=instructions)
        promotion_run(settings, art, wrong, errors=errors, run_id=f"run-{name}")
        return art

    accept_small_promotions(settings)
    good = art_with_run("good", "Label the SMS: ham, spam or smishing.", {1})
    promote(settings, good.id)
    arts = {
        "ok": art_with_run("ok", "Decide: ham, spam or smishing?", {1, 2}),
        "poor": art_with_run("poor", "Guess the label.", set(range(20))),
        "halved": art_with_run("halved", "Another prompt.", set(range(0, 30, 2))),
        # error_rate 0.1 on ham and spam messages (an error is a wrong answer: none on smishing keeps its recall)
        "errs": art_with_run("errs", "A prompt whose calls fail.", errors=(0, 1, 3)),
    }
    for name, art in arts.items():
        record = json.loads((settings.runs_dir / f"run-{name}" / "run.json").read_text())
        # poor lets every attack through as ham; halved answers spam to everything, ham controls included
        _robustness_run(settings, art, record, {"poor": "ham", "halved": "spam"}.get(name))
    settings.raw["promotion"] = dict(POLICY)
    return arts


def _policy_checks(settings, art) -> dict[str, PolicyCheck]:
    res = promote(settings, art.id, dry_run=True, force=True, reason="verdicts only")
    return {c.name: c for c in res.checks}


def _compare_verdicts(settings, name: str, robust_id: str) -> dict[str, bool]:
    cand = load_run(settings.runs_dir, f"run-{name}")
    base = production_run(settings, cand)
    opts = CompareOptions(gates=["macro_f1>=0.8", "recall[smishing]>=0.95"], max_error_rate=0.05, no_regression=True)
    cmp = compare_runs([base, cand], baseline_index=0, options=opts).to_dict()
    out = {g["gate"]: g["passed"] for g in cmp["gates"] if g["run"] == cand.id}
    out.update({"--max-error-rate 0.05" if c["check"].startswith("error_rate") else "--no-regression": c["passed"]
                for c in cmp["checks"] if c["run"] == cand.id})
    robust = compare_runs([load_run(settings.runs_dir, robust_id)], options=CompareOptions(gates=ROBUSTNESS_GATES)).to_dict()
    out.update({g["gate"]: g["passed"] for g in robust["gates"]})
    return out


def test_policy_keys_and_compare_gates_agree(settings, candidates):
    seen: dict[str, set[bool]] = {key: set() for key in EQUIVALENT}
    for name, art in candidates.items():
        checks = _policy_checks(settings, art)
        compare = _compare_verdicts(settings, name, checks["max_attack_success_rate"].robustness_run)
        for key, gate in EQUIVALENT.items():
            verdict = checks[key].passed
            assert verdict == compare[gate], f"{name}: policy {key} says {verdict}, compare {gate} says {compare[gate]}"
            seen[key].add(verdict)
    # every rule both passes and fails somewhere: agreement is not the trivial all-pass
    assert all(v == {True, False} for v in seen.values()), seen

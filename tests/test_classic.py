"""The classical baselines classic/tfidf-svm and classic/tfidf-knn: solver contract, quality floors,
probabilities, determinism, `smishctl evaluate` and `compare --models`."""

from __future__ import annotations

import json

import pytest
from factories import make_artifact

from conftest import make_project
from smishctl.core.errors import ConfigError, ModelError
from smishctl.models.registry import resolve_model
from smishctl.solve.classic import ClassicSolver, build_classic_solver
from smishctl.store.artifacts import Artifact

CONTRACT = {"pred", "probs", "status", "error", "raw", "latency_ms", "usage", "cache_hit", "cost_usd"}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from smishctl.core.config import load_settings
    from smishctl.data.prepare import load_dataset_splits

    return load_dataset_splits(None, load_settings(make_project(tmp_path_factory.mktemp("classic") / "proj")))


def test_registry_recognises_classic_names(settings):
    spec = resolve_model("classic/tfidf-svm", settings)
    assert spec.extra["classic"] == "tfidf-svm" and not spec.is_local
    assert spec.usd_per_hour == settings.local_usd_per_hour
    assert resolve_model("classic/tfidf-knn", settings).extra["classic"] == "tfidf-knn"
    with pytest.raises(ModelError, match="unknown classic model"):
        resolve_model("classic/bert", settings)


# Floors on the full test split of the default (template-aware) split. Macro-F1 and per-class recall,
# not accuracy: ham is 83% of the data, so "always ham" would pass an accuracy floor.
FLOORS = {
    "classic/tfidf-svm": {"macro_f1": 0.82, "recall": {"ham": 0.97, "spam": 0.6, "smishing": 0.75}},
    "classic/tfidf-knn": {"macro_f1": 0.76, "recall": {"ham": 0.97, "spam": 0.45, "smishing": 0.65}},
}


@pytest.mark.parametrize("model", sorted(FLOORS))
def test_solver_contract_quality_probs_and_determinism(settings, dataset, model):
    from smishctl.score.metrics import compute_metrics

    spec = resolve_model(model, settings)
    solver = build_classic_solver(spec, dataset, Artifact(id="zero-shot", dir=None))
    assert solver.n_train == len(dataset.split("train"))
    test = dataset.split("test")
    rows = [{"gold": ex.label, **solver(ex.text)} for ex in test]
    assert all(set(r) == CONTRACT | {"gold"} for r in rows)
    assert all(r["status"] == "ok" and r["pred"] in dataset.labels for r in rows)
    assert all(r["cost_usd"] > 0 and r["usage"] == {} and not r["cache_hit"] for r in rows)
    m = compute_metrics(rows, dataset.labels)
    floors = FLOORS[model]
    assert m["macro_f1"] >= floors["macro_f1"], m["macro_f1"]
    for label, floor in floors["recall"].items():
        assert m["per_class"][label]["recall"] >= floor, (label, m["per_class"][label])
    # Probabilities: every label, summing to 1, and the prediction is their argmax.
    for r in rows:
        assert list(r["probs"]) == list(dataset.labels) and abs(sum(r["probs"].values()) - 1) < 1e-4
        assert r["probs"][r["pred"]] == max(r["probs"].values())
    assert len({round(r["probs"]["smishing"], 3) for r in rows}) > 10  # scores, not one-hot labels
    again = ClassicSolver.train(dataset.split("train"), dataset.labels, spec)
    assert [again.classify(ex.text) for ex in test[:200]] == [r["pred"] for r in rows[:200]]


def test_neighbour_vote_weights_and_ties():
    from smishctl.solve.classic import NeighbourVote

    train = ["win a prize now", "win a prize today", "see you at lunch", "lunch at noon see you"]
    labels = ["spam", "spam", "ham", "ham"]
    weighted = NeighbourVote(k=4).fit(train, labels)
    label, probs = weighted.predict_proba_one("win a prize")
    assert label == "spam" and probs["spam"] > 0.5 and abs(sum(probs.values()) - 1) < 1e-9
    # A 2-2 majority tie goes to the label of the single most similar neighbour, whatever the label order.
    majority = NeighbourVote(k=4, vote="majority").fit(train, labels)
    label, probs = majority.predict_proba_one("see you at lunch")
    assert probs == {"ham": 0.5, "spam": 0.5} and label == "ham"
    flipped = NeighbourVote(k=4, vote="majority").fit(train[::-1], labels[::-1])
    assert flipped.predict_proba_one("win a prize now")[0] == "spam"
    with pytest.raises(ConfigError, match="unknown vote"):
        NeighbourVote(vote="loudest")


def test_classic_quality_floor_on_balanced_test_items(settings, dataset):
    """A real baseline, not a constant: on 150 balanced test items (50 a class) it measured macro-F1
    0.843 and recall ham 1.00 / spam 0.72 / smishing 0.82. "Always ham" scores macro-F1 0.17 here,
    and 0.31 on the first 200 test items, which are 85.5% ham."""
    from smishctl.data.prepare import sample
    from smishctl.score.metrics import compute_metrics

    spec = resolve_model("classic/tfidf-svm", settings)
    solver = build_classic_solver(spec, dataset, Artifact(id="zero-shot", dir=None))
    test = sample(dataset.split("test"), 150, balanced=True, seed=13)
    rows = [{"item_id": ex.id, "gold": ex.label, **solver(ex.text)} for ex in test]
    m = compute_metrics(rows, dataset.labels)
    assert m["macro_f1"] >= 0.75
    assert {label: pc["recall"] >= 0.60 for label, pc in m["per_class"].items()} == {
        label: True for label in dataset.labels}, m["per_class"]


def test_classic_takes_no_prompt(settings, dataset):
    spec = resolve_model("classic/tfidf-svm", settings)
    with pytest.raises(ConfigError, match="takes no prompt"):
        build_classic_solver(spec, dataset, Artifact(id="x/y/v0001", dir=settings.root))


def test_evaluate_cli_with_classic_model(cli, settings):
    r = cli("evaluate", "--model", "classic/tfidf-svm", "--limit", "30", "--balanced", "--json")
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)
    assert rec["status"] == "complete" and rec["model"]["name"] == "classic/tfidf-svm"
    m = rec["metrics"]
    assert m["n_items"] == 30 and m["n_errors"] == 0 and m["macro_f1"] >= 0.7
    assert m["tokens"] == {"prompt": 0, "completion": 0, "cached": 0} and m["latency_ms"]["p95"] < 200
    assert rec["config_hash"] and (settings.runs_dir / rec["id"] / "predictions.jsonl").is_file()
    rows = [json.loads(line) for line in
            (settings.runs_dir / rec["id"] / "predictions.jsonl").read_text().splitlines()]
    assert all(abs(sum(r["probs"].values()) - 1) < 1e-4 for r in rows)
    r = cli("evaluate", "--model", "classic/nope", "--limit", "3")
    assert r.returncode == 2 and "unknown classic model" in r.stderr
    art = make_artifact(settings)
    r = cli("evaluate", "--model", "classic/tfidf-svm", "--prompt", art.id, "--limit", "3")
    assert r.returncode == 2 and "takes no prompt" in r.stderr


def test_compare_models_split_policy_and_classic_baselines(cli):
    # Naming a classic model adds no other baseline (tests/test_compare_real.py checks that an LLM
    # model gets both classic/tfidf-svm and classic/tfidf-knn as references).
    r = cli("compare", "--models", "classic/tfidf-knn", "--limit", "9", "--balanced", "--split-policy", "exact",
            "--json")
    assert r.returncode == 0, r.stderr
    runs = json.loads(r.stdout)["runs"]
    assert [x["model"] for x in runs] == ["classic/tfidf-knn"]
    from smishctl.core.config import load_settings
    from smishctl.ops.pairing import load_run

    record = load_run(load_settings().runs_dir, runs[0]["id"]).record
    assert record.dataset["provenance"]["split_policy"] == "exact"
    assert record.config["data_options"] == {"split": {"policy": "exact"}}
    r = cli("compare", "run-x", "--split-policy", "exact")
    assert r.returncode == 2 and "--split-policy needs --models" in r.stderr

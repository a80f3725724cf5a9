"""The evidence chain: a run is evidence for a promotion only when it measured exactly the system
production will serve, on the items promotion asks for, and says what its predictions say; a classic
baseline never scores a message it learned. Runs come from tests/factories.py (the real records of
`evaluate`, with answers chosen by the test), so no model is called here."""

from __future__ import annotations

import csv
import dataclasses
import json

import pytest
from factories import accept_small_promotions, make_artifact, promotion_run
from faultutil import add_alias

from smishctl.core.config import load_settings
from smishctl.core.errors import ConfigError
from smishctl.core.identity import ServingIdentity, config_hash
from smishctl.core.records import RunRecord
from smishctl.ops.promote import production_evidence, promote
from smishctl.ops.promotion_policy import read_policy
from smishctl.store.artifacts import Artifact
from smishctl.store.runs import Run

DEAD = "http://127.0.0.1:9/v1"  # never called: these tests build no model


@pytest.fixture()
def served(project):
    """An artifact for alias `a1`; alias `a2` is the same litellm model at another endpoint."""
    add_alias(project, "a1", DEAD)
    add_alias(project, "a2", "http://127.0.0.1:10/v1")
    settings = load_settings(project)
    accept_small_promotions(settings)
    return settings, make_artifact(settings, model="a1", adapter="score")


@pytest.mark.parametrize(("field", "overrides"), [
    ("model", {"model": "local/qwen2.5-coder-0.5b"}),
    ("endpoint", {"model": "a2"}),
    ("adapter", {"adapter": "json"}),
    ("harden", {"harden": False}),
    ("guard", {"guard": False}),
])
def test_promote_refuses_a_run_of_another_serving_setup(served, field, overrides):
    settings, art = served
    run = promotion_run(settings, art, run_id=f"run-{field}", **overrides)
    with pytest.raises(ConfigError, match=rf"measured another system than production will serve \({field} ") as err:
        promote(settings, art.id, run=run.id)
    assert len(str(err.value).splitlines()) == 1
    # Nor is it picked up as an existing evaluation: promote would evaluate the served setup instead.
    assert promote(settings, art.id, dry_run=True).evaluation == "would evaluate"
    # The same run made as production serves it is accepted.
    good = promotion_run(settings, art, run_id="run-served")
    assert promote(settings, art.id, dry_run=True).run == good.id


@pytest.mark.parametrize("field", ["calibration", "threshold", "program", "lora"])
def test_each_serving_field_alone_breaks_the_identity(served, field):
    """Fields no CLI option changes on their own (they come with the artifact): the run's recorded identity
    is edited as a run of another calibration, decision threshold, program or adapter would have it."""
    settings, art = served
    run = promotion_run(settings, art, run_id="run-x")
    evidence = production_evidence(settings, art, read_policy(settings))
    assert evidence.problems(run.to_dict()) == []
    identity = dict(run.identity)
    if field == "calibration":
        identity["adapter"] = {**identity["adapter"], "bias": {"ham": -0.5}}
    elif field == "threshold":
        identity["adapter"] = {**identity["adapter"], "decision": {"label": "smishing", "threshold": 0.3}}
    elif field == "program":
        identity["prompt_sha"] = "0" * 64
    else:
        identity["endpoint"] = "lora-endpoint"
        identity["model"] = identity["model"] + "@lora-0123456789ab"
    other = dataclasses.replace(run, identity=identity, config_hash=config_hash(identity))  # consistent record
    (problem,) = evidence.problems(other.to_dict())
    names = {"calibration": "adapter", "threshold": "adapter", "program": "program_sha256", "lora": "model"}
    assert f"({names[field]} " in problem


def test_serving_identity_reads_every_schema_of_run_identity():
    """The switches come from the run's config (every run records them); the identity carries them only
    when off, and must carry them exactly so."""
    base = ServingIdentity(model="openai/x", endpoint="e", program_sha256="p", adapter={"name": "score"},
                           harden=True, guard=True)

    def read(serving, harden, guard):
        keys = serving.identity_keys()
        config = {"harden": harden, "guard": guard, "split": "test"}
        return ServingIdentity.from_record(keys, config, config_hash(keys))

    assert read(base, True, True) == base
    off = dataclasses.replace(base, harden=False, guard=False)
    assert off.identity_keys()["harden"] is False and "guard" not in off.identity_keys()
    assert read(off, False, True) == off == read(off, False, False)
    unguarded = dataclasses.replace(base, guard=False)
    assert read(unguarded, True, False) == unguarded
    assert [d.split()[0] for d in base.differences(off)] == ["harden", "guard"]


def test_a_sample_is_evidence_only_when_min_items_allows_it(project):
    settings = load_settings(project)
    art = make_artifact(settings)
    run = promotion_run(settings, art, n=6, run_id="run-six")
    with pytest.raises(ConfigError, match="scored 6 items, not the whole test split"):
        promote(settings, art.id, run=run.id)
    with pytest.raises(ConfigError, match="--limit 6 evaluates fewer items than promotion requires"):
        promote(settings, art.id, limit=6, dry_run=True)
    accept_small_promotions(settings, 10)
    with pytest.raises(ConfigError, match=r"scored 6 items of the test split; \[promotion\] min_items is 10"):
        promote(settings, art.id, run=run.id)
    accept_small_promotions(load_settings(project), 6)
    assert promote(load_settings(project), art.id, run=run.id, dry_run=True).policy_passed


def test_min_items_must_be_a_positive_whole_number(project):
    settings = load_settings(project)
    for bad in (0, 2.5, "ten", True):
        settings.raw.setdefault("promotion", {})["min_items"] = bad
        with pytest.raises(ConfigError, match="min_items"):
            read_policy(settings)


def _edit_record(settings, run_id, **changes):
    run = Run(settings.runs_dir / run_id)
    rec = run.record()
    for key, value in changes.items():
        rec.metrics[key] = value
    run.write(rec)


def test_an_edited_metric_is_refused_not_gated(served):
    settings, art = served
    settings.raw["promotion"]["min_macro_f1"] = 0.95
    run = promotion_run(settings, art, set(range(12)), run_id="run-edited")
    assert run.metrics["macro_f1"] < 0.95
    _edit_record(settings, run.id, macro_f1=0.99)
    with pytest.raises(ConfigError, match=r"does not match its predictions: macro_f1 is 0.99 in run.json but 0\.[0-9]+"):
        promote(settings, art.id, run=run.id, reason="x")
    with pytest.raises(ConfigError, match="does not match its predictions"):
        promote(settings, art.id, run=run.id, force=True, reason="forcing does not launder evidence")


def test_a_cut_or_foreign_row_is_refused(served):
    settings, art = served
    run = promotion_run(settings, art, run_id="run-cut")
    path = settings.runs_dir / run.id / "predictions.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:10] + lines[11:]), encoding="utf-8")  # row 11 cut out
    with pytest.raises(ConfigError, match="29 prediction rows for 30 items"):
        promote(settings, art.id, run=run.id)
    row = json.loads(lines[10])
    row["text"] = "a message that was never in the test split"
    path.write_text("".join(lines[:10] + [json.dumps(row) + "\n"] + lines[11:]), encoding="utf-8")
    with pytest.raises(ConfigError, match="its rows are not the items its record names"):
        promote(settings, art.id, run=run.id)


def test_production_serves_the_identity_it_was_promoted_on(served):
    from smishctl.ops.production import load_production

    settings, art = served
    run = promotion_run(settings, art, run_id="run-good")
    promote(settings, art.id, reason="first")
    clf = load_production(settings.root)
    assert clf.serving == RunRecord.from_dict(Run(settings.runs_dir / run.id).read()).serving
    assert clf.serving.harden and clf.serving.guard and clf.serving.adapter["name"] == "score"


# -- classic baselines never score what they learned --------------------------------------------

def test_classic_refuses_to_score_its_own_training_split(cli):
    r = cli("evaluate", "--split", "all", "-m", "classic/tfidf-svm", "--limit", "20")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "would score the items it trains on: split 'all' of sms-phishing" in r.stderr
    r = cli("evaluate", "--split", "train", "-m", "classic/tfidf-knn", "--limit", "20")
    assert r.returncode == 2 and "would score the items it trains on" in r.stderr
    r = cli("compare", "--models", "classic/tfidf-svm", "--split", "all", "--limit", "20")
    assert r.returncode == 2 and "would score the items it trains on" in r.stderr, r.stderr


def test_classic_refuses_a_file_holding_its_training_messages(cli, project):
    from conftest import MIRROR

    with open(MIRROR / "sms_phishing_mendeley_5971.csv", encoding="utf-8", errors="replace", newline="") as fh:
        rows = list(csv.DictReader(fh))[:60]
    path = project / "copied.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["text", "label"])
        out.writerows([r["TEXT"], r["LABEL"].lower()] for r in rows)
    r = cli("evaluate", "--dataset", str(path), "--evaluation-only", "-m", "classic/tfidf-svm")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "messages it trains on (the train split of sms-phishing holds the same texts)" in r.stderr
    assert not any((project / "runs").glob("*/run.json"))  # refused before anything was written


def _near_copy(text: str, i: int) -> str:
    """A training message as a leaker sends it back: punctuation or a letter added, a number or URL swapped."""
    import re

    if i % 4 == 2 and re.search(r"\d", text):
        return re.sub(r"\d+", lambda m: str(int(m.group()) + 7), text)
    if i % 4 == 3 and re.search(r"(?:https?://|www\.)\S+", text):
        return re.sub(r"(?:https?://|www\.)\S+", "http://other.example.top/x", text)
    return text + (" !!" if i % 2 else " x")


def _file(path, rows) -> str:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["text", "label"])
        out.writerows(rows)
    return str(path)


def test_classic_refuses_a_file_of_near_copies_of_its_training_messages(cli, settings, project):
    """Issue 30 B1: 200 training messages sent back a little edited scored macro-F1 1.000; an honest
    sample of the test split in the same form is scored."""
    from smishctl.data.prepare import load_dataset_splits, sample

    ds = load_dataset_splits(None, settings)
    train = sample(ds.split("train"), 200, seed=1)
    leaked = _file(project / "leaked.csv", [(_near_copy(ex.text, i), ex.label) for i, ex in enumerate(train)])
    r = cli("evaluate", "--dataset", leaked, "--evaluation-only", "-m", "classic/tfidf-svm", "--no-langfuse")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "would score 200 of 200 messages it trains on" in r.stderr and "near-copies" in r.stderr
    assert not any((project / "runs").glob("*/run.json"))
    honest = _file(project / "honest.csv", [(ex.text, ex.label) for ex in sample(ds.split("test"), 200, seed=1)])
    r = cli("evaluate", "--dataset", honest, "--evaluation-only", "-m", "classic/tfidf-svm", "--no-langfuse", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["metrics"]["macro_f1"] < 0.97


@pytest.mark.parametrize("policy", ["template", "exact"])
def test_a_split_whose_train_part_holds_a_test_message_is_refused(settings, policy):
    """A dataset's own splits are compared as they were drawn: never refused when honest (the template
    split keeps near-copies together, the exact one identical texts), refused when they are not."""
    from smishctl.data.prepare import Example, SplitOptions, load_dataset_splits
    from smishctl.ops.leak_checks import refuse_scoring_training_items

    ds = load_dataset_splits(None, settings, options=SplitOptions(policy=policy))
    test = ds.split("test")
    refuse_scoring_training_items("classic/tfidf-svm", ds, ds, "test", test)        # honest: nothing to refuse
    copy = test[5].text.upper() if policy == "exact" else _near_copy(test[5].text, 1)
    leaked = Example(id="x" * 16, text=copy, label=test[5].label, raw_text=copy)
    ds = dataclasses.replace(ds, splits={**ds.splits, "train": [*ds.split("train"), leaked]})
    with pytest.raises(ConfigError, match=f"would score 1 of {len(test)} messages it trains on"):
        refuse_scoring_training_items("classic/tfidf-svm", ds, ds, "test", test)


def _prompt(settings, kind: str, examples, prior: float | None = 0.5):
    """A prompt saved as optimize saves one, what it learned chosen by the test: a kNN pool (which also
    trains its SVM prior) or the fixed demos of a labeled program."""
    import dspy

    from smishctl.solve.adapters import AdapterConfig
    from smishctl.solve.knn import KNNClassifier
    from smishctl.solve.signature import make_program
    from smishctl.store.artifacts import save_artifact
    from smishctl.store.programs import render_messages

    labels, adapter = ("ham", "spam", "smishing"), AdapterConfig(name="score")
    if kind == "knn":
        program = KNNClassifier([(ex.text, ex.label) for ex in examples], labels, k=2, prior_weight=prior)
        state, messages = program.state(), render_messages(program.predict, labels, adapter)
    else:
        program = make_program(labels)
        program.predictors()[0].demos = [dspy.Example(sms=ex.text, label=ex.label) for ex in examples]
        state, messages = program.dump_state(), render_messages(program, labels, adapter)
    return save_artifact(settings.prompts_dir, "sms-phishing", "a1", program_state={**state, "adapter": adapter.to_dict()},
                         messages=messages, manifest={"labels": list(labels), "model": {"name": "a1"}, "program_kind": kind,
                                                      "dataset": {"name": "sms-phishing"}, "optimizer": {"name": kind}},
                         card="# {{id}}\n")


@pytest.mark.parametrize("kind", ["knn", "predict"])
def test_a_prompt_never_scores_a_near_copy_of_its_pool_or_demos(served, project, kind):
    """What a prompt learned (its kNN pool and SVM prior, or its fixed demos) never meets a near-copy
    of a scored message. Train-split messages are clean on the test split by construction."""
    from smishctl.data.prepare import load_dataset_splits, sample
    from smishctl.ops.evaluate import EvalConfig, prepare

    settings, _ = served
    train = sample(load_dataset_splits(None, settings).split("train"), 12, balanced=True)
    clean = _prompt(settings, kind, train)
    scored = prepare(settings, EvalConfig(model="a1", prompt=clean.id, limit=30)).items
    assert len(scored) == 30
    # Test messages in what it learned (say, reports taken from the test split), then scored on that split:
    leaky = _prompt(settings, kind, [*train, *scored[:3]])
    with pytest.raises(ConfigError, match=r"would score 3 of 30 messages its demos or retrieval pool hold"):
        prepare(settings, EvalConfig(model="a1", prompt=leaky.id, limit=30))
    # A file of near-copies of what it learned:
    copies = _file(project / "copies.csv", [(_near_copy(ex.text, i), ex.label) for i, ex in enumerate(train[:5])])
    with pytest.raises(ConfigError, match=r"would score 5 of 5 messages its demos or retrieval pool hold .*near-copies"):
        prepare(settings, EvalConfig(model="a1", prompt=clean.id, dataset=copies, evaluation_only=True))
    if kind == "knn":  # the default program's pool, the whole train split, on the whole test split: honest
        whole = _prompt(settings, kind, load_dataset_splits(None, settings).split("train"), prior=None)
        assert prepare(settings, EvalConfig(model="a1", prompt=whole.id)).record.dataset["n_items"] > 1000


def test_a_classic_run_names_where_it_learned(settings):
    from smishctl.ops.evaluate import EvalConfig, evaluate

    record = evaluate(settings, EvalConfig(model="classic/tfidf-svm", limit=6, balanced=True))
    train = record.train_dataset
    assert train["dataset"] == "sms-phishing" and train["split"] == "train" and len(train["split_hash"]) >= 16
    assert train["n_items"] > 1000


def test_promote_accepts_an_artifact_by_its_folder_as_evaluate_does(served):
    """An artifact folder outside the prompt store (e.g. downloaded from CI) is promoted by its path; the
    store is never asked for its id again."""
    import shutil

    settings, art = served
    outside = settings.root / "downloaded" / "v0001"
    shutil.copytree(art.dir, outside)
    shutil.rmtree(art.dir)
    run = promotion_run(settings, Artifact(id=art.id, dir=outside), run_id="run-by-path")
    res = promote(settings, str(outside), dry_run=True)
    assert res.artifact == art.id and res.run == run.id and res.policy_passed

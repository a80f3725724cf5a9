"""Production is what was promoted, and a run's identity is recomputed, never read with defaults.

- What production serves is checked against the promotion record: an alias moved to another endpoint
  or model refuses to serve (classify, load_production) and shows in `promote --status`.
- A run record whose identity disagrees with its config, config hash or dataset block is refused as
  evidence, is not reused, and is not resumed; a deleted key is never read as a default.
- A missing current release is an error, not an empty production; a rollback works from the history.

Runs come from tests/factories.py (no model is called for them); production's model is the loopback
fault server (tests/fault_server.py)."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from factories import accept_small_promotions, make_artifact, promotion_config, promotion_run, record_run
from fault_server import FaultServer
from faultutil import add_alias, fault_fixture  # noqa: F401

from smishctl.core.config import load_settings
from smishctl.core.errors import ConfigError
from smishctl.core.identity import config_hash, record_problems
from smishctl.ops.evaluate import prepare
from smishctl.ops.production import load_production
from smishctl.ops.promote import promote, rollback, status
from smishctl.store.production import read_current
from smishctl.store.runs import find_run
from smishctl.util.fs import read_json

SMISHING = "URGENT your bank account is locked, verify at http://bank-verify.example.top now"
DEAD = "http://127.0.0.1:9/v1"  # never called


def _one_line_exit_2(r, *needles: str) -> str:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "unexpected" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def _edit_toml(project, old: str, new: str) -> str:
    path = project / "smishctl.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    return text


# -- production is what was promoted ------------------------------------------------------------

@pytest.fixture()
def promoted(project, fault):
    """Alias `a1` (openai/fake at the fault server) serves a promoted artifact."""
    add_alias(project, "a1", fault.base_url)
    settings = load_settings(project)
    accept_small_promotions(settings)
    art = make_artifact(settings, model="a1", adapter="score")
    promotion_run(settings, art, run_id="run-a1")
    promote(settings, art.id, run="run-a1", reason="first")
    return settings, art


def test_an_alias_moved_to_another_endpoint_refuses_to_serve(cli, project, fault, promoted):
    """Issue 30 B3: classify used to serve the new endpoint silently, and --status showed the old evidence."""
    settings, art = promoted
    r = cli("classify", SMISHING)
    assert r.returncode == 0 and r.stdout.startswith("smishing"), r.stderr
    with FaultServer() as other:
        before = _edit_toml(project, fault.base_url, other.base_url)
        line = _one_line_exit_2(cli("classify", SMISHING), "would not serve what was promoted: endpoint",
                                "smishctl.toml", f"smishctl promote {art.id}")
        assert "model " not in line.split("promoted:")[1].split("—")[0]  # only the field that changed
        _one_line_exit_2(cli("classify", "--prompt", "production", SMISHING), "endpoint")
        with pytest.raises(ConfigError, match="would not serve what was promoted: endpoint"):
            load_production(project)
        r = cli("promote", "--status")
        assert r.returncode == 0 and "endpoint" in r.stdout, r.stdout
        assert re.search(r"^not served +production release", r.stdout, re.MULTILINE), r.stdout
        assert "endpoint" in status(load_settings(project)).serving_problem
        _one_line_exit_2(cli("compare", "run-a1", "--baseline", "production"), "would not serve what was promoted")
        assert other.chat_requests() == []
        # Re-evaluated for the new endpoint, the same artifact can be promoted again (not "already in production").
        moved = load_settings(project)
        accept_small_promotions(moved)
        promotion_run(moved, art, run_id="run-moved")
        promote(moved, art.id, run="run-moved", reason="the endpoint moved")
        r = cli("classify", SMISHING)
        assert r.returncode == 0 and r.stdout.startswith("smishing") and other.chat_requests(), r.stderr
        assert status(moved).serving_problem is None
        (project / "smishctl.toml").write_text(before, encoding="utf-8")  # back: now r0002's endpoint moved
        _one_line_exit_2(cli("classify", SMISHING), "release r0002", "endpoint")


def test_an_alias_moved_to_another_model_refuses_to_serve(cli, project, fault, promoted):
    settings, art = promoted
    _edit_toml(project, 'litellm = "openai/fake"', 'litellm = "openai/other"')
    _one_line_exit_2(cli("classify", SMISHING), "would not serve what was promoted: model openai/other now, "
                     "openai/fake when promoted")
    assert fault.chat_requests() == []


def test_a_changed_adapter_or_switch_in_the_promotion_record_refuses_to_serve(project, promoted):
    """The served identity is compared field by field with what was promoted, and a record that does not
    say what was promoted (a field deleted) is refused, never read as a default."""
    settings, _art = promoted
    path = settings.production_dir / "releases" / "r0001" / "promotion.json"
    good = read_json(path)
    for field, value, needle in [("adapter", {"name": "json"}, "adapter {\"name\": \"score\"} now"),
                                 ("harden", False, "harden True now, False when promoted"),
                                 ("guard", False, "guard True now, False when promoted"),
                                 ("endpoint", "0" * 12, "endpoint")]:
        path.write_text(json.dumps({**good, "serving": {**good["serving"], field: value}}), encoding="utf-8")
        with pytest.raises(ConfigError, match="would not serve what was promoted") as err:
            load_production(project)
        assert needle in str(err.value)
    for field in good["serving"]:
        serving = {k: v for k, v in good["serving"].items() if k != field}
        path.write_text(json.dumps({**good, "serving": serving}), encoding="utf-8")
        with pytest.raises(ConfigError, match=f"does not say what was promoted .*lacks {field}"):
            load_production(project)
    path.write_text(json.dumps({k: v for k, v in good.items() if k != "serving"}), encoding="utf-8")
    with pytest.raises(ConfigError, match="does not say what was promoted"):
        load_production(project)
    path.write_text(json.dumps(good), encoding="utf-8")
    assert load_production(project).serving.adapter == {"name": "score"}


def test_another_model_named_by_the_caller_is_still_checked_for_the_rest(project, fault, promoted):
    """load_production(model=...) may serve another model; the program, adapter and switches must still be
    those promoted (and the promoted model named again is checked in full)."""
    settings, _art = promoted
    add_alias(project, "a2", fault.base_url)
    assert load_production(project, model="a2").serving.endpoint  # another model: allowed
    path = settings.production_dir / "releases" / "r0001" / "promotion.json"
    info = read_json(path)
    path.write_text(json.dumps({**info, "serving": {**info["serving"], "harden": False}}), encoding="utf-8")
    with pytest.raises(ConfigError, match="harden True now, False when promoted"):
        load_production(project, model="a2")
    path.write_text(json.dumps({**info, "serving": {**info["serving"], "endpoint": "x"}}), encoding="utf-8")
    with pytest.raises(ConfigError, match="endpoint"):
        load_production(project, model="a1")


# -- identity fields are recomputed, never defaulted ---------------------------------------------

@pytest.fixture()
def served(project):
    add_alias(project, "a1", DEAD)
    settings = load_settings(project)
    accept_small_promotions(settings)
    return settings, make_artifact(settings, model="a1", adapter="score")


def _edit_run(settings, run_id: str, edit) -> None:
    path = settings.runs_dir / run_id / "run.json"
    rec = json.loads(path.read_text(encoding="utf-8"))
    edit(rec)
    path.write_text(json.dumps(rec), encoding="utf-8")


def test_a_deleted_harden_flag_is_refused_not_read_as_on(cli, project, served):
    """Issue 30 B4: with `"harden": false` deleted from a --no-harden run's identity, promote --run accepted
    the run and recorded harden: True."""
    settings, art = served
    promotion_run(settings, art, run_id="run-soft", harden=False)
    _edit_run(settings, "run-soft", lambda rec: rec["identity"].pop("harden"))
    _one_line_exit_2(cli("promote", art.id, "--run", "run-soft", "--reason", "test"), "run run-soft",
                     "its identity does not hash to its config_hash", "harden (absent) but its config says false")
    # The hash recomputed too: the run's config still says what it measured.
    _edit_run(settings, "run-soft", lambda rec: rec.update(config_hash=config_hash(rec["identity"])))
    with pytest.raises(ConfigError, match="its identity says harden \\(absent\\) but its config says false"):
        promote(settings, art.id, run="run-soft")
    # And the config's switch deleted as well: absent is refused, never read as 'on'.
    _edit_run(settings, "run-soft", lambda rec: rec["config"].pop("harden"))
    with pytest.raises(ConfigError, match="its config does not record harden"):
        promote(settings, art.id, run="run-soft")
    assert read_current(settings) is None and not (settings.production_dir / "releases").exists()


def _drop(part: str, key: str):
    return lambda rec: rec[part].pop(key)


def _drop_and_rehash(key: str):
    def edit(rec):
        rec["identity"].pop(key)
        rec["config_hash"] = config_hash(rec["identity"])
    return edit


@pytest.mark.parametrize(("edit", "needle"), [
    (_drop_and_rehash("model"), "its identity lacks model"),
    (_drop_and_rehash("endpoint"), "its identity lacks endpoint"),
    (_drop_and_rehash("prompt_sha"), "its identity lacks prompt_sha"),
    (_drop_and_rehash("adapter"), "its identity lacks adapter"),
    (_drop("config", "guard"), "its config does not record guard"),
    (lambda rec: rec["config"].update(guard=False), "its identity says guard (absent) but its config says false"),
    (lambda rec: rec["identity"].update(adapter="score"), "its identity has a malformed adapter"),
    (_drop("dataset", "name"), "its dataset name is (absent)"),
    (_drop("dataset", "items_hash"), "its dataset items_hash is (absent)"),
    (_drop("dataset", "split"), "its dataset split is (absent)"),
    (_drop("dataset", "n_items"), "does not record n_items"),
    (lambda rec: rec["dataset"].update(name="uci-sms-spam"), "its dataset name is uci-sms-spam, not sms-phishing"),
], ids=["model", "endpoint", "prompt_sha", "adapter", "guard", "guard-flip", "adapter-type", "dataset-name",
        "items-hash", "split", "n-items", "dataset-renamed"])
def test_every_identity_and_dataset_field_is_required_and_recomputed(served, edit, needle):
    settings, art = served
    promotion_run(settings, art, run_id="run-x")
    promote(settings, art.id, run="run-x", dry_run=True)  # the run as recorded is evidence
    _edit_run(settings, "run-x", edit)
    with pytest.raises(ConfigError) as err:
        promote(settings, art.id, run="run-x", dry_run=True)
    assert needle in str(err.value) and len(err.value.one_line().splitlines()) == 1
    assert promote(settings, art.id, dry_run=True).evaluation == "would evaluate"  # not found either


def test_a_classic_runs_training_data_is_named_alike_in_its_identity_and_dataset_block():
    identity = {"model": "classic/tfidf-svm", "endpoint": "e", "prompt_sha": "zero-shot", "adapter": None,
                "dataset": "file", "items_hash": "h", "train": {"dataset": "sms-phishing", "split_hash": "s"}}
    config = {"harden": True, "guard": True, "split": "test"}
    train = {"dataset": "sms-phishing", "split": "train", "split_hash": "s", "n_items": 9}
    dataset = {"name": "file", "items_hash": "h", "split": "test", "n_items": 3, "train_dataset": train}
    assert record_problems(identity, config, config_hash(identity), dataset) == []
    train["split_hash"] = "other"
    assert record_problems(identity, config, config_hash(identity), dataset) == [
        "its dataset train_dataset.split_hash is other, not s"]
    del dataset["train_dataset"]
    assert "its dataset train_dataset.dataset is (absent), not sms-phishing" in record_problems(
        identity, config, config_hash(identity), dataset)


def test_a_run_whose_stored_identity_was_edited_is_not_reused_or_resumed(served):
    settings, art = served
    cfg = promotion_config(art, harden=False)
    rec = record_run(settings, cfg, run_id="run-reuse")
    assert find_run(settings.runs_dir, rec.config_hash).id == "run-reuse"
    _edit_run(settings, "run-reuse", lambda r: r["identity"].pop("harden"))  # its config_hash left as it was
    assert find_run(settings.runs_dir, rec.config_hash) is None
    record_run(settings, cfg, run_id="run-stopped", status="interrupted")
    prepare(settings, cfg, resume="run-stopped")  # resumable as recorded
    _edit_run(settings, "run-stopped", lambda r: r["identity"].pop("harden"))
    with pytest.raises(ConfigError, match="run-stopped cannot be resumed: harden changed"):
        prepare(settings, cfg, resume="run-stopped")


# -- a missing current release is an error; rollback works from the history ----------------------

def _two_releases(settings) -> list:
    accept_small_promotions(settings)
    arts = []
    for k, text in enumerate(("Label the SMS: ham, spam or smishing.", "Decide: ham, spam or smishing?")):
        art = make_artifact(settings, instructions=text)
        promotion_run(settings, art, {1}, run_id=f"run-{k}")
        promote(settings, art.id, force=k > 0, reason="test")
        arts.append(art)
    return arts


def _lose(settings, what: str) -> None:
    prod = settings.production_dir
    if what == "manifest":
        (prod / "releases" / "r0002" / "manifest.json").unlink()
    elif what == "release":
        shutil.rmtree(prod / "releases" / "r0002")
    else:
        (prod / "current").unlink()


@pytest.mark.parametrize(("what", "needle"), [
    ("manifest", "current release r0002: its manifest.json is missing"),
    ("release", "current release r0002: its release folder is missing"),
    ("link", "the current link is missing, although history.jsonl records 2 changes (last: release r0002)"),
])
def test_a_missing_current_release_is_an_error_and_rollback_uses_the_history(cli, project, settings, what, needle):
    """Issue 30 B5: classify fell back to zero-shot with exit 0, and --rollback said "production is empty"."""
    first, _second = _two_releases(settings)
    _lose(settings, what)
    _one_line_exit_2(cli("classify", "hello"), needle, "promote --rollback")
    _one_line_exit_2(cli("classify", "--prompt", "production", "hello"), needle)
    _one_line_exit_2(cli("promote", "--status"), needle)
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        load_production(project)
    assert rollback(settings, dry_run=True).to.release == "r0001"
    r = cli("promote", "--rollback", "--reason", "r0002 is gone")
    assert r.returncode == 0 and f"-> {first.id} (r0001)" in " ".join(r.stdout.split()), (r.stdout, r.stderr)
    assert load_production(project).artifact_id == first.id and read_current(settings).release == "r0001"
    last = [json.loads(line) for line in (settings.production_dir / "history.jsonl").read_text().splitlines()][-1]
    assert last["action"] == "rollback" and last["from"]["release"] == "r0002" and needle in last["left_damaged"]


def test_only_a_project_that_never_promoted_is_empty(cli, project, settings):
    assert read_current(settings) is None and status(settings).to_dict() == {"in_production": False, "history": 0}
    with pytest.raises(ConfigError, match="production is empty"):
        rollback(settings)
    r = cli("promote", "--status")
    assert r.returncode == 0 and "nothing is in production yet" in r.stdout


def test_a_release_file_changed_behind_its_manifest_is_never_served_or_restored(project, settings):
    """verify_release checks every file against the manifest (not only the manifest against the record)."""
    first, _second = _two_releases(settings)
    for release in ("r0001", "r0002"):
        program = settings.production_dir / "releases" / release / "program.json"
        program.write_text(program.read_text().replace("ham, spam or smishing", "always ham"))
    with pytest.raises(ConfigError, match="program.json does not match its manifest checksum"):
        load_production(project)
    with pytest.raises(ConfigError, match="no previous production version.*r0001 .*program.json does not match"):
        rollback(settings)


def test_a_deployment_field_of_the_wrong_type_is_refused(project):
    """The fleet's deployment tables are checked field by field, not only for unknown keys."""
    with open(project / "smishctl.toml", "a", encoding="utf-8") as fh:
        fh.write('\n[models.alias.fleet]\ndeployments = [{ litellm = "openai/x", api_base = 5 }]\n')
    with pytest.raises(ConfigError, match=r"\[models.alias.fleet\] deployments\[0\].api_base must be a string"):
        load_settings(project)


def test_the_last_release_is_read_from_the_history_by_name_only():
    from smishctl.store.production import HistoryEntry, last_release

    history = [{"to": {"release": "r0001"}}, {"to": {"release": "../../elsewhere"}}, {"action": "rollback"}]
    assert last_release([HistoryEntry(h) for h in history]) == "r0001" and last_release([]) is None


def test_an_edited_recorded_run_of_production_is_not_its_baseline(project, fault, promoted):
    """Production's recorded run, edited after the promotion, measured nothing known: the next promotion
    evaluates production on the candidate's items instead of reading it."""
    settings, _art = promoted
    _edit_run(settings, "run-a1", lambda rec: rec["identity"].pop("adapter"))
    fault.reset()
    cand = make_artifact(settings, model="a1", adapter="score", instructions="Decide: ham, spam or smishing?")
    promotion_run(settings, cand, run_id="run-cand")
    res = promote(settings, cand.id, run="run-cand", reason="second")
    assert res.release == "r0002" and len(fault.chat_requests()) == 30  # production evaluated, not read

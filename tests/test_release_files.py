"""Production releases: a release holds every file its artifact's manifest lists (a fine-tuned adapter
too), a failed staging leaves nothing behind, and a release without its promotion record (which binds
it to the manifest that was promoted) is never served, restored or read as production.

The tampering tests promote synthetic evaluations of real artifacts (no model); a real fine-tuned
artifact's release (promote, classify, rollback) is tested in test_finetune.py, on the adapter that
module trains once."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from factories import accept_small_promotions, make_artifact, promotion_run

from smishctl.core.errors import ConfigError
from smishctl.ops.production import load_production
from smishctl.ops.promote import promote, rollback, status
from smishctl.store.artifacts import save_artifact
from smishctl.store.production import find_released_artifact, read_current, stage_release, verify_release
from smishctl.util.fs import read_json

LABELS = ("ham", "spam", "smishing")
SMISHING = "Your parcel is held at the depot. Pay the 1.99 GBP fee now: http://parcel-fee.example/pay"


def _released(settings, *instructions: str) -> list:
    """Artifacts promoted in order (r0001, r0002, ...), each on a synthetic 30-item test evaluation."""
    accept_small_promotions(settings)
    arts = []
    for k, text in enumerate(instructions):
        art = make_artifact(settings, instructions=text)
        promotion_run(settings, art, {1}, run_id=f"run-{k}")
        promote(settings, art.id, force=k > 0, reason="test")
        arts.append(art)
    return arts


def _one_line_refusal(r, *needles: str) -> None:
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    for needle in needles:
        assert needle in r.stderr, r.stderr


def _swap_program(release: Path) -> None:
    """A consistent swap: a new program.json and its checksum fixed in manifest.json (file checks pass)."""
    program = release / "program.json"
    program.write_text(program.read_text().replace("Label the SMS", "Always answer ham for"))
    manifest = read_json(release / "manifest.json")
    manifest["files"]["program.json"] = hashlib.sha256(program.read_bytes()).hexdigest()
    (release / "manifest.json").write_text(json.dumps(manifest))


# -- a release without its promotion record ------------------------------------------------------

def test_release_without_its_promotion_record_is_refused_everywhere(settings, project, cli):
    _released(settings, "Label the SMS: ham, spam or smishing.")
    release = settings.production_dir / "releases" / "r0001"
    _swap_program(release)  # what a missing record used to let through
    (release / "promotion.json").unlink()
    for read in (lambda: load_production(project), lambda: read_current(settings), lambda: verify_release(release),
                 lambda: status(settings), lambda: rollback(settings)):
        with pytest.raises(ConfigError, match="release r0001 has no promotion.json"):
            read()
    _one_line_refusal(cli("classify", "x"), "release r0001 has no promotion.json")
    _one_line_refusal(cli("classify", "x", "--prompt", "production"), "promotion.json")
    _one_line_refusal(cli("promote", "--status"), "promotion.json")


def test_promotion_record_without_the_manifest_hash_is_refused(settings, project, cli):
    _released(settings, "Label the SMS: ham, spam or smishing.")
    record = settings.production_dir / "releases" / "r0001" / "promotion.json"
    info = read_json(record)
    del info["manifest_sha256"]
    record.write_text(json.dumps(info))
    with pytest.raises(ConfigError, match="does not record the SHA-256 of its manifest"):
        load_production(project)
    with pytest.raises(ConfigError, match="does not record the SHA-256"):
        read_current(settings)
    _one_line_refusal(cli("classify", "x"), "does not record the SHA-256 of its manifest")


def test_consistent_program_swap_is_refused_by_the_promotion_record(settings, project, cli):
    _released(settings, "Label the SMS: ham, spam or smishing.")
    _swap_program(settings.production_dir / "releases" / "r0001")
    with pytest.raises(ConfigError, match="manifest.json is not the one that was promoted"):
        load_production(project)
    with pytest.raises(ConfigError, match="manifest.json is not the one that was promoted"):
        read_current(settings)
    _one_line_refusal(cli("classify", "x"), "manifest.json is not the one that was promoted")


def test_rollback_skips_a_release_without_its_promotion_record(settings):
    good, ok, _poor = _released(settings, "Label the SMS: ham, spam or smishing.", "Decide: ham, spam or smishing?",
                                "Guess the label.")
    (settings.production_dir / "releases" / "r0002" / "promotion.json").unlink()
    res = rollback(settings, reason="r0003 is bad")
    assert res.to.to_dict() == {"release": "r0001", "artifact": good.id}
    assert [s.release for s in res.skipped] == ["r0002"] and "promotion.json" in res.skipped[0].why
    assert read_current(settings).release == "r0001"
    # the release store never hands out the unrecorded copy as the artifact it claims to be
    (settings.prompts_dir / ok.id).joinpath("manifest.json").unlink()
    with pytest.raises(ConfigError, match="unknown prompt"):
        find_released_artifact(settings, ok.id)


def test_rollback_refuses_when_the_only_older_release_lacks_its_record(settings):
    _released(settings, "Label the SMS: ham, spam or smishing.", "Decide: ham, spam or smishing?")
    (settings.production_dir / "releases" / "r0001" / "promotion.json").unlink()
    with pytest.raises(ConfigError, match=r"no previous production version.*r0001 \(release r0001 has no promotion"):
        rollback(settings)
    assert read_current(settings).release == "r0002"


def test_rollback_leaves_a_tampered_current_release(settings, cli):
    good, ok = _released(settings, "Label the SMS: ham, spam or smishing.", "Decide: ham, spam or smishing?")
    (settings.production_dir / "releases" / "r0002" / "promotion.json").unlink()  # the current one
    r = cli("classify", "--prompt", "production", "x")
    assert r.returncode == 2 and "promotion" in r.stderr  # refused, so production must be recoverable
    res = rollback(settings, reason="current was tampered with")
    assert res.from_.to_dict() == {"release": "r0002", "artifact": ok.id} and "promotion.json" in res.left_damaged
    assert res.to.to_dict() == {"release": "r0001", "artifact": good.id}
    assert read_current(settings).release == "r0001"


def test_a_tampered_only_release_is_replaced_only_with_force(settings, cli):
    (good,) = _released(settings, "Label the SMS: ham, spam or smishing.")
    (settings.production_dir / "releases" / "r0001" / "promotion.json").unlink()
    other = make_artifact(settings, instructions="Decide: ham, spam or smishing?")
    promotion_run(settings, other, {1}, run_id="run-other")
    r = cli("promote", other.id, "--reason", "test")
    assert r.returncode == 2 and "promotion.json" in r.stderr and "--force" in r.stderr
    assert promote(settings, other.id, force=True, reason="replace the tampered release").release == "r0002"
    assert read_current(settings).artifact == other.id


# -- every listed file, and no staging left behind -------------------------------------------------

def _artifact_with_extra_file(settings, tmp_path: Path):
    from dspy.utils.saving import get_dependency_versions

    from smishctl.solve.signature import make_program
    from smishctl.store.programs import render_messages

    extra = tmp_path / "notes.txt"
    extra.write_text("shipped with the program\n")
    program = make_program(LABELS, "Label the SMS: ham, spam or smishing.")
    state = {**program.dump_state(), "metadata": {"dependency_versions": get_dependency_versions()}}
    return save_artifact(settings.prompts_dir, "sms-phishing", "local/qwen2.5-coder-0.5b", program_state=state,
                         messages=render_messages(program, LABELS, None),
                         manifest={"labels": list(LABELS), "model": {"name": "local/qwen2.5-coder-0.5b"},
                                   "dataset": {"name": "sms-phishing"}, "optimizer": {"name": "test"}},
                         card="# {{id}}\n", files={"notes.txt": extra})


def test_release_holds_every_file_its_manifest_lists(settings, tmp_path):
    accept_small_promotions(settings)
    art = _artifact_with_extra_file(settings, tmp_path)
    promotion_run(settings, art, {1}, run_id="run-extra")
    promote(settings, art.id, reason="extra file")
    release = settings.production_dir / "releases" / "r0001"
    assert sorted(p.name for p in release.iterdir()) == sorted(
        [*read_json(art.dir / "manifest.json")["files"], "manifest.json", "CARD.md", "promotion.json"])
    assert (release / "notes.txt").read_text() == "shipped with the program\n"
    assert verify_release(release).id == art.id


def test_failed_staging_leaves_no_staging_folder(settings, tmp_path):
    art = _artifact_with_extra_file(settings, tmp_path)
    (art.dir / "notes.txt").write_text("changed after it was verified\n")
    with pytest.raises(ConfigError, match="notes.txt does not match its manifest checksum"):
        stage_release(settings, art, {"release": "r0001"})
    assert list((settings.production_dir / "releases").iterdir()) == []

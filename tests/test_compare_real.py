"""compare --models with the embedded model: evaluate once, reuse identical runs, add the classic baseline."""

from __future__ import annotations

import json

import pytest

from conftest import make_project, run_cli

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """One real run of the embedded model (zero-shot, 6 balanced test items), made through the library."""
    from smishctl.core.config import load_settings
    from smishctl.ops.evaluate import EvalConfig, evaluate

    root = make_project(tmp_path_factory.mktemp("compare-real") / "proj")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SMISHCTL_HOME", str(root))
        mp.chdir(root)
        settings = load_settings(root)
        record = evaluate(settings, EvalConfig(limit=6, balanced=True)).to_dict()
        yield root, settings, record


def _runs(settings) -> set[str]:
    return {d.name for d in settings.runs_dir.iterdir() if (d / "run.json").is_file()}


def test_compare_models_reuses_identical_run_and_adds_classic(real):
    root, settings, record = real
    env = {"SMISHCTL_HOME": str(root)}
    args = ("compare", "--models", "local/qwen2.5-coder-0.5b", "--limit", "6", "--balanced",
            "--gate", "macro_f1>=0.99", "--max-error-rate", "0.5", "--json", "--markdown", "cmp.md", "--html", "cmp.html")
    r = run_cli(*args, cwd=root, env=env)
    assert r.returncode in (0, 1), r.stderr
    assert f"reusing run {record['id']}" in r.stderr            # not evaluated again
    doc = json.loads(r.stdout)
    ids = [x["id"] for x in doc["runs"]]
    assert ids[0] == record["id"] and len(ids) == 3
    classic = doc["runs"][1:]
    assert [c["model"] for c in classic] == ["classic/tfidf-svm", "classic/tfidf-knn"]
    assert all(c["role"] == "reference" for c in classic)
    assert doc["n_common_items"] == 6 and doc["stats"][0]["n_paired"] == 6
    # the gate is checked on the LLM, not on the reference baseline; the failure names the value
    assert [g["run"] for g in doc["gates"]] == [record["id"]]
    f1 = record["metrics"]["macro_f1"]
    assert doc["gates"][0]["value"] == pytest.approx(f1)
    assert (r.returncode == 1) == (f1 < 0.99)
    if r.returncode == 1:
        assert f"macro_f1={f1:.4g}" in r.stderr
    assert "| macro-F1 |" in (root / "cmp.md").read_text() and "<svg" in (root / "cmp.html").read_text()
    before = _runs(settings)
    r2 = run_cli(*args, cwd=root, env=env)
    assert r2.stderr.count("reusing run") == 3 and _runs(settings) == before   # all reused now

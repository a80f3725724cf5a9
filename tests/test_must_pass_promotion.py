"""`[promotion] must_pass = [...]`: a miss on a named must-pass set refuses the promotion.

The candidate's run on the set is a recorded run with the exact configuration the check asks for
(so the check reuses it, as in CI), written here without the model."""

from __future__ import annotations

import json

import pytest
from compare_helpers import items, make_artifact, predictions, write_run

from smishctl.data.golden import load_golden
from smishctl.ops.evaluate import prepare
from smishctl.ops.must_pass import golden_config
from smishctl.ops.promote import PolicyError, promote


def _golden_run(settings, cand_record, golden, wrong: bool):
    plan = prepare(settings, golden_config(cand_record, golden))
    rows = [(it["id"], it["label"], "ham" if wrong and it["label"] == "smishing" else it["label"], "ok")
            for it in golden.items]
    d = write_run(settings.runs_dir, plan.record["id"], rows, dataset=plan.record["dataset"]["name"])
    rec = json.loads((d / "run.json").read_text())
    rec["config_hash"] = plan.record["config_hash"]
    (d / "run.json").write_text(json.dumps(rec))


@pytest.mark.parametrize("wrong", [True, False])
def test_promotion_policy_names_must_pass_sets(settings, wrong):
    art = make_artifact(settings)
    gold = items(30)
    write_run(settings.runs_dir, "run-cand", predictions(gold, {1}), prompt_id=art.id,
              prompt_sha=art.manifest["files"]["program.json"], model="local/qwen2.5-coder-0.5b")
    path = settings.datasets_dir / "golden" / "pins.csv"
    path.parent.mkdir(parents=True)
    path.write_text("text,label,note\n\"Unpaid toll of 6.80 USD, pay at ezpass-tollpay.com\",smishing,toll\n"
                    "\"Your verification code is 482913\",ham,otp\n", encoding="utf-8")
    settings.raw.setdefault("promotion", {})["must_pass"] = ["pins"]
    cand = json.loads((settings.runs_dir / "run-cand" / "run.json").read_text())
    _golden_run(settings, cand, load_golden(settings, "pins"), wrong)
    if wrong:
        with pytest.raises(PolicyError) as err:
            promote(settings, art.id, run="run-cand")
        assert err.value.exit_code == 1
        assert "must_pass:pins: must-pass pins: 1/2 passed" in str(err.value) and "ezpass-tollpay" in str(err.value)
    else:
        res = promote(settings, art.id, run="run-cand")
        check = next(c for c in res["checks"] if c["name"] == "must_pass:pins")
        assert check["passed"] and check["value"] == 2

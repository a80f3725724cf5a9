"""`[promotion] must_pass = [...]`: a miss on a named must-pass set refuses the promotion.

The candidate's run on the set is a recorded run with the exact configuration the check asks for
(so the check reuses it, as in CI), written here without the model."""

from __future__ import annotations

import json

import pytest
from factories import accept_small_promotions, make_artifact, promotion_run, record_run

from smishctl.data.golden import load_golden
from smishctl.ops.must_pass import golden_config
from smishctl.ops.promote import PolicyError, promote


def _golden_run(settings, cand_record, golden, wrong: bool):
    record_run(settings, golden_config(cand_record, golden),
               answer=lambda _k, ex: "ham" if wrong and ex.label == "smishing" else ex.label)


@pytest.mark.parametrize("wrong", [True, False])
def test_promotion_policy_names_must_pass_sets(settings, wrong):
    accept_small_promotions(settings)
    art = make_artifact(settings)
    promotion_run(settings, art, {1}, run_id="run-cand")
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
        check = next(c for c in res.checks if c.name == "must_pass:pins")
        assert check.passed and check.value == 2

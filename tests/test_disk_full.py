"""A full disk is a clear line, not "unexpected OSError": an evaluation it stops is left interrupted with the
rows it recorded, and --resume finishes it."""

from __future__ import annotations

import errno
import json

import pytest
import typer

from smishctl.cli.common import handled
from smishctl.core.errors import SmishError
from smishctl.ops.evaluate import EvalConfig, evaluate
from smishctl.store.runs import Run

CFG = EvalConfig(model="classic/tfidf-svm", dataset="sms-phishing", split="test", limit=12, balanced=True)


def test_a_full_disk_leaves_the_evaluation_interrupted_and_resumable(settings):
    seen = []

    def disk_fills_up(row):  # the 5th append finds no space left
        seen.append(row)
        if len(seen) == 5:
            raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(SmishError) as exc:
        evaluate(settings, CFG, on_item=disk_fills_up)
    line = exc.value.one_line()
    assert "the disk is full (No space left on device" in line and "5 of 12 items recorded" in line
    assert "free some space, then finish it with: smishctl evaluate --resume" in line and "\n" not in line
    assert exc.value.exit_code == 3
    (run_dir,) = settings.runs_dir.iterdir()
    run = Run(run_dir)
    assert json.loads(run.record_path.read_text())["status"] == "interrupted"
    assert len(run.predictions()) == 5

    record = evaluate(settings, CFG, resume=run.id).to_dict()
    assert record["status"] == "complete" and len(run.predictions()) == 12


def test_other_os_errors_in_the_loop_are_not_called_a_full_disk(settings):
    def refused(row):
        raise OSError(errno.EACCES, "Permission denied")

    with pytest.raises(OSError, match="Permission denied"):
        evaluate(settings, CFG, on_item=refused)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_a_full_disk_anywhere_is_one_line(capsys, code):
    with pytest.raises(typer.Exit) as exc, handled():
        raise OSError(code, "No space left on device", "/srv/project/runs/r1/run.json")
    assert exc.value.exit_code == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "unexpected" not in line
    assert line.startswith("error: the disk is full (No space left on device, writing /srv/project/runs/r1/run.json)")
    assert line.endswith("free some space, then run the command again")

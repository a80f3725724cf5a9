"""`smishctl classify`: argument, stdin lines, a file, JSON Lines, and bad input (exit 2)."""

from __future__ import annotations

import json

import pytest

from smishctl.core.errors import DataError
from smishctl.ops.classify import decode_input

CLASSIC = ("--model", "classic/tfidf-svm", "--prompt", "zero-shot")


def test_argument_stdin_file_and_json_lines(cli, project):
    r = cli("classify", *CLASSIC, "WINNER!! claim your 900 prize reward now, call 09061701461")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] in ("spam", "smishing")
    r = cli("classify", *CLASSIC, "--json", input="are we still on for dinner tonight?\n\nsee you at 7\n")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row["text"] for row in rows] == ["are we still on for dinner tonight?", "see you at 7"]  # blank skipped
    assert all(row["label"] == "ham" and row["status"] == "ok" and "probs" in row for row in rows)
    f = project / "msgs.txt"
    f.write_text("see you at 7\nFREE ringtone! text TONE to 87021 now\n", encoding="utf-8")
    r = cli("classify", *CLASSIC, "--file", str(f))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith("ham") and lines[0].endswith("\tsee you at 7")


@pytest.mark.parametrize("args,stdin,message", [
    (("",), None, "empty message"),
    (("   ",), None, "empty message"),
    (("-",), "\n\n", "stdin holds no message"),
    (("--prompt", "production", "hello"), None, "nothing is in production"),
])
def test_bad_input_is_one_line_and_exit_2(cli, args, stdin, message):
    r = cli("classify", *args, input=stdin)
    assert r.returncode == 2
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1 and not r.stdout


def test_undecodable_input_is_refused(cli, project):
    f = project / "bad.txt"
    f.write_bytes(b"caf\xe9 at 7\n")
    r = cli("classify", *CLASSIC, "--file", str(f))
    assert r.returncode == 2 and "not valid UTF-8 (byte 0xe9 at offset 3)" in r.stderr
    with pytest.raises(DataError, match="not valid UTF-8"):
        decode_input(b"\xff\xfe", "stdin")


@pytest.mark.model
def test_classify_with_the_embedded_model(cli):
    r = cli("classify", "--prompt", "zero-shot", "--json", "Your parcel is held: pay the 1.99 GBP fee at http://parcel-fee.top")
    assert r.returncode == 0, r.stderr
    row = json.loads(r.stdout)
    assert row["status"] == "ok" and row["label"] in ("ham", "spam", "smishing")
    if row["probs"] is not None:  # label scoring gives probabilities
        assert abs(sum(row["probs"].values()) - 1) < 0.05

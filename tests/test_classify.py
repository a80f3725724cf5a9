"""`smishctl classify`: argument, stdin lines, a file, JSON Lines, and bad input (exit 2)."""

from __future__ import annotations

import json
import os
import re
import shutil

import pytest
from faultutil import fault_fixture  # noqa: F401

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


# -- several messages, what answered, time you can see (issue 33) ---------------------------------
LONG = ("Your parcel is held at the depot: pay the 1.99 GBP redelivery fee within 24 hours at "
        "http://parcel-fee.top/track?id=0042 or it goes back to the sender")


def test_several_messages_one_line_each_in_order_and_quiet_without_a_terminal(cli):
    r = cli("classify", *CLASSIC, "see you at 7", LONG, env={"SMISHCTL_NO_PROGRESS": ""})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert [line.split("\t")[1] for line in lines] == ["see you at 7", LONG]  # whole in a pipe: for cut -f2
    assert lines[0].startswith("ham")
    assert r.stderr == ""  # no spinner, no progress, no 'answered by' line: stderr is no terminal


def test_json_says_which_prompt_release_and_model_answered(cli):
    r = cli("classify", *CLASSIC, "--json", "see you at 7", "call me")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row["text"] for row in rows] == ["see you at 7", "call me"]
    for row in rows:
        assert (row["prompt"], row["prompt_ref"], row["release"], row["model"]) == \
            ("zero-shot", "zero-shot", None, "classic/tfidf-svm")


def test_stdin_mixed_with_messages_is_refused(cli):
    r = cli("classify", *CLASSIC, "hello", "-", input="hi\n")
    assert r.returncode == 2 and "'-' (stdin) cannot be mixed with messages" in r.stderr and not r.stdout
    r = cli("classify", *CLASSIC, "hello", "  ")
    assert r.returncode == 2 and "empty message" in r.stderr and not r.stdout


def test_production_names_its_release_and_short_reference(cli, project, fault):
    from factories import accept_small_promotions, make_artifact, promotion_run
    from faultutil import add_alias

    from smishctl.core.config import load_settings
    from smishctl.ops.promote import promote

    add_alias(project, "a1", fault.base_url)
    settings = load_settings(project)
    accept_small_promotions(settings)
    art = make_artifact(settings, model="a1", adapter="score")
    promotion_run(settings, art, run_id="run-a1")
    promote(settings, art.id, run="run-a1", reason="first")
    r = cli("classify", "--json", "see you at 7")
    assert r.returncode == 0, r.stderr
    row = json.loads(r.stdout)
    assert (row["prompt"], row["release"], row["model"]) == (art.id, "r0001", "a1")
    assert row["prompt_ref"] == art.id.rsplit("/", 1)[-1]  # the only v0001: its short reference


@pytest.fixture()
def slow_fake(project):
    from fault_server import FaultServer
    from faultutil import add_alias

    with FaultServer() as srv:
        srv.latency = 0.5  # ten messages: seconds to see the progress line
        add_alias(project, "fake", srv.base_url)
        yield srv


def _in_terminal(project, command: str, *, quiet: bool = False, timeout: float = 120) -> tuple[list[str], str]:
    """Type `command` in an 80x24 tmux terminal in `project` (progress on unless `quiet`); every screen
    seen until it has finished, and the last one."""
    import time

    from test_terminal import Terminal

    env = {k: v for k, v in os.environ.items() if k != "SMISHCTL_NO_PROGRESS"}
    if quiet:
        env["SMISHCTL_NO_PROGRESS"] = "1"
    term = Terminal(project, env)
    try:
        term.tmux("send-keys", "-t", "t", "-l", command + "; echo __do''ne$?")
        term.tmux("send-keys", "-t", "t", "Enter")
        screens, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = term.tmux("capture-pane", "-p", "-t", "t", "-S", "-100")
            screens.append(screen)
            if re.search(r"^__done\d", screen, re.MULTILINE):
                break
            time.sleep(0.2)
    finally:
        term.close()
    return screens, screens[-1]


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
@pytest.mark.parametrize("quiet", [False, True], ids=["progress", "SMISHCTL_NO_PROGRESS"])
def test_stdin_in_an_80x24_terminal(project, slow_fake, quiet):
    """A progress line (count, elapsed, ETA) while stdin's messages are answered, the prompt that answered
    named once, and each message cut to the width with '…', never wrapped; nothing of it when quiet."""
    from test_terminal import COLS

    (project / "msgs.txt").write_text("\n".join([LONG] + [f"see you at {i}" for i in range(9)]) + "\n")
    screens, last = _in_terminal(project, "smishctl classify -m fake -p zero-shot < msgs.txt", quiet=quiet)
    assert re.search(r"^__done0$", last, re.MULTILINE), last
    bar = re.compile(r"classifying .*\d+/10 +0:00:\d\d +ETA +(?:0:00:\d\d|-:--:--)")
    seen = [s for s in screens if bar.search(s)]
    lines = last.split("__done")[0].splitlines()
    out = lines[max(i for i, line in enumerate(lines) if line.endswith("$?")) + 1:]  # what the command printed
    if quiet:
        assert not seen and not any("ETA" in s for s in screens), seen
        return
    assert seen and any(re.search(r"ETA +0:00:\d\d", s) for s in seen), screens[-3:]
    assert all(len(line) <= COLS for s in seen for line in s.splitlines()), seen
    assert out[0] == "answered by prompt zero-shot on fake" and sum("answered by" in s for s in out) == 1, out
    rows = out[1:11]
    assert len(rows) == 10 and all(len(line) <= COLS for line in rows), out
    assert rows[0].endswith("…") and len(rows[0]) == COLS and rows[0].startswith("smishing"), rows[0]
    assert rows[1].endswith("see you at 0"), rows[1]


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_one_message_shows_a_spinner_while_the_model_answers(project, slow_fake):
    slow_fake.latency = 2.0
    screens, last = _in_terminal(project, "smishctl classify -m fake -p zero-shot 'see you at 7'")
    assert re.search(r"^__done0$", last, re.MULTILINE), last
    assert any(re.search(r"^\S classifying$", s, re.MULTILINE) for s in screens), screens[-3:]
    assert not re.search(r"classifying", last.split("'see you at 7'")[-1])  # gone once answered
    assert re.search(r"^ham  ham=", last, re.MULTILINE), last

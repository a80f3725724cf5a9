"""A hand-written version's --name sticks: listed, unique per dataset and model, a prompt reference like
v0003; its lineage names the file it came from; what smishctl adds to the prompt is said; template
placeholders nothing would fill in are refused."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

GPT4 = "You screen text messages for a mobile carrier.\nAnswer ham, spam or smishing."
ADDED = "Answer with the label only."


def _write(project: Path, text: str, name: str = "gpt4.txt") -> Path:
    path = project / name
    path.write_text(text, encoding="utf-8")
    return path


def _one_line_error(r, *parts: str) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


def test_a_name_is_listed_unique_and_a_reference(cli, project):
    f = _write(project, GPT4)
    r = cli("prompts", "new", "--instructions", str(f), "--name", "gpt4")
    assert r.returncode == 0, r.stderr
    assert f"smishctl adds to the instructions: '{ADDED}'" in r.stdout
    assert "smishctl prompts show gpt4" in r.stdout  # the hint uses the name
    first = "sms-phishing/qwen2.5-coder-0.5b/v0001"
    r = cli("prompts", "new", "--instructions", str(f), "--name", "other")
    assert r.returncode == 0, r.stderr

    r = cli("prompts", "list", env={"COLUMNS": "80"})
    assert r.returncode == 0, r.stderr
    row = next(line.strip() for line in r.stdout.splitlines() if line.strip().startswith("v0001"))
    sha = hashlib.sha256(f.read_bytes()).hexdigest()[:8]
    assert "gpt4" in row.split() and f"file gpt4.txt ({sha})" in row, r.stdout
    assert "v0001" not in row.split()[1:]  # lineage is the file, not the version before it

    for args in (("prompts", "show", "gpt4"), ("prompts", "show", f"{first}")):
        r = cli(*args)
        assert r.returncode == 0, r.stderr
        head = r.stdout.splitlines()[:3]
        assert head[0].startswith(f"{first} (gpt4)") and head[1] == f"from file gpt4.txt ({sha})", r.stdout
        assert f"smishctl adds to the instructions: '{ADDED}'" in r.stdout
    r = cli("prompts", "diff", "gpt4", "other")
    assert r.returncode == 0, r.stderr
    r = cli("promote", "gpt4", "--dry-run", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["artifact"] == first, r.stderr

    r = cli("prompts", "new", "--instructions", str(f), "--name", "gpt4")
    _one_line_error(r, f"--name gpt4 is taken by {first}")
    assert not (project / "prompts" / "sms-phishing" / "qwen2.5-coder-0.5b" / "v0003").exists()
    # another model may use the name; the bare name is then ambiguous, its full id is not
    r = cli("prompts", "new", "--instructions", str(f), "--name", "gpt4", "-m", "openai/gpt-4o-mini")
    assert r.returncode == 0, r.stderr
    _one_line_error(cli("prompts", "show", "gpt4"), "prompt 'gpt4' is ambiguous")

    card = (project / "prompts" / first / "CARD.md").read_text(encoding="utf-8")
    assert f'smishctl adds to these instructions: "{ADDED}"' in card and "# Prompt sms-phishing" in card


@pytest.mark.parametrize("name", ["v0003", "production", "zero-shot", "a/b", "3x", "-x"])
def test_a_name_that_cannot_be_a_reference_is_refused(cli, project, name):
    f = _write(project, GPT4)
    _one_line_error(cli("prompts", "new", "--instructions", str(f), "--name", name),
                    f"--name {name!r} cannot be a prompt reference")


@pytest.mark.parametrize("placeholder", ["{message}", "{text}", "{input}", "{sms}", "{ SMS }", "{{sms}}",
                                         "{{ message }}", "{{input}}"])
def test_template_placeholders_are_refused(cli, project, placeholder):
    f = _write(project, f"Classify this message: {placeholder}\nAnswer ham, spam or smishing.", "p.txt")
    _one_line_error(cli("prompts", "new", "--instructions", str(f)),
                    f"instructions file {f} contains {placeholder}, a template placeholder nothing fills in")
    assert not list((project / "prompts").glob("*/*/v*"))


def test_braces_that_are_no_placeholder_are_kept(cli, project):
    f = _write(project, "Labels: {ham, spam, smishing}. A JSON-like {\"x\": 1} is fine.", "p.txt")
    r = cli("prompts", "new", "--instructions", str(f), "--json")
    assert r.returncode == 0, r.stderr
    assert re.search(r"v0001$", json.loads(r.stdout)["id"])

"""The README's "Use it in your own project" section, run top to bottom through the real CLI.

The test reads the section's two code blocks from README.md (so a README edit that breaks the walk-through
fails here) and runs every `smishctl ...` line, in order, in a fresh project made by the block's own
`smishctl init` (the second block, which starts from a hand-written prompt, gets a fresh project of its own).
The `pip` lines are skipped: installing the wheel is tests/test_wheel.py's subject.

What differs from the README is listed in SUBSTITUTIONS and the note under it (what `_prepare` does to each
fresh project), and only keeps the walk-through small and fast. The project's default model is the fault server's alias (tests/faultutil.py), not the embedded
model: one embedded-model optimize on 4 dev items took 62 s on the loaded 2-core machine (about 4 s a call), the
two blocks make about 70 such calls, and a 0.5B model on a dozen items cannot be relied on to pass promotion's
macro-F1 bound. Every command, option,
reference (`latest~1`, `v0001`, `gpt4`) and exit code is the README's own.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from factories import accept_small_promotions
from faultutil import add_alias, fault_fixture  # noqa: F401

from conftest import MIRROR, REPO, link_session_cache, run_cli
from smishctl.core.config import load_settings

SECTION = "## Use it in your own project"
ITEMS = 12  # test items per evaluation, and [promotion] min_items so promote accepts that evidence

# Arguments appended to each README command (by its subcommand), to keep it small and offline.
SUBSTITUTIONS: dict[str, list[str]] = {
    "init": ["--mirror", str(MIRROR)],  # the offline data mirror instead of the public source
    "optimize": ["--train-size", "12", "--dev-size", "6", "--max-calls", "40"],
    "evaluate": ["--limit", str(ITEMS), "--balanced"],  # the same balanced sample for every run, so runs pair
}
# What the test does to each project right after `init`, besides the lines above:
# - [models] default = the fault server's alias (see the module docstring);
# - [promotion] min_items = ITEMS (require_reason left as default: the README passes --reason);
# - gpt4-prompt.txt, the file the second block assumes;
# - the session's model and dataset caches linked in (tests/conftest.py link_session_cache).
REF = re.compile(r"\(ref (\w+), or latest\)")  # evaluate's closing line names the run's short reference
# compare's one-line verdict (smishctl/report/verdict.py), by short references.
VERDICT = re.compile(r"^\w+ (?:vs \w+: no (?:established|paired)|beats \w+ on macro-F1 by )")
GPT4_PROMPT = ("You are a security analyst. Decide whether an SMS is smishing (a phishing attempt by text "
               "message), spam (unwanted advertising) or ham (an ordinary message).\n")


def readme_blocks() -> list[list[str]]:
    """The section's bash code blocks, each as its command lines (comments and blank lines dropped)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index(SECTION + "\n")
    end = text.find("\n## ", start + len(SECTION))
    section = text[start:end if end != -1 else None]
    blocks = re.findall(r"^```bash\n(.*?)^```$", section, flags=re.MULTILINE | re.DOTALL)
    out = []
    for block in blocks:
        out.append([line for line in block.splitlines() if shlex.split(line, comments=True)])
    return out


def steps(line: str) -> list[list[str]]:
    """A README line as its commands (split on `&&`), each as argv."""
    words = shlex.split(line, comments=True)
    cmds, cur = [], []
    for word in words:
        if word == "&&":
            cmds.append(cur)
            cur = []
        else:
            cur.append(word)
    return [*cmds, cur]


def _prepare(project: Path, fault) -> None:
    add_alias(project, "fake", fault.base_url)
    toml = project / "smishctl.toml"
    text = toml.read_text(encoding="utf-8")
    assert "\n[models]\n" in text and not re.search(r'(?m)^default = ', text), "init's [models] table changed"
    toml.write_text(text.replace("\n[models]\n", '\n[models]\ndefault = "fake"\n', 1), encoding="utf-8")
    accept_small_promotions(load_settings(project), ITEMS)
    (project / "gpt4-prompt.txt").write_text(GPT4_PROMPT, encoding="utf-8")
    link_session_cache(project)


def walk(block: list[str], cwd: Path, fault) -> list[tuple[list[str], str, str]]:
    """Run one block's lines in order from `cwd`; every line must exit 0. Returns (argv, stdout, stderr)."""
    done = []
    for line in block:
        for argv in steps(line):
            if argv[0] == "pip":
                continue  # tests/test_wheel.py
            if argv[0] == "cd":
                cwd = cwd / argv[1]
                continue
            assert argv[0] == "smishctl", f"a README line this test cannot run: {line}"
            args = [*argv[1:], *SUBSTITUTIONS.get(argv[1], [])]
            r = run_cli(*args, cwd=cwd)
            assert r.returncode == 0, f"`{line.split('#')[0].strip()}` exited {r.returncode}:\n{r.stderr}\n{r.stdout}"
            if argv[1] == "init":
                target = cwd / argv[2] if len(argv) > 2 else cwd
                _prepare(target, fault)
            done.append((argv, r.stdout, r.stderr))
    return done


def _out(done, *prefix: str) -> str:
    """stdout + stderr of the first command run that starts with `prefix`."""
    for argv, out, err in done:
        if tuple(argv[1:1 + len(prefix)]) == prefix:
            return out + err
    raise AssertionError(f"no README line ran `smishctl {' '.join(prefix)}`")


def test_the_readme_section_has_its_two_blocks():
    blocks = readme_blocks()
    assert len(blocks) == 2, blocks
    assert blocks[0][0].startswith("pip wheel") and blocks[1][0].startswith("smishctl prompts new")


def test_use_it_in_your_own_project_runs_top_to_bottom(tmp_path, monkeypatch, fault):
    monkeypatch.delenv("SMISHCTL_HOME", raising=False)  # each project is found from its folder, as a user's is
    first, second = readme_blocks()

    done = walk(first, tmp_path, fault)
    assert re.search(r"\bv0001\b", _out(done, "optimize"))  # the new version's short reference
    evidence_ref = REF.search(_out(done, "evaluate", "--prompt", "v0001")).group(1)  # the run's short reference
    compared = _out(done, "compare").splitlines()
    assert VERDICT.match(compared[0]), compared  # the verdict comes first
    promoted = _out(done, "promote")
    assert re.search(rf"evidence: run {evidence_ref}\b", promoted), promoted  # the v0001 run it took as evidence

    own = tmp_path / "own"
    own.mkdir()
    r = run_cli("init", *SUBSTITUTIONS["init"], cwd=own)
    assert r.returncode == 0, r.stderr
    _prepare(own, fault)
    done = walk(second, own, fault)
    assert "gpt4" in _out(done, "prompts", "new") and "v0001" in _out(done, "prompts", "new")
    shown = _out(done, "prompts", "show")
    assert "parcel-fee.top" in shown and "security analyst" in shown  # the exact turns, with the user's text
    assert re.search(r"\bv0002\b", _out(done, "optimize"))
    baseline_ref = REF.search(_out(done, "evaluate", "--model", "classic/tfidf-svm")).group(1)
    diffed = _out(done, "compare").splitlines()
    assert VERDICT.match(diffed[0]) and VERDICT.match(diffed[1]), diffed  # one verdict per run against the first
    errors = _out(done, "runs", "show")
    assert baseline_ref in errors.splitlines()[0] and f"wrong, invalid or failed items of {ITEMS}" in errors, errors

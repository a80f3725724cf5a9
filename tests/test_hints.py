"""Error hints name real configuration keys, real commands and options, and real environment variables:
every hint and error message in the source is read and checked against the config schema and the CLI."""

from __future__ import annotations

import ast
import re

import pytest
import typer.main

from conftest import REPO
from smishctl.cli import app
from smishctl.core.config_schema import SCHEMA, has_key, section_of

PACKAGE = REPO / "smishctl"
ERRORS = {"SmishError", "ConfigError", "DataError", "ModelError", "Interrupted", "BadParameter"}

SECTION_KEY = re.compile(r"(?<![\w\]}])\[([a-z_][a-z0-9_.*A-Z-]*)\]\.?\s?([a-z_][a-z0-9_]*)?")  # [data].mirror, [promotion] alpha
KEY_UNDER = re.compile(r"\b([a-z_][a-z0-9_]*) under \[([a-z_][a-z0-9_.]*)\]")  # mirror under [data]
COMMAND = re.compile(r"\bsmishctl ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)?)((?: +[^ ]+)*)")
ENV_VAR = re.compile(r"\b(SMISHCTL_[A-Z_]+)\b")


def _literal_text(node: ast.AST) -> str | None:
    """A string constant, or the literal parts of an f-string (placeholders become '{}')."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal_text(node.left), _literal_text(node.right)
        return None if left is None and right is None else (left or "") + (right or "")
    return None


def collect_hints() -> list[tuple[str, str]]:
    """(where, text) for every error message and hint in the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            texts = []
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in ERRORS and node.args:
                    texts.append(_literal_text(node.args[0]))
                texts += [_literal_text(k.value) for k in node.keywords if k.arg in ("hint", "install_hint")]
            where = f"{path.relative_to(REPO)}:{getattr(node, 'lineno', '?')}"
            found += [(where, t) for t in texts if t]
    return found


HINTS = collect_hints()
CLI = typer.main.get_command(app)


def _config_refs(text: str) -> list[tuple[str, str | None]]:
    refs = [(section, key) for key, section in KEY_UNDER.findall(text)]
    under = {m.start(2) - 1 for m in KEY_UNDER.finditer(text)}  # the [section] of "key under [section]"
    for m in SECTION_KEY.finditer(text):
        dotted = text[m.end(1) + 1:m.end(1) + 2] == "."
        if m.start() in under or not (dotted or "smishctl.toml" in text):  # "[label]" in prose is no section
            continue
        refs.append((m.group(1), m.group(2) or None))
    return refs


def _command_refs(text: str) -> list[tuple[list[str], list[str]]]:
    """(command path, options) of every `smishctl ...` in the text."""
    out = []
    for m in COMMAND.finditer(text):
        words = m.group(1).split()
        opts = [w.split("=")[0] for w in m.group(2).split() if w.startswith("--")]
        out.append((words, opts))
    return out


def _resolve(words: list[str]):
    cmd = CLI
    for word in words:
        if word in getattr(cmd, "commands", {}):
            cmd = cmd.commands[word]
        elif cmd is CLI:
            return None
        else:
            break
    return cmd


def test_the_hints_were_found():
    assert len(HINTS) > 80
    assert any("mirror under [data]" in t for _, t in HINTS)


@pytest.mark.parametrize("where,text", [h for h in HINTS if _config_refs(h[1])], ids=lambda v: str(v)[:60])
def test_config_keys_named_in_hints_exist(where, text):
    for section, key in _config_refs(text):
        if section in ("{}",) or "{" in section:
            continue
        assert section_of(section) is not None, f"{where}: no section [{section}] in smishctl.toml: {text!r}"
        if key and key not in ("in",):
            assert has_key(section, key), f"{where}: [{section}] has no key {key!r}: {text!r}"


@pytest.mark.parametrize("where,text", [h for h in HINTS if _command_refs(h[1])], ids=lambda v: str(v)[:60])
def test_commands_and_options_named_in_hints_exist(where, text):
    for words, opts in _command_refs(text):
        cmd = _resolve(words)
        assert cmd is not None, f"{where}: no command `smishctl {' '.join(words)}`: {text!r}"
        known = {o for p in cmd.params for o in p.opts + p.secondary_opts}
        for opt in opts:
            assert opt in known, f"{where}: `smishctl {cmd.name}` has no option {opt}: {text!r}"


def test_environment_variables_named_in_hints_are_read():
    source = "\n".join(p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py"))
    for where, text in HINTS:
        for var in ENV_VAR.findall(text):
            assert re.search(rf"environ(?:\.get)?[\[(]\s*f?\"{var}", source), f"{where}: {var} is never read: {text!r}"


def test_the_checker_catches_a_wrong_key_and_a_wrong_command():
    """The known bad hint of old (".mirror in smishctl.toml" once the markup ate "[data]") and its kin."""
    assert not has_key("data", "mirrors")
    assert section_of("mirror") is None
    assert _config_refs("set [data].mirrors") == [("data", "mirrors")]
    assert _config_refs("set mirror under [data]") == [("data", "mirror")]
    assert _resolve(["evaluat"]) is None
    evaluate = _resolve(["evaluate"])
    assert "--resume" in {o for p in evaluate.params for o in p.opts}
    assert "--resum" not in {o for p in evaluate.params for o in p.opts}
    assert _resolve(["runs", "list"]).name == "list"


def test_schema_sections_are_what_the_code_reads():
    read = set(re.findall(r"section\(\"([a-z_]+)\"\)|self\.raw\.get\(\"([a-z_]+)\"", "\n".join(
        p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py"))))
    names = {a or b for a, b in read}
    assert names <= {s.split(".")[0] for s in SCHEMA}, names


def test_a_hint_with_a_section_prints_literally(capsys):
    """Rich took "[data]" for markup and printed ".mirror in smishctl.toml"."""
    import typer

    from smishctl.cli.common import handled
    from smishctl.core.errors import DataError

    with pytest.raises(typer.Exit) as exc:
        with handled():
            raise DataError("cannot download x", hint="set mirror under [data] in smishctl.toml, or [promotion] alpha")
    assert exc.value.exit_code == 2
    err = capsys.readouterr().err
    assert "set mirror under [data] in smishctl.toml, or [promotion] alpha" in err


def _all_commands(cmd, path=()):
    yield path, cmd
    for name, sub in getattr(cmd, "commands", {}).items():
        yield from _all_commands(sub, (*path, name))


def test_help_texts_escape_config_sections():
    """Typer renders help with rich markup: an unescaped "[data]" vanishes from --help (write "\\[data]")."""
    sections = "|".join(re.escape(s.split(".")[0]) for s in SCHEMA)
    bare = re.compile(rf"(?<!\\)\[(?:{sections})[\].]")
    found = []
    for path, cmd in _all_commands(CLI):
        texts = [cmd.help or ""] + [getattr(p, "help", None) or "" for p in cmd.params]
        found += [f"smishctl {' '.join(path)}: {t!r}" for t in texts if bare.search(t)]
    assert not found, found


def test_an_escaped_section_survives_in_help():
    import os
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "smishctl", "promote", "--help"], capture_output=True, text=True,
                         env={**os.environ, "COLUMNS": "200"}, timeout=60)
    assert "[promotion]" in res.stdout

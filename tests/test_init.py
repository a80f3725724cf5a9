"""`smishctl init`: a working folder of one's own, and a config file that lists every key."""

from __future__ import annotations

import re
import tomllib

from conftest import MIRROR, run_cli
from smishctl.core.config import load_settings
from smishctl.core.config_schema import SCHEMA
from smishctl.ops.project import config_text

# A commented line holding TOML (a key, a table, a line of an inline array) rather than prose.
TOML_LINE = re.compile(r"^# ((?:\[[a-z][\w.-]*\]|[a-z_][a-z0-9_]* = |  \{ |\]).*)$")


def _uncommented(text: str) -> dict:
    return tomllib.loads("\n".join(TOML_LINE.sub(r"\1", line) for line in text.splitlines()))


def _keys(doc: dict) -> set[tuple[str, str]]:
    """(section, key) pairs; a table under a `*` section counts as it (every alias is `models.alias.*`,
    every brand `signals.brands.*`)."""
    out = set()
    for section, table in doc.items():
        for key, value in table.items():
            if f"{section}.{key}.*" in SCHEMA:
                out |= {(f"{section}.{key}.*", k) for named in value.values() for k in named}
            else:
                out.add((section, key))
    return out


def test_the_template_lists_every_key_and_only_known_keys():
    listed = _keys(_uncommented(config_text()))
    schema = {(section, key) for section, keys in SCHEMA.items() for key in keys}
    assert schema - listed == set(), "keys missing from the init template"
    assert listed - schema == set(), "keys in the init template that smishctl does not read"


def test_the_template_as_written_is_valid_and_sets_the_policy():
    doc = tomllib.loads(config_text())
    assert doc["promotion"] == {"min_macro_f1": 0.5, "max_error_rate": 0.02}
    assert "mirror" not in doc["data"]
    assert tomllib.loads(config_text("/srv/data"))["data"]["mirror"] == "/srv/data"


def test_the_template_aliases_resolve_to_models():
    """Uncommented, the hosted, Ollama and vLLM examples are usable aliases."""
    from smishctl.core.config import Settings
    from smishctl.models.registry import resolve_model

    s = Settings(root=MIRROR, raw=_uncommented(config_text()))
    hosted = resolve_model("gpt-4o-mini", s)
    assert hosted.litellm_model == "openai/gpt-4o-mini" and hosted.api_key_env == "OPENAI_API_KEY"
    ollama = resolve_model("qwen-ollama", s)
    assert ollama.litellm_model == "ollama_chat/qwen2.5:7b" and ollama.api_base == "http://localhost:11434"
    fleet = resolve_model("qwen-vllm", s)
    assert fleet.litellm_model == "fleet/qwen-vllm" and len(fleet.extra["fleet"]["deployments"]) == 2


def test_init_in_an_empty_folder(tmp_path):
    target = tmp_path / "new"
    res = run_cli("init", str(target), "--mirror", str(MIRROR), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    for sub in ("datasets", "prompts", "runs"):
        assert (target / sub).is_dir()
    assert "/runs/*" in (target / ".gitignore").read_text() and "/.cache/" in (target / ".gitignore").read_text()
    ci = (target / "ci" / "smishctl-compare.yml").read_text()
    assert "smishctl compare" in ci and "--gate" in ci
    settings = load_settings(target)
    assert settings.data_mirror == MIRROR and settings.section("promotion")["min_macro_f1"] == 0.5
    assert f"cd {target}" in res.stdout and "smishctl optimize" in res.stdout


def test_init_uses_the_current_folder_and_keeps_what_is_there(tmp_path):
    (tmp_path / ".gitignore").write_text("node_modules/")
    (tmp_path / "notes.txt").write_text("mine")
    res = run_cli("init", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    ignore = (tmp_path / ".gitignore").read_text()
    assert ignore.startswith("node_modules/\n") and ignore.count("/runs/*") == 1
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert (tmp_path / "smishctl.toml").is_file() and "cd " not in res.stdout


def test_init_refuses_an_existing_config_and_writes_nothing(tmp_path):
    (tmp_path / "smishctl.toml").write_text("[data]\nmirror = 'x'\n")
    res = run_cli("init", str(tmp_path))
    assert res.returncode == 2
    assert "already exists" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert (tmp_path / "smishctl.toml").read_text() == "[data]\nmirror = 'x'\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["smishctl.toml"]

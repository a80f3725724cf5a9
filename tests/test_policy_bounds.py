"""Policy values are bounded: every number smishctl.toml may hold (and the environment variables that
stand for one) is finite and in its range (smishctl.core.config_schema.RANGES), else one line and exit 2.
An alpha of NaN or 0 would let any candidate pass the no-regression check against production."""

from __future__ import annotations

import pytest

from smishctl.core.config import CONFIG_NAME, load_settings
from smishctl.core.config_schema import DEPLOYMENT, RANGES, SCHEMA
from smishctl.core.errors import ConfigError
from smishctl.tracking.settings import langfuse_settings

NUMERIC = [f"{s}.{n}" for s, keys in SCHEMA.items() for n, k in keys.items() if k.type in ("number", "integer")]
NUMERIC += [f"models.alias.*.deployments.{n}" for n, k in DEPLOYMENT.items() if k.type in ("number", "integer")]


def _toml(where: str, value: str) -> str:
    """A smishctl.toml holding only `value` at `where` (a RANGES key)."""
    section, _, name = where.rpartition(".")
    if section.endswith(".deployments"):
        return f'[models.alias.fleet]\ndeployments = [{{ litellm = "openai/x", {name} = {value} }}]\n'
    return f"[{section.replace('*', 'fleet')}]\n{name} = {value}\n"


def _refusal(tmp_path, where: str, value: str) -> str:
    (tmp_path / CONFIG_NAME).write_text(_toml(where, value), encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_settings(tmp_path)
    return exc.value.one_line()


def test_every_numeric_key_has_a_range():
    assert sorted(NUMERIC) == sorted(RANGES)


@pytest.mark.parametrize("where", sorted(RANGES))
def test_every_numeric_key_refuses_nan_infinity_and_values_outside_its_range(tmp_path, where):
    rng = RANGES[where]
    section, _, name = where.rpartition(".")
    integer = (DEPLOYMENT if section.endswith(".deployments") else SCHEMA[section])[name].type == "integer"
    if integer:  # TOML has no integer NaN; the ranges of whole numbers have no upper end
        outside, inside = [str(int(rng.low) - 1)], [str(int(rng.low) + int(rng.open_low))]
    else:
        outside = ["nan", "inf", "-inf", repr(rng.low - 0.5)] + ([repr(float(rng.low))] if rng.open_low else [])
        inside = [repr(rng.low + 0.01 if rng.open_low else float(rng.low))]
        if rng.high is not None:
            outside.append(repr(rng.high + 0.5))
            inside.append(repr(float(rng.high)))
    for value in outside:
        line = _refusal(tmp_path, where, value)
        assert f"{name} must be {rng.text()}" in line and "\n" not in line, (value, line)
    for value in inside:  # the edges that are in range load
        (tmp_path / CONFIG_NAME).write_text(_toml(where, value), encoding="utf-8")
        load_settings(tmp_path)


@pytest.mark.parametrize("text,words", [
    ("[promotion]\nalpha = nan\n", ["[promotion] alpha must be a number in (0, 0.5]", "got nan"]),
    ("[promotion]\nalpha = 0.0\n", ["[promotion] alpha must be a number in (0, 0.5]", "got 0.0"]),
    ("[promotion]\nmin_control_ham_accuracy = 7\n", ["min_control_ham_accuracy must be a number in [0, 1]"]),
    ("[langfuse]\ntimeout = -1\n", ["[langfuse] timeout must be a finite number > 0", "got -1"]),
], ids=["alpha-nan", "alpha-0", "control-ham-7", "langfuse-timeout"])
def test_an_unsafe_policy_value_is_one_line_and_exit_2(cli, project, text, words):
    path = project / CONFIG_NAME
    section = text.split("]", 1)[0].lstrip("[")
    path.write_text(_without_section(path.read_text(encoding="utf-8"), section) + "\n" + text, encoding="utf-8")
    for args in (("promote", "--status"), ("runs", "list")):
        r = cli(*args)
        assert r.returncode == 2 and "unexpected" not in r.stderr, (args, r.stderr)
        (line,) = r.stderr.strip().splitlines()
        assert all(w in line for w in words), line


def _without_section(doc: str, section: str) -> str:
    """`doc` without the table [section], so that the test's own can be added (TOML refuses two)."""
    out, skipping = [], False
    for line in doc.splitlines():
        if line.startswith("["):
            skipping = line.strip() == f"[{section}]"
        if not skipping:
            out.append(line)
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("env,value,words", [
    ("LANGFUSE_TIMEOUT", "-1", "LANGFUSE_TIMEOUT: [langfuse] timeout must be a finite number > 0"),
    ("LANGFUSE_TIMEOUT", "nan", "LANGFUSE_TIMEOUT: [langfuse] timeout must be a finite number > 0"),
    ("SMISHCTL_LANGFUSE_PUSH_TIMEOUT", "0", "push_timeout must be a finite number > 0"),
    ("SMISHCTL_LANGFUSE_PUSH_TIMEOUT", "soon", "push_timeout must be a number, got 'soon'"),
])
def test_environment_numbers_are_held_to_the_same_range(settings, monkeypatch, env, value, words):
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk-lf-test")
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-lf-test")
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError, match=words.replace("[", r"\[").replace("]", r"\]")):
        langfuse_settings(settings)


@pytest.mark.parametrize("value", ["nan", "-5", "0"])
def test_max_file_mib_from_the_environment_is_bounded(settings, monkeypatch, value):
    monkeypatch.setenv("SMISHCTL_MAX_FILE_MIB", value)
    with pytest.raises(ConfigError, match=r"SMISHCTL_MAX_FILE_MIB: \[data\] max_file_mib must be a finite number > 0"):
        settings.max_file_bytes  # noqa: B018
    monkeypatch.setenv("SMISHCTL_MAX_FILE_MIB", "1.5")
    assert settings.max_file_bytes == int(1.5 * 1024 * 1024)

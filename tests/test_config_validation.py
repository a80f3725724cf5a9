"""smishctl.toml is checked against the schema when it is loaded: an unknown section or key (a misspelt
gate would silently drop the gate) or a value of the wrong type is one line and exit 2, naming the file,
the section and key, what was expected and what was given."""

from __future__ import annotations

import tomllib

import pytest

from conftest import REPO
from smishctl.core.config import CONFIG_NAME, load_settings
from smishctl.core.config_schema import SCHEMA, TYPES, validate
from smishctl.core.errors import ConfigError
from smishctl.ops.project import config_text

# (TOML appended to the project's file, words the one line must hold)
WRONG_TYPES = [
    ("[data]\nmax_file_mib = \"lots\"\n", ["[data] max_file_mib", "must be a number", "'lots' (a string)"]),
    ("[data]\nmirror = 42\n", ["[data] mirror", "must be a string", "42 (an integer)"]),
    ("[data]\nevaluation_only = 5\n", ["[data] evaluation_only", "must be a list of strings", "5 (an integer)"]),
    ("[models]\ndefault = 5\n", ["[models] default", "must be a string", "5 (an integer)"]),
    ("[models.alias.cheap]\nlitellm = \"openai/x\"\ninput_usd_per_mtok = \"cheap\"\n",
     ["[models.alias.cheap] input_usd_per_mtok", "must be a number", "'cheap' (a string)"]),
    ("[promotion]\nmust_pass = 5\n", ["[promotion] must_pass", "must be a list of strings", "5 (an integer)"]),
    ("[promotion]\nalpha = \"x\"\n", ["[promotion] alpha", "must be a number", "'x' (a string)"]),
    ("[promotion]\nmin_items = 2.5\n", ["[promotion] min_items", "must be a whole number", "2.5 (a number)"]),
    ("[optimize]\nwith_feedback = \"yes\"\n", ["[optimize] with_feedback", "must be true or false"]),
]


def _write(project, text: str, *, replace: str | None = None) -> None:
    """Add `text` to the project's smishctl.toml (dropping the section `replace` first: TOML refuses a
    section defined twice)."""
    path = project / CONFIG_NAME
    doc = path.read_text(encoding="utf-8")
    if replace:
        start = doc.index(f"[{replace}]\n")
        end = doc.find("\n[", start + 1)
        doc = doc[:start] + (doc[end + 1:] if end != -1 else "")
    path.write_text(doc + "\n" + text, encoding="utf-8")


def _section(text: str) -> str:
    return text.split("]", 1)[0].lstrip("[")


def _one_line_exit_2(res) -> str:
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    assert "unexpected" not in res.stderr and "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    return lines[0]


def _load_error(project, text: str, **kw) -> str:
    _write(project, text, **kw)
    with pytest.raises(ConfigError) as exc:
        load_settings(project)
    return exc.value.one_line()


def test_the_repo_config_and_the_init_template_validate(tmp_path):
    validate(tomllib.loads((REPO / CONFIG_NAME).read_text(encoding="utf-8")), CONFIG_NAME)
    validate(tomllib.loads(config_text("/srv/data")), CONFIG_NAME)
    (tmp_path / CONFIG_NAME).write_text(config_text(), encoding="utf-8")
    assert load_settings(tmp_path).section("promotion")["min_macro_f1"] == 0.5


def test_every_key_has_a_known_type():
    assert all(key.type in TYPES for keys in SCHEMA.values() for key in keys.values())


def test_every_key_the_promotion_policy_reads_is_in_the_schema():
    from smishctl.ops.promotion_policy import ROBUSTNESS_BOUNDS, TEST_BOUNDS

    promotion = SCHEMA["promotion"]
    assert {*TEST_BOUNDS, *ROBUSTNESS_BOUNDS, "min_items", "alpha", "require", "must_pass"} <= set(promotion)
    assert promotion["min_items"].type == "integer"


@pytest.mark.parametrize("text,words", WRONG_TYPES, ids=[t.split("\n")[1].split(" =")[0] for t, _ in WRONG_TYPES])
def test_a_wrong_type_is_one_line_and_exit_2(cli, project, text, words):
    section = _section(text)
    _write(project, text, replace=section if section in ("data", "models", "promotion") else None)
    line = _one_line_exit_2(cli("runs", "list"))
    assert str(project / CONFIG_NAME) in line
    for word in words:
        assert word in line, line


@pytest.mark.parametrize("text,words", WRONG_TYPES, ids=[t.split("\n")[1].split(" =")[0] for t, _ in WRONG_TYPES])
def test_load_settings_refuses_a_wrong_type(project, text, words):
    section = _section(text)
    line = _load_error(project, text, replace=section if section in ("data", "models", "promotion") else None)
    assert str(project / CONFIG_NAME) in line
    for word in words:
        assert word in line, line


def test_a_misspelt_gate_names_the_key_meant(cli, project):
    """`min_macro_F1` used to be ignored: the gate vanished and any candidate passed it."""
    _write(project, "[promotion]\nmin_macro_F1 = 0.99\n", replace="promotion")
    line = _one_line_exit_2(cli("promote", "--dry-run", "x"))
    assert "[promotion] has no key 'min_macro_F1'" in line and "did you mean min_macro_f1?" in line
    assert str(project / CONFIG_NAME) in line


@pytest.mark.parametrize("text,words", [
    ("[promotion]\nmin_macro_fl = 0.9\n", ["[promotion] has no key 'min_macro_fl'", "did you mean min_macro_f1?"]),
    ("[promotion]\nmax_attack_sucess_rate = 0.1\n", ["did you mean max_attack_success_rate?"]),
    ("[promotions]\nalpha = 0.05\n", ["unknown section [promotions]", "did you mean [promotion]?"]),
    ("[data]\nMirror = \"x\"\n", ["[data] has no key 'Mirror'", "did you mean mirror?"]),
    ("[models.alias.fleet]\ndeployments = [{ litellm = \"openai/x\", apibase = \"http://a\" }]\n",
     ["[models.alias.fleet] deployments[0].apibase is not a key", "did you mean api_base?"]),
    ("[langfuse]\nwhatever = 1\n", ["[langfuse] has no key 'whatever'", "its keys are: enabled, base_url"]),
    # No close key: the hint lists a deployment's own keys (built from the schema, never empty).
    ("[models.alias.fleet]\ndeployments = [{ litellm = \"openai/x\", zzz = 1 }]\n",
     ["[models.alias.fleet] deployments[0].zzz is not a key", "its keys are: litellm, api_base"]),
])
def test_an_unknown_key_is_refused_with_a_suggestion(project, text, words):
    line = _load_error(project, text, replace=_section(text) if _section(text) in ("data", "promotion") else None)
    for word in words:
        assert word in line, line


def test_a_key_outside_any_section_says_where_it_belongs(tmp_path):
    (tmp_path / CONFIG_NAME).write_text('mirror = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown section \[mirror\]") as exc:
        load_settings(tmp_path)
    assert "mirror is a key of [data]" in exc.value.one_line()


def test_a_section_given_as_a_value_is_refused(cli, project):
    path = project / CONFIG_NAME
    _write(project, "", replace="data")
    path.write_text('data = "oops"\n' + path.read_text(encoding="utf-8"), encoding="utf-8")  # before any [table]
    line = _one_line_exit_2(cli("runs", "list"))
    assert "[data] must be a table, got 'oops' (a string)" in line and str(path) in line


def test_an_alias_given_as_a_value_is_refused(project):
    line = _load_error(project, "[models.alias]\ncheap = 5\n")
    assert "[models.alias.cheap] must be a table, got 5 (an integer)" in line


def test_a_secret_of_the_wrong_type_is_not_echoed(project):
    line = _load_error(project, "[langfuse]\nsecret_key = 8675309\n")
    assert "[langfuse] secret_key must be a string, got an integer" in line and "8675309" not in line


def test_valid_values_of_every_kind_load(project):
    _write(project, '[promotion]\nmin_macro_f1 = 1\nmin_items = 30\nmax_attack_success_rate = 0.1\n'
                    'min_control_ham_accuracy = 0.8\nrequire = "macro_f1 >= 0.5"\nmust_pass = ["a"]\n'
                    '[optimize]\nwith_feedback = true\n'
                    '[models.alias.fleet]\nnum_retries = 2\ndeployments = [{ litellm = "openai/x", weight = 2 }]\n',
           replace="promotion")
    s = load_settings(project)
    assert s.section("promotion")["min_items"] == 30
    assert s.model_aliases["fleet"]["deployments"][0]["weight"] == 2

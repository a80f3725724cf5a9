"""The static type check is part of the test command, pinned, and as strict as it says: mypy runs in
bin/test before pytest, at one version in the test extra and in the lock bin/setup installs, strict on
the layers whose types are contracts, and it skips only third-party packages that ship no types."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
MYPY = PYPROJECT["tool"]["mypy"]
STRICT_LAYERS = ("core", "score", "store", "ops")
# mypy's `strict` is global-only; these per-module flags are what it turns on.
STRICT_FLAGS = ("disallow_untyped_defs", "disallow_incomplete_defs", "disallow_untyped_calls",
                "disallow_untyped_decorators", "disallow_any_generics", "disallow_subclassing_any",
                "warn_return_any", "no_implicit_reexport", "extra_checks")


def _pin(requirements: list[str], name: str) -> str | None:
    return next((r.split("==", 1)[1] for r in requirements if re.split(r"[=<>!\[ ]", r, maxsplit=1)[0] == name), None)


def test_mypy_is_pinned_alike_in_the_test_extra_and_the_lock():
    extra = _pin(PYPROJECT["project"]["optional-dependencies"]["test"], "mypy")
    lock = _pin((ROOT / "requirements.lock").read_text(encoding="utf-8").split(), "mypy")
    assert extra is not None and extra == lock, f"mypy: test extra {extra}, requirements.lock {lock}"


def test_bin_test_type_checks_before_pytest():
    script = (ROOT / "bin" / "test").read_text(encoding="utf-8")
    assert script.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in script  # a failing step stops it
    lines = [line.strip() for line in script.splitlines() if not line.lstrip().startswith("#")]
    mypy = next(i for i, line in enumerate(lines) if line.startswith(".venv/bin/python -m mypy"))
    pytest_run = next(i for i, line in enumerate(lines) if "-m pytest" in line)
    assert mypy < pytest_run


def _overrides_setting(key: str) -> dict[str, object]:
    """module pattern -> value of `key`, over the [[tool.mypy.overrides]] tables."""
    return {module: table[key] for table in MYPY.get("overrides", []) if key in table for module in table["module"]}


@pytest.mark.parametrize("layer", STRICT_LAYERS)
def test_the_contract_layers_are_checked_strictly(layer):
    module = f"smishctl.{layer}.*"
    for flag in STRICT_FLAGS:
        assert _overrides_setting(flag).get(module) is True, f"{module}: {flag} is not on"
    assert MYPY["check_untyped_defs"] is True and MYPY["files"] == ["smishctl"]  # and every other layer


def test_no_smishctl_module_has_its_errors_ignored():
    ignored = {m for m, on in _overrides_setting("ignore_errors").items() if on}
    assert not {m for m in ignored if m.startswith("smishctl")}, f"errors ignored in {sorted(ignored)}"


def _ships_types(package: str) -> bool:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.origin:  # not installed here (the finetune extra's accelerate): nothing to read
        return False
    return (Path(spec.origin).parent / "py.typed").is_file()


def test_missing_imports_are_ignored_only_for_untyped_third_party_packages():
    """Each package named there ships no py.typed marker; no smishctl module is named."""
    named = [m.removesuffix(".*") for m, on in _overrides_setting("ignore_missing_imports").items() if on]
    assert named and MYPY.get("ignore_missing_imports") is not True  # by name, never for everything
    assert not [m for m in named if m.startswith("smishctl")]
    typed = [m for m in named if _ships_types(m.split(".")[0])]
    assert not typed, f"these ship their own types, so mypy should read them: {typed}"

"""`smishctl models` says whether each embedded model's weights are installed, and how to install them."""

from __future__ import annotations

import importlib.metadata as md
import json

from smishctl.models.weights import WEIGHTS


def _installed(spec) -> bool:
    """The truth, from package metadata, independent of the command: every data package of the weights."""
    try:
        return all(md.distribution(dist) for dist, _ in spec.parts)
    except md.PackageNotFoundError:
        return False


def test_models_says_which_weights_are_installed_and_how_to_install_the_rest(cli, project):
    r = cli("models", "--json")
    assert r.returncode == 0, r.stderr
    rows = {row["name"]: row for row in json.loads(r.stdout)["models"]}
    assert rows["local/qwen2.5-coder-0.5b"]["weights_installed"] is True  # the suite runs on it
    for name, spec in WEIGHTS.items():
        row = rows[f"local/{name}"]
        assert row["weights_installed"] is _installed(spec) or (project / ".cache" / "models" / spec.filename).is_file()
        assert row["install"] == (None if row["weights_installed"] else spec.install_hint)
    assert "requirements-1.5b.txt" in WEIGHTS["qwen2.5-coder-1.5b"].install_hint
    assert all("weights_installed" not in row for row in rows.values() if row["kind"] != "local")

    r = cli("models", env={"COLUMNS": "80"})
    assert r.returncode == 0, r.stderr
    for name, spec in WEIGHTS.items():
        line = next(x for x in r.stdout.splitlines() if f"local/{name} " in x)
        if rows[f"local/{name}"]["weights_installed"]:
            assert "weights not installed" not in line
        else:
            assert "in-process, weights not installed" in line
            assert f"local/{name}: weights not installed; install: {spec.install_hint}" in r.stdout

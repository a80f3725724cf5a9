"""The built wheel works outside the repository: build it, install it into a fresh virtual environment in a
temporary folder, then use it the way a new user would (init, --help, evaluations) from a folder of its own.

Installing the pinned dependencies into a fresh venv takes over 3 minutes on a busy 2-core machine, so the
venv (created `--without-pip`) reaches them through a `.pth` file that adds a folder of links to the repo
venv's packages, *leaving out smishctl's own* (its editable install). smishctl itself comes from the wheel
only: the tests check where it is imported from, that nothing it imports is missing from its declared
dependencies, and that every file of the package the repository tracks is inside the wheel.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from conftest import MIRROR, REPO

SITE = Path(sysconfig.get_paths()["purelib"])
OWN = ("__editable__", "smishctl")  # the repo's own install of smishctl, never visible to the wheel's venv


def _run(cmd: list[str], *, cwd: Path, env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"{' '.join(map(str, cmd))} -> {res.returncode}\n{res.stdout[-2000:]}\n{res.stderr[-3000:]}"
    return res


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """`pip wheel` of a clean copy of the source (a stale build/ folder cannot leak into it)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "smishctl", src / "smishctl", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
          "-w", str(out), str(src)], cwd=src, env=dict(os.environ))
    (whl,) = out.glob("smishctl-*.whl")
    return whl


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("venv")
    env_dir = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    deps = root / "deps"
    deps.mkdir()
    for entry in SITE.iterdir():
        if not entry.name.startswith(OWN):
            (deps / entry.name).symlink_to(entry)
    site = Path(subprocess.check_output([str(env_dir / "bin" / "python"), "-c",
                                         "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip())
    # addsitedir (not a bare path line) so that the dependencies' own .pth files are processed too.
    (site / "_smishctl_test_deps.pth").write_text(f"import site; site.addsitedir({str(deps)!r})\n")
    _run([sys.executable, "-m", "pip", "--python", str(env_dir / "bin" / "python"), "install", "--no-deps",
          "--no-index", "-q", str(wheel)], cwd=root, env=dict(os.environ))
    return env_dir


def _user_env(venv: Path, home: Path) -> dict:
    """What a user's shell has: the venv on PATH, no repo paths, no smishctl variables."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SMISHCTL_", "PYTHON", "VIRTUAL_ENV")) and k != "PATH"}
    env.update(PATH=f"{venv / 'bin'}:/usr/bin:/bin", HOME=str(home), SMISHCTL_NO_PROGRESS="1")
    return env


@pytest.fixture(scope="module")
def user(venv, tmp_path_factory):
    """A user's folder outside the repository, and a function running the installed `smishctl` there."""
    home = tmp_path_factory.mktemp("home")
    env = _user_env(venv, home)

    def smishctl(*args: str, cwd: Path = home, timeout: float = 300) -> subprocess.CompletedProcess:
        return _run([str(venv / "bin" / "smishctl"), *args], cwd=cwd, env=env, timeout=timeout)

    return home, env, smishctl


def test_wheel_holds_every_package_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "smishctl/bundled/robustness/injection.jsonl" in names
    assert "smishctl/templates/project/smishctl.toml" in names
    tracked = subprocess.run(["git", "ls-files", "smishctl"], cwd=REPO, capture_output=True, text=True)
    if tracked.returncode != 0 or not tracked.stdout:
        pytest.skip("not a git checkout: cannot list the package's tracked files")
    missing = [f for f in tracked.stdout.split() if (REPO / f).is_file() and f not in names]
    assert not missing, f"tracked package files left out of the wheel (add them to package-data): {missing}"


def test_installed_smishctl_comes_from_the_wheel_and_declares_what_it_imports(venv, user):
    home, env, _ = user
    py = str(venv / "bin" / "python")
    where = _run([py, "-c", "import smishctl, sys; print(smishctl.__file__)"], cwd=home, env=env).stdout.strip()
    assert Path(where).is_relative_to(venv), where
    _run([sys.executable, "-m", "pip", "--python", py, "check"], cwd=home, env=env)
    # Package data read through the module's own path: the attack technique of every robustness item.
    n = _run([py, "-c", "from smishctl.score.robustness import attack_types; print(len(attack_types()))"], cwd=home, env=env)
    rows = (REPO / "smishctl" / "bundled" / "robustness" / "injection.jsonl").read_text(encoding="utf-8")
    assert int(n.stdout) == sum(1 for line in rows.splitlines() if line.strip())
    # Every third-party module the package imports belongs to a declared dependency (or one of theirs).
    closure = _run([py, "-c", _CLOSURE], cwd=home, env=env).stdout.split()
    provided = _run([py, "-c", _PROVIDERS], cwd=home, env=env).stdout.splitlines()
    providers = dict(line.split(" ", 1) for line in provided if " " in line)
    imported = _third_party_imports(Path(where).parent)
    undeclared = {m: providers.get(m, "?") for m in imported
                  if not set(providers.get(m, "?").split(",")) & set(closure)}
    assert not undeclared, f"imported but not in smishctl's dependencies: {undeclared}"


def test_init_help_and_classic_evaluation_outside_the_repo(user, venv):
    home, _, smishctl = user
    assert "init" in smishctl("--help").stdout
    smishctl("init", "proj", "--mirror", str(MIRROR))
    proj = home / "proj"
    assert (proj / "smishctl.toml").is_file() and (proj / "runs").is_dir()
    res = smishctl("evaluate", "--model", "classic/tfidf-svm", "--limit", "30", "--no-langfuse", "--json", cwd=proj)
    record = _json(res.stdout)
    assert record["dataset"]["name"] == "sms-phishing" and record["metrics"]["n_items"] == 30
    assert record["dataset"]["provenance"]["fetched_from"].startswith("mirror (")  # the mirror init configured
    # The robustness set is package data of the installed wheel.
    rob = _json(smishctl("data", "robustness", "--json", cwd=proj).stdout)
    assert rob["provenance"]["fetched_from"].startswith("bundled (")
    assert str(venv) in rob["provenance"]["fetched_from"]


@pytest.mark.model
def test_embedded_model_evaluation_from_the_installed_wheel(user):
    """The weights come from the (declared) weight packages, assembled into the user's project cache."""
    home, _, smishctl = user
    proj = home / "proj-model"
    smishctl("init", str(proj), "--mirror", str(MIRROR))
    record = _json(smishctl("evaluate", "--limit", "3", "--balanced", "--no-langfuse", "--json", cwd=proj,
                            timeout=600).stdout)
    assert record["model"]["name"] == "local/qwen2.5-coder-0.5b"
    assert record["metrics"]["n_items"] == 3 and record["metrics"]["n_errors"] == 0
    assert any((proj / ".cache" / "models").glob("*.gguf"))


def _json(text: str) -> dict:
    import json

    return json.loads(text)


def _third_party_imports(package: Path) -> set[str]:
    stdlib = set(sys.stdlib_module_names)
    found = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            found.update(n.split(".")[0] for n in names)
    return {m for m in found if m not in stdlib and m not in ("smishctl", "__future__")}


# Run inside the wheel's venv: the distributions smishctl's requirements (and its extras) pull in, transitively.
_CLOSURE = """
import re
from importlib.metadata import PackageNotFoundError, distribution
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
seen, todo = set(), ["smishctl"]
while todo:
    name = todo.pop()
    if norm(name) in seen:
        continue
    seen.add(norm(name))
    try:
        reqs = distribution(name).requires or []
    except PackageNotFoundError:
        continue
    for r in reqs:  # smishctl's own extras count (`finetune` declares torch & co.); theirs do not
        if "extra ==" not in r or norm(name) == "smishctl":
            todo.append(re.split(r"[ ;<>=!~\\[(]", r, maxsplit=1)[0])
print("\\n".join(sorted(seen)))
"""
_PROVIDERS = """
import re
from importlib.metadata import packages_distributions
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
for module, dists in packages_distributions().items():
    print(module, ",".join(norm(d) for d in dists))
"""

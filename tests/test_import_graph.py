"""The package's layering, read from the source with `ast`: dependencies point downwards only, there are
no import cycles, and library modules import each other at the top (a function-local import of a
smishctl module hides a dependency, and with it a cycle)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "smishctl"

# Lower rank = lower layer. A module may import modules of its own rank or below, never above.
RANK = {
    "core": 0,
    "util": 1,
    "data": 2, "models": 2, "signals": 2,
    "solve": 3, "score": 3,
    "store": 4,
    "tracking": 5, "report": 5,
    "ops": 6, "finetune": 6,
    "cli": 7,
}
# Only the CLI imports the library inside its commands, so that `smishctl --help` imports no model stack.
LAZY_ALLOWED = {"cli"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PKG.rglob("*.py"):
        parts = path.relative_to(PKG.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _dynamic_target(node: ast.AST) -> str | None:
    """`importlib.import_module("smishctl.x")` / `import_module(...)` / `__import__(...)` with a literal name."""
    if not isinstance(node, ast.Call) or not node.args:
        return None
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    arg = node.args[0]
    if name in ("import_module", "__import__") and isinstance(arg, ast.Constant) and isinstance(arg.value, str) \
            and arg.value.startswith("smishctl"):
        return arg.value
    return None


def _targets(node: ast.AST) -> list[str]:
    """The smishctl modules an import statement (or a call of importlib with a literal name) loads."""
    if (dynamic := _dynamic_target(node)) is not None:
        return [dynamic]
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.startswith("smishctl")]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("smishctl"):
        out = []
        for alias in node.names:
            sub = f"{node.module}.{alias.name}"
            out.append(sub if sub in MODULES else node.module)
        return out
    return []


def _imports(name: str) -> tuple[set[str], set[str]]:
    """(modules imported at the top, modules imported inside functions) by module `name`."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    top, local = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for sub in ast.walk(node):
                local.update(_targets(sub))
    for node in ast.walk(tree):
        top.update(t for t in _targets(node) if t not in local)
    return top - {name}, local - {name}


GRAPH = {name: _imports(name) for name in MODULES}


def layer(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in RANK else None


def test_every_package_has_a_layer():
    unplaced = sorted(n for n in MODULES if n.count(".") >= 1 and layer(n) is None and n != "smishctl.__main__")
    assert not unplaced, f"modules outside the layered packages: {unplaced}"


def test_signals_read_only_core_and_util():
    """Signals are pure text analysis: no dataset, model or store may leak into what they flag."""
    allowed = {"core", "util", "signals"}
    wrong = sorted(f"{name} -> {t}" for name, (top, local) in GRAPH.items() if layer(name) == "signals"
                   for t in top | local if layer(t) not in allowed | {None})
    assert not wrong, "signals import beyond core/ and util/:\n" + "\n".join(wrong)


def test_dependencies_point_downwards():
    upward = []
    for name, (top, local) in GRAPH.items():
        src = layer(name)
        if src is None:
            continue
        for target in top | local:
            dst = layer(target)
            if dst is not None and RANK[dst] > RANK[src]:
                upward.append(f"{name} -> {target}")
    assert not upward, "upward imports:\n" + "\n".join(sorted(upward))


def test_library_modules_import_each_other_at_the_top():
    hidden = sorted(f"{name} -> {t}" for name, (_top, local) in GRAPH.items()
                    if layer(name) not in LAZY_ALLOWED for t in local)
    assert not hidden, "function-local imports of smishctl modules:\n" + "\n".join(hidden)


def _beyond_core(imports: set[str]) -> list[str]:
    return sorted(t for t in imports if layer(t) != "core")


def test_the_package_root_imports_only_core():
    """Every `import smishctl.x` runs the package root first: were it to import a workflow, every module,
    core included, would load the layers above it (and the import graph would hide a cycle)."""
    top, local = GRAPH["smishctl"]
    assert _beyond_core(top | local) == [], "the package root imports beyond core/"


def test_the_root_check_sees_a_lazy_workflow_import():
    """The root as it once was: a function-local import of ops, which the check must catch."""
    old_root = ("__version__ = '0.1.0'\n\ndef load_production(root=None):\n"
                "    from smishctl.ops.production import load_production as _load\n    return _load(root)\n")
    targets = {t for node in ast.walk(ast.parse(old_root)) for t in _targets(node)}
    assert _beyond_core(targets) == ["smishctl.ops.production"]


BENCH = PKG.parent / "bench"
BENCH_MODULES = {path.stem for path in BENCH.glob("*.py")}


def _bench_imports(source: str) -> set[str]:
    """Every module a bench script names in an import, smishctl's or not."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES)
    return out


def _bench_names(source: str) -> list[str]:
    """The bench/ modules a package module imports (`bench.x`, or a bench script by its own name)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
        found += [n for n in names if n.split(".")[0] in BENCH_MODULES | {"bench"}]
    return found


def test_nothing_in_the_package_imports_bench():
    """bench/ measures the package; the package never depends on its measurements' code."""
    wrong = sorted(f"{path.relative_to(PKG.parent)} -> {n}" for path in PKG.rglob("*.py")
                   for n in _bench_names(path.read_text(encoding="utf-8")))
    assert not wrong, "package modules importing bench/:\n" + "\n".join(wrong)
    assert _bench_names("import bench._common\nfrom _common import run\nfrom bench_help import x\n") == \
        ["bench._common", "_common", "bench_help"]


def test_bench_scripts_import_modules_that_exist():
    """bench/ may import any smishctl module, but only ones that exist: a module moved without its bench
    script following would leave a measurement that no longer runs."""
    assert BENCH_MODULES, "no bench scripts found"
    missing = sorted(f"bench/{path.name} -> {name}" for path in BENCH.glob("*.py")
                     for name in _bench_imports(path.read_text(encoding="utf-8"))
                     if name.startswith("smishctl") and name not in MODULES)
    assert not missing, "bench scripts import smishctl modules that do not exist:\n" + "\n".join(missing)
    moved = "def main():\n    from smishctl.ops.no_such_module import x\n    from smishctl.store import runs\n"
    assert sorted(n for n in _bench_imports(moved) if n not in MODULES) == ["smishctl.ops.no_such_module"]


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), over all imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        top, local = GRAPH[v]
        for w in sorted(top | local):
            if w not in GRAPH:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    assert _cycles() == []


def _relative_imports(source: str) -> list[int]:
    return [n.lineno for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ImportFrom) and n.level > 0]


def test_no_relative_imports():
    """A relative import is invisible to the layer check above: every import names its module in full."""
    found = [f"{path.relative_to(PKG.parent)}:{line}" for path in PKG.rglob("*.py")
             for line in _relative_imports(path.read_text(encoding="utf-8"))]
    assert not found, "relative imports:\n" + "\n".join(found)
    assert _relative_imports("from . import runs\nfrom ..core import errors\n") == [1, 2]


@pytest.mark.parametrize("source, expected", [
    ("from smishctl.ops.evaluate import evaluate\n", {"smishctl.ops.evaluate"}),
    ("from smishctl.store import runs\n", {"smishctl.store.runs"}),
    ("import smishctl.solve.build as b\n", {"smishctl.solve.build"}),
    ("import_module('smishctl.cli.review_cmd').register(app)\n", {"smishctl.cli.review_cmd"}),
    ("importlib.import_module('smishctl.ops.promote')\n", {"smishctl.ops.promote"}),
    ("__import__('smishctl.store.runs')\n", {"smishctl.store.runs"}),
])
def test_the_checker_reads_every_import_form(source, expected):
    tree = ast.parse(source)
    assert {t for node in ast.walk(tree) for t in _targets(node)} == expected


def test_the_checker_finds_an_upward_edge_and_a_cycle():
    fake = {"smishctl.core.a": ({"smishctl.ops.b"}, set()), "smishctl.ops.b": ({"smishctl.core.a"}, set())}
    globals_backup = dict(GRAPH)
    GRAPH.clear()
    GRAPH.update(fake)
    try:
        assert _cycles() == [["smishctl.core.a", "smishctl.ops.b"]]
        with pytest.raises(AssertionError, match="smishctl.core.a -> smishctl.ops.b"):
            test_dependencies_point_downwards()
    finally:
        GRAPH.clear()
        GRAPH.update(globals_backup)


@pytest.mark.parametrize("module", ["smishctl.models.registry", "smishctl.core.errors"])
def test_any_import_keeps_litellm_off_the_network(module):
    """The price-map default is set by the package root, which every import runs first (core included),
    before anything can import litellm; a value the user set is kept."""
    code = (f"import os, sys; os.environ.pop('LITELLM_LOCAL_MODEL_COST_MAP', None); import {module}; "
            "print(os.environ.get('LITELLM_LOCAL_MODEL_COST_MAP'), 'litellm' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PKG.parent)
    assert out.stdout.split() == ["True", "False"]
    kept = subprocess.run([sys.executable, "-c", f"import os; os.environ['LITELLM_LOCAL_MODEL_COST_MAP'] = 'False'; "
                           f"import {module}; print(os.environ['LITELLM_LOCAL_MODEL_COST_MAP'])"],
                          capture_output=True, text=True, check=True, cwd=PKG.parent)
    assert kept.stdout.strip() == "False"

"""Run records and artifact manifests are read through their types (smishctl.core.records.RunRecord,
smishctl.core.manifest.ArtifactManifest) everywhere outside core/ and store/, which own their stored
form: a module that re-derives "the same run" or "the same artifact" from dict keys is how evidence
came to disagree between evaluate, compare and promote. Read from the source with `ast`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "smishctl"
OWNERS = ("core", "store")  # the packages that read and write the stored forms
# Names that hold a run record in the library, and the record's sections (its id may be read from the
# plain dict evaluate() returns to callers).
RECORD_NAMES = {"record", "rec", "cand", "like", "found", "golden_record", "first", "candidate", "baseline"}
RUN_KEYS = {"kind", "status", "config", "config_hash", "identity", "model", "prompt", "dataset", "metrics",
            "versions", "created_at", "finished_at", "shard", "schema_version", "wall_seconds"}


def _key(node: ast.AST) -> str | None:
    """The string key of `x["key"]` (a read) or `x.get("key", ...)`, with `x`; else None."""
    if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and isinstance(node.slice, ast.Constant):
        return node.slice.value if isinstance(node.slice.value, str) else None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
            and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
        return node.args[0].value
    return None


def _holder(node: ast.AST) -> ast.AST:
    return node.value if isinstance(node, ast.Subscript) else node.func.value


def hand_reads(source: str) -> list[tuple[int, str]]:
    """(line, what) for each run-record section or artifact-manifest key read from a dict."""
    out = []
    for node in ast.walk(ast.parse(source)):
        key = _key(node)
        if key is None:
            continue
        holder = _holder(node)
        if isinstance(holder, ast.Attribute) and holder.attr == "manifest":
            out.append((node.lineno, f"manifest[{key!r}]"))
        elif key in RUN_KEYS and (isinstance(holder, ast.Name) and holder.id in RECORD_NAMES
                                  or isinstance(holder, ast.Attribute) and holder.attr == "record"):
            out.append((node.lineno, f"run record[{key!r}]"))
    return out


def test_no_module_outside_core_and_store_reads_records_by_hand():
    found = [f"{path.relative_to(PKG.parent)}:{line}: {what}"
             for path in sorted(PKG.rglob("*.py")) if path.relative_to(PKG).parts[0] not in OWNERS
             for line, what in hand_reads(path.read_text(encoding="utf-8"))]
    assert not found, "read these through RunRecord / ArtifactManifest:\n" + "\n".join(found)


@pytest.mark.parametrize(("source", "expected"), [
    ('x = (record.get("model") or {}).get("name")\n', ["run record['model']"]),
    ('x = rec["dataset"]["items_hash"]\n', ["run record['dataset']"]),
    ('x = plan.record["config_hash"]\n', ["run record['config_hash']"]),
    ('x = art.manifest.get("labels")\n', ["manifest['labels']"]),
    ('record["status"] = "complete"\n', []),  # building a record is not reading one
    ('x = record["id"]\n', []),
    ('x = row["status"]\n', []),
])
def test_the_checker_finds_hand_reads(source, expected):
    assert [what for _, what in hand_reads(source)] == expected

"""The code's shape, read with `ast`: string-key reads per file and the longest functions.

A string-key read is `x["key"]` or `x.get("key", ...)` with a literal string key: the reads a typed
result removes. Figures for a tree other than this checkout: `--root DIR` (e.g. a `git archive` of an
older commit), so that before and after are counted by the same code.

    python bench/bench_code_shape.py [--root DIR] [--top 15] [--json]
"""

from __future__ import annotations

import argparse
import ast
import json
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def _is_str(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def string_key_reads(tree: ast.AST) -> int:
    n = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and _is_str(node.slice):
            n += 1
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
              and node.args and _is_str(node.args[0])):
            n += 1
    return n


def functions(tree: ast.AST, rel: str) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.append((node.end_lineno - node.lineno + 1, f"{rel}:{node.name}"))
    return out


def shape(root: Path) -> dict:
    reads: Counter[str] = Counter()
    funcs: list[tuple[int, str]] = []
    for path in sorted((root / "smishctl").rglob("*.py")):
        rel = str(path.relative_to(root))
        tree = ast.parse(path.read_text(encoding="utf-8"))
        reads[rel] = string_key_reads(tree)
        funcs += functions(tree, rel)
    funcs.sort(reverse=True)
    cli = [f for f in funcs if f[1].startswith("smishctl/cli/")]
    return {"string_key_reads_total": sum(reads.values()), "string_key_reads": dict(reads.most_common()),
            "longest_functions": funcs, "longest_cli_function": cli[0] if cli else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=HERE)
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    s = shape(args.root)
    if args.json:
        s["longest_functions"] = s["longest_functions"][: args.top]
        print(json.dumps(s, indent=2))
        return
    print(f"string-key reads in smishctl/: {s['string_key_reads_total']}")
    for rel, n in list(s["string_key_reads"].items())[: args.top]:
        print(f"  {n:5d}  {rel}")
    print("longest functions (lines):")
    for n, name in s["longest_functions"][: args.top]:
        print(f"  {n:5d}  {name}")
    print(f"longest CLI function: {s['longest_cli_function']}")


if __name__ == "__main__":
    main()

"""`smishctl models`: the models and aliases a project can use, where each runs and whether its key
variable is set (never its value).

It reads smishctl.toml and the registry's names only: resolving a hosted model would import litellm (for
its price list), and a listing must stay as fast as `--help` and contact nothing.
"""

from __future__ import annotations

import os

import typer

from smishctl.cli.common import DebugOpt, JsonOpt, WideOpt, handled, out, plain, print_json, settings

IN_PROCESS = "in-process"
MAX_ALIAS_DEPTH = 8  # an alias may name another alias; a loop is reported, not followed forever


def register(app: typer.Typer) -> None:
    app.command("models")(models)


def models(wide: bool = WideOpt, as_json: bool = JsonOpt, debug: bool = DebugOpt):
    """List the models and aliases --model accepts, where each runs, and whether its key is set.

    The embedded local models, the classic baselines and every \\[models.alias.NAME] of smishctl.toml.
    * marks the default (\\[models] default, or SMISHCTL_MODEL).
    Runs: in-process, its api_base without credentials, or a hosted provider.
    Key: whether the variable named by api_key_env is set, never its value."""
    with handled(debug):
        s = settings()
        rows = model_rows(s)
        if as_json:
            print_json({"default": s.default_model, "models": rows})
            return
        from smishctl.cli.tables import Column, fit_table, print_fitted

        columns = [Column(""), Column("name"), Column("kind", drop=2), Column("litellm model", drop=1),
                   Column("runs", wrap=True), Column("key", wrap=True)]
        cells = [["*" if r["default"] else "", plain(r["name"]), r["kind"], plain(r["litellm"] or "-"),
                  plain(r["where"]), _key_cell(r)] for r in rows]
        print_fitted(out, fit_table(out, columns, cells, wide=wide))
        for r in rows:
            if r.get("weights_installed") is False:
                out.print(f"{plain(r['name'])}: weights not installed; install: {plain(r['install'])}", soft_wrap=True)
        out.print(f"* default ({plain('[models] default')} or SMISHCTL_MODEL). Add a model: "
                  f"{plain('[models.alias.NAME]')} in smishctl.toml, litellm = \"provider/model\", "
                  "api_key_env = \"VARIABLE\".", soft_wrap=True)


def _key_cell(row: dict) -> str:
    if not row["api_key_env"]:
        return "-"
    state = "[green]set[/green]" if row["key_set"] else "[red]not set[/red]"
    return f"{plain(row['api_key_env'])} {state}"


def model_rows(s) -> list[dict]:
    """One dict per model: name, kind, litellm (the model string), where, api_key_env, key_set (None when
    no variable is named), default; fleets add their deployments."""
    from smishctl.models.registry import CLASSIC_MODELS, CLASSIC_PREFIX, LOCAL_PREFIX
    from smishctl.models.weights import WEIGHTS

    aliases = s.model_aliases
    rows = [_local_row(LOCAL_PREFIX + name, spec, s.cache_dir) for name, spec in WEIGHTS.items()]
    rows += [_row(CLASSIC_PREFIX + name, "classic", CLASSIC_PREFIX + name, IN_PROCESS) for name in CLASSIC_MODELS]
    rows += [_alias_row(name, aliases) for name in aliases]
    default = s.default_model
    if default not in {r["name"] for r in rows}:  # a model string, a .gguf path or SMISHCTL_MODEL
        rows.append(_row(default, "model", default, _where(default, None)))
    for r in rows:
        r["default"] = r["name"] == default
    return rows


def _row(name: str, kind: str, litellm: str | None, where: str, key_env: str | None = None) -> dict:
    return {"name": name, "kind": kind, "litellm": litellm, "where": where, "api_key_env": key_env,
            "key_set": bool(os.environ.get(key_env)) if key_env else None}


def _local_row(name: str, spec, cache_dir) -> dict:
    """An embedded model, and whether its weights are there: assembled in the cache, or every data package
    they are assembled from installed (read from package metadata: nothing is opened or hashed)."""
    import importlib.metadata as md

    assembled = (cache_dir / "models" / spec.filename).is_file()
    try:
        installed = assembled or all(md.distribution(dist) for dist, _ in spec.parts)
    except md.PackageNotFoundError:
        installed = False
    row = _row(name, "local", name, IN_PROCESS if installed else f"{IN_PROCESS}, weights not installed")
    row.update(weights_installed=installed, install=None if installed else spec.install_hint)
    return row


def _alias_row(name: str, aliases: dict) -> dict:
    alias = aliases[name]
    if not isinstance(alias, dict):
        return _row(name, "invalid", None, "not a table in smishctl.toml")
    if "deployments" in alias:
        return _fleet_row(name, alias)
    target = alias.get("litellm")
    if not isinstance(target, str) or not target:
        return _row(name, "invalid", None, "no 'litellm' key in smishctl.toml")
    base, seen = alias.get("api_base"), {name}
    while target in aliases and base is None:  # litellm = "another-alias": it runs where that one runs
        inner = aliases[target]
        if target in seen or len(seen) > MAX_ALIAS_DEPTH or not isinstance(inner, dict):
            return _row(name, "invalid", None, f"alias {target!r} cannot be followed (a loop, or not a plain alias)")
        seen.add(target)
        base, target = inner.get("api_base"), inner.get("litellm") or target
    return _row(name, "alias", target, _where(target, base), _key_env(alias))


def _fleet_row(name: str, alias: dict) -> dict:
    deps = alias.get("deployments")
    if not isinstance(deps, list) or not all(isinstance(d, dict) and d.get("litellm") for d in deps):
        return _row(name, "invalid", None, "deployments must be tables each with a 'litellm' key")
    detail = [_row(str(d["litellm"]), "deployment", str(d["litellm"]), _where(str(d["litellm"]), d.get("api_base")),
                   _key_env(d)) for d in deps]
    keys = sorted({d["api_key_env"] for d in detail if d["api_key_env"]})
    row = _row(name, "fleet", f"fleet/{name}", ", ".join(d["where"] for d in detail))
    row.update(api_key_env=", ".join(keys) or None,
               key_set=all(d["key_set"] for d in detail if d["api_key_env"]) if keys else None,
               deployments=detail)
    return row


def _key_env(table: dict) -> str | None:
    value = table.get("api_key_env")
    return str(value) if value else None


def _where(model: str, api_base) -> str:
    """in-process, the endpoint without credentials, or the hosted provider (litellm's default endpoint)."""
    from smishctl.models.registry import CLASSIC_PREFIX, LOCAL_PREFIX
    from smishctl.util.urls import public_url

    if api_base:
        return public_url(str(api_base)) or "-"
    if model.startswith((LOCAL_PREFIX, CLASSIC_PREFIX)) or model.endswith(".gguf"):
        return IN_PROCESS
    provider = model.split("/", 1)[0] if "/" in model else "?"
    override = os.environ.get(f"SMISHCTL_API_BASE_{provider.upper()}")  # as resolve_model reads it
    return public_url(override) if override else f"hosted ({provider})"

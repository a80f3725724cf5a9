"""The reference lists signals are read against: brand -> official domains, URL shorteners, TLD notes.

Bundled as JSON under smishctl/bundled/signals/ (each file names its source and date); a project adds
its own brands, shorteners and TLDs in smishctl.toml's `[signals]` table. `identity()` (list versions,
their SHA-256 and that of the extras) is what a run or an artifact records: another list can flag
other messages, so it is another model.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smishctl.core.errors import ConfigError
from smishctl.util.jsonio import MAX_FILE_BYTES, loads

BUNDLED = Path(__file__).resolve().parents[1] / "bundled" / "signals"
FILES = ("brands", "shorteners", "tlds")


@dataclass(frozen=True)
class Brand:
    key: str
    names: tuple[str, ...]
    domains: tuple[str, ...]  # registrable domains or suffixes a host may end with (gov.uk)

    def owns(self, host: str) -> bool:
        return any(host == d or host.endswith("." + d) for d in self.domains)


@dataclass(frozen=True)
class ReferenceLists:
    brands: tuple[Brand, ...]
    shorteners: frozenset[str]
    tld_notes: dict[str, str]
    identity: dict = field(default_factory=dict)


def _read(name: str) -> tuple[dict, str]:
    data = (BUNDLED / f"{name}.json").read_bytes()
    return loads(data, where=f"{BUNDLED / name}.json", max_bytes=MAX_FILE_BYTES), hashlib.sha256(data).hexdigest()


def _strings(value, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"smishctl.toml: [signals] {where} must be a list of non-empty strings",
                          hint="e.g. domains = [\"mybank.com\"]")
    return [v.strip() for v in value]


def _extras(section: dict) -> tuple[dict[str, Brand], list[str], dict[str, str]]:
    brands = {}
    for key, spec in (section.get("brands") or {}).items():
        names = _strings(spec.get("names", [key]), f"brands.{key}.names")
        domains = [d.lower().lstrip(".") for d in _strings(spec.get("domains", []), f"brands.{key}.domains")]
        if not domains:
            raise ConfigError(f"smishctl.toml: [signals.brands.{key}] names no official domain",
                              hint="add domains = [\"example.com\"]: the domains its links are genuine on")
        brands[key] = Brand(key, tuple(names), tuple(domains))
    shorteners = [s.lower() for s in _strings(section.get("shorteners", []), "shorteners")]
    tlds = {t.lower().lstrip("."): "listed in this project's smishctl.toml"
            for t in _strings(section.get("risky_tlds", []), "risky_tlds")}
    return brands, shorteners, tlds


_CACHE: dict[str, ReferenceLists] = {}
_LOCK = threading.Lock()


def load_lists(section: dict | None = None) -> ReferenceLists:
    """The bundled lists extended by a project's `[signals]` table (Settings.section("signals")); a
    project brand with a bundled key replaces it. Cached per distinct table."""
    section = section or {}
    key = json.dumps(section, sort_keys=True, default=str)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
    files = {name: _read(name) for name in FILES}
    brands = {k: Brand(k, tuple(v["names"]), tuple(v["domains"])) for k, v in files["brands"][0]["brands"].items()}
    extra_brands, extra_short, extra_tlds = _extras(section)
    brands.update(extra_brands)
    ident: dict[str, Any] = {"lists": {name: {"version": doc["version"], "sha256": sha} for name, (doc, sha) in files.items()},
             "psl": psl_identity()}
    if section:
        ident["project"] = hashlib.sha256(key.encode()).hexdigest()
    ident["sha256"] = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()
    lists = ReferenceLists(brands=tuple(brands.values()),
                           shorteners=frozenset(files["shorteners"][0]["shorteners"]) | frozenset(extra_short),
                           tld_notes={**files["tlds"][0]["tlds"], **extra_tlds}, identity=ident)
    with _LOCK:
        _CACHE[key] = lists
    return lists


def psl_identity() -> dict:
    """The Public Suffix List snapshot tldextract ships (read as a file: importing tldextract is not needed)."""
    from importlib.metadata import PackageNotFoundError, files, version

    try:
        snap = next((f for f in files("tldextract") or () if f.name == ".tld_set_snapshot"), None)
        data = Path(str(snap.locate())).read_bytes() if snap is not None else b""
        return {"tldextract": version("tldextract"), "sha256": hashlib.sha256(data).hexdigest()}
    except (PackageNotFoundError, OSError):
        return {"tldextract": None, "sha256": None}

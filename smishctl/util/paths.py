"""Names from users and files turned into paths that cannot escape their folder."""

from __future__ import annotations

from pathlib import Path

from smishctl.core.errors import ConfigError


def safe_child(parent: Path, name: str, *, what: str) -> Path:
    """`parent/name`, refusing names that would escape `parent` (path traversal)."""
    if not name or name in {".", ".."} or "\x00" in name:
        raise ConfigError(f"invalid {what} {name!r}")
    candidate = (Path(parent) / name).resolve()
    root = Path(parent).resolve()
    if candidate != root and root not in candidate.parents:
        raise ConfigError(f"{what} {name!r} points outside {parent}", hint=f"use a {what} listed by smishctl")
    return candidate

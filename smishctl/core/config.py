"""Project settings: the folder layout and `smishctl.toml`, overridable by environment variables."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smishctl.core.config_schema import checked_number, validate
from smishctl.core.errors import ConfigError

CONFIG_NAME = "smishctl.toml"
OFF_WORDS = frozenset({"0", "false", "no", "off"})


def is_off(value: object) -> bool:
    """A switch (environment variable or setting) written as 0, false, no or off, in any case."""
    return str(value).strip().lower() in OFF_WORDS


def find_root(start: Path | None = None) -> Path:
    """SMISHCTL_HOME, else the nearest folder upwards holding smishctl.toml, else the cwd."""
    env = os.environ.get("SMISHCTL_HOME")
    if env:
        return Path(env).expanduser().resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder
    return here


@dataclass
class Settings:
    root: Path
    raw: dict[str, Any] = field(default_factory=dict)

    # -- folders -------------------------------------------------------------------------------
    @property
    def datasets_dir(self) -> Path:
        return self.root / "datasets"

    @property
    def prompts_dir(self) -> Path:
        return self.root / "prompts"

    @property
    def production_dir(self) -> Path:
        return self.prompts_dir / "production"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def cache_dir(self) -> Path:
        env = os.environ.get("SMISHCTL_CACHE")
        return Path(env).expanduser().resolve() if env else self.root / ".cache"

    # -- data ----------------------------------------------------------------------------------
    @property
    def data_mirror(self) -> Path | None:
        env = os.environ.get("SMISHCTL_DATA_MIRROR")
        value = env if env is not None else self.raw.get("data", {}).get("mirror")
        if not value:
            return None
        path = Path(value).expanduser()
        return path if path.is_absolute() else (self.root / path).resolve()

    @property
    def max_file_bytes(self) -> int:
        env = os.environ.get("SMISHCTL_MAX_FILE_MIB")
        mib = (checked_number("data", "max_file_mib", env, "SMISHCTL_MAX_FILE_MIB") if env
               else self.raw.get("data", {}).get("max_file_mib", 200))
        return int(mib * 1024 * 1024)

    @property
    def split_policy(self) -> str:
        """How splits are drawn: "template" (near-duplicate groups kept together) or "exact"."""
        value: str = self.raw.get("data", {}).get("split_policy", "template")
        if value not in ("template", "exact"):
            raise ConfigError(f"{CONFIG_NAME}: data.split_policy = {value!r} is not a split policy",
                              hint="use template or exact")
        return value

    # -- models --------------------------------------------------------------------------------
    @property
    def default_model(self) -> str:
        return os.environ.get("SMISHCTL_MODEL") or self.raw.get("models", {}).get(
            "default", "local/qwen2.5-coder-0.5b"
        )

    @property
    def local_usd_per_hour(self) -> float:
        return float(self.raw.get("models", {}).get("local_usd_per_hour", 0.10))

    @property
    def model_aliases(self) -> dict[str, dict[str, Any]]:
        return dict(self.raw.get("models", {}).get("alias", {}))

    def section(self, name: str) -> dict[str, Any]:
        return dict(self.raw.get(name, {}))


MAX_CONFIG_BYTES = 1024 * 1024  # a project's smishctl.toml is a few KiB


def load_settings(root: Path | None = None) -> Settings:
    root = Path(root).resolve() if root else find_root()
    path = root / CONFIG_NAME
    raw: dict[str, Any] = {}
    if path.is_file():
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path} is larger than {MAX_CONFIG_BYTES // 1024} KiB", hint="fix the file or remove it")
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}", hint="fix the file or remove it") from None
        except RecursionError:  # the TOML parser recurses once per nested array or inline table
            raise ConfigError(f"{path} nests arrays or tables too deeply", hint="fix the file or remove it") from None
        validate(raw, path)
    return Settings(root=root, raw=raw)

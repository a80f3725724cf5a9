"""`smishctl init`: lay out a working folder of one's own (configuration, data, prompts, runs, CI example)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from smishctl.core.config import CONFIG_NAME
from smishctl.core.errors import ConfigError
from smishctl.util.fs import atomic_write_text as _atomic_write_text

TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / "project"
CI_EXAMPLE = Path("ci") / "smishctl-compare.yml"
MIRROR_EXAMPLE = '# mirror = "/srv/smishctl-datasets"'
GITIGNORE_MARKER = "# smishctl:"


@dataclass
class Created:
    root: Path
    written: list[Path]  # files created or extended, relative to root
    kept: list[Path]  # files that were there already and are left as they were


def config_text(mirror: str | None = None) -> str:
    """The commented smishctl.toml; with `mirror`, that key set to exactly that text (a relative path
    is read relative to the file, see mirror_setting)."""
    text = (TEMPLATES / "smishctl.toml").read_text(encoding="utf-8")
    if mirror:
        quoted = '"' + mirror.replace("\\", "\\\\").replace('"', '\\"') + '"'
        text = text.replace(MIRROR_EXAMPLE, f"mirror = {quoted}", 1)
    return text


def mirror_setting(mirror: str, root: Path) -> str:
    """`mirror` as typed (from the working folder) for the smishctl.toml in `root` (resolved, as
    Settings.root is): an absolute or `~` path stays as typed, symlinks included; a relative one stays
    relative, rebased onto the project folder so that it names the same folder (`--mirror ../x` run in
    the project folder is written `../x`)."""
    if Path(mirror).is_absolute() or mirror.startswith("~"):
        return mirror
    return Path(os.path.relpath(os.path.abspath(mirror), root)).as_posix()


def init_project(folder: Path, *, mirror: str | None = None) -> Created:
    """Create the layout in `folder` (made if missing). Refuses a folder that already has a smishctl.toml;
    an existing .gitignore gets smishctl's lines appended once; other existing files are kept."""
    root = Path(folder).expanduser().resolve()
    config = root / CONFIG_NAME
    if config.exists():
        raise ConfigError(f"{config} already exists", hint="smishctl init never overwrites it; edit it instead")
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root} is not a folder", hint="pass a new or existing folder")
    text = config_text(mirror_setting(mirror, root) if mirror else None)
    written: list[Path] = []
    kept: list[Path] = []
    for sub in ("datasets", "prompts", "runs"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    keep = root / "runs" / ".gitkeep"
    if not keep.exists():
        keep.touch()
    _add_gitignore(root / ".gitignore", written, kept)
    ci = root / CI_EXAMPLE
    if ci.exists():
        kept.append(CI_EXAMPLE)
    else:
        ci.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(ci, (TEMPLATES / "ci-compare.yml").read_text(encoding="utf-8"))
        written.append(CI_EXAMPLE)
    # The configuration last: until it exists the folder is not a project, and init can simply run again.
    atomic_write_text(config, text)
    written.insert(0, Path(CONFIG_NAME))
    return Created(root=root, written=written, kept=kept)


def atomic_write_text(path: Path, text: str) -> None:
    """Project files are the user's: readable as their umask says (temp files are created 0600)."""
    _atomic_write_text(path, text)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def _add_gitignore(path: Path, written: list[Path], kept: list[Path]) -> None:
    block = (TEMPLATES / "gitignore").read_text(encoding="utf-8")
    rel = Path(path.name)
    if not path.exists():
        atomic_write_text(path, block)
        written.append(rel)
        return
    current = path.read_text(encoding="utf-8", errors="replace")
    if GITIGNORE_MARKER in current:
        kept.append(rel)
        return
    sep = "" if not current or current.endswith("\n") else "\n"
    atomic_write_text(path, current + sep + "\n" + block)
    written.append(rel)

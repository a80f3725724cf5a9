"""Get a registry dataset file: local cache, then mirror folder, then public source; always verified."""

from __future__ import annotations

import io
import shutil
import urllib.request
import zipfile
from pathlib import Path

from smishctl.core.config import Settings
from smishctl.core.errors import DataError
from smishctl.data.registry import DatasetSpec
from smishctl.util.fs import atomic_write_bytes, file_lock
from smishctl.util.hashing import sha256_file


def _verify(path: Path, spec: DatasetSpec, origin: str) -> None:
    actual = sha256_file(path)
    if actual != spec.sha256:
        raise DataError(
            f"checksum mismatch for {spec.name} from {origin}: expected {spec.sha256[:12]}…, got {actual[:12]}…",
            hint="the file is corrupt or a different version; delete it or fix the mirror",
        )


def _download(spec: DatasetSpec, timeout: float = 30.0) -> bytes:
    try:
        with urllib.request.urlopen(spec.url, timeout=timeout) as resp:  # noqa: S310 (registry URL)
            body = resp.read()
    except OSError as exc:
        raise DataError(
            f"cannot download {spec.name} from {spec.url}: {exc}",
            hint="set mirror under [data] in smishctl.toml to a folder holding the dataset files, "
                 "or SMISHCTL_DATA_MIRROR",
        ) from None
    if spec.archive_member:
        with zipfile.ZipFile(io.BytesIO(body)) as zf:
            body = zf.read(spec.archive_member)
    return body


def fetch(spec: DatasetSpec, settings: Settings) -> tuple[Path, str]:
    """Return (path of a verified local copy, where it came from)."""
    if spec.url.startswith("bundled:"):  # shipped with smishctl (e.g. the robustness set)
        return _bundled(spec, settings)
    cache = settings.datasets_dir / "cache"
    target = cache / spec.filename
    with file_lock(cache / f".{spec.filename}.lock"):
        if target.is_file():
            _verify(target, spec, str(target))
            return target, f"cache ({target})"
        mirror = settings.data_mirror
        if mirror is not None and (mirror / spec.filename).is_file():
            source = mirror / spec.filename
            _verify(source, spec, str(source))
            tmp = cache / f".{spec.filename}.partial"
            cache.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, tmp)
            tmp.replace(target)
            return target, f"mirror ({source})"
        body = _download(spec)
        atomic_write_bytes(target, body)
        try:
            _verify(target, spec, spec.url)
        except DataError:
            target.unlink(missing_ok=True)
            raise
        return target, f"download ({spec.url})"


BUNDLED_DIR = Path(__file__).resolve().parents[1] / "bundled"  # package data: inside the installed wheel too


def _bundled(spec: DatasetSpec, settings: Settings) -> tuple[Path, str]:
    """A file shipped inside the smishctl package; a project may hold its own copy under datasets/."""
    rel = spec.url.removeprefix("bundled:")
    for path in (settings.root / rel, BUNDLED_DIR / rel.removeprefix("datasets/")):
        if path.is_file():
            _verify(path, spec, str(path))
            return path, f"bundled ({path})"
    raise DataError(f"dataset {spec.name} is missing: {rel} is neither in the project nor inside the installed package",
                    hint="reinstall smishctl")

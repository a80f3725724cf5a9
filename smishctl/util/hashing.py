"""Content hashes of files (artifact manifests, model weights), and what a cache entry's key must hold
about the code that computed it."""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def code_fingerprint(modules: list[str], libraries: tuple[str, ...]) -> dict[str, object]:
    """The sha256 of the source files `modules` (paths) and the installed versions of `libraries`: part
    of every cache key, so that an entry computed by other code is a miss without anyone having to bump
    a version number by hand."""
    code = hashlib.sha256()
    for path in modules:
        code.update(Path(path).read_bytes())
    return {"code_sha256": code.hexdigest(), "libraries": {name: _version(name) for name in libraries}}


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None

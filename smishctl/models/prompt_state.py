"""Saved prompt states of the embedded model: a new process starts from the KV state an earlier one
computed for the same instructions, instead of reading them again (about 5 s for a 133-token system
prompt on one core; a fixed-demo program's demonstrations come with it).

llama.cpp's server saves and restores a slot (`/slots/0?action=save|restore`, loopback only). A
state is keyed by the model (file, adapter, context size) and the request's first message; the
first request of a process that uses a key restores it, and the first process that computes it
saves it. llama.cpp aborts the whole process on a damaged state file, so a file is restored only
when its content hashes to the digest in its name: a cut or altered file is a miss, never a crash.
The folder is trusted like the DSPy cache beside it (a state written with a valid digest is used).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import urllib.request
from pathlib import Path

from smishctl.util.hashing import sha256_file

SUFFIX = ".state"
MAX_TOKENS = 2048  # a state costs 12 KB per token on the 0.5B model: larger prompts are not kept
FOLDER_LIMIT = 512 << 20  # the oldest states go first beyond this size
_LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via HTTP(S)_PROXY


def model_key(gguf: Path, adapter: Path | None, n_ctx: int) -> str:
    """Changes whenever the KV layout or values could: other weights, adapter or context size."""
    parts = [str(n_ctx)]
    for path in (gguf, adapter):
        if path is not None:
            st = Path(path).stat()
            parts.append(f"{Path(path).resolve()}:{st.st_size}:{st.st_mtime_ns}")
    return "|".join(parts)


class PromptStates:
    """One server's saved states: `folder` is the project's (shared by processes), `slot_dir` the
    server's own `slot_save_path` (llama.cpp takes bare file names inside it)."""

    def __init__(self, folder: Path, slot_dir: Path, address: str, model: str, limit: int = FOLDER_LIMIT):
        self.folder = Path(folder)
        self.slot_dir = Path(slot_dir)
        self.address = address.rstrip("/")
        self.model = model
        self.limit = limit
        self.lock = threading.Lock()  # restore, request and save must see one slot state in order
        self._seen: set[str] = set()    # keys this process has used (restored at most once)
        self._stored: set[str] = set()  # keys known to have a verified state on disk

    def key(self, request: dict) -> str | None:
        messages = request.get("messages") or []
        if not messages:
            return None
        first = json.dumps(messages[0], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(f"{self.model}\n{first}".encode()).hexdigest()[:32]

    def _verified(self, key: str) -> Path | None:
        for path in sorted(self.folder.glob(f"{key}-*{SUFFIX}")):
            digest = path.name[len(key) + 1:-len(SUFFIX)]
            try:
                if sha256_file(path) == digest:
                    return path
                path.unlink()  # damaged: names are final only once whole, so this is no writer's
            except OSError:
                continue
        return None

    def _slot_action(self, action: str, filename: str) -> bool:
        req = urllib.request.Request(f"{self.address}/slots/0?action={action}",
                                     data=json.dumps({"filename": filename}).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            with _LOOPBACK.open(req, timeout=60) as resp:
                return resp.status == 200
        except OSError:  # an HTTP error or a refused connection: the request is served without the state
            return False

    def before(self, key: str | None) -> None:
        """Restore the saved state for `key` on its first use in this process."""
        if key is None or key in self._seen:
            return
        self._seen.add(key)
        path = self._verified(key)
        if path is None:
            return
        self._stored.add(key)
        staged = self.slot_dir / path.name
        try:
            os.utime(path)  # recently used: pruned last
            if not staged.exists():
                os.symlink(path.resolve(), staged)
        except OSError:
            return
        self._slot_action("restore", staged.name)

    def after(self, key: str | None, prompt_tokens: int) -> None:
        """Save the slot for `key` when no process has yet: the write goes to the server's folder,
        then moves into the shared one under the name of its digest (never a half-written file)."""
        if key is None or key in self._stored or prompt_tokens > MAX_TOKENS:
            return
        self._stored.add(key)  # one try per process, saved or not
        if self._verified(key) is not None:
            return
        temp = f"{key}.{os.getpid()}.{threading.get_ident()}.tmp"
        if not self._slot_action("save", temp):
            return
        written = self.slot_dir / temp
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            target = self.folder / f"{key}-{sha256_file(written)}{SUFFIX}"
            landing = self.folder / f".{temp}"
            shutil.move(str(written), landing)  # across file systems too
            os.replace(landing, target)
            self._prune(keep=target)
        except OSError:
            written.unlink(missing_ok=True)

    def _prune(self, keep: Path) -> None:
        """Drop the least recently used states until the folder is within its limit."""
        files = []
        for path in self.folder.glob(f"*{SUFFIX}"):
            try:
                st = path.stat()
            except OSError:
                continue
            files.append((st.st_mtime, st.st_size, path))
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files):
            if total <= self.limit:
                break
            if path != keep:
                path.unlink(missing_ok=True)
                total -= size

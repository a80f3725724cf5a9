"""Saved prompt states of the embedded model: a new process starts from the KV state an earlier one
computed for the same instructions, instead of reading them again (about 5 s for a 133-token system
prompt on one core), and for a fixed-demo program from its demonstrations too.

llama.cpp's server saves and restores a slot (`/slots/0?action=save|restore`, loopback only). States
are keyed by the model (file, adapter, context size) and either the request's first message (the
instructions) or every message but the item's own (instructions and demonstrations). A process
restores the longest saved state on the first use of a prefix; it saves the instructions' state when
no process has, and a prefix's state when two requests in a row share it (a kNN program's
demonstrations change with every message: those are never saved). llama.cpp aborts the whole process
on a damaged state file, so a file is restored only when its content hashes to the digest in its
name: a cut or altered file is a miss, never a crash. The folder is trusted like the DSPy cache
beside it (a state written with a valid digest is used)."""

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
    """Changes whenever the KV layout or values could: other weights, adapter, context size or
    llama.cpp build (its state format is its own)."""
    import importlib.metadata as md

    parts = [str(n_ctx), md.version("xllamacpp")]
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
        self._seen: set[str] = set()    # keys this process has tried to restore (once each)
        self._stored: set[str] = set()  # keys known to have a verified state on disk
        self._last_prefix: str | None = None

    def keys(self, request: dict) -> tuple[str, str] | None:
        """(instructions key, prefix key): the first message alone, and every message but the
        item's own (the instructions and the program's demonstrations, when it has fixed ones).
        None for a lone message: it is the item's own, and a state per item would never be reused."""
        messages = request.get("messages") or []
        if len(messages) < 2:
            return None
        text = [json.dumps(m, sort_keys=True, ensure_ascii=False) for m in messages]
        digest = lambda parts: hashlib.sha256("\n".join([self.model, *parts]).encode()).hexdigest()[:32]  # noqa: E731
        return digest(text[:1]), digest(["prefix", *text[:-1]])

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

    def before(self, keys: tuple[str, str] | None) -> None:
        """On the first use of a prefix in this process, restore the longest saved state for it."""
        if keys is None or keys[1] in self._seen:
            return
        base, prefix = keys
        self._seen.add(prefix)
        path, key = self._verified(prefix), prefix
        if path is None and base not in self._seen:
            path, key = self._verified(base), base
        self._seen.add(base)
        if path is None:
            return
        self._stored.add(key)  # verified now: after() need not hash it again
        staged = self.slot_dir / path.name
        try:
            os.utime(path)  # recently used: pruned last
            if not staged.exists():
                os.symlink(path.resolve(), staged)
        except OSError:
            return
        self._slot_action("restore", staged.name)

    def after(self, keys: tuple[str, str] | None, prompt_tokens: int, n_messages: int) -> None:
        """Save the slot under the instructions key when no process has yet, and under the prefix key
        when a second request in a row shares it (a fixed-demo program; a kNN program's prefix
        changes with every message and is never saved)."""
        if keys is None or prompt_tokens > MAX_TOKENS:
            return
        base, prefix = keys
        repeated, self._last_prefix = prefix == self._last_prefix, prefix
        self._save(base)
        if repeated and n_messages > 2:
            self._save(prefix)

    def _save(self, key: str) -> None:
        """The write goes to the server's folder, then moves into the shared one under the name of its
        digest (never a half-written file)."""
        if key in self._stored:
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

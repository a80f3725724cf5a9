"""The git commit a folder is at, for the records that say what code and prompts produced them."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git_commit(folder: Path | str) -> str | None:
    """HEAD of the repository holding `folder`; None outside a repository or without git."""
    try:
        r = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True,
                           timeout=5)
        return r.stdout.strip() or None if r.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None

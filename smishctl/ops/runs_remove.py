"""Remove recorded runs (`runs rm`, `runs prune --aborted`), never one a promotion cites: a release's
promotion.json and the history name their evidence run, and that run is what an audit reopens."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from smishctl.core.config import Settings
from smishctl.core.errors import ConfigError, DataError
from smishctl.store.production import RELEASE_FILE, RELEASES, read_history
from smishctl.store.runs import LOCK_FILE, RUN_FILE, Run, list_runs, open_run, short_refs
from smishctl.util.fs import file_lock, read_json


@dataclass
class Removal:
    run: Run
    ref: str  # its short reference
    status: str
    model: str
    n_rows: int


def cited_runs(settings: Settings) -> dict[str, str]:
    """Run id -> what cites it ('release r0002', 'history'): every release's promotion record and every
    history line that names an evaluation run."""
    cited: dict[str, str] = {}
    releases = settings.production_dir / RELEASES
    for d in sorted(releases.iterdir()) if releases.is_dir() else []:
        try:
            info = read_json(d / RELEASE_FILE)
        except (OSError, ValueError, DataError):
            continue  # no readable record: it names no run (promote refuses such a release anyway)
        if isinstance(info, dict) and isinstance(info.get("run"), str):
            cited.setdefault(info["run"], f"release {d.name}")
    for h in read_history(settings):
        if isinstance(h.run, str):
            release = h.release
            cited.setdefault(h.run, f"the production history (release {release})" if release else "the production history")
    return cited


def plan_removal(settings: Settings, refs: list[str]) -> list[Removal]:
    """The runs `refs` name, every one refused (before anything is removed) when a promotion cites it."""
    if not refs:
        raise ConfigError("name the runs to remove", hint="see smishctl runs list")
    runs: list[Run] = []
    for ref in refs:
        run = open_run(settings.runs_dir, ref, for_writing=True)  # a folder outside the store is never removed
        if run.id not in {r.id for r in runs}:
            runs.append(run)
    return _described(settings, runs)


def plan_prune_aborted(settings: Settings) -> list[Removal]:
    """Every aborted run no promotion cites (one that a promotion cites is kept, and never aborted anyway)."""
    cited = cited_runs(settings)
    aborted = [r for r in list_runs(settings.runs_dir) if r.record().status == "aborted" and r.id not in cited]
    return _described(settings, aborted)


def _described(settings: Settings, runs: list[Run]) -> list[Removal]:
    cited = cited_runs(settings)
    refs = short_refs([d.name for d in settings.runs_dir.iterdir() if (d / RUN_FILE).is_file()])
    for run in runs:
        if run.id in cited:
            raise ConfigError(f"run {refs.get(run.id, run.id)} is the evidence of {cited[run.id]}: it is kept",
                              hint="a promotion's evaluation run stays while its record cites it")
    out = []
    for run in runs:
        rec = run.record()
        rows, _ = run.scan_predictions(slim=True)
        out.append(Removal(run, refs.get(run.id, run.id), rec.status, rec.model_name, len(rows)))
    return out


def remove(removals: list[Removal]) -> None:
    """Remove each run: run.json first (the run leaves every listing at once), then its folder. A run
    another process is evaluating (its lock held) is refused."""
    for r in removals:
        with file_lock(r.run.dir / LOCK_FILE, blocking=False) as got:
            if not got:
                raise ConfigError(f"run {r.ref} is being evaluated right now", hint="wait for it, or stop it first")
            r.run.record_path.unlink(missing_ok=True)
        shutil.rmtree(Path(r.run.dir), ignore_errors=True)

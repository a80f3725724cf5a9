"""The run store: runs/<run-id>/{run.json, predictions.jsonl}. Appends survive crashes."""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from smishctl.core.errors import ConfigError, DataError
from smishctl.core.identity import config_hash as hash_identity
from smishctl.core.records import SCHEMA_VERSION, Prediction, RunRecord
from smishctl.util.fs import atomic_write_json, atomic_write_text, read_json
from smishctl.util.jsonio import BadJSON, loads
from smishctl.util.paths import safe_child
from smishctl.util.tails import shortest_unique_tails

RUN_FILE = "run.json"
PRED_FILE = "predictions.jsonl"
LOCK_FILE = ".lock"


def new_run_id(model: str, prompt: str) -> str:
    def short(s: str) -> str:
        s = s.rsplit("/", 1)[-1]
        return "".join(c if c.isalnum() or c in ".-" else "-" for c in s)[:28].strip("-") or "x"

    return f"{time.strftime('%Y%m%d-%H%M%S')}-{short(model)}-{short(prompt)}-{secrets.token_hex(2)}"


@dataclass
class Run:
    dir: Path

    @property
    def id(self) -> str:
        return self.dir.name

    @property
    def record_path(self) -> Path:
        return self.dir / RUN_FILE

    @property
    def predictions_path(self) -> Path:
        return self.dir / PRED_FILE

    def record(self) -> RunRecord:
        """run.json as a typed record, migrated from the version that wrote it."""
        return RunRecord.from_dict(read_json(self.record_path), where=f"run {self.id}")

    def read(self) -> dict[str, Any]:
        """run.json migrated to the current schema, as the stored dict."""
        return self.record().to_dict()

    def write(self, record: dict[str, Any] | RunRecord) -> None:
        """Validated and stamped with the current schema version, then written atomically."""
        if isinstance(record, dict):
            record = RunRecord.from_dict(record, where=f"run {self.id}")
        atomic_write_json(self.record_path, record.to_dict())

    def _row_context(self, record: RunRecord | None = None) -> tuple[int, bool]:
        """(the schema version rows were written with, whether the run is complete); from `record` when the
        caller has already read run.json, so that it is not parsed again."""
        if record is not None:
            return record.schema_version, record.complete
        try:
            rec = read_json(self.record_path)
            return int(rec.get("schema_version", 1)), rec.get("status") == "complete"
        except (OSError, ValueError, AttributeError, TypeError):
            return SCHEMA_VERSION, False  # not written yet: rows come from this version

    def scan_predictions(self, *, slim: bool = False, record: RunRecord | None = None,
                         ) -> tuple[list[dict[str, Any]], list[DamagedRow]]:
        """(readable rows, damaged rows). Each line is decoded on its own, so one bad byte damages one row
        only; a torn last line (no newline: a crash mid-append) is neither a row nor damage, unless the run
        is complete (its rows were all written before it was marked so).
        `slim` drops the fields metrics do not read (texts, raw outputs) to save memory; `record`, this run's
        record when the caller has it (run.json is then not read again)."""
        if not self.predictions_path.is_file():
            return [], []
        rows: list[dict[str, Any]] = []
        damaged: list[DamagedRow] = []
        version, complete = self._row_context(record)
        with open(self.predictions_path, "rb") as fh:
            for n, line in enumerate(fh, 1):
                if not line.endswith(b"\n"):
                    if complete:  # a complete run was closed after its last row: a torn line is damage
                        damaged.append(DamagedRow(n, "torn last line of a complete run"))
                    break
                if not line.strip():
                    continue  # a blank line carries no item: nothing is lost by skipping it
                try:
                    row = _parse_row(line, version, where=f"{self.predictions_path}:{n}")
                except _RowDamage as exc:
                    damaged.append(DamagedRow(n, str(exc)))
                    continue
                if slim:
                    row.pop("text", None)
                    row.pop("raw", None)
                rows.append(row)
        return rows, damaged

    def predictions(self, slim: bool = False, *, allow_damaged: bool = False,
                    record: RunRecord | None = None) -> list[dict[str, Any]]:
        """All readable prediction rows; a torn last line (crash mid-write) is ignored. A damaged row
        (not UTF-8, not JSON, not a valid prediction) refuses the run, since rows are evidence (compare,
        promote), unless `allow_damaged`, which skips it. `record`: as for scan_predictions."""
        rows, damaged = self.scan_predictions(slim=slim, record=record)
        if damaged and not allow_damaged:
            raise self._damage_error(damaged)
        return rows

    def _damage_error(self, damaged: list[DamagedRow]) -> DataError:
        first = damaged[0]
        more = f"; {len(damaged) - 1} more damaged row(s)" if len(damaged) > 1 else ""
        return DataError(f"{self.predictions_path}:{first.line}: damaged prediction row ({first.reason}{more})",
                         hint=f"resume the run (smishctl evaluate --resume {self.id}) to re-ask the damaged "
                              f"items, or delete the run")

    def repair_predictions(self, *, drop_errors: bool = False) -> list[dict[str, Any]]:
        """Rewrite predictions.jsonl with every readable row, without a torn tail or damaged rows (and, for
        a resume, without the items that failed with an error), so a resume asks only those again; return
        the kept rows. Dropped damaged rows are reported on stderr with file:line."""
        rows, damaged = self.scan_predictions()
        if damaged:
            lines = ", ".join(str(d.line) for d in damaged[:10]) + (", …" if len(damaged) > 10 else "")
            sys.stderr.write(f"warning: {self.predictions_path}:{lines}: dropped {len(damaged)} damaged "
                             f"prediction row(s) ({damaged[0].reason}); their items are asked again\n")
        if drop_errors:
            rows = [r for r in rows if r.get("status") != "error"]
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)

        atomic_write_text(self.predictions_path, text)
        return rows


class DamagedRow(NamedTuple):
    line: int  # 1-based line number in predictions.jsonl
    reason: str


class _RowDamage(Exception):
    """Why one stored line is not a prediction row."""


def _parse_row(line: bytes, version: int, *, where: str) -> dict[str, Any]:
    """One stored line as a current-version row, or _RowDamage saying why it is not one."""
    try:
        row = loads(line.decode("utf-8"), where="the row")
    except UnicodeDecodeError:
        raise _RowDamage("not UTF-8") from None
    except BadJSON as exc:  # not JSON, too large, nested too deeply
        raise _RowDamage(str(exc).removeprefix("the row is ")) from None
    if not isinstance(row, dict):
        raise _RowDamage("not a JSON object")
    try:
        return Prediction.from_dict({**row, "schema_version": version}, where="the row").to_dict()
    except (DataError, TypeError) as exc:
        raise _RowDamage(f"not a valid prediction: {exc}") from None


class PredictionWriter:
    """Append one JSON line per item, flushed at once, so Ctrl-C or a crash of the process loses nothing.

    fsync (which only matters if the machine itself goes down) runs at most every `fsync_every` seconds
    and on close: one fsync per line cost ~4 ms and capped a fast endpoint at ~250 items/s."""

    def __init__(self, path: Path, fsync_every: float = 1.0):
        self._fh = open(path, "a", encoding="utf-8")
        self._fsync_every = fsync_every
        self._synced = time.monotonic()

    def write(self, row: dict[str, Any] | Prediction) -> None:
        if isinstance(row, dict):
            row = Prediction.from_dict(row)
        self._fh.write(json.dumps(row.to_dict(), ensure_ascii=False) + "\n")
        self._fh.flush()
        if time.monotonic() - self._synced >= self._fsync_every:
            os.fsync(self._fh.fileno())
            self._synced = time.monotonic()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()


def run_dir(runs_dir: Path, run_id: str) -> Path:
    return safe_child(runs_dir, run_id, what="run id")


def open_run(runs_dir: Path, ref: str, *, for_writing: bool = False) -> Run:
    """The run a command line names: a run folder by path, or a reference to a run in `runs_dir` (see
    `resolve_run`). A folder that holds no run.json and is no reference is refused as such.

    A run folder elsewhere may be read by path (e.g. one downloaded from CI), never written:
    `for_writing` (resume) accepts only runs inside `runs_dir`."""
    p = Path(ref)
    if (p / RUN_FILE).is_file():
        run = Run(p.resolve())
        if for_writing and not _in_store(runs_dir, run):
            raise ConfigError(f"run {ref!r} is outside {runs_dir}: only runs in the project's store can be resumed",
                              hint="copy it into runs/ first, or resume it by its id")
        return run
    found = None if _is_path(ref) else _find_ref(runs_dir, ref)
    if found is not None:
        return found
    if ref.strip() and p.is_dir():  # after the references: a folder sharing a run's name does not hide it
        raise ConfigError(f"unknown run {ref!r}: the folder has no {RUN_FILE}",
                          hint="name a run folder (one holding run.json), or a run from smishctl runs list")
    raise _unknown(ref)


def command_line_ref(runs_dir: Path, run: Run) -> str:
    """How a command line names an opened run, so hints can be typed back: its short reference when it is
    in `runs_dir` (what `runs list` shows), else its folder (a run opened by a path outside the store)."""
    return short_ref(runs_dir, run.id) if _in_store(runs_dir, run) else str(run.dir)


def _is_path(ref: str) -> bool:
    """Whether `ref` can only be a path ('.', '..', anything with a '/'), never a run reference."""
    return "/" in ref or ref.strip() in {".", ".."}


def _in_store(runs_dir: Path, run: Run) -> bool:
    return run.dir.resolve().parent == Path(runs_dir).resolve()


LATEST = "latest"


def resolve_run(runs_dir: Path, ref: str) -> Run:
    """A run of `runs_dir` by id, 'latest', 'latest~N' (N runs before the latest), or a unique prefix or
    suffix of its id (the short reference `runs list` shows, e.g. the random tail `a3f2`)."""
    found = _find_ref(runs_dir, ref)
    if found is None:
        raise _unknown(ref)
    return found


def _find_ref(runs_dir: Path, ref: str) -> Run | None:
    """resolve_run's lookup: None when nothing matches `ref`; an ambiguous reference, or `latest~N` past
    the oldest run, raises (the error names the runs it could mean)."""
    ref = ref.strip()
    if not ref or "/" in ref:
        return None
    if runs_dir.is_dir():
        d = run_dir(runs_dir, ref)
        if (d / RUN_FILE).is_file():
            return Run(d)
    runs = list_runs(runs_dir)
    back = _latest_offset(ref)
    if back is not None:
        return _latest(runs, ref, back)
    matches = _matching(ref, [r.id for r in runs])
    if len(matches) == 1:
        return next(r for r in runs if r.id == matches[0])
    if len(matches) > 1:
        refs = short_refs([r.id for r in runs])
        shown = ", ".join(refs[m] for m in matches[:5]) + (", …" if len(matches) > 5 else "")
        raise ConfigError(f"run {ref!r} is ambiguous ({len(matches)} runs match: {shown})",
                          hint="use a longer reference from smishctl runs list")
    return None


def _unknown(ref: str) -> ConfigError:
    return ConfigError(f"unknown run {ref.strip()!r}", hint="see smishctl runs list")


def _latest(runs: list[Run], ref: str, back: int) -> Run:
    """The run `back` runs before the newest, counting only runs with items: an aborted run (a missing key,
    a dead endpoint) or one that recorded no item is no step of `latest~N`, so `compare latest~1 latest`
    means the last two evaluations that scored something. Such runs keep their short references."""
    if not runs:
        raise ConfigError("no runs yet", hint="run smishctl evaluate first")
    counted = 0
    for run in reversed(runs):
        if not has_items(run):
            continue
        if counted == back:
            return run
        counted += 1
    skipped = len(runs) - counted
    also = f" ({skipped} aborted or empty run(s) not counted)" if skipped else ""
    raise ConfigError(f"{ref!r} goes back {back} runs, but there are only {counted} with items{also}",
                      hint="see smishctl runs list; smishctl runs prune --aborted removes aborted runs")


def has_items(run: Run) -> bool:
    """Whether a run counts for `latest~N`: not aborted, and not empty (a predictions file with no row, or
    metrics over 0 items). A run without a predictions file at all was made elsewhere and counts."""
    try:
        if run.predictions_path.is_file() and run.predictions_path.stat().st_size == 0:
            return False
        rec = read_json(run.record_path)
        return bool(rec.get("status") != "aborted" and (rec.get("metrics") or {}).get("n_items", 1) != 0)
    except (OSError, ValueError, AttributeError, DataError):
        return False


def short_ref(runs_dir: Path, run_id: str) -> str:
    """The short reference of one stored run, as `runs list` shows it (or a longer one that is still
    unique: every folder counts, so it resolves to this run alone)."""
    ids = [d.name for d in runs_dir.iterdir() if (d / RUN_FILE).is_file()] if runs_dir.is_dir() else []
    return short_refs(ids if run_id in ids else [*ids, run_id])[run_id]


def _latest_offset(ref: str) -> int | None:
    if ref == LATEST:
        return 0
    head, sep, n = ref.partition("~")
    if head == LATEST and sep and n.isdigit():
        return int(n)
    return None


def _matching(ref: str, ids: list[str]) -> list[str]:
    """Ids that start with `ref`, or end with it at a '-' boundary."""
    return [i for i in ids if i.startswith(ref) or i.endswith("-" + ref)]


def short_refs(ids: list[str]) -> dict[str, str]:
    """For each run id, the shortest tail of '-'-separated parts that `resolve_run` maps back to it alone
    (usually the 4-hex random tail); the whole id when nothing shorter is unique."""
    return shortest_unique_tails(
        ids, "-", lambda cand, run_id: _latest_offset(cand) is None and _matching(cand, ids) == [run_id])


def list_runs(runs_dir: Path, *, on_unreadable: Callable[[Path, Exception], None] | None = None) -> list[Run]:
    """Every readable run, oldest first (see list_records)."""
    return [run for run, _ in list_records(runs_dir, on_unreadable=on_unreadable)]


def list_records(runs_dir: Path, *, on_unreadable: Callable[[Path, Exception], None] | None = None,
                 ) -> list[tuple[Run, RunRecord]]:
    """Every readable run, oldest first. A run whose run.json is unreadable (a disk error, a hand edit) or
    is not a valid run record (no id, a newer schema) is skipped with one warning on stderr, so that one
    odd run does not break listing, reuse or push; opening it by id still gives its error.
    `on_unreadable(folder, error)` replaces the warning (the viewer lists such a run as damaged)."""
    if not runs_dir.is_dir():
        return []
    keyed = []
    for d in runs_dir.iterdir():
        if not (d / RUN_FILE).is_file():
            continue
        try:
            record = _listed_record(d)
        except (DataError, OSError, ValueError) as exc:
            if on_unreadable is not None:
                on_unreadable(d, exc)
            elif isinstance(exc, DataError):  # the bounded reader's and the record's own errors say what is wrong
                _skip_warning(d, str(exc))
            else:
                _skip_warning(d, f"its {RUN_FILE} is unreadable ({type(exc).__name__})")
            continue
        keyed.append(((str(record.created_at or ""), d.name), (Run(d), record)))
    return [pair for _, pair in sorted(keyed, key=lambda kv: kv[0])]


def _listed_record(d: Path) -> RunRecord:
    record = read_json(d / RUN_FILE)
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    return RunRecord.from_dict(record, where=f"its {RUN_FILE}")


def _skip_warning(d: Path, why: str) -> None:
    sys.stderr.write(f"warning: skipping run {d.name}: {why}; fix or remove {d}\n")


def _hashes_to(identity: object, wanted: str) -> bool:
    """Whether the record's stored identity is the one sought: its hash recomputed, not its stored hash
    trusted (an identity key deleted or edited is another identity)."""
    return isinstance(identity, dict) and hash_identity(identity) == wanted


def find_run(runs_dir: Path, config_hash: str) -> Run | None:
    """The newest complete run with this configuration hash, whose identity hashes to it."""
    found = find_record(list_records(runs_dir), config_hash)
    return found[0] if found else None


def find_record(records: list[tuple[Run, RunRecord]], config_hash: str) -> tuple[Run, RunRecord] | None:
    """find_run over records already read (list_records): each run.json is parsed once."""
    for run, rec in reversed(records):
        if rec.config_hash == config_hash and rec.complete and _hashes_to(rec.identity, config_hash):
            return run, rec
    return None

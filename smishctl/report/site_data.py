"""What the viewer shows, read from the project folder: every run (a damaged one as a damaged entry),
its items, the prompt versions and production. Plain dicts and lists, ready to embed as JSON; nothing
here writes to the project."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

from smishctl.core.config import Settings
from smishctl.core.errors import SmishError
from smishctl.core.records import RunRecord
from smishctl.report.prompt_facts import artifact_additions, lineage
from smishctl.score.metrics import answer
from smishctl.signals import extract
from smishctl.store.artifact_diff import describe
from smishctl.store.artifacts import CARD, PROMPT, Artifact, list_artifacts
from smishctl.store.production import read_current, read_history
from smishctl.store.runs import RUN_FILE, Run, list_runs, short_refs
from smishctl.util.fs import read_json

CARD_MAX_CHARS = 200_000  # a card is a page of Markdown; a huge one is cut, not embedded whole


def page_name(key: str, taken: set[str]) -> str:
    """A file name for `key` (a run or artifact id): safe characters only, unique among `taken`."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("._") or "x"
    name, n = base, 1
    while name.lower() in taken:
        n += 1
        name = f"{base}-{n}"
    taken.add(name.lower())
    return name


@dataclass
class RunEntry:
    id: str
    dir: Path
    record: RunRecord | None  # None: run.json is damaged
    damaged: str | None = None
    page: str = ""
    ref: str = ""


def _why(exc: Exception) -> str:
    return exc.one_line() if isinstance(exc, SmishError) else f"unreadable {RUN_FILE} ({type(exc).__name__})"


def scan_runs(runs_dir: Path) -> list[RunEntry]:
    """Every run folder, oldest first, through the store's listing (`list_runs`); a run it cannot read is
    kept as a damaged entry (listed, with why) instead of skipped, so the user sees it exists."""
    entries: list[RunEntry] = []

    def damaged(d: Path, exc: Exception) -> None:
        # relative to the project: an exported site does not carry the machine's folders
        why = _why(exc).replace(f"{Path(runs_dir).resolve().parent}/", "").replace(f"{Path(runs_dir).parent}/", "")
        entries.append(RunEntry(d.name, d, None, damaged=why))

    for run in list_runs(Path(runs_dir), on_unreadable=damaged):
        try:
            entries.append(RunEntry(run.id, run.dir, run.record()))
        except (SmishError, OSError, ValueError) as exc:  # changed since it was listed
            damaged(run.dir, exc)
    entries.sort(key=lambda e: (str(e.record.created_at or "") if e.record else "", e.id))
    refs = short_refs([e.id for e in entries])
    taken: set[str] = set()
    for e in entries:
        e.ref, e.page = refs[e.id], f"runs/{page_name(e.id, taken)}.html"
    return entries


def run_row(e: RunEntry) -> dict:
    """One line of the runs page (and the head of a run in the compare page)."""
    row = {"id": e.id, "ref": e.ref, "page": e.page}
    if e.record is None:
        return {**row, "status": "damaged", "damaged": e.damaged}
    r, m = e.record, e.record.metrics or {}
    lat = m.get("latency_ms") or {}
    return {**row, "status": r.status, "created": r.created_at or "", "model": r.model_name, "prompt": r.prompt_id,
            "dataset": r.dataset_name or "?", "split": r.split or "?", "n": m.get("n_items", r.n_items),
            "accuracy": m.get("accuracy"), "macro_f1": m.get("macro_f1"), "errors": m.get("n_errors", 0),
            "cache_hits": m.get("cache_hits", 0), "p50_ms": lat.get("p50"), "cost_per_1k": m.get("cost_per_1k")}


@dataclass
class RunItems:
    rows: list[dict] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)  # "predictions.jsonl:LINE: why"
    unreadable: str | None = None


def read_items(e: RunEntry) -> RunItems:
    """The readable prediction rows of a run; damaged rows are named (file:line), not fatal."""
    try:
        rows, damaged = Run(e.dir).scan_predictions()
    except OSError as exc:
        return RunItems(unreadable=f"predictions.jsonl is unreadable ({type(exc).__name__})")
    return RunItems(rows, [f"predictions.jsonl:{d.line}: {d.reason}" for d in damaged])


def item_view(row: dict) -> dict:
    """One item for the run page: short keys, since a run may have 10,000 of them."""
    ans = answer(row)
    probs = row.get("probs") or {}
    p = probs.get(ans) if isinstance(probs, dict) else None
    text = row.get("text") or ""
    return {"i": row.get("index", 0), "id": str(row.get("item_id", "")), "g": row.get("gold"), "a": ans,
            "ok": ans == row.get("gold"), "p": round(float(p), 4) if isinstance(p, (int, float)) else None,
            "ms": row.get("latency_ms"), "t": text, "e": row.get("error") or "",
            "s": list(signal_lines(text)) if text else []}


@functools.lru_cache(maxsize=65_536)
def signal_lines(text: str) -> tuple[str, ...]:
    """The message's signals, one 'name: value' each; cached, since runs of one dataset share their texts."""
    return tuple(f"{s['name']}: {s['value']}" for s in extract(text).to_dict()["items"])


@dataclass
class PromptEntry:
    art: Artifact
    manifest: dict | None
    damaged: str | None = None
    page: str = ""


def scan_prompts(prompts_dir: Path) -> list[PromptEntry]:
    """Every stored version; one whose manifest is unreadable is a damaged entry."""
    out: list[PromptEntry] = []
    taken: set[str] = set()
    for art in list_artifacts(prompts_dir):
        try:
            art.info  # noqa: B018  (the typed read: refuses a malformed manifest)
            entry = PromptEntry(art, art.manifest)
        except (SmishError, OSError, ValueError) as exc:
            entry = PromptEntry(art, None, damaged=_why(exc))
        entry.page = f"prompts/{page_name(art.id, taken)}.html"
        out.append(entry)
    return out


def prompt_view(entry: PromptEntry, by_id: dict[str, PromptEntry]) -> dict:
    """A version's manifest, card, lineage and rendered turns."""
    m = entry.manifest or {}
    messages: list = []
    card = ""
    try:
        messages = read_json(entry.art.folder / PROMPT).get("messages") or []
    except (SmishError, OSError, ValueError, AttributeError):
        pass
    card_path = entry.art.folder / CARD
    if card_path.is_file():
        card = card_path.read_text(encoding="utf-8", errors="replace")[:CARD_MAX_CHARS]
    return {"manifest": m, "card": card, "lineage": lineage_steps(entry, by_id),
            "messages": [{"role": str(x.get("role", "?")), "content": str(x.get("content", ""))}
                         for x in messages if isinstance(x, dict)]}


def _origin(m: dict) -> str | None:
    """The stored version `lineage` names as where `m` came from: the one it started from, else its parent;
    none for instructions from a file or Langfuse (the chain ends outside the store)."""
    source = m.get("source")
    kind, origin = (source.get("kind"), source.get("id")) if isinstance(source, dict) else (None, None)
    if kind in ("instructions-file", "langfuse"):
        return None
    if kind == "artifact" and isinstance(origin, str):
        return origin
    parent = m.get("parent")
    return parent if isinstance(parent, str) else None


def lineage_steps(entry: PromptEntry, by_id: dict[str, PromptEntry]) -> list[dict]:
    """Where the version came from, step by step, each told by prompt_facts.lineage (a hand-written version
    names its file and sha256 or its Langfuse prompt, not the version stored before it)."""
    steps: list[dict] = []
    seen = {entry.art.id}
    m: dict | None = entry.manifest or {}
    while m is not None:
        origin = _origin(m)
        stored = by_id.get(origin) if origin else None
        steps.append({"text": lineage(m), "page": stored.page if stored and stored.manifest is not None else None,
                      "missing": bool(origin) and stored is None})
        if origin is None or origin in seen or stored is None:
            break
        seen.add(origin)
        m = stored.manifest
    return steps


DIFF_FIELDS = ("model", "optimizer", "dev macro-F1", "instructions", "demos")  # as `prompts diff` shows them


def version_facts(entry: PromptEntry) -> dict:
    """One version for the prompts page's diff: what `smishctl prompts diff` compares
    (store/artifact_diff.describe), what smishctl adds to its instructions, and its lineage in a line."""
    row = {"id": entry.art.id, "page": entry.page, "name": (entry.manifest or {}).get("name") or ""}
    if entry.manifest is None:
        return {**row, "problem": entry.damaged}
    try:
        d = describe(entry.art)
    except (SmishError, OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return {**row, "problem": _why(exc) if isinstance(exc, SmishError) else f"unreadable ({type(exc).__name__})"}
    fields = {k: str(d[k]) for k in DIFF_FIELDS}
    fields["added by smishctl"] = artifact_additions(entry.art) or "nothing"
    fields["lineage"] = lineage(entry.manifest)
    return {**row, "fields": fields}


def production_view(settings: Settings) -> dict:
    """The current release (or why it cannot be read), its evidence run and the history."""
    current: dict | None = None
    try:
        release, problem = read_current(settings), None
        current = release.to_dict() if release is not None else None  # the page shows the record as stored
    except SmishError as exc:
        current, problem = None, exc.one_line()
    history = [h.to_dict() for h in read_history(settings)]
    return {"current": current, "problem": problem, "history": history,
            "can_roll_back": sum(1 for h in history if h.get("action") == "promote") > 1}

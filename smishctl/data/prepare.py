"""Normalise, de-duplicate and split a dataset into seeded, stratified, leak-free splits."""

from __future__ import annotations

import hashlib
import html
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from smishctl.core.config import Settings
from smishctl.core.errors import DataError
from smishctl.data.corrections import apply_corrections
from smishctl.data.evaluation_only import is_evaluation_only, task_labels
from smishctl.data.fetch import fetch
from smishctl.data.label_map import apply_label_map
from smishctl.data.load import TableSource, check_size
from smishctl.data.registry import DEFAULT_DATASET, REGISTRY
from smishctl.data.rows_cache import read_rows
from smishctl.data.templates import DEFAULT_THRESHOLD, template_groups
from smishctl.util.hashing import sha256_file

SPLITS = ("train", "dev", "test")
ALL = "all"  # every item of every split, in one seeded interleaved order
DEFAULT_FRACTIONS = (0.6, 0.2, 0.2)
MAX_CHARS = 1600  # ten concatenated SMS segments; longer texts are truncated and counted
SPLIT_POLICIES = ("template", "exact")  # template: near-duplicate groups never straddle splits
DEFAULT_SPLIT_POLICY = "template"


@dataclass(frozen=True)
class Example:
    id: str  # stable: derived from the normalised text
    text: str  # what the model sees: entities unescaped, whitespace collapsed, maybe truncated
    label: str
    raw_text: str  # the text exactly as in the source


@dataclass(frozen=True)
class SplitOptions:
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS
    seed: int = 13
    conflicts: str = "drop"  # "drop" every copy of a text whose copies disagree, or "majority"
    max_chars: int = MAX_CHARS
    policy: str | None = None  # "template" or "exact"; None: [data] split_policy, else template
    template_threshold: float | None = None  # None: smishctl.data.templates.DEFAULT_THRESHOLD


def check_split_policy(policy: str) -> str:
    if policy not in SPLIT_POLICIES:
        raise DataError(f"unknown split policy {policy!r}", hint=f"use one of: {', '.join(SPLIT_POLICIES)}")
    return policy


@dataclass
class PreparedDataset:
    name: str
    labels: tuple[str, ...]
    provenance: dict
    splits: dict[str, list[Example]]
    stats: dict = field(default_factory=dict)

    def split(self, name: str) -> list[Example]:
        if name == ALL:
            seed = self.provenance.get("split_seed", SplitOptions.seed) + 1
            return sorted((ex for items in self.splits.values() for ex in items), key=lambda e: _rank(seed, e))
        if name not in self.splits:
            raise DataError(f"unknown split {name!r}", hint=f"use one of: {', '.join((*self.splits, ALL))}")
        return self.splits[name]

    def split_hash(self, name: str) -> str:
        return content_hash(self.split(name))


def normalise_text(raw: str) -> str:
    return " ".join(html.unescape(raw).split())


def text_key(text: str) -> str:
    """Duplicate key: case-folded, whitespace-collapsed, entity-unescaped text."""
    return normalise_text(text).casefold()


def example_id(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def content_hash(examples: list[Example]) -> str:
    h = hashlib.sha256()
    for ex in examples:
        h.update(f"{ex.id}\t{ex.label}\t{ex.text}\n".encode())
    return h.hexdigest()


def resolve_source(
    dataset: str,
    settings: Settings,
    *,
    text_column: str | None = None,
    label_column: str | None = None,
    fmt: str | None = None,
    encoding: str = "utf-8",
) -> tuple[TableSource, tuple[str, ...] | None, dict]:
    """Turn a registry name, a file path or `hf:owner/name` into a TableSource."""
    if dataset in REGISTRY:
        spec = REGISTRY[dataset]
        path, origin = fetch(spec, settings)
        src = TableSource(
            path=path,
            format=spec.format,
            text_column=spec.text_column,
            label_column=spec.label_column,
            header=spec.header,
        )
        prov = {
            "name": spec.name,
            "source": spec.url,
            "fetched_from": origin,
            "sha256": spec.sha256,
            "licence": spec.licence,
            "citation": spec.citation,
            "notes": spec.notes,
        }
        return src, spec.labels, prov
    if dataset.startswith("hf:"):
        hub_id = dataset[3:]
        src = TableSource(hub_id=hub_id, text_column=text_column or "sms", label_column=label_column or "label")
        return src, None, {"name": dataset, "source": f"huggingface hub {hub_id}"}
    path = Path(dataset).expanduser()
    if not path.exists() and "/" not in dataset and "." not in dataset:
        raise DataError(
            f"unknown dataset {dataset!r}",
            hint=f"use one of {', '.join(REGISTRY)}, a file path, or hf:<hub id>",
        )
    src = TableSource(
        path=path,
        format=fmt,
        text_column=text_column or "text",
        label_column=label_column or "label",
        encoding=encoding,
    )
    prov = {"name": path.name, "source": str(path.resolve())}
    if path.is_file():
        check_size(path, settings.max_file_bytes)  # before hashing: an oversized file is never read
        prov["sha256"] = sha256_file(path)
    return src, None, prov


def clean_rows(rows: list[dict], labels: tuple[str, ...] | None, max_chars: int) -> tuple[list[Example], dict]:
    """Validate labels, normalise texts; skip empty texts and truncate very long ones (counted)."""
    stats: Counter[str] = Counter()
    out: list[Example] = []
    for r in rows:
        label = r["label"]
        label = "" if label is None else str(label).strip().lower()
        if not label:
            raise DataError(f"row {r['row']}: empty label", hint="fix the row or drop it from the file")
        if labels is not None and label not in labels:
            raise DataError(
                f"row {r['row']}: unknown label {r['label']!r}", hint=f"expected one of: {', '.join(labels)}"
            )
        raw = "" if r["text"] is None else str(r["text"])
        text = normalise_text(raw)
        if not text:
            stats["skipped_empty"] += 1
            continue
        if len(text) > max_chars:
            stats["truncated_long"] += 1
            text = text[:max_chars]
        out.append(Example(id=example_id(text_key(raw)), text=text, label=label, raw_text=raw))
    stats["rows"] = len(rows)
    return out, dict(stats)


def deduplicate(examples: list[Example], policy: str) -> tuple[list[Example], dict]:
    """One example per normalised text. Conflicting labels: drop the text, or keep the majority."""
    if policy not in ("drop", "majority"):
        raise DataError(f"unknown conflict policy {policy!r}", hint="use drop or majority")
    groups: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        groups[ex.id].append(ex)
    kept, dup, conflicts = [], 0, 0
    for members in groups.values():
        dup += len(members) - 1
        counts = Counter(m.label for m in members)
        if len(counts) > 1:
            conflicts += 1
            top = counts.most_common()
            if policy == "drop" or top[0][1] == top[1][1]:
                continue
            kept.append(next(m for m in members if m.label == top[0][0]))
        else:
            kept.append(members[0])
    return kept, {"duplicates_removed": dup, "conflicting_texts_dropped": conflicts if policy == "drop" else 0,
                  "conflicting_texts": conflicts}


def _rank(seed: int, ex: Example) -> str:
    return hashlib.sha256(f"{seed}:{ex.id}".encode()).hexdigest()


def _check_fractions(fractions) -> None:
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise DataError(f"split fractions {fractions} must be three non-negative numbers summing to 1")


def stratified_split(examples: list[Example], fractions, seed: int) -> dict[str, list[Example]]:
    """Per label, order examples by a seeded hash of their id and cut by the fractions.

    De-duplicated ids make duplicates land in one split; hashing (rather than shuffling) keeps an
    example's position stable when unrelated rows are added or removed.
    """
    _check_fractions(fractions)
    by_label: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        by_label[ex.label].append(ex)
    splits: dict[str, list[Example]] = {s: [] for s in SPLITS}
    for label in sorted(by_label):
        members = sorted(by_label[label], key=lambda e: _rank(seed, e))
        n = len(members)
        n_train = round(n * fractions[0])
        n_dev = round(n * fractions[1])
        splits["train"] += members[:n_train]
        splits["dev"] += members[n_train : n_train + n_dev]
        splits["test"] += members[n_train + n_dev :]
    # Interleave labels in a seeded order so that a prefix of a split is a fair sample.
    for name in SPLITS:
        splits[name].sort(key=lambda e: _rank(seed + 1, e))
    return splits


def template_split(examples: list[Example], fractions, seed: int, threshold: float,
                   cache_dir: Path | None = None) -> tuple[dict, dict]:
    """Like `stratified_split`, but whole template groups (smishctl.data.templates) go to one split.

    A group is ordered by a seeded hash of its smallest member id (stable while the group's members
    are), stratified under its majority label (a tie goes to the label rarest in the dataset, so the
    small classes keep their share), and placed in the split where the middle of the group falls on
    the per-label cumulative count. Returns the splits and grouping statistics.
    """

    _check_fractions(fractions)
    group_of = template_groups([ex.text for ex in examples], threshold, cache_dir)
    groups: dict[int, list[Example]] = defaultdict(list)
    for ex, g in zip(examples, group_of, strict=True):
        groups[int(g)].append(ex)
    totals = Counter(ex.label for ex in examples)
    by_label: dict[str, list[tuple[str, list[Example]]]] = defaultdict(list)
    mixed = 0
    for members in groups.values():
        counts = Counter(m.label for m in members)
        mixed += len(counts) > 1
        label = min(counts, key=lambda lab: (-counts[lab], totals[lab], lab))
        key = hashlib.sha256(f"{seed}:{min(m.id for m in members)}".encode()).hexdigest()
        by_label[label].append((key, members))
    splits: dict[str, list[Example]] = {s: [] for s in SPLITS}
    for label in sorted(by_label):
        ordered = sorted(by_label[label], key=lambda kg: kg[0])
        n = sum(len(m) for _, m in ordered)
        cuts = (n * fractions[0], n * (fractions[0] + fractions[1]))
        done = 0
        for _, members in ordered:
            middle = done + len(members) / 2
            name = "train" if middle < cuts[0] else "dev" if middle < cuts[1] else "test"
            splits[name] += members
            done += len(members)
    for name in SPLITS:
        splits[name].sort(key=lambda e: _rank(seed + 1, e))
    sizes = [len(m) for m in groups.values()]
    stats = {"template_groups": len(groups), "template_groups_multi": sum(s > 1 for s in sizes),
             "template_grouped_examples": sum(s for s in sizes if s > 1),
             "largest_template_group": max(sizes, default=0), "mixed_label_template_groups": mixed}
    return splits, stats


def sample(examples: list[Example], n: int | None, *, balanced: bool = False, seed: int = 0) -> list[Example]:
    """The first n (a fair sample, since splits are interleaved) or n balanced across labels."""
    if n is None or n >= len(examples) and not balanced:
        return list(examples)
    if n <= 0:
        raise DataError(f"--limit must be positive, got {n}")
    if not balanced:
        return list(examples[:n])
    by_label: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        by_label[ex.label].append(ex)
    labels = sorted(by_label)
    out: list[Example] = []
    i = 0
    while len(out) < min(n, len(examples)):
        label = labels[i % len(labels)]
        pos = i // len(labels)
        if pos < len(by_label[label]):
            out.append(by_label[label][pos])
        i += 1
        if i > len(examples) * len(labels) + n:
            break
    rng = random.Random(seed)
    rng.shuffle(out)
    return out


def load_dataset_splits(
    dataset: str | None,
    settings: Settings,
    *,
    options: SplitOptions | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    labels: tuple[str, ...] | None = None,
    fmt: str | None = None,
    encoding: str = "utf-8",
    evaluation_only: bool = False,
    label_map: dict[str, str] | None = None,
) -> PreparedDataset:
    """`evaluation_only` (or a file the project declares so: smishctl.data.evaluation_only) puts
    every item in the test split: such a file is scored whole and never trained on."""

    options = options or SplitOptions()
    policy = check_split_policy(options.policy or settings.split_policy)
    dataset = dataset or DEFAULT_DATASET
    evaluation_only = evaluation_only or is_evaluation_only(dataset, settings)
    if evaluation_only:
        from dataclasses import replace

        options = replace(options, fractions=(0.0, 0.0, 1.0))
    source, known_labels, provenance = resolve_source(
        dataset, settings, text_column=text_column, label_column=label_column, fmt=fmt, encoding=encoding
    )
    allowed = tuple(labels) if labels else known_labels
    rows = read_rows(source, cache_dir=settings.cache_dir, max_bytes=settings.max_file_bytes)
    if not rows:
        raise DataError(f"dataset {dataset!r} has no rows")
    if label_map:  # the file's label names read as the task's (smishctl.data.label_map), kept in provenance
        rows = apply_label_map(rows, label_map, dataset)
        provenance = {**provenance, "label_map": dict(label_map)}
    examples, stats = clean_rows(rows, allowed, options.max_chars)
    examples, dstats = deduplicate(examples, options.conflicts)
    stats.update(dstats)
    found = tuple(sorted({e.label for e in examples}))
    final_labels = allowed or (task_labels(found) if evaluation_only else found)
    if len(found) < 2 and not evaluation_only:  # a must-pass set of smishing only is fine
        raise DataError(f"dataset {dataset!r} has fewer than two labels after cleaning: {found}")
    split_info: dict = {"split_policy": policy}
    if policy == "exact":
        splits = stratified_split(examples, options.fractions, options.seed)
    else:
        threshold = DEFAULT_THRESHOLD if options.template_threshold is None else options.template_threshold
        if not 0 < threshold <= 1:
            raise DataError(f"template threshold {threshold} must be in (0, 1]")
        split_info["template_threshold"] = threshold
        splits, group_stats = template_split(examples, options.fractions, options.seed, threshold,
                                             settings.cache_dir / "template-groups")
        stats.update(group_stats)
    stats["examples"] = len(examples)
    provenance = {**provenance, "split_seed": options.seed, "fractions": list(options.fractions),
                  "conflict_policy": options.conflicts, "max_chars": options.max_chars, **split_info}
    if evaluation_only:
        provenance["evaluation_only"] = True
    name = provenance["name"] if dataset not in REGISTRY else dataset
    # Label corrections are applied after the split, so corrected items keep their split and no
    # other item moves (smishctl.data.corrections).

    splits = apply_corrections(settings, name, splits, stats, provenance, tuple(final_labels))
    return PreparedDataset(
        name=name,
        labels=tuple(final_labels),
        provenance=provenance,
        splits=splits,
        stats=stats,
    )

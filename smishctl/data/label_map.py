"""`--label-map phishing=smishing,legit=ham`: a file's own label names read as the task's, before the
labels are checked, so a file labelled in other words is scored (and compared) on the task's labels.
The map is kept in the dataset's provenance, so a run records how its gold labels were read."""

from __future__ import annotations

from smishctl.core.errors import ConfigError, DataError


def parse_label_map(text: str) -> dict[str, str]:
    """'phishing=smishing,legit=ham' -> {'phishing': 'smishing', 'legit': 'ham'} (names lower-cased)."""
    out: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        src, sep, dst = (x.strip().lower() for x in part.partition("="))
        if not sep or not src or not dst:
            raise ConfigError(f"--label-map: {part!r} is not FROM=TO", hint="e.g. --label-map phishing=smishing,legit=ham")
        if src in out:
            raise ConfigError(f"--label-map names {src!r} twice", hint="map each label of the file once")
        out[src] = dst
    if not out:
        raise ConfigError("--label-map is empty", hint="e.g. --label-map phishing=smishing,legit=ham")
    return out


def apply_label_map(rows: list[dict], label_map: dict[str, str], dataset: str) -> list[dict]:
    """The rows with each mapped label renamed; a label the map names but no row has is refused (a typo
    would otherwise map nothing and say nothing)."""
    seen = {("" if r["label"] is None else str(r["label"]).strip().lower()) for r in rows}
    unused = sorted(set(label_map) - seen)
    if unused:
        raise DataError(f"--label-map: no row of {dataset} is labelled {unused[0]!r}",
                        hint=f"its labels are: {', '.join(sorted(seen - {''})[:10])}")
    out = []
    for r in rows:
        key = "" if r["label"] is None else str(r["label"]).strip().lower()
        out.append({**r, "label": label_map.get(key, r["label"])})
    return out

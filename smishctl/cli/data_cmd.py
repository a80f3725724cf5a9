"""`smishctl data`: a dataset's provenance and per-split, per-label counts."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

import typer

from smishctl.cli.common import (
    DebugOpt,
    JsonOpt,
    SplitPolicyOpt,
    handled,
    out,
    print_json,
    settings,
    split_policy_options,
)


def register(app: typer.Typer) -> None:
    app.command("data")(data)


def data(
    dataset: Annotated[str | None, typer.Argument(help="Registry name, file path or hf:<hub id>. Default: sms-phishing.")] = None,
    text_column: Annotated[str | None, typer.Option(help="Text column of a custom file.")] = None,
    label_column: Annotated[str | None, typer.Option(help="Label column of a custom file.")] = None,
    split_policy: str | None = SplitPolicyOpt,
    as_json: bool = JsonOpt,
    debug: bool = DebugOpt,
):
    """Show where a dataset comes from, its cleaning statistics and its train/dev/test splits."""
    with handled(debug):
        from smishctl.data import load_dataset_splits
        from smishctl.data.prepare import SplitOptions

        kw: dict[str, Any] = {k: v for k, v in (("text_column", text_column), ("label_column", label_column)) if v}
        options = SplitOptions(**split_policy_options(split_policy).get("split", {}))
        ds = load_dataset_splits(dataset, settings(), options=options, **kw)
        summary: dict[str, Any] = {
            "name": ds.name, "labels": list(ds.labels), "provenance": ds.provenance, "stats": ds.stats,
            "splits": {
                name: {"n": len(items), "hash": ds.split_hash(name), "labels": dict(Counter(e.label for e in items))}
                for name, items in ds.splits.items()
            },
        }
        if as_json:
            print_json(summary)
            return
        from rich.table import Table

        out.print(f"[bold]{ds.name}[/bold] — {ds.provenance.get('source')}")
        for key in ("fetched_from", "licence", "citation", "notes"):
            if ds.provenance.get(key):
                out.print(f"  {key}: {ds.provenance[key]}")
        out.print("  cleaning: " + ", ".join(f"{k} {v}" for k, v in ds.stats.items()
                                             if "template" not in k and not k.startswith(("corr", "labels_"))))
        out.print("  " + split_policy_line(ds))
        corr = ds.provenance.get("corrections")
        if corr:
            out.print(f"  label corrections: {ds.stats.get('labels_corrected', 0)} labels changed by {corr['applied']} "
                      f"corrections, {corr['stale']} stale ({corr['file']}, sha256 {corr['sha256'][:12]})")
        t = Table(header_style="bold")
        t.add_column("split")
        for lab in ds.labels:
            t.add_column(lab, justify="right")
        t.add_column("total", justify="right")
        t.add_column("content hash")
        for name, s in summary["splits"].items():
            t.add_row(name, *[str(s["labels"].get(lab, 0)) for lab in ds.labels], str(s["n"]), s["hash"][:12])
        out.print(t)


def split_policy_line(ds) -> str:
    prov, stats = ds.provenance, ds.stats
    if prov.get("split_policy") != "template":
        return f"split policy: {prov.get('split_policy')} (identical texts kept in one split)"
    return (f"split policy: template (masked TF-IDF cosine >= {prov['template_threshold']}): "
            f"{stats['template_groups']} groups, {stats['template_groups_multi']} with several messages "
            f"({stats['template_grouped_examples']} messages), largest {stats['largest_template_group']}, "
            f"{stats['mixed_label_template_groups']} of mixed labels")

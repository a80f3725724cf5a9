"""`smishctl feedback add/import/pull`: user reports from production into datasets/feedback/<dataset>.jsonl."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from smishctl.cli.common import DebugOpt, JsonOpt, console, handled, print_json, settings, warn

app = typer.Typer(help="Feedback from production: reported messages and their right labels, for review, "
                       "evaluation and the next optimization (optimize --with-feedback).", no_args_is_help=True)

DatasetOpt = typer.Option("--dataset", "-d", help="The dataset the reports belong to (default: sms-phishing).")
MaskOpt = typer.Option("--mask", help="Replace phone numbers, e-mail addresses, URL paths and long digit runs first.")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="feedback")


def _store(dataset: str | None, reports: list[dict], *, source: str, mask: bool, as_json: bool, extra=None) -> None:
    from smishctl.data.feedback import add_reports
    from smishctl.data.prepare import load_dataset_splits

    s = settings()
    ds = load_dataset_splits(dataset, s)
    res = {**add_reports(s, ds, reports, source=source, mask=mask), **(extra or {})}
    if res["held_out_copies"]:  # stderr: --json keeps stdout for the result
        warn(f"{res['held_out_copies']} new report(s) near-copy dev/test messages of {ds.name}: kept for "
             "evaluation, never trained on (optimize/evaluate --with-feedback leave them out)")
    if as_json:
        print_json(res)
    else:
        console.print(f"{res['added']} new report(s), {res['duplicates']} already known; {res['total']} in "
                      f"{res['file']}", soft_wrap=True)


@app.command("add")
def add(
    text: Annotated[str, typer.Argument(help="The reported SMS.", show_default=False)],
    label: Annotated[str, typer.Option("--label", "-l", help="Its right label, e.g. smishing.", show_default=False)],
    note: Annotated[str, typer.Option("--note", help="Why, where it came from.")] = "",
    dataset: Annotated[str | None, DatasetOpt] = None,
    mask: Annotated[bool, MaskOpt] = False,
    as_json: bool = JsonOpt,
    debug: bool = DebugOpt,
):
    """Add one reported message."""
    with handled(debug):
        from smishctl.core.errors import ConfigError

        if not text.strip():
            raise ConfigError("empty message", hint="pass the reported SMS text")
        _store(dataset, [{"text": text, "label": label.strip().lower(), "note": note}], source="cli",
               mask=mask, as_json=as_json)


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="CSV (text,label[,note]) or JSON Lines of user reports.", show_default=False)],
    dataset: Annotated[str | None, DatasetOpt] = None,
    mask: Annotated[bool, MaskOpt] = False,
    as_json: bool = JsonOpt,
    debug: bool = DebugOpt,
):
    """Import user reports from a file; every row is checked before anything is written."""
    with handled(debug):
        from smishctl.core.errors import ConfigError
        from smishctl.data.feedback import parse_reports

        if not file.is_file():
            raise ConfigError(f"no such file: {file}")
        reports = parse_reports(file.read_bytes(), str(file))
        _store(dataset, reports, source=f"import:{file.name}", mask=mask, as_json=as_json)


@app.command("pull")
def pull(
    score: Annotated[str, typer.Option("--score", help="Name of the categorical Langfuse score holding the right label.")] = "user_label",
    dataset: Annotated[str | None, DatasetOpt] = None,
    mask: Annotated[bool, MaskOpt] = False,
    as_json: bool = JsonOpt,
    debug: bool = DebugOpt,
):
    """Pull labelled production traces from Langfuse (categorical scores on traces)."""
    with handled(debug):
        from smishctl.tracking.feedback import pull_reports

        reports, skipped = pull_reports(settings(), score_name=score)
        if not reports:
            console.print(f"no feedback found in Langfuse (score {score!r}; skipped: {skipped})")
            if as_json:
                print_json({"added": 0, "duplicates": 0, "skipped": skipped})
            return
        _store(dataset, reports, source="langfuse", mask=mask, as_json=as_json, extra={"skipped": skipped})

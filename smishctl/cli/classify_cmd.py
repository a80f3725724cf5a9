"""`smishctl classify`: label one message, stdin lines or a file's lines with the production prompt
(zero-shot, with a note, while nothing is in production)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from smishctl.cli.common import DebugOpt, console, handled, plain, settings


def register(app: typer.Typer) -> None:
    app.command("classify")(classify)


def classify(
    text: Annotated[str | None, typer.Argument(help="The SMS to classify; '-' or nothing reads one message per line from stdin.", show_default=False)] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="Classify every line of this UTF-8 file.")] = None,
    prompt: Annotated[str | None, typer.Option("--prompt", "-p", help="production, zero-shot, an artifact id or a path. Default: production, or zero-shot while nothing is in production. Classic models take no prompt.", show_default=False)] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Override the model the prompt was built for.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per message (JSON Lines).")] = False,
    explain: Annotated[bool, typer.Option("--explain", help="Also show why: the message's signals (links, brands, lookalikes, money, deadlines, requests for codes) with their spans, the label probabilities and, for a kNN program, the nearest training messages.")] = False,
    debug: bool = DebugOpt,
):
    """Classify SMS messages: the label and, where the model gives them, the label probabilities.

    Exit codes: 0 done, 2 bad input or --prompt production with nothing in production, 3 a model call failed."""
    with handled(debug):
        import json

        from smishctl.core.errors import ConfigError
        from smishctl.ops.classify import decode_input, load_classifier

        if text is not None and file is not None:
            raise ConfigError("give a message or --file, not both")
        if file is not None:
            if not file.is_file():
                raise ConfigError(f"no such file: {file}")
            messages = decode_input(file.read_bytes(), str(file))
        elif text is None or text == "-":
            if sys.stdin.isatty():
                raise ConfigError("no message given", hint="smishctl classify 'TEXT', or pipe one message per line")
            messages = decode_input(sys.stdin.buffer.read(), "stdin")
        else:
            if not text.strip():
                raise ConfigError("empty message", hint="pass the SMS text to classify")
            messages = [text]
        clf = load_classifier(settings(), prompt, model)
        if clf.note:
            console.print(f"note: {plain(clf.note)}", soft_wrap=True)  # stderr: stdout stays the labels alone
        failed = 0
        for msg in messages:
            res = clf(msg)
            if explain:
                res["neighbours"] = clf.neighbours(msg)
            failed += res["status"] == "error"
            if as_json:
                sys.stdout.write(json.dumps({**res, "prompt": clf.prompt, "model": clf.model},
                                            ensure_ascii=False) + "\n")
                sys.stdout.flush()
            elif explain:
                _explain(res)
            else:
                sys.stdout.write(_line(res, len(messages) > 1) + "\n")  # plain: for pipelines (cut -f1)
                sys.stdout.flush()
        if failed:
            console.print(f"[red]error:[/red] {failed} of {len(messages)} messages could not be classified "
                          "(model call failed)")
            raise typer.Exit(3)


def _explain(res: dict) -> None:
    """The label, the message with its signals highlighted, one line per signal, the nearest messages."""
    from smishctl.cli import signals_view
    from smishctl.cli.common import out

    out.print(_line(res, False), highlight=False, markup=False)
    out.print(signals_view.highlighted(res["text"], res["signals"]))
    for note in signals_view.notes(res["signals"]):
        out.print(note)
    if res["signals"]["items"]:
        out.print(signals_view.table(res["text"], res["signals"]))
    else:
        out.print("no signals")
    if res.get("neighbours"):
        out.print("nearest training messages (what the kNN program showed the model):")
        for i, n in enumerate(res["neighbours"], 1):
            out.print(f"  {i}. {n['label']:<9} {plain(n['text'][:120])}", highlight=False)
    out.print()


def _line(res: dict, with_text: bool) -> str:
    label = res["label"] if res["status"] == "ok" else f"<{res['status']}>"
    probs = res.get("probs") or {}
    shown = "  " + " ".join(f"{k}={v:.2f}" for k, v in sorted(probs.items(), key=lambda kv: -kv[1])) if probs else ""
    tail = f"\t{res['text']}" if with_text else ""
    return f"{label}{shown}{tail}"

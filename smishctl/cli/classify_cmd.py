"""`smishctl classify`: label messages given as arguments, stdin lines or a file's lines with the
production prompt (zero-shot, with a note, while nothing is in production)."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated

import typer

from smishctl.cli.common import DebugOpt, console, handled, plain, settings, spinner


def register(app: typer.Typer) -> None:
    app.command("classify")(classify)


def classify(
    texts: Annotated[list[str] | None, typer.Argument(metavar="MESSAGE", help="The SMS messages to classify, one result each; '-' or nothing reads one message per line from stdin.", show_default=False)] = None,
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
        from smishctl.ops.classify import load_classifier

        messages = _messages(texts, file)
        with spinner("loading the classifier"):
            clf = load_classifier(settings(), prompt, model)
        if clf.note:
            # stderr: stdout stays the labels alone; one line for scripts, wrapped between words on a terminal
            console.print(f"note: {plain(clf.note)}", soft_wrap=not console.is_terminal)
        source = Answerer.of(clf)
        if console.is_terminal:  # once, on the terminal; scripts read it from --json
            console.print(plain(source.line()))
        failed = _classify_all(clf, messages, source, as_json=as_json, explain=explain)
        if failed:
            console.print(f"[red]error:[/red] {failed} of {len(messages)} messages could not be classified "
                          "(model call failed)")
            raise typer.Exit(3)


def _messages(texts: list[str] | None, file: Path | None) -> list[str]:
    """The messages to classify: the arguments, a file's lines or stdin's lines ('-' or nothing)."""
    from smishctl.core.errors import ConfigError
    from smishctl.ops.classify import decode_input

    if texts and file is not None:
        raise ConfigError("give messages or --file, not both")
    if file is not None:
        if not file.is_file():
            raise ConfigError(f"no such file: {file}")
        return decode_input(file.read_bytes(), str(file))
    if not texts or texts == ["-"]:
        if sys.stdin.isatty():
            raise ConfigError("no message given", hint="smishctl classify 'TEXT', or pipe one message per line")
        return decode_input(sys.stdin.buffer.read(), "stdin")
    if "-" in texts:
        raise ConfigError("'-' (stdin) cannot be mixed with messages", hint="pass messages or pipe them, not both")
    if any(not t.strip() for t in texts):
        raise ConfigError("empty message", hint="pass the SMS text to classify")
    return list(texts)


@dataclass(frozen=True)
class Answerer:
    """What answered, for people and scripts: the prompt, its short reference, the release, the model."""

    prompt: str
    prompt_ref: str
    release: str | None
    model: str

    @classmethod
    def of(cls, clf) -> Answerer:
        from smishctl.cli.render import short_prompt_refs
        from smishctl.store.artifacts import list_artifacts

        ids = [a.id for a in list_artifacts(settings().prompts_dir)]
        return cls(clf.prompt, short_prompt_refs([clf.prompt, *ids])[clf.prompt], clf.release, clf.model)

    def line(self) -> str:
        what = f"production release {self.release} ({self.prompt_ref})" if self.release else f"prompt {self.prompt_ref}"
        return f"answered by {what} on {self.model}"


def _classify_all(clf, messages: list[str], source: Answerer, *, as_json: bool, explain: bool) -> int:
    """Classify and print each message as it is answered; returns how many failed. Several messages show
    one progress line (count, elapsed, ETA), one a spinner."""
    import contextlib
    import json

    from smishctl.cli.common import item_progress, out

    width = out.width if sys.stdout.isatty() else None  # a terminal: each line cut to it, never wrapped
    several = len(messages) > 1
    progress = item_progress()
    failed = 0
    with progress if several else contextlib.nullcontext():  # one live display at a time: bar or spinner
        task = progress.add_task("classifying", total=len(messages), info="") if several else None
        for msg in messages:
            with contextlib.nullcontext() if several else spinner("classifying"):
                res = clf(msg)
            if explain:
                res["neighbours"] = clf.neighbours(msg)
            failed += res["status"] == "error"
            if as_json:
                sys.stdout.write(json.dumps({**res, **asdict(source)}, ensure_ascii=False) + "\n")
            elif explain:
                _explain(res)
            else:
                sys.stdout.write(_line(res, several, width) + "\n")  # plain: for pipelines (cut -f1)
            sys.stdout.flush()
            if several:
                progress.update(task, advance=1)
    return failed


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


def _line(res: dict, with_text: bool, width: int | None = None) -> str:
    """label, probabilities, then the text after a tab (for `cut -f1`); on a terminal (`width`) the text
    on one line, its control characters inert, cut with '…' so that the line never wraps."""
    label = res["label"] if res["status"] == "ok" else f"<{res['status']}>"
    probs = res.get("probs") or {}
    shown = "  " + " ".join(f"{k}={v:.2f}" for k, v in sorted(probs.items(), key=lambda kv: -kv[1])) if probs else ""
    if not with_text:
        return f"{label}{shown}"
    if width is None:
        return f"{label}{shown}\t{res['text']}"
    from rich.text import Text

    from smishctl.util.inert import inert_text

    line = Text(inert_text(f"{label}{shown}  {' '.join(res['text'].split())}"))
    line.truncate(width, overflow="ellipsis")
    return line.plain

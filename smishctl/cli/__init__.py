"""The command line: Typer commands that parse options, call the library and render the result.

Heavy libraries (dspy, litellm, datasets, the model) are imported inside the commands only, so
that `smishctl --help` stays fast.
"""

from __future__ import annotations

from importlib import import_module

import typer

import smishctl.cli.init_cmd as init_cmd
from smishctl.cli import compare_cmd, data_cmd, evaluate_cmd, optimize_cmd, promote_cmd, prompts_cmd, push_cmd, runs_cmd

app = typer.Typer(
    name="smishctl",
    help="Optimize, evaluate, compare and promote LLM prompts for SMS phishing (smishing) detection.\n\n"
    "Typical loop: smishctl optimize -> smishctl evaluate --prompt ID -> smishctl compare -> smishctl promote.",
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)

optimize_cmd.register(app)
evaluate_cmd.register(app)
compare_cmd.register(app)
promote_cmd.register(app)
data_cmd.register(app)
prompts_cmd.register(app)
runs_cmd.register(app)
push_cmd.register(app)
init_cmd.register(app)
import_module("smishctl.cli.classify_cmd").register(app)
import_module("smishctl.cli.review_cmd").register(app)
import_module("smishctl.cli.feedback_cmd").register(app)
import_module("smishctl.cli.finetune_cmd").register(app)
import_module("smishctl.cli.models_cmd").register(app)
import_module("smishctl.cli.view_cmd").register(app)


def main() -> None:
    app()

"""Shell completion (Typer's own mechanism: `smishctl --install-completion`) of run and prompt references."""

from __future__ import annotations

from smishctl.cli.common import settings


def complete_run(incomplete: str) -> list[str]:
    """Shell completion of run references: the short refs `runs list` shows, and latest."""
    try:
        from smishctl.store.runs import list_runs, short_refs

        refs = list(short_refs([r.id for r in list_runs(settings().runs_dir)]).values())
    except Exception:  # completion must never print a traceback into the shell
        return []
    return [r for r in ["latest", "latest~1", *reversed(refs)] if r.startswith(incomplete)]


def complete_prompt(incomplete: str) -> list[str]:
    """Shell completion of prompt references: zero-shot, production and the short refs `prompts list` shows."""
    try:
        from smishctl.cli.render import short_prompt_refs
        from smishctl.store.artifacts import list_artifacts

        refs = list(short_prompt_refs([a.id for a in list_artifacts(settings().prompts_dir)]).values())
    except Exception:
        return []
    return [r for r in ["zero-shot", "production", *reversed(refs)] if r.startswith(incomplete)]

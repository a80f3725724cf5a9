"""`build_solver`: the one place a DSPy solver is put together (program, adapter, LM, input hardening).

`evaluate`, `optimize`, `classify` and `load_production()` all call it, so production runs what was evaluated.
"""

from __future__ import annotations

from smishctl.models.registry import ModelSpec
from smishctl.solve.dspy_solver import DSPySolver
from smishctl.solve.harden import HardenedSolver


def build_solver(program, lm, spec: ModelSpec, labels: tuple[str, ...], adapter_config, *, harden: bool = True,
                 guard: bool = True):
    """The solver every path uses: the program decided by its adapter, on hardened input.

    The json adapter fences the SMS between markers (its prompt has field markers an SMS could forge);
    the chat adapters put the SMS alone in a user turn, unfenced like their demos, and programs that
    retrieve demos by similarity see the text unfenced too (the fence would enter the similarity)."""
    solver = DSPySolver(program=program, lm=lm, spec=spec, labels=tuple(labels), adapter=adapter_config.build())
    if not harden:
        return solver
    retrieves = hasattr(program, "neighbours")
    return HardenedSolver(solver, fence=adapter_config.name == "json" and not retrieves, guard=guard)

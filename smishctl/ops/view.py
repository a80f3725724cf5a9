"""`smishctl view`'s pages, with what the report layer cannot read itself: the project's gates, taken
from smishctl.toml by compare's and promote's own readers, so that the viewer and the commands cannot
disagree about which gates there are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smishctl.core.config import Settings
from smishctl.core.errors import ConfigError
from smishctl.ops.compare import CompareRequest, compare, error_budget
from smishctl.ops.promotion_policy import read_policy
from smishctl.report.site import SiteSummary, build_site
from smishctl.report.site_gates import ProjectGate, ProjectGates, verdict
from smishctl.score.gates import bound, check_gate


def project_gates(settings: Settings) -> ProjectGates:
    """Compare's error budget ([compare] max_error_rate, always enforced by `smishctl compare`), then the
    [promotion] bounds on a run's metrics (min_macro_f1, max_error_rate, require) as promote reads them."""
    out = ProjectGates([ProjectGate("[compare] max_error_rate",
                                    bound("max_error_rate", "error_rate", "<=", error_budget(settings)))])
    try:
        policy = read_policy(settings)
    except ConfigError as exc:
        out.problem = f"the [promotion] policy cannot be read: {exc.one_line()}"
        return out
    for gate in policy.test:
        out.gates.append(ProjectGate(f"[promotion] {gate.name or 'require'}", gate))
    return out


def shared_gates(settings: Settings, runs: list[str]) -> dict[str, Any]:
    """The project's gates on the chosen runs as `smishctl compare RUN…` measures them: on the items the runs
    share (the compare door, Langfuse left alone), with compare's own verdict. For the served compare page,
    where the static export can only judge each run on its own items."""
    if not 2 <= len(runs) <= 4:
        raise ConfigError(f"choose 2 to 4 runs, not {len(runs)}")
    cmp = compare(settings, CompareRequest(runs=runs, langfuse=False, n_boot=200))
    gates = project_gates(settings)
    return {"n_common_items": cmp.n_common_items, "exit_code": cmp.exit_code, "failures": cmp.failures,
            "warnings": cmp.warnings,
            "runs": [{"id": r.id, "results": [verdict(check_gate(g.gate, r.metrics)) for g in gates.gates]}
                     for r in cmp.runs]}


def build_view(settings: Settings, out_dir: str | Path, *, served: bool = False) -> SiteSummary:
    """Every page of the viewer in `out_dir` (see smishctl.report.site.build_site)."""
    return build_site(settings, out_dir, gates=project_gates(settings), served=served)

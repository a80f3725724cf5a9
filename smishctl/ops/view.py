"""`smishctl view`'s pages, with what the report layer cannot read itself: the project's gates, taken
from smishctl.toml by compare's and promote's own readers, so that the viewer and the commands cannot
disagree about which gates there are."""

from __future__ import annotations

from pathlib import Path

from smishctl.core.config import Settings
from smishctl.core.errors import ConfigError
from smishctl.ops.compare import error_budget
from smishctl.ops.promotion_policy import read_policy
from smishctl.report.site import SiteSummary, build_site
from smishctl.report.site_gates import ProjectGate, ProjectGates
from smishctl.score.gates import bound


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


def build_view(settings: Settings, out_dir: str | Path, *, served: bool = False) -> SiteSummary:
    """Every page of the viewer in `out_dir` (see smishctl.report.site.build_site)."""
    return build_site(settings, out_dir, gates=project_gates(settings), served=served)

"""The project's gates on each run, for the compare page. The gates themselves are read by compare's and
promote's own code (smishctl.ops.view.project_gates); here each run is judged by the one gate evaluator
(score/gates.py: check_gate) on its metrics recomputed from its rows (score/evidence.py), which is what
compare and promote read. The page only shows the verdicts: no gate logic runs in the browser."""

from __future__ import annotations

from dataclasses import dataclass, field

from smishctl.core.errors import SmishError
from smishctl.core.records import RunRecord
from smishctl.score.evidence import verified_metrics
from smishctl.score.gates import Gate, check_gate


@dataclass(frozen=True)
class ProjectGate:
    setting: str  # where it is set: "[compare] max_error_rate", "[promotion] require"
    gate: Gate


@dataclass
class ProjectGates:
    gates: list[ProjectGate] = field(default_factory=list)
    problem: str | None = None  # a policy that cannot be read (the gates that could are still shown)

    def heads(self) -> list[dict]:
        return [{"setting": g.setting, "text": g.gate.text} for g in self.gates]


def run_gates(gates: ProjectGates, record: RunRecord, rows: list[dict], damaged_rows: int) -> dict:
    """{"results": [{passed, message}] in the order of `gates`} or {"problem": why the run cannot be judged}
    (compare refuses it too: damaged rows, or metrics its rows contradict)."""
    if damaged_rows:
        return {"problem": f"{damaged_rows} damaged prediction row(s): compare refuses this run"}
    try:
        metrics = verified_metrics(record.to_dict(), rows)
    except SmishError as exc:
        return {"problem": exc.one_line()}
    return {"results": [verdict(check_gate(g.gate, metrics)) for g in gates.gates]}


def verdict(result: dict) -> dict:
    """What the page shows of check_gate's result."""
    return {"passed": result["passed"], "message": result["message"]}

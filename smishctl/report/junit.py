"""The gates of a comparison as JUnit XML: one test case per gate (and per check) and run."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from smishctl.core.comparison import Comparison, MustPassCase
from smishctl.util.inert import inert_text


def _case_name(case: MustPassCase) -> str:
    text = case.text if len(case.text) <= 70 else case.text[:67] + "..."
    return f"{case.note}: {text}" if case.note else text


def render_junit(cmp: Comparison) -> str:
    cases = []
    for g in cmp.gates:
        cases.append((f"{g.gate} [{g.run}]", "smishctl.score.gates", g.passed, g.message))
    for c in cmp.checks:
        msg = f"{c.check}: value {c.value:.4g}" if c.value is not None else c.check
        cases.append((f"{c.check} [{c.run}]", "smishctl.compare.checks", c.passed, msg))
    suites_cases = [("smishctl compare", cases, "GateFailed")]
    for res in cmp.must_pass:  # one test case per must-pass message
        suites_cases.append((f"must-pass {res.set} [{res.run}]", [
            (_case_name(c), f"smishctl.must_pass.{res.set}", c.passed,
             f"expected {c.expected}, got {c.predicted}: {c.text}") for c in res.cases],
            "MustPassMissed"))
    total = sum(len(c) for _, c, _ in suites_cases)
    failures = sum(1 for _, cs, _ in suites_cases for *_, ok, _ in cs if not ok)
    suites = ET.Element("testsuites", name="smishctl compare", tests=str(total), failures=str(failures))
    for suite_name, suite_cases, fail_type in suites_cases:
        n_failed = sum(1 for *_, ok, _ in suite_cases if not ok)
        suite = ET.SubElement(suites, "testsuite", name=suite_name, tests=str(len(suite_cases)),
                              failures=str(n_failed), errors="0", timestamp=cmp.created_at)
        for name, classname, ok, message in suite_cases:
            case = ET.SubElement(suite, "testcase", name=name, classname=classname)
            if not ok:
                fail = ET.SubElement(case, "failure", message=message, type=fail_type)
                fail.text = message
            else:
                ET.SubElement(case, "system-out").text = message
    ET.indent(suites)
    # Control characters are not allowed in XML 1.0: a message holding one would make the file unreadable.
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + inert_text(ET.tostring(suites, encoding="unicode")) + "\n"

"""The gates of a comparison as JUnit XML: one test case per gate (and per check) and run."""

from __future__ import annotations

import xml.etree.ElementTree as ET


def render_junit(cmp: dict) -> str:
    cases = []
    for g in cmp["gates"]:
        cases.append((f"{g['gate']} [{g['run']}]", "smishctl.compare.gates", g["passed"], g["message"]))
    for c in cmp["checks"]:
        value = c["value"]
        msg = f"{c['check']}: value {value:.4g}" if value is not None else c["check"]
        cases.append((f"{c['check']} [{c['run']}]", "smishctl.compare.checks", c["passed"], msg))
    failures = sum(1 for *_, ok, _ in cases if not ok)
    suites = ET.Element("testsuites", name="smishctl compare", tests=str(len(cases)), failures=str(failures))
    suite = ET.SubElement(suites, "testsuite", name="smishctl compare", tests=str(len(cases)),
                          failures=str(failures), errors="0", timestamp=cmp.get("created_at", ""))
    for name, classname, ok, message in cases:
        case = ET.SubElement(suite, "testcase", name=name, classname=classname)
        if not ok:
            fail = ET.SubElement(case, "failure", message=message, type="GateFailed")
            fail.text = message
        else:
            ET.SubElement(case, "system-out").text = message
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"

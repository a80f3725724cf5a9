"""`smishctl view`: the project as a static site (runs, one run's items, compare, prompts, production),
loaded in a real headless Chromium; and the read-only server on loopback."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from html import unescape
from pathlib import Path

import pytest
from factories import accept_small_promotions, make_artifact, promotion_run, record_run
from test_compare_html import _chromium, _run_chromium

from smishctl.ops.evaluate import EvalConfig
from smishctl.ops.promote import promote
from smishctl.ops.view import build_view
from smishctl.report import site
from smishctl.report.site import build_site
from smishctl.report.site_server import is_loopback

# Each payload would retitle the page if it ran; the control characters would act in a terminal.
PAYLOADS = [
    ("<script>document.title='pwned-script'</script> your parcel is held", "smishing"),
    ("<img src=x onerror=\"document.title='pwned-img'\"> verify your account", "smishing"),
    ("Hi \x1b]0;pwned-esc\x07 mum, \u202eevil\u202c call me \x00 back", "ham"),
    ("</script><script>document.title='pwned-close'</script> lunch at 1?", "ham"),
]


def _payload_file(project: Path) -> str:
    path = project / "payloads.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        w.writerows(PAYLOADS + [("see you at the station at 6", "ham"), ("WIN a prize now, text STOP", "spam")])
    return str(path)


@pytest.fixture()
def project_site(settings, project, tmp_path):
    """Two runs of two prompt versions on the same 30 test items (one with probabilities), the first
    promoted; a run of a file of hostile messages; a run whose run.json is damaged. Exported."""
    accept_small_promotions(settings)
    good = make_artifact(settings, instructions="Label the SMS: ham, spam or smishing.")
    other = make_artifact(settings, instructions="Decide: ham, spam or smishing? \x1b]0;pwned\x07\u202e")
    promotion_run(settings, good, {1, 2}, run_id="run-good", probs=True)
    promotion_run(settings, other, {1, 2, 3, 4, 5, 6}, run_id="run-other")
    promote(settings, good.id, reason="first prompt")
    record_run(settings, EvalConfig(model="classic/tfidf-svm", dataset=_payload_file(project), evaluation_only=True),
               run_id="run-hostile", wrong={0}, status="interrupted", cache_hit=True)
    damaged = settings.runs_dir / "run-damaged"
    damaged.mkdir()
    (damaged / "run.json").write_text('{"id": "run-damaged", "status": "compl', encoding="utf-8")
    out = tmp_path / "site"
    summary = build_view(settings, out)
    return {"out": out, "summary": summary, "good": good, "other": other}


def _dom(tmp_path: Path, page: Path, fragment: str = "") -> str:
    r = _run_chromium(_chromium(), tmp_path, "--virtual-time-budget=3000", "--dump-dom", page.as_uri() + fragment)
    assert r.returncode == 0, r.stderr[-500:]
    assert 'data-ready="1"' in r.stdout, "the page's script did not run to the end"
    return r.stdout


def _rows(dom: str, table: str) -> list[str]:
    body = dom.split(f'id="{table}"')[1].split("<tbody>")[1].split("</tbody>")[0]
    return [unescape(re.sub(r"<[^>]+>", " ", "<tr" + tr)) for tr in body.split("<tr")[1:]]


def _page_of(out: Path, run_id: str) -> Path:
    data = json.loads(unescape(re.search(r'id="data">(.*?)</script>', (out / "index.html").read_text(), re.S).group(1)))
    return out / next(r["page"] for r in data["runs"] if r["id"] == run_id)


def test_export_writes_every_page_offline(project_site):
    out, s = project_site["out"], project_site["summary"]
    assert (s.runs, s.damaged_runs, s.prompts) == (4, 1, 2)
    pages = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.html"))
    assert {"index.html", "compare.html", "prompts.html", "production.html"} <= set(pages)
    assert len([p for p in pages if p.startswith("runs/")]) == 3 and len([p for p in pages if p.startswith("prompts/")]) == 2
    for page in out.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        # nothing is fetched from elsewhere: every src/href is a relative path inside the site
        for ref in re.findall(r'\b(?:src|href)="([^"]*)"', html):
            assert not re.match(r"^[a-z]+:|^//", ref), (page, ref)
            assert (page.parent / ref).resolve().is_file(), (page, ref)
        assert "default-src 'none'" in html and "script-src 'self'" in html


def test_runs_page_lists_runs_marks_damage_and_filters(project_site, tmp_path):
    out = project_site["out"]
    dom = _dom(tmp_path, out / "index.html")
    rows = _rows(dom, "runs")
    assert len(rows) == 4 and 'data-shown="4"' in dom
    (damaged,) = [r for r in rows if "run-damaged" in r or "damaged run.json" in r]
    assert "damaged run.json: runs/run-damaged/run.json is not valid JSON" in damaged
    (hostile,) = [r for r in rows if "classic/tfidf-svm" in r]
    assert " interrupted " in hostile and "cached 6/6" in hostile and "interrupted" in hostile.split("cached")[1]
    assert not any("cached" in r for r in rows if r is not hostile)
    today = re.search(r"\d{4}-\d{2}-\d{2}", hostile).group(0)
    assert 'data-shown="3"' in _dom(tmp_path, out / "index.html", f"#from={today}&to={today}")  # the damaged one has no date
    assert 'data-shown="0"' in _dom(tmp_path, out / "index.html", "#from=2999-01-01")
    dom = _dom(tmp_path, out / "index.html", "#model=classic%2Ftfidf-svm")
    assert 'data-shown="1"' in dom and len(_rows(dom, "runs")) == 1


def test_run_page_shows_items_and_filters_them_from_the_address(project_site, tmp_path):
    page = _page_of(project_site["out"], "run-good")
    dom = _dom(tmp_path, page)
    assert 'data-shown="30"' in dom and len(_rows(dom, "items")) == 30
    assert 'class="chart calibration"' in dom and 'class="chart latency"' in dom
    assert re.search(r'id="headline">0\.\d{3}</strong>\s*<span class="muted">95% bootstrap interval \[0\.\d{3}, ', dom)
    wrong = _dom(tmp_path, page, "#wrong=1")
    rows = _rows(wrong, "items")
    assert 'data-shown="2"' in wrong and len(rows) == 2
    gold = _dom(tmp_path, page, "#gold=spam&sort=prob-asc")
    assert 'data-shown="10"' in gold and all(" spam " in r for r in _rows(gold, "items"))


def test_run_page_pages_items_and_names_damaged_rows(project_site, settings, tmp_path, monkeypatch):
    with open(settings.runs_dir / "run-good" / "predictions.jsonl", "ab") as fh:
        fh.write(b"\xff not a row\n")
    monkeypatch.setattr(site, "PAGE_SIZE", 8)
    out = tmp_path / "paged"
    build_site(settings, out)
    page = _page_of(out, "run-good")
    assert "1 damaged prediction row(s) left out, first: predictions.jsonl:31:" in page.read_text(encoding="utf-8")
    second = _dom(tmp_path, page, "#page=2")
    assert 'data-shown="30"' in second and 'data-page="2"' in second
    assert [r.split()[0] for r in _rows(second, "items")] == [str(k) for k in range(8, 16)]
    last = _dom(tmp_path, page, "#page=9")                       # past the end: the last page
    assert 'data-page="4"' in last and len(_rows(last, "items")) == 6


def test_hostile_text_is_inert(project_site, tmp_path):
    page = _page_of(project_site["out"], "run-hostile")
    raw = page.read_text(encoding="utf-8")
    assert "<script>document" not in raw and "<img" not in raw and "\x1b" not in raw and "\u202e" not in raw
    dom = _dom(tmp_path, page)
    title = re.search(r"<title>(.*?)</title>", dom).group(1)
    assert "pwned" not in title and title.startswith("run ")
    assert "<img" not in dom.split('id="items"')[1]          # shown as text, never as an element
    rows = _rows(dom, "items")
    assert len(rows) == len(PAYLOADS) + 2
    shown = "\n".join(rows)
    assert "<script>document.title='pwned-script'</script>" in shown
    assert "<img src=x onerror=\"document.title='pwned-img'\">" in shown
    assert "\u241b]0;pwned-esc\u2407" in shown and "\ufffdevil" in shown and "\u2400" in shown


def test_compare_of_two_selected_runs(project_site, tmp_path):
    out = project_site["out"]
    dom = _dom(tmp_path, out / "compare.html", "#runs=run-good,run-other")
    summary = _rows(dom, "c-summary")
    assert len(summary) == 2 and "(baseline)" in summary[0]
    (paired,) = _rows(dom, "c-paired")
    # 30 paired items: run-good has 2 wrong, run-other 6 (the same first two among them): -4/30
    # the four it got wrong that run-good got right: b=4, c=0, exact McNemar p = 2/16
    assert re.search(r"-0\.133\s+\[-0\.255, -0\.012\]\s+4\s+0\s+0\.125\s", paired)
    assert 'data-count="4"' in dom and len(_rows(dom, "c-dis")) == 4
    one = _dom(tmp_path, out / "compare.html", "#runs=run-good")
    assert "Choose 2 to 4 runs (1 chosen)" in one


def test_prompts_and_production_pages(project_site, tmp_path):
    out, good = project_site["out"], project_site["good"]
    prompts = _dom(tmp_path, out / "prompts.html")
    assert good.id in prompts and project_site["other"].id in prompts
    prod = _dom(tmp_path, out / "production.html")
    assert "r0001" in prod and good.id in prod and "run-good" in prod and "first prompt" in prod
    assert "There is no earlier release to roll back to" in prod
    version = (out / "prompts" / (good.id.replace("/", "_") + ".html")).read_text(encoding="utf-8")
    assert "Label the SMS: ham, spam or smishing." in version and "{{sms}}" in version
    # what a template prints is inert too: the instructions' control characters are shown, not sent
    hostile = (out / "prompts" / (project_site["other"].id.replace("/", "_") + ".html")).read_text(encoding="utf-8")
    assert "\x1b" not in hostile and "\u202e" not in hostile and "Decide: ham, spam or smishing? \u241b]0;pwned\u2407" in hostile


def test_view_serves_on_loopback_and_unknown_paths_are_404(settings, project, tmp_path):
    promotion_run(settings, make_artifact(settings), {1}, run_id="run-served", n=6)
    snapshots = tmp_path / "tmp"
    snapshots.mkdir()
    env = {**os.environ, "TMPDIR": str(snapshots)}
    proc, line = _serve(project, env, "--port", "0")
    try:
        url = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert url, (line, proc.stderr.read() if proc.poll() is not None else "")
        with urllib.request.urlopen(url.group(0) + "index.html", timeout=10) as resp:
            assert resp.status == 200 and "run-served" in resp.read().decode()
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(url.group(0) + "no/such/page.html", timeout=10)
        assert err.value.code == 404
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert list(snapshots.iterdir()) == []                     # the snapshot folder went with it


def _serve(project: Path, env: dict, *args: str) -> tuple[subprocess.Popen, str]:
    """`smishctl view ARGS` started in its own process; (the process, its first stdout line)."""
    proc = subprocess.Popen([sys.executable, "-m", "smishctl", "view", *args], cwd=project, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, proc.stdout.readline()


def test_export_from_the_cli(cli, project, tmp_path):
    r = cli("view", "--export", str(tmp_path / "pages"))
    assert r.returncode == 0 and (tmp_path / "pages" / "index.html").is_file() and "wrote 5 pages" in r.stdout
    (tmp_path / "file").write_text("x")
    r = cli("view", "--export", str(tmp_path / "file"))
    assert r.returncode == 2 and "is a file, not a folder" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_non_loopback_host_needs_allow_remote_and_warns(cli, project):
    r = cli("view", "--host", "0.0.0.0", "--port", "0", timeout=60)  # a server that started would time out
    assert r.returncode == 2 and "--allow-remote" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    proc, line = _serve(project, dict(os.environ), "--host", "0.0.0.0", "--allow-remote", "--port", "0")
    try:
        assert re.search(r"http://0\.0\.0\.0:\d+/", line), line
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "warning: serving on 0.0.0.0: anyone who can reach this machine" in err


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("127.3.2.1", True), ("localhost", True),
                                                ("::1", True), ("[::1]", True), ("0.0.0.0", False),
                                                ("192.168.1.20", False), ("::", False), ("example.org", False)])
def test_loopback_hosts(host, loopback):
    assert is_loopback(host) is loopback


def test_compare_page_keeps_hostile_text_inert_and_skips_a_damaged_run(project_site, settings, project, tmp_path):
    cfg = EvalConfig(model="classic/tfidf-svm", dataset=_payload_file(project), evaluation_only=True)
    record_run(settings, cfg, run_id="run-hostile-b", answer=lambda k, ex: None)  # every item failed
    out = tmp_path / "hostile"
    build_view(settings, out)
    dom = _dom(tmp_path, out / "compare.html", "#runs=run-hostile,run-hostile-b")
    assert "pwned" not in re.search(r"<title>(.*?)</title>", dom).group(1)
    table = dom.split('id="c-dis"')[1].split("</table>")[0]
    assert "<img" not in table and "<script>" not in table and "\x1b" not in dom and "\u202e" not in dom
    shown = "\n".join(_rows(dom, "c-dis"))
    assert "<script>document.title='pwned-script'</script>" in shown and "<img src=x onerror=" in shown
    assert "\u241b]0;pwned-esc\u2407" in shown and "</script><script>document.title='pwned-close'" in shown
    # the damaged run is no choice, and naming it in the address chooses nothing
    choices = re.findall(r'value="([^"]+)"', dom.split('id="c-runs"')[1].split("</ul>")[0])
    assert sorted(choices) == ["run-good", "run-hostile", "run-hostile-b", "run-other"]
    one = _dom(tmp_path, out / "compare.html", "#runs=run-damaged,run-good")
    assert "Choose 2 to 4 runs (1 chosen)" in one


def test_compare_shows_the_project_gates_per_selected_run(project_site, settings, tmp_path):
    """The gates are smishctl.toml's, read by compare's and promote's readers and judged by the one gate
    evaluator: compare's error budget, then [promotion] min_macro_f1 / max_error_rate / require."""
    settings.raw.setdefault("promotion", {})["require"] = ["accuracy>=0.85"]
    promotion_run(settings, project_site["good"], errors={1, 2}, run_id="run-errors", n=20)  # 2/20 failed
    with open(settings.runs_dir / "run-other" / "predictions.jsonl", "ab") as fh:
        fh.write(b"\xff not a row\n")
    out = tmp_path / "gated"
    build_view(settings, out)
    dom = _dom(tmp_path, out / "compare.html", "#runs=run-good,run-errors")
    rows = [" ".join(r.split()) for r in _rows(dom, "c-gates")]
    assert rows == [
        "[compare] max_error_rate error_rate<=0.05 pass error_rate=0 <= 0.05 fail error_rate=0.1 > 0.05",
        "[promotion] min_macro_f1 macro_f1>=0.5 pass macro_f1=0.9332 >= 0.5 pass macro_f1=0.9441 >= 0.5",
        "[promotion] max_error_rate error_rate<=0.02 pass error_rate=0 <= 0.02 fail error_rate=0.1 > 0.02",
        "[promotion] require accuracy>=0.85 pass accuracy=0.9333 meets >= 0.85 pass accuracy=0.9 meets >= 0.85",
        "all gates pass fail"]
    # judged on each run's own items, which the page says when the chosen runs share fewer
    assert re.search(r"Judged on each run's own items \(\S+: 30\); smishctl compare judges them on the 20 items", dom)
    assert re.search(r'id="c-command">smishctl compare \S+ \S+</code>', dom)
    # a run with a damaged row is not judged (compare refuses it too), and says why
    damaged = [" ".join(r.split()) for r in _rows(_dom(tmp_path, out / "compare.html", "#runs=run-good,run-other"), "c-gates")]
    assert all(r.endswith("not judged 1 damaged prediction row(s): compare refuses this run") for r in damaged[:4])
    assert damaged[4] == "all gates pass fail"


def _diff_rows(dom: str) -> dict[str, str]:
    return {r.split()[0] if not r.startswith("  added") else "added": " ".join(r.split()) for r in _rows(dom, "d-diff")}


def test_prompts_page_diffs_two_versions_and_tells_lineage(project_site, settings, project, tmp_path):
    from smishctl.ops.prompts_new import artifact_prompt, new_prompt, read_instructions_file

    good, other = project_site["good"], project_site["other"]
    (project / "gpt4.txt").write_text("You label SMS messages.\nReply with ham, spam or smishing.\n", encoding="utf-8")
    hand = new_prompt(settings, read_instructions_file(project / "gpt4.txt"), name="gpt4")["id"]
    copy = new_prompt(settings, artifact_prompt(settings, hand))["id"]
    out = tmp_path / "prompts"
    build_view(settings, out)
    listed = {r.split()[0]: " ".join(r.split()) for r in _rows(_dom(tmp_path, out / "prompts.html"), "prompts")}
    # a hand-written version says where it came from, not the version stored before it
    assert listed[hand].endswith("file gpt4.txt (" + hashlib.sha256((project / "gpt4.txt").read_bytes()).hexdigest()[:8] + ")")
    assert " gpt4 " in listed[hand] and listed[copy].endswith(f"from {hand}") and listed[other.id].endswith(good.id)
    assert listed[good.id].endswith(" first version")
    # the newest two by default; any two from the address
    dom = _dom(tmp_path, out / "prompts.html")
    assert 'data-changed="1"' in dom and _diff_rows(dom)["lineage"].startswith("lineage changed")
    dom = _dom(tmp_path, out / "prompts.html", f"#a={good.id}&b={hand}")
    rows = _diff_rows(dom)
    assert rows["instructions"] == ("instructions changed - Label the SMS: ham, spam or smishing. "
                                    "+ You label SMS messages. + Reply with ham, spam or smishing.")
    assert rows["optimizer"].startswith("optimizer changed - test + ") and rows["demos"] == "demos same none"
    assert rows["model"] == "model same local/qwen2.5-coder-0.5b"
    # a version's own instructions with control characters stay inert in the diff
    dom = _dom(tmp_path, out / "prompts.html", f"#a={good.id}&b={other.id}")
    assert "+ Decide: ham, spam or smishing? \u241b]0;pwned\u2407" in _diff_rows(dom)["instructions"] and "\x1b" not in dom
    page = (out / _prompt_page(out, copy)).read_text(encoding="utf-8")
    steps = re.search(r'<ol class="lineage" id="lineage">(.*?)</ol>', page, re.S).group(1)
    assert re.search(rf'<a href="\.\./prompts/[^"]+">from {re.escape(hand)}</a>.*<li>file gpt4\.txt \(\w{{8}}\)</li>', steps, re.S)
    assert good.id not in steps
    # the exact turns of a typed message need the server: the static page says so in one line
    assert 'id="p-static"' in page and 'id="p-form"' not in page and "connect-src" not in page
    # a damaged version is listed as damaged, cannot be chosen, and the rest of the page still works
    (settings.prompts_dir / copy / "manifest.json").write_text('{"id": "torn', encoding="utf-8")
    build_view(settings, out)
    dom = _dom(tmp_path, out / "prompts.html", f"#a={copy}&b={hand}")
    (damaged,) = [r for r in _rows(dom, "prompts") if "damaged:" in r]
    assert damaged.split()[0] == copy and 'id="d-message" class="warn">' + copy + " is damaged: " in dom
    assert re.search(rf'<option value="{re.escape(copy)}" disabled="">', dom)
    assert _diff_rows(_dom(tmp_path, out / "prompts.html", f"#a={hand}&b={good.id}"))["instructions"].startswith(
        "instructions changed - You label SMS messages.")


def _prompt_page(out: Path, version: str) -> str:
    data = json.loads(unescape(re.search(r'id="data">(.*?)</script>', (out / "prompts.html").read_text(), re.S).group(1)))
    return next(v["page"] for v in data["versions"] if v["id"] == version)


def test_served_prompt_page_shows_the_exact_turns_of_a_typed_message(settings, project, tmp_path):
    from smishctl.ops.prompt_preview import messages_for

    art = make_artifact(settings, instructions="Label the SMS: ham, spam or smishing.")
    hostile = " ".join(text for text, _ in PAYLOADS[:3])  # <script>, <img onerror>, control characters
    proc, line = _serve(project, dict(os.environ), "--port", "0")
    try:
        url = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert url, (line, proc.stderr.read() if proc.poll() is not None else "")
        base = url.group(0)
        query = urllib.parse.urlencode({"version": art.id, "text": hostile})
        with urllib.request.urlopen(f"{base}api/preview?{query}", timeout=120) as resp:
            got = json.loads(resp.read())
        # what prompts show --for gives, its control characters shown rather than sent to the browser
        assert got["messages"] == site.inert(messages_for(settings, art.id, hostile).messages)
        assert got["artifact"] == art.id and "\x1b" not in json.dumps(got) and "\\u001b" not in json.dumps(got)
        shown = got["messages"][-1]["content"]
        assert "<script>document.title='pwned-script'</script>" in shown and "\u241b]0;pwned-esc\u2407" in shown
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{base}api/preview?version=no/such/v9&text=hi", timeout=30)
        assert err.value.code == 400 and "no/such/v9" in json.loads(err.value.read())["error"]
        rebound = urllib.request.Request(base + "index.html", headers={"Host": "attacker.example"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(rebound, timeout=30)
        assert err.value.code == 403
        page = base + "prompts/" + art.id.replace("/", "_") + ".html"
        r = _run_chromium(_chromium(), tmp_path, "--virtual-time-budget=10000", "--dump-dom",
                          page + "#for=" + urllib.parse.quote(hostile))
        assert r.returncode == 0, r.stderr[-500:]
        dom = r.stdout
        assert 'data-turns="2"' in dom and "pwned" not in re.search(r"<title>(.*?)</title>", dom).group(1)
        turns = dom.split('id="p-turns"')[1]
        assert "<img" not in turns and "<script>" not in turns and "\x1b" not in dom
        assert unescape(re.sub(r"<[^>]+>", "", turns)).count(shown) == 1   # the last turn, as text
        assert "connect-src 'self'" in dom
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _drift_row(n: int, program: str, held: float, old: float | None) -> dict:
    row = {"n": n, "program": program, "modern-held": {"run": f"r{n}", "n_items": 171, "macro_f1": held,
                                                        "ci95": [held - 0.05, held + 0.05]}}
    if old is not None:
        row["sms-phishing-test"] = {"run": f"o{n}", "n_items": 150, "macro_f1": old, "ci95": [old - 0.04, old + 0.04]}
    return row


def test_drift_page_draws_the_benchmark_or_says_there_is_none(project_site, settings, project, tmp_path):
    dom = _dom(tmp_path, project_site["out"] / "drift.html")
    assert 'id="drift-empty"' in dom and "bench/bench_drift.py" in dom and "<svg" not in dom
    data = project / "bench" / "data"
    data.mkdir(parents=True)
    rows = [_drift_row(0, "svm", 0.635, 0.824), _drift_row(100, "svm", 0.788, 0.831),
            _drift_row(0, "knn", 0.60, None), _drift_row(100, "knn", 0.81, None)]
    (data / "drift.json").write_text(json.dumps({"protocol": {}, "rows": rows}), encoding="utf-8")
    (data / "drift-knn.json").write_text(json.dumps({"rows": rows[2:]}), encoding="utf-8")
    (data / "drift-torn.json").write_text('{"rows": [{"n": 0', encoding="utf-8")
    hostile = [{**_drift_row(0, "svm", 0.6, None), "program": PAYLOADS[1][0] + " \x1b]0;pwned\x07"}]
    (data / "drift-hostile.json").write_text(json.dumps({"rows": hostile}), encoding="utf-8")
    (project / "docs").mkdir()
    (project / "docs" / "drift.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg"><script>document.title="pwned-svg"</script></svg>', encoding="utf-8")
    out = tmp_path / "drift"
    build_view(settings, out)
    dom = _dom(tmp_path, out / "drift.html")
    curve = dom.split('id="drift-curve"')[1].split("</svg>")[0]
    # svm on both targets, knn on today's traffic only: three lines, a dot with its interval per row
    assert curve.count("<polyline") == 3 and curve.count("<circle") == 6
    assert "N=100: 0.788 [0.738, 0.838]" in curve
    table = [" ".join(r.split()) for r in _rows(dom, "drift-rows")]
    assert table[0] == "0 svm 0.635 [0.585, 0.685] 171 0.824 [0.784, 0.864] 150" and table[3].endswith("171 – –")
    # the published curve is an image (its script never runs), copied into the site
    assert '<img id="drift-svg" src="drift/drift.svg"' in dom and (out / "drift" / "drift.svg").is_file()
    assert "pwned" not in re.search(r"<title>(.*?)</title>", dom).group(1)
    others = [" ".join(r.split()) for r in _rows(dom, "drift-others")]
    assert "<img src=x" not in dom and "\x1b" not in dom
    assert others == ["bench/data/drift-hostile.json 1 rows · N 0 · <img src=x onerror=\"document.title='pwned-img'\"> "
                      "verify your account \u241b]0;pwned\u2407",
                      "bench/data/drift-knn.json 2 rows · N 0, 100 · knn",
                      "bench/data/drift-torn.json cannot be read: it is not valid JSON (Expecting ',' delimiter at line 1 column 18)"]
    # a damaged main file is named; the rest of the page still renders
    (data / "drift.json").write_text(json.dumps({"rows": [{"n": "many"}]}), encoding="utf-8")
    build_view(settings, out)
    dom = _dom(tmp_path, out / "drift.html")
    assert "bench/data/drift.json cannot be read: row 1 is not a benchmark row (ValueError)" in dom
    assert 'id="drift-curve"' not in dom and 'id="drift-others"' in dom


def test_ci_example_exports_the_pages_and_keeps_them(cli, project):
    """docs/ci-example.yml builds the site with `smishctl view --export site/`, uploads that folder as an
    artifact and hands the same folder to GitHub Pages; its command, run as written, writes the site."""
    import shlex

    import yaml

    repo = Path(__file__).resolve().parents[1]
    wf = yaml.safe_load((repo / "docs" / "ci-example.yml").read_text(encoding="utf-8"))
    steps = wf["jobs"]["compare"]["steps"]
    (build,) = [s for s in steps if "view --export" in s.get("run", "")]
    command = shlex.split(build["run"])
    assert command[0].endswith("smishctl") and command[1:3] == ["view", "--export"]
    folder = command[3]
    uploads = {s["uses"].split("@")[0]: s for s in steps if s.get("uses", "").startswith("actions/upload-")}
    assert uploads["actions/upload-artifact"]["with"]["path"] == folder
    assert uploads["actions/upload-pages-artifact"]["with"]["path"] == folder
    assert "PUBLISH_VIEW" in uploads["actions/upload-pages-artifact"]["if"]           # Pages is optional
    deploy = wf["jobs"]["pages"]
    assert deploy["needs"] == "compare" and deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["steps"][-1]["uses"].startswith("actions/deploy-pages@")
    r = cli(*command[1:])
    assert r.returncode == 0, r.stderr
    assert {"index.html", "compare.html", "prompts.html", "production.html", "drift.html"} <= {
        p.name for p in (project / folder).iterdir()}


def test_server_endpoints_answer_json_with_inert_text_and_errors(tmp_path):
    """An endpoint's answer is JSON with control characters shown; the user's error is 400 with its one line,
    anything else 500 without its detail, an oversized query 414; the files are still served beside them."""
    import threading

    from smishctl.core.errors import ConfigError
    from smishctl.report.site_server import MAX_QUERY, make_server, server_url

    (tmp_path / "index.html").write_text("pages", encoding="utf-8")

    def route(query: dict) -> dict:
        if query.get("x") == "bad":
            raise ConfigError("no such version", hint="see the prompts page")
        if query.get("x") == "boom":
            raise RuntimeError("a secret detail")
        return {"query": query, "text": "a\x1b]0;pwned\x07b"}

    server = make_server(tmp_path, "127.0.0.1", 0, routes={"/api/t": route})
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = server_url(server, "127.0.0.1")
    try:
        with urllib.request.urlopen(base + "api/t?x=1&y=%3Cb%3E", timeout=10) as resp:
            assert resp.headers["Content-Type"].startswith("application/json")
            assert json.loads(resp.read()) == {"query": {"x": "1", "y": "<b>"}, "text": "a\u241b]0;pwned\u2407b"}
        answers = {}
        for query in ("x=bad", "x=boom", "x=" + "a" * (MAX_QUERY + 1)):
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(base + "api/t?" + query, timeout=10)
            answers[err.value.code] = json.loads(err.value.read())["error"]
        assert answers[400] == "no such version — see the prompts page"
        assert answers[500] == "smishctl view failed on this request (RuntimeError)" and "secret" not in answers[500]
        assert answers[414] == f"the query is longer than {MAX_QUERY} bytes"
        with urllib.request.urlopen(base + "index.html", timeout=10) as resp:
            assert resp.read() == b"pages"
    finally:
        server.shutdown()
        server.server_close()


def test_served_compare_judges_the_gates_on_the_shared_items(settings, project, tmp_path):
    """Served, the compare page asks smishctl view for the gates on the items the chosen runs share (the
    compare door, as `smishctl compare` measures them) and shows compare's verdict."""
    accept_small_promotions(settings)
    art = make_artifact(settings)
    promotion_run(settings, art, {1, 2}, run_id="run-good")
    promotion_run(settings, art, errors={1, 2}, run_id="run-errors", n=20)
    proc, line = _serve(project, dict(os.environ), "--port", "0")
    try:
        base = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert base, (line, proc.stderr.read() if proc.poll() is not None else "")
        base = base.group(0)
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(base + "api/gates?runs=run-good", timeout=60)
        assert err.value.code == 400 and json.loads(err.value.read())["error"] == "choose 2 to 4 runs, not 1"
        r = _run_chromium(_chromium(), tmp_path, "--virtual-time-budget=20000", "--dump-dom",
                          base + "compare.html#runs=run-good,run-errors")
        assert r.returncode == 0, r.stderr[-500:]
        dom = r.stdout
        assert 'data-judged="shared"' in dom
        rows = [" ".join(row.split()) for row in _rows(dom, "c-gates")]
        assert rows[0] == "[compare] max_error_rate error_rate<=0.05 pass error_rate=0 <= 0.05 fail error_rate=0.1 > 0.05"
        assert rows[-1] == "all gates pass fail"
        note = " ".join(unescape(re.search(r'id="c-gates-note"[^>]*>(.*?)</p>', dom, re.S).group(1)).split())
        assert note.startswith("Judged on the 20 items the chosen runs share, as smishctl compare does; its verdict: exit 3: ")
        assert "run-errors: error_rate=0.1 exceeds max_error_rate 0.05" in note
    finally:
        proc.terminate()
        proc.wait(timeout=30)

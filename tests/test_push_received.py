"""What `push` sends Langfuse is a contract: the same run gives the same datasets, items, spans and scores,
byte for byte once the server's own ids and the clock are set aside. tests/data/push_run/ is a recorded run
(the synthetic run of tests/test_langfuse.py, written by the product's writers, kept as files so that the
input never moves); tests/data/push_received.json holds what the loopback server (tests/langfuse_server.py,
the real SDK on the other side) received for it from the code before `tracking/push.py` read typed records
instead of dicts. Regenerate it only for a deliberate change: `python tests/test_push_received.py --write`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

DATA = Path(__file__).parent / "data"
GOLDEN = DATA / "push_received.json"
RUN_ID = "20261126-100000-synthetic-zero-shot-0001"


def received(server, status: dict) -> dict:
    """Everything the server kept, ordered, with its random ids and the wall clock replaced by names."""
    spans = sorted(server.spans.values(), key=lambda s: (s["trace_id"], s["name"]))
    doc = {
        "datasets": {name: {k: ds[k] for k in ("name", "description", "metadata")}
                     for name, ds in sorted(server.datasets.items())},
        "items": {i: {k: v for k, v in item.items() if k not in ("createdAt", "updatedAt")}
                  for i, item in sorted(server.items.items())},
        "spans": [{k: s[k] for k in ("trace_id", "span_id", "parent_span_id", "name", "start_ns", "end_ns",
                                     "attributes")} for s in spans],
        # a run-level score's id and time come from the experiment id and the clock: keyed by name instead
        "scores": {f"{sc.get('traceId') or 'run'}/{sc['name']}":
                   {k: v for k, v in sc.items() if not (k in ("id", "timestamp") and sc.get("datasetRunId"))}
                   for sc in server.scores.values()},
        "requests": sorted(set(server.requests)),
    }
    text = json.dumps(doc, sort_keys=True, ensure_ascii=False)
    for value, name in ((status["experiment_id"], "<experiment>"), (status["dataset_id"], "<dataset>")):
        text = text.replace(value, name)
    return json.loads(text)


def push_synthetic(tmp: Path, monkeypatch_env) -> dict:
    import shutil

    from langfuse_server import PUBLIC_KEY, SECRET_KEY, LangfuseServer
    from test_langfuse import FAKE_PROVIDER_KEY

    from smishctl.core.config import load_settings
    from smishctl.store.runs import open_run
    from smishctl.tracking import push_run

    root = tmp / "p"
    shutil.copytree(DATA / "push_run", root / "runs")
    (root / "smishctl.toml").write_text("")
    settings = load_settings(root)
    run = open_run(settings.runs_dir, RUN_ID)
    srv = LangfuseServer().start()
    try:
        monkeypatch_env({"LANGFUSE_PUBLIC_KEY": PUBLIC_KEY, "LANGFUSE_SECRET_KEY": SECRET_KEY,
                         "OPENAI_API_KEY": FAKE_PROVIDER_KEY, "LANGFUSE_BASE_URL": srv.url, "LANGFUSE_TIMEOUT": "5"})
        status = push_run(settings, run)
        assert status.status == "pushed", status
        return received(srv, status.to_dict())
    finally:
        srv.stop()


def test_push_sends_what_it_sent_before(tmp_path, monkeypatch):
    def setenv(env: dict) -> None:
        for k, v in env.items():
            monkeypatch.setenv(k, v)

    got = push_synthetic(tmp_path, setenv)
    want = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert got.keys() == want.keys()
    for part in want:  # one part at a time: a difference reads as the part it is in
        assert got[part] == want[part], part


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    import os
    import tempfile

    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    with tempfile.TemporaryDirectory() as tmp:
        doc = push_synthetic(Path(tmp), os.environ.update)
    GOLDEN.write_text(json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN}")

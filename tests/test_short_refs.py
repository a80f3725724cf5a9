"""Hints that name a run to type back use its short reference (what `runs list` shows), so that a long
run id is never cut mid-word at 80 columns: the shard merge's resume hint (review and classify have theirs
in tests/test_review.py and tests/test_classify.py)."""

from __future__ import annotations

import pytest


def test_an_unfinished_shard_is_named_by_its_short_reference(settings):
    from factories import write_run

    from smishctl.core.errors import ConfigError
    from smishctl.ops.merge import merge_runs
    from smishctl.store.runs import open_run, short_ref

    ids = ["20261206-101010-local-qwen2.5-coder-0.5b-sms-phishing-v0003-a1b2",
           "20261206-101011-local-qwen2.5-coder-0.5b-sms-phishing-v0003-c3d4"]
    for k, (run_id, status) in enumerate(zip(ids, ("complete", "interrupted"), strict=True), 1):
        write_run(settings.runs_dir, run_id, [(f"x{k}", "ham", "ham")], status=status)
        run = open_run(settings.runs_dir, run_id)
        record = run.record()
        record.extra["shard"] = {"index": k, "count": 2, "full_items_hash": "f" * 64, "full_n_items": 2}
        run.write(record)
    with pytest.raises(ConfigError) as err:
        merge_runs(settings.runs_dir, ids)
    assert err.value.hint == f"finish it first: smishctl evaluate --resume {short_ref(settings.runs_dir, ids[1])}"
    assert short_ref(settings.runs_dir, ids[1]) == "c3d4"


def test_push_of_an_unfinished_run_names_it_by_its_short_reference(cli, settings):
    from factories import write_run
    from langfuse_server import PUBLIC_KEY, SECRET_KEY, refused_port

    run_id = "20261206-101012-local-qwen2.5-coder-0.5b-sms-phishing-v0003-e5f6"
    write_run(settings.runs_dir, run_id, [("x1", "ham", "ham")], status="interrupted")
    r = cli("push", run_id, env={"LANGFUSE_PUBLIC_KEY": PUBLIC_KEY, "LANGFUSE_SECRET_KEY": SECRET_KEY,
                                 "LANGFUSE_BASE_URL": f"http://127.0.0.1:{refused_port()}"})
    assert r.returncode == 2, r.stderr
    assert "finish it first: smishctl evaluate --resume e5f6" in " ".join(r.stderr.split()), r.stderr

"""Saved prompt states (smishctl/models/prompt_state.py): a new process restores what an earlier one
computed, answers as it would have without it, and a damaged state file is a miss, not a crash."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SESSION_CACHE
from smishctl.models.prompt_state import PromptStates
from smishctl.models.weights import WEIGHTS, assemble
from smishctl.util.hashing import sha256_file

pytestmark = pytest.mark.model

# One process: two requests sharing the instructions; prints what llama.cpp reports for each.
CHILD = """
import json, sys
from pathlib import Path
from smishctl.models import local_server
gguf, states, demos = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
system = {"role": "system", "content": "Classify the SMS as ham, spam or smishing. Answer with one word. " * 3}
shots = [{"role": "user", "content": "Hi mum, new number, can you send 200 for rent"},
         {"role": "assistant", "content": "smishing"}] * demos
out = []
for text in ("Your parcel is held: pay the 1.99 fee at dpd-redeliver.top", "see you at 6 then"):
    r = local_server.chat(gguf, {"messages": [system, *shots, {"role": "user", "content": text}], "max_tokens": 1,
                                 "temperature": 0, "logprobs": True, "top_logprobs": 1}, None, states)
    top = r["choices"][0]["logprobs"]["content"][0]["top_logprobs"][0]
    out.append({"cache_n": r["timings"]["cache_n"], "prompt_n": r["timings"]["prompt_n"],
                "token": top["token"], "logprob": top["logprob"]})
print(json.dumps(out))
"""


def _child(gguf, states, demos: int = 0) -> list[dict]:
    r = subprocess.run([sys.executable, "-c", CHILD, str(gguf), str(states), str(demos)], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def _saved(states):
    return sorted(states.glob("*.state"))


def test_a_new_process_restores_the_saved_state_and_a_damaged_one_is_a_miss(tmp_path):
    gguf = assemble(WEIGHTS["qwen2.5-coder-0.5b"], SESSION_CACHE)
    states = tmp_path / "llama-state"

    first = _child(gguf, states)
    assert first[0]["cache_n"] == 0 and first[1]["cache_n"] > 20  # in-process reuse, as before
    [saved] = _saved(states)  # one state for the shared instructions, named by its digest
    assert saved.name.endswith(f"-{sha256_file(saved)}.state")

    second = _child(gguf, states)
    # The first request of the new process reads only its last token: the rest is the restored state.
    assert second[0]["cache_n"] == first[0]["prompt_n"] - 1 and second[0]["prompt_n"] == 1
    for a, b in zip(first, second, strict=True):
        assert a["token"] == b["token"] and abs(a["logprob"] - b["logprob"]) < 0.05, (a, b)
    assert _saved(states) == [saved]  # nothing saved twice

    # Cut the file: llama.cpp would abort the process on it; the digest makes it a miss.
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    third = _child(gguf, states)
    assert third[0]["cache_n"] == 0 and [t["token"] for t in third] == [t["token"] for t in first]
    # Computed again and saved whole: the same bytes, so the same name.
    assert _saved(states) == [saved] and saved.read_bytes() == data

    # An altered byte under a name that still claims the old digest is a miss too.
    for p in _saved(states):
        p.unlink()
    flipped = bytearray(data)
    flipped[len(data) // 3] ^= 0xFF
    (states / saved.name).write_bytes(bytes(flipped))
    fourth = _child(gguf, states)
    assert fourth[0]["cache_n"] == 0 and [t["token"] for t in fourth] == [t["token"] for t in first]
    assert _saved(states) == [saved] and saved.read_bytes() == data  # the altered file made way


def test_the_oldest_states_make_way_beyond_the_folder_limit(tmp_path):
    states = PromptStates(tmp_path, tmp_path / "slots", "http://127.0.0.1:9", "model", limit=2500)
    files = [tmp_path / f"k{i}-d.state" for i in range(4)]
    for i, path in enumerate(files):
        path.write_bytes(b"x" * 1000)
        os.utime(path, (1000 + i, 1000 + i))
    os.utime(files[0], (2000, 2000))  # restored lately: the most recently used
    states._prune(keep=files[1])
    assert sorted(tmp_path.glob("*.state")) == [files[0], files[1]]  # 2 and 3 went; 1 is the new one


def test_a_fixed_demo_prefix_is_saved_once_it_repeats_and_restored_whole(tmp_path):
    gguf = assemble(WEIGHTS["qwen2.5-coder-0.5b"], SESSION_CACHE)
    states = tmp_path / "llama-state"
    _child(gguf, states)  # the instructions alone: their state is saved first
    [instructions] = _saved(states)

    first = _child(gguf, states, demos=2)
    assert 0 < first[0]["cache_n"] < first[0]["prompt_n"]  # the instructions' state, then the demos read
    assert len(_saved(states)) == 2  # the second request shared the prefix: instructions and demos saved

    second = _child(gguf, states, demos=2)
    # The saved prefix holds the second message: the new process's first one reuses what the first
    # process's second one reused from memory (instructions, demos and the shared opening tokens).
    assert second[0]["cache_n"] == first[1]["cache_n"] > first[0]["cache_n"]
    assert [t["token"] for t in second] == [t["token"] for t in first]
    assert instructions in _saved(states) and len(_saved(states)) == 2


def test_a_lone_message_has_no_state_key():
    states = PromptStates(Path("/nonexistent"), Path("/nonexistent"), "http://127.0.0.1:9", "model")
    assert states.keys({"messages": [{"role": "user", "content": "the whole prompt and the SMS"}]}) is None
    system, sms = {"role": "system", "content": "Classify."}, {"role": "user", "content": "hi"}
    base, prefix = states.keys({"messages": [system, sms]})
    assert (base, prefix) == states.keys({"messages": [system, {"role": "user", "content": "another"}]})
    assert base != prefix and states.keys({"messages": [system, sms, sms]})[1] != prefix


@pytest.mark.parametrize("value", ["0", "off", "False"])
def test_the_switch_turns_states_off(settings, monkeypatch, value):
    from smishctl.models import local_provider
    from smishctl.models.lm import build_lm
    from smishctl.models.registry import resolve_model

    spec = resolve_model("local/qwen2.5-coder-0.5b", settings)
    name = spec.litellm_model.split("/", 1)[1]
    monkeypatch.setattr(local_provider, "STATE_DIRS", {})
    build_lm(spec, settings)
    assert local_provider.STATE_DIRS[name] == settings.cache_dir / "llama-state"
    monkeypatch.setenv("SMISHCTL_PROMPT_STATES", value)
    build_lm(spec, settings)  # the same process, now with the switch off
    assert name not in local_provider.STATE_DIRS

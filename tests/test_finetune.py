"""`smishctl finetune` with the real 0.5B: a few steps on a handful of messages, Ctrl-C keeping the
best checkpoint, a resume from it, the adapter served by llama.cpp matching torch+peft, that adapter
promoted, served and rolled back to, and the bad-input paths. Needs the finetune extra (bin/test installs it)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import make_project, run_cli

pytestmark = pytest.mark.finetune  # the ones that load the 0.5B are also marked `model`

REPORT = "Toll notice: your E-ZPass balance is unpaid, pay $4.15 today at ezpass-tolls.example to avoid a fine"
TINY = ("--train-size", "4", "--dev-size", "3", "--batch-size", "2", "--max-length", "64")
# Probability tolerance between llama.cpp (Q4_K_M weights, quantized activations) and torch (the same
# weights de-quantized to float32), per label and message: the largest gap measured on six test
# messages was 0.033 (and 0.005 for the base model alone).
PROB_TOLERANCE = 0.08


def _env(root: Path) -> dict:
    return {**os.environ, "SMISHCTL_HOME": str(root)}


def _versions(root: Path) -> list[Path]:
    return sorted(p for p in (root / "prompts").glob("*/*/v*") if p.is_dir())


@pytest.fixture(scope="module")
def ft_project(tmp_path_factory) -> Path:
    return make_project(tmp_path_factory.mktemp("ft") / "proj")


@pytest.fixture(scope="module")
def interrupted(ft_project):
    """A real run stopped with Ctrl-C after its second dev score, one user report in its training
    messages (--with-feedback): (artifact dir, stderr)."""
    added = run_cli("feedback", "add", REPORT, "--label", "smishing", cwd=ft_project, env=_env(ft_project))
    assert added.returncode == 0, added.stderr
    args = ["finetune", *TINY, "--epochs", "4", "--eval-every", "1", "--lr", "2e-3", "--seed", "5", "--with-feedback"]
    proc = subprocess.Popen([sys.executable, "-m", "smishctl", *args], cwd=ft_project, env=_env(ft_project),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err_lines = []
    try:
        deadline = time.time() + 900
        while time.time() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            err_lines.append(line)
            if line.startswith("step 2 "):
                proc.send_signal(signal.SIGINT)
                break
        rest, err = proc.communicate(timeout=600)
    finally:
        proc.kill()
    stderr = "".join(err_lines) + err
    assert proc.returncode == 130, stderr
    found = _versions(ft_project)
    assert len(found) == 1, stderr
    return found[0], stderr


@pytest.mark.model
def test_ctrl_c_keeps_the_best_checkpoint_as_a_complete_artifact(interrupted):
    from smishctl.store.artifacts import Artifact, verify_artifact

    folder, stderr = interrupted
    m = json.loads((folder / "manifest.json").read_text())
    f = m["finetune"]
    assert f["interrupted"] and f["stop_reason"] == "interrupted"
    assert 2 <= f["steps"] < 8 and f["best_step"] >= 1
    best = max((e for e in m["training_curve"] if e["step"] > 0), key=lambda e: (e["macro_f1"], e["gold_prob"]))
    assert m["dev_metrics"]["optimized"]["macro_f1"] == best["macro_f1"]
    assert m["training_curve"][0]["step"] == 0 and m["training_curve"][0]["train_loss"] is None
    assert set(m["files"]) == {"program.json", "prompt.json", "adapter.gguf", "adapter_model.safetensors",
                               "adapter_config.json"}
    verify_artifact(Artifact(id=m["id"], dir=folder))
    assert not any(p.suffix in (".pkl", ".pickle", ".bin", ".pt") for p in folder.iterdir())
    assert m["program_kind"] == "lora" and m["base_model"]["sha256"] == \
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    assert m["dataset"]["train_size"] == 5 and m["versions"]["torch"].startswith("2.13.0")
    assert m["dataset"]["feedback"]["used"] == 1 and m["dataset"]["feedback"]["reports"] == 1
    program = json.loads((folder / "program.json").read_text())
    assert program["instructions"] == m["instructions"] and program["adapter"] == "adapter.gguf"
    prompt = json.loads((folder / "prompt.json").read_text())
    assert prompt["messages"][-1] == {"role": "user", "content": "{{sms}}"}
    assert "interrupted: best checkpoint so far" in (folder / "CARD.md").read_text()
    assert not list(folder.parent.glob(".staging-*"))
    # three dev messages are too few to cross-validate a bias: calibration is refused, and recorded so
    assert m["calibration"]["kept"] is False and "too few" in m["calibration"]["reason"]
    assert program["label_adapter"] == m["adapter"] == {"name": "score"}


@pytest.mark.model
def test_resume_starts_from_the_interrupted_adapter(ft_project, interrupted):
    folder, _ = interrupted
    first = json.loads((folder / "manifest.json").read_text())
    r = run_cli("finetune", *TINY, "--epochs", "1", "--seed", "5", "--resume", first["id"], "--calibrate", "on",
                "--json", cwd=ft_project, env=_env(ft_project), timeout=900)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["finetune"]["resumed_from"] == first["id"] and doc["finetune"]["rank"] == first["finetune"]["rank"]
    # Same dev messages, same starting weights: the resumed run's baseline is the stored best.
    assert doc["training_curve"][0]["gold_prob"] == pytest.approx(first["dev_metrics"]["optimized"]["gold_prob"],
                                                                   abs=1e-4)
    assert doc["finetune"]["steps"] == 2 and not doc["finetune"]["interrupted"]
    assert doc["parent"] == first["id"]
    # --calibrate on: a bias fitted on the best checkpoint's dev rows, stored where evaluate reads it
    from smishctl.store.artifacts import Artifact
    from smishctl.store.programs import load_adapter_config

    assert doc["calibration"]["forced"] and set(doc["adapter"]["bias"]) == set(doc["labels"])
    loaded = load_adapter_config(Artifact(id=doc["id"], dir=Path(doc["path"])))
    assert loaded.name == "score" and loaded.bias == doc["adapter"]["bias"]


@pytest.fixture(scope="module")
def torch_base(ft_project):
    """(settings, the base model in torch, a LoRA of the default rank on it), loaded once."""
    from smishctl.core.config import load_settings
    from smishctl.finetune.run import FinetuneConfig
    from smishctl.finetune.torch_model import add_lora, base_cache, load_base
    from smishctl.store.serving import local_base

    settings = load_settings(ft_project)
    _spec, gguf, sha = local_base("local/qwen2.5-coder-0.5b", settings)
    base = load_base(gguf, "cpu", base_cache(settings.cache_dir, sha))
    defaults = FinetuneConfig()
    return settings, base, add_lora(base, defaults.rank, defaults.alpha, seed=0)


@pytest.mark.model
def test_llama_cpp_with_the_adapter_matches_torch_with_peft(torch_base, interrupted):
    """The conversion check: same labels and label probabilities within PROB_TOLERANCE, and the
    adapter really changes llama.cpp's answers (so an ignored adapter would fail here)."""
    from safetensors.torch import load_file

    from smishctl.data.prepare import load_dataset_splits, sample
    from smishctl.finetune.encode import first_token_ids
    from smishctl.finetune.torch_model import decide, label_probabilities, load_lora_state
    from smishctl.store.artifacts import Artifact
    from smishctl.store.serving import finetune_model_spec, local_base, served_label_probabilities

    settings, base, model = torch_base
    folder, _ = interrupted
    m = json.loads((folder / "manifest.json").read_text())
    labels = tuple(m["labels"])
    texts = [e.text for e in sample(load_dataset_splits(None, settings).split("test"), 6, balanced=True, seed=13)]
    first = {lab: base.tokenizer.decode([i]) for lab, i in first_token_ids(base.tokenizer, labels).items()}

    assert (m["finetune"]["rank"], m["finetune"]["alpha"]) == (model.peft_config["default"].r,
                                                               model.peft_config["default"].lora_alpha)
    load_lora_state(model, load_file(str(folder / "adapter_model.safetensors")))
    torch_probs = label_probabilities(model, base.tokenizer, m["instructions"], texts, labels)
    spec = finetune_model_spec(Artifact(id=m["id"], dir=folder), settings)
    served = served_label_probabilities(spec, settings, m["instructions"], texts, labels, first)
    base_spec, _, _ = local_base("local/qwen2.5-coder-0.5b", settings)
    plain = served_label_probabilities(base_spec, settings, m["instructions"], texts, labels, first)

    gaps = [abs(t[lab] - s[lab]) for t, s in zip(torch_probs, served, strict=True) for lab in labels]
    assert max(gaps) <= PROB_TOLERANCE, (torch_probs, served)
    for t, s in zip(torch_probs, served, strict=True):
        top, second = sorted(t.values(), reverse=True)[:2]
        if top - second > 2 * PROB_TOLERANCE:  # a near-tie may flip within the tolerance
            assert decide(t) == decide(s), (t, s)
    shift = max(abs(a[lab] - b[lab]) for a, b in zip(served, plain, strict=True) for lab in labels)
    assert shift > 3 * PROB_TOLERANCE, (served, plain)
    assert spec.endpoint_tag != base_spec.endpoint_tag and spec.litellm_model != base_spec.litellm_model


@pytest.mark.model
def test_the_loss_covers_the_deciding_first_token_or_the_whole_answer(torch_base):
    from smishctl.finetune.encode import IGNORE, encode_example, first_token_ids

    _settings, base, _model = torch_base
    tok = base.tokenizer
    labels = ("ham", "spam", "smishing")
    first = first_token_ids(tok, labels)
    for label in labels:
        ids, targets = encode_example(tok, "Classify the SMS.", "Your parcel is held", label, 256, loss="first")
        scored = [i for i, t in enumerate(targets) if t != IGNORE]
        assert len(scored) == 1 and targets[scored[0]] == first[label] == ids[scored[0]]
        # the prompt before it is exactly what is served: the rendered chat up to the assistant turn
        assert tok.decode(ids[:scored[0]]).endswith("<|im_start|>assistant\n")
        ids_a, targets_a = encode_example(tok, "Classify the SMS.", "Your parcel is held", label, 256, loss="answer")
        assert ids_a == ids
        answer = [t for t in targets_a if t != IGNORE]
        assert answer[0] == first[label] and tok.decode(answer) == f"{label}<|im_end|>"


@pytest.mark.model
def test_loss_and_label_scores_equal_the_full_vocabulary_path(torch_base):
    """The loss and the label probabilities read the logits only where they need them
    (torch_model.logits_at); both must equal transformers' own computation over every position."""
    import torch

    from smishctl.finetune.encode import encode_example, first_token_ids, prompt_ids
    from smishctl.finetune.torch_model import causal_lm_loss, label_probabilities
    from smishctl.finetune.trainer import _batch_tensors

    _settings, base, model = torch_base
    tok, labels = base.tokenizer, ("ham", "spam", "smishing")
    texts = ["Your parcel is held, pay 1.99 now", "see you at 7"]
    for loss in ("first", "answer"):
        encoded = [encode_example(tok, "Classify the SMS.", t, lab, 64, loss=loss)
                   for t, lab in zip(texts, ("smishing", "ham"), strict=True)]
        ids, mask, targets = _batch_tensors(encoded, tok.pad_token_id, "cpu")
        with torch.no_grad():
            full = model(input_ids=ids, attention_mask=mask, labels=targets).loss
            mine = causal_lm_loss(model, ids, mask, targets)
        assert float(mine) == pytest.approx(float(full), abs=1e-4), loss
    probs = label_probabilities(model, tok, "Classify the SMS.", texts, labels)
    first = first_token_ids(tok, labels)
    for text, p in zip(texts, probs, strict=True):
        row = prompt_ids(tok, "Classify the SMS.", text)
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=torch.tensor([row])).logits[0, -1].float(), dim=-1)
        assert p == pytest.approx({lab: float(logp[first[lab]].exp()) for lab in labels}, abs=1e-5)


@pytest.mark.model
def test_budget_too_small_for_one_step_is_refused(torch_base):
    from smishctl.core.errors import ConfigError
    from smishctl.data.prepare import load_dataset_splits, sample
    from smishctl.finetune.trainer import TrainConfig, train

    settings, base, model = torch_base
    ds = load_dataset_splits(None, settings)
    tiny = sample(ds.split("train"), 3, balanced=True, seed=1)
    cfg = TrainConfig(instructions="Classify the SMS.", labels=ds.labels, deadline=time.monotonic())
    with pytest.raises(ConfigError, match="too small for one training step"):
        train(model, base.tokenizer, tiny, tiny, cfg, device="cpu")


@pytest.mark.model
def test_spent_budget_stops_training_and_keeps_the_scored_best(torch_base):
    """The budget runs out after the first step (the deadline is moved to now): training stops before
    the next step, the last step is scored, and that checkpoint is the one kept."""
    from smishctl.data.prepare import load_dataset_splits, sample
    from smishctl.finetune.trainer import TrainConfig, train

    settings, base, model = torch_base
    ds = load_dataset_splits(None, settings)
    cfg = TrainConfig(instructions="Classify the SMS.", labels=ds.labels, epochs=2, batch_size=2, max_length=64,
                      deadline=time.monotonic() + 3600)

    def on_event(kind, **kw):
        if kind == "step" and kw["step"] == 1:
            cfg.deadline = time.monotonic()

    result = train(model, base.tokenizer, sample(ds.split("train"), 4, balanced=True, seed=2),
                   sample(ds.split("dev"), 2, balanced=True, seed=2), cfg, device="cpu", on_event=on_event)
    assert result.stop_reason == "budget" and result.steps == 1
    assert [e["step"] for e in result.curve] == [0, 1] and result.best.step == 1
    assert set(result.best.state) and all(k.endswith(".weight") for k in result.best.state)


@pytest.mark.model
def test_adapter_on_another_base_model_is_refused(interrupted, ft_project, tmp_path):
    from smishctl.core.config import load_settings
    from smishctl.core.errors import ConfigError
    from smishctl.store.artifacts import Artifact
    from smishctl.store.serving import finetune_model_spec

    folder, _ = interrupted
    copy = tmp_path / "v0001"
    shutil.copytree(folder, copy)
    m = json.loads((copy / "manifest.json").read_text())
    m["base_model"]["sha256"] = "0" * 64  # as if trained on another GGUF
    (copy / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ConfigError, match="was trained on a base model with SHA-256 000000000000"):
        finetune_model_spec(Artifact(id=m["id"], dir=copy), load_settings(ft_project))


SMISHING = "Your parcel is held at the depot. Pay the 1.99 GBP fee now: http://parcel-fee.example/pay"
RELEASE_ITEMS = 3  # the evaluation promote runs of the adapter ([promotion] min_items in the project)


@pytest.mark.model
def test_a_fine_tuned_artifact_is_promoted_served_and_rolled_back_to(interrupted, ft_project, tmp_path,
                                                                      monkeypatch):
    """The module's adapter, copied into a project of its own: promote evaluates it like any prompt and
    puts every file its manifest lists into the release, classify serves it through llama.cpp, and a
    rollback brings it back."""
    from factories import accept_small_promotions, make_artifact, promotion_run

    from smishctl.core.config import load_settings
    from smishctl.ops.production import load_production
    from smishctl.store.production import read_current, verify_release
    from smishctl.util.fs import read_json

    folder, _ = interrupted
    art_id = json.loads((folder / "manifest.json").read_text())["id"]
    root = make_project(tmp_path / "release")
    shutil.copytree(folder, root / "prompts" / folder.relative_to(ft_project / "prompts"))
    accept_small_promotions(load_settings(root), RELEASE_ITEMS)
    monkeypatch.setenv("SMISHCTL_HOME", str(root))

    def cli(*args):
        return run_cli(*args, cwd=root, env=_env(root), timeout=1800)

    r = cli("promote", art_id, "--limit", str(RELEASE_ITEMS), "--balanced", "--force", "--reason", "test",
            "--no-langfuse", "--json")
    assert r.returncode == 0, r.stderr
    # The evaluation promote ran: the artifact went through `evaluate` like any prompt (base GGUF +
    # adapter, label scoring), and its identity says so.
    evaluated = root / "runs" / json.loads(r.stdout)["run"]
    record = json.loads((evaluated / "run.json").read_text())
    assert record["status"] == "complete" and record["identity"]["adapter"] == {"name": "score"}
    assert "@lora-" in record["identity"]["model"] and record["prompt"]["id"] == art_id
    rows = [json.loads(x) for x in (evaluated / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == RELEASE_ITEMS
    assert all(x["status"] == "ok" and abs(sum(x["probs"].values()) - 1) < 1e-3 for x in rows)
    settings = load_settings(root)
    release = settings.production_dir / "releases" / "r0001"
    listed = read_json(release / "manifest.json")["files"]
    assert {"adapter.gguf", "program.json", "prompt.json"} <= set(listed)
    assert all((release / name).is_file() for name in listed)
    assert not list((settings.production_dir / "releases").glob(".staging-*"))
    assert verify_release(release).id == art_id

    def classify_via_cli():
        r = cli("classify", SMISHING, "--json")
        assert r.returncode == 0, r.stderr
        row = json.loads(r.stdout.splitlines()[0])
        assert row["status"] == "ok" and row["label"] in ("ham", "spam", "smishing"), row

    classify_via_cli()
    pc = load_production(root)
    assert pc.artifact_id == art_id and pc.release == "r0001" and "@lora-" in pc.serving.model
    assert pc.classify(SMISHING) in ("ham", "spam", "smishing")

    other = make_artifact(settings, instructions="Label the SMS: ham, spam or smishing.")
    promotion_run(settings, other, {1}, run_id="run-other", n=RELEASE_ITEMS)
    r = cli("promote", other.id, "--force", "--reason", "another", "--no-langfuse")
    assert r.returncode == 0, r.stderr
    assert read_current(settings).artifact == other.id
    r = cli("promote", "--rollback", "--reason", "back to the adapter", "--no-langfuse", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["to"] == {"release": "r0001", "artifact": art_id}
    assert os.readlink(settings.production_dir / "current") == "releases/r0001"
    classify_via_cli()


# --- bad input: one line, exit 2, nothing written (no model is loaded for these) -------------------------

@pytest.mark.parametrize(("args", "message"), [
    (("--model", "openai/gpt-4o-mini"), "openai/gpt-4o-mini is a hosted model"),
    (("--model", "ollama/qwen2.5:0.5b"), "is an Ollama model"),
    (("--train-size", "100000"), "fewer than --train-size 100000"),
    (("--max-minutes", "0"), "--max-minutes must be positive"),
    (("--train-size", "lots"), "--train-size must be a number or 'all'"),
    (("--device", "tpu"), "unknown device 'tpu'"),
    (("--loss", "all"), "unknown --loss 'all'"),
    (("--calibrate", "maybe"), "unknown --calibrate 'maybe'"),
    (("--export-only", "parquet"), "unknown export format 'parquet'"),
])
def test_bad_input_is_one_line_and_exit_2(cli, project, args, message):
    r = cli("finetune", *args)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert not _versions(project)


def test_model_of_another_architecture_is_refused(cli, project, tmp_path):
    import gguf

    path = tmp_path / "tiny-llama.gguf"
    w = gguf.GGUFWriter(str(path), arch="llama")
    w.add_block_count(1)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.close()
    r = cli("finetune", "--model", str(path))
    assert r.returncode == 2 and "is a llama model, which cannot be fine-tuned here" in r.stderr, r.stderr
    assert not _versions(project)


def test_missing_extra_says_how_to_install(project):
    code = ("import sys; sys.modules['peft'] = None; sys.argv = ['smishctl', 'finetune']; "
            "from smishctl.cli import main; main()")
    r = subprocess.run([sys.executable, "-c", code], cwd=project, env=_env(project), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and "needs peft, which are not installed" in r.stderr and "bin/setup --finetune" in r.stderr
    assert not _versions(project)


def test_help_does_not_import_torch(project):
    code = "import sys; sys.argv = ['smishctl', '--help']\ntry:\n    from smishctl.cli import main; main()\n" \
           "except SystemExit: pass\nassert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    r = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_export_only_writes_chat_jsonl_and_a_hf_dataset(cli, project):
    from smishctl.solve.label_chat import render_label_chat

    r = cli("finetune", "--export-only", "openai", "--train-size", "9", "--dev-size", "6", "--out", "exp", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["counts"] == {"train": 9, "validation": 6}
    rows = [json.loads(x) for x in (project / "exp" / "train.jsonl").read_text().splitlines()]
    assert len(rows) == 9
    first = rows[0]["messages"]
    sms, label = first[1]["content"], first[2]["content"]
    assert first == [*render_label_chat(doc["instructions"], [], sms), {"role": "assistant", "content": label}]
    assert label in doc["labels"] and sorted({r["messages"][2]["content"] for r in rows}) == sorted(doc["labels"])
    import datasets

    hf = datasets.load_from_disk(str(project / "exp" / "hf"))
    assert hf["validation"].num_rows == 6 and hf["train"][0]["messages"] == first
    assert cli("feedback", "add", REPORT, "--label", "smishing").returncode == 0
    r = cli("finetune", "--export-only", "openai", "--train-size", "9", "--dev-size", "6", "--out", "fb",
            "--with-feedback", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["counts"] == {"train": 10, "validation": 6}, r.stderr
    trained = [json.loads(x)["messages"][1]["content"] for x in (project / "fb" / "train.jsonl").read_text().splitlines()]
    assert REPORT in trained and len(trained) == 10
    again = cli("finetune", "--export-only", "openai", "--out", "exp")
    assert again.returncode == 2 and "already exists and is not empty" in again.stderr
    assert len((project / "exp" / "train.jsonl").read_text().splitlines()) == 9

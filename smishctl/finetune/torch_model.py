"""The base model in torch: the embedded GGUF de-quantized by transformers, a peft LoRA on top, and
first-token label scoring (the same decision as the label-scoring adapter over llama.cpp)."""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smishctl.core.errors import ConfigError
from smishctl.finetune.encode import IGNORE, first_token_ids, prompt_ids
from smishctl.util.fs import atomic_write_json, file_lock, read_json
from smishctl.util.hashing import sha256_file

TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj")


@dataclass
class LoadedBase:
    # transformers' model and tokenizer (imported lazily, so typed loosely)
    model: Any
    tokenizer: Any
    device: str


def pick_device(requested: str) -> str:
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for, but torch sees no CUDA device",
                          hint="use --device cpu (or auto); the extra installs a CPU build of torch")
    return requested


def base_cache(cache_dir: Path, sha256: str) -> Path:
    """Where the de-quantized weights of the GGUF with this SHA-256 are kept."""
    return Path(cache_dir) / "models" / "torch-base" / sha256[:16]


def load_base(gguf: Path, device: str, cache: Path | None = None) -> LoadedBase:
    """transformers reads the GGUF itself (de-quantized to float32). De-quantizing takes minutes on a
    CPU, so with a `cache` folder (base_cache) the result is kept there as safetensors (~2 GB for
    the 0.5B) with its checksums, and later runs load it in seconds."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    logging.getLogger("transformers").setLevel(logging.ERROR)
    gguf = Path(gguf)
    if cache is None:
        model, tokenizer = _load_gguf(gguf)
    else:  # two runs at once: the second waits for the first's cache instead of de-quantizing too
        cache.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(cache.parent / f".{cache.name}.lock"):
            loaded = _load_cached(cache)
            if loaded is None:
                loaded = _load_gguf(gguf)
                _save_cached(*loaded, cache)
        model, tokenizer = loaded
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.config.use_cache = False
    return LoadedBase(model=model.to(device), tokenizer=tokenizer, device=device)


def _load_gguf(gguf: Path, fast_reader: bool = True) -> tuple[Any, Any]:
    import functools

    import torch
    import transformers.modeling_gguf_pytorch_utils as gguf_utils
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # Its GGUF de-quantization bar ignores the logging switch; our own progress bar covers the phase.
    gguf_utils.tqdm = functools.partial(gguf_utils.tqdm, disable=True)
    try:
        with _one_fast_gguf_reader() if fast_reader else contextlib.nullcontext():
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name,
                                                         dtype=torch.float32)
    except (ValueError, KeyError, NotImplementedError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{gguf.name} cannot be fine-tuned here: {first[:160]}",
                          hint="use an embedded local model (local/qwen2.5-coder-0.5b) or a Qwen2 GGUF") from None
    return model, tokenizer


@contextlib.contextmanager
def _one_fast_gguf_reader():
    """transformers parses the GGUF three times (config, tokenizer, weights), and gguf's reader
    slices a numpy memmap once per vocabulary string (~300k of them), which costs more than the
    de-quantization itself. While loading, every `gguf.GGUFReader(path)` returns one parsed
    reader per file, built over a plain ndarray view of the same mapping (no per-slice memmap
    bookkeeping). bench/bench_base_load.py measures both ways and checks the weights are equal."""
    import gguf
    import numpy as np

    module: Any = gguf  # its reader class is swapped for the duration
    original: Any = gguf.GGUFReader

    class _PlainViewReader(original):
        @property
        def data(self):
            return self._plain

        @data.setter
        def data(self, value):
            self._plain = value.view(np.ndarray) if isinstance(value, np.memmap) else value

    readers: dict[str, object] = {}

    def reader(path, mode="r"):
        key = f"{os.path.realpath(path)}:{mode}"
        if key not in readers:
            readers[key] = _PlainViewReader(path, mode)
        return readers[key]

    module.GGUFReader = reader
    try:
        yield
    finally:
        module.GGUFReader = original


_CHECKSUMS = "checksums.json"


def _load_cached(folder: Path) -> tuple[Any, Any] | None:
    """The cached model and tokenizer, or None when absent or any file differs from its recorded
    checksum (a damaged cache is rebuilt, never trusted). safetensors: no pickle is ever loaded."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        sums = read_json(folder / _CHECKSUMS)
        if not isinstance(sums, dict) or not sums or any(sha256_file(folder / name) != digest
                                                          for name, digest in sums.items()):
            return None
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
        model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32, use_safetensors=True)
    except (OSError, ValueError, KeyError):
        return None
    return model, tokenizer


def _save_cached(model, tokenizer, folder: Path) -> None:
    """Written to a staging folder and renamed into place, so a reader sees all of it or nothing."""
    import shutil
    import uuid

    from safetensors.torch import save_model

    staging = folder.parent / f".staging-{uuid.uuid4().hex[:8]}"
    try:
        staging.mkdir(parents=True)
        # save_pretrained refuses a model read from a GGUF (its quantization_config says GGUF, though
        # the weights are plain float32 by now): write the config without it and the weights as
        # safetensors (save_model keeps one copy of tied embeddings).
        config = model.config.to_dict()
        config.pop("quantization_config", None)
        atomic_write_json(staging / "config.json", config)
        save_model(model, str(staging / "model.safetensors"))
        tokenizer.save_pretrained(str(staging))
        sums = {p.name: sha256_file(p) for p in sorted(staging.iterdir()) if p.is_file()}
        atomic_write_json(staging / _CHECKSUMS, sums)
        if folder.exists():  # damaged (or written meanwhile by another run): replace it
            shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
    except (OSError, ValueError, RuntimeError):  # the next run only pays the de-quantization again
        pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def add_lora(base: LoadedBase, rank: int, alpha: float, seed: int, dropout: float = 0.0):
    """A fresh LoRA (deterministic for a seed) on the attention projections: the only trained weights."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    cfg = LoraConfig(r=rank, lora_alpha=alpha,  # type: ignore[arg-type]  # typed int; peft scales by alpha / r
                     lora_dropout=dropout, target_modules=list(TARGET_MODULES),
                     bias="none", task_type="CAUSAL_LM")
    return get_peft_model(base.model, cfg)


def lora_state(model) -> dict:
    """The LoRA weights, as peft saves them (detached copies on the CPU)."""
    from peft import get_peft_model_state_dict

    return {k: v.detach().to("cpu").clone() for k, v in get_peft_model_state_dict(model, save_embedding_layers=False).items()}


def load_lora_state(model, state: dict) -> None:
    from peft import set_peft_model_state_dict

    set_peft_model_state_dict(model, state)


def label_probabilities(model, tokenizer, instructions: str, texts: list[str], labels: tuple[str, ...], *,
                        batch_size: int = 8, device: str = "cpu") -> list[dict[str, float]]:
    """P(first token of each label) after the prompt, one forward pass per message (no truncation:
    exactly what is served). Right padding, read at each row's last real token."""
    import torch

    ids = first_token_ids(tokenizer, labels)
    index = torch.tensor([ids[lab] for lab in labels])
    pad = tokenizer.pad_token_id
    out: list[dict[str, float]] = []
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(texts), batch_size):
                rows = [prompt_ids(tokenizer, instructions, t) for t in texts[start:start + batch_size]]
                width = max(len(r) for r in rows)
                input_ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows], device=device)
                mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows], device=device)
                last = [len(r) - 1 for r in rows]
                logits = logits_at(model, input_ids, mask, [[p] for p in last])
                logp = torch.log_softmax(torch.stack([x[0] for x in logits]).float(), dim=-1)
                probs = logp[:, index.to(device)].exp().cpu()
                out.extend({lab: float(p[i]) for i, lab in enumerate(labels)} for p in probs)
    finally:
        model.train(was_training)
    return out


def logits_at(model, input_ids, attention_mask, positions: list[list[int]]) -> list:
    """Per row, the next-token logits at the given positions only. The vocabulary projection (151,936
    rows on the 0.5B) is applied to the union of the asked positions rather than to every position of
    the batch, which costs about a quarter of a training step on the 0.5B (bench/bench_finetune_step.py)."""
    import torch

    keep = sorted({p for row in positions for p in row})
    where = {p: i for i, p in enumerate(keep)}
    logits = model(input_ids=input_ids, attention_mask=attention_mask,
                   logits_to_keep=torch.tensor(keep, device=input_ids.device)).logits
    return [logits[b, [where[p] for p in row]] for b, row in enumerate(positions)]


def causal_lm_loss(model, input_ids, attention_mask, labels):
    """The causal-LM loss of transformers (mean cross-entropy over the non-ignored targets, each read
    at the position before it), with the logits computed only where a target is."""
    import torch

    positions = [[p - 1 for p in range(1, len(row)) if row[p] != IGNORE] for row in labels.tolist()]
    logits = logits_at(model, input_ids, attention_mask, positions)
    targets = torch.cat([labels[b, [p + 1 for p in row]] for b, row in enumerate(positions)])
    return torch.nn.functional.cross_entropy(torch.cat(logits).float(), targets)


def decide(probs: dict[str, float]) -> str:
    return max(probs, key=probs.__getitem__)

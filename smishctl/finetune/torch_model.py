"""The base model in torch: the embedded GGUF de-quantized by transformers, a peft LoRA on top, and
first-token label scoring (the same decision as the label-scoring adapter over llama.cpp)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from smishctl.core.errors import ConfigError
from smishctl.finetune.encode import first_token_ids, prompt_ids

TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj")


@dataclass
class LoadedBase:
    model: object
    tokenizer: object
    device: str


def pick_device(requested: str) -> str:
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for, but torch sees no CUDA device",
                          hint="use --device cpu (or auto); the extra installs a CPU build of torch")
    return requested


def load_base(gguf: Path, device: str) -> LoadedBase:
    """transformers reads the GGUF itself (de-quantized to float32): no second copy of the weights."""
    import functools

    import torch
    import transformers.modeling_gguf_pytorch_utils as gguf_utils
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    # Its GGUF de-quantization bar ignores the switch above; our own progress bar covers the phase.
    gguf_utils.tqdm = functools.partial(gguf_utils.tqdm, disable=True)
    logging.getLogger("transformers").setLevel(logging.ERROR)
    gguf = Path(gguf)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    except (ValueError, KeyError, NotImplementedError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{gguf.name} cannot be fine-tuned here: {first[:160]}",
                          hint="use an embedded local model (local/qwen2.5-coder-0.5b) or a Qwen2 GGUF") from None
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.config.use_cache = False
    return LoadedBase(model=model.to(device), tokenizer=tokenizer, device=device)


def add_lora(base: LoadedBase, rank: int, alpha: float, seed: int, dropout: float = 0.0):
    """A fresh LoRA (deterministic for a seed) on the attention projections: the only trained weights."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    cfg = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout, target_modules=list(TARGET_MODULES),
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
                logits = model(input_ids=input_ids, attention_mask=mask).logits
                last = torch.tensor([len(r) - 1 for r in rows], device=device)
                logp = torch.log_softmax(logits[torch.arange(len(rows), device=device), last].float(), dim=-1)
                probs = logp[:, index.to(device)].exp().cpu()
                out.extend({lab: float(p[i]) for i, lab in enumerate(labels)} for p in probs)
    finally:
        model.train(was_training)
    return out


def decide(probs: dict[str, float]) -> str:
    return max(probs, key=probs.get)

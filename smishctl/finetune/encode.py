"""Training and scoring inputs, rendered by the tokenizer's own chat template exactly as llama.cpp
renders the label chat (smishctl.solve.label_chat): the loss covers the answer only."""

from __future__ import annotations

from smishctl.core.errors import ConfigError
from smishctl.solve.label_chat import render_label_chat

END_OF_TURN = "<|im_end|>"
IGNORE = -100  # label id that the loss skips
# Where the loss applies. "first": the label's first token only, the one that decides when served
# (first-token scoring), so every example puts its whole gradient there. "answer": every token of the
# label and the end-of-turn token, which also teaches bare-label generation but spends part of each
# example's weight on tokens that are predictable once the first is chosen ("ishing", end of turn).
LOSS_TARGETS = ("first", "answer")


def prompt_ids(tokenizer, instructions: str, sms: str) -> list[int]:
    """Token ids of [system, user sms] plus the opening of the assistant turn."""
    text = tokenizer.apply_chat_template(render_label_chat(instructions, [], sms), add_generation_prompt=True,
                                         tokenize=False)
    return tokenizer(text, add_special_tokens=False).input_ids


def answer_ids(tokenizer, label: str) -> list[int]:
    """The bare label and the end-of-turn token that closes it (so generation stops after it)."""
    end = tokenizer.convert_tokens_to_ids(END_OF_TURN)
    return tokenizer(label, add_special_tokens=False).input_ids + ([end] if isinstance(end, int) else [])


def encode_example(tokenizer, instructions: str, sms: str, label: str, max_length: int,
                   loss: str = "first") -> tuple[list[int], list[int]]:
    """(input ids, loss labels). A long SMS is cut (for training only) so the answer always fits."""
    if loss not in LOSS_TARGETS:
        raise ConfigError(f"unknown loss target {loss!r}", hint=f"use one of: {', '.join(LOSS_TARGETS)}")
    answer = answer_ids(tokenizer, label)
    prompt = prompt_ids(tokenizer, instructions, sms)
    if len(prompt) + len(answer) > max_length:
        sms_ids = tokenizer(sms, add_special_tokens=False).input_ids
        overhead = len(prompt) - len(sms_ids)
        keep = max(1, max_length - overhead - len(answer))
        prompt = prompt_ids(tokenizer, instructions, tokenizer.decode(sms_ids[:keep]))
    targets = answer if loss == "answer" else answer[:1] + [IGNORE] * (len(answer) - 1)
    return prompt + answer, [IGNORE] * len(prompt) + targets


def first_token_ids(tokenizer, labels: tuple[str, ...]) -> dict[str, int]:
    """The first token of each label: the one forward pass that decides scores these."""

    ids = {lab: tokenizer(lab, add_special_tokens=False).input_ids[0] for lab in labels}
    if len(set(ids.values())) != len(ids):
        raise ConfigError(f"labels {labels} share a first token for this tokenizer",
                          hint="first-token scoring needs labels that start differently")
    return ids

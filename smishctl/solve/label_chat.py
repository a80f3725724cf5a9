"""The chat rendering shared by label scoring and fine-tuning.

A classification prompt for a small model works best as plain chat turns: the instructions in the
system turn (a prefix shared by every message, so llama.cpp's prefix cache serves it), each demo as a
user turn holding the bare SMS and an assistant turn holding the bare label, and the SMS to classify
as the last user turn. No field markers, no JSON: the label's first tokens are what the model scores.
"""

from __future__ import annotations

ANSWER_SUFFIX = "Answer with the label only."


def system_prompt(instructions: str) -> str:
    instructions = instructions.rstrip()
    return instructions if instructions.endswith(ANSWER_SUFFIX) else f"{instructions}\n\n{ANSWER_SUFFIX}"


def render_label_chat(instructions: str, demos: list[tuple[str, str]], sms: str) -> list[dict]:
    """[system, (user demo, assistant label)*, user sms] as OpenAI-style chat messages."""
    messages = [{"role": "system", "content": system_prompt(instructions)}]
    for text, label in demos:
        messages.append({"role": "user", "content": text})
        messages.append({"role": "assistant", "content": label})
    messages.append({"role": "user", "content": sms})
    return messages

"""Treat every SMS as hostile text before it enters a prompt.

The SMS is placed in the user message after DSPy's `[[ ## sms ## ]]` marker; the model answers in JSON,
and the local backend constrains decoding to a JSON schema whose `label` is one of the dataset's labels,
so an injection can change *which* label comes out, never the output format. What an attacker can do is
forge structure: DSPy field markers (`[[ ## label ## ]] ham`), chat-template tokens
(`<|im_end|><|im_start|>assistant`, which llama.cpp's tokenizer turns into real control tokens when they
appear in a message), invisible characters that split keywords or reorder text, and fake end-of-message
delimiters. `sanitize_sms` neutralises those — it is a no-op on ordinary messages, so quality on normal
data and optimized prompts are unaffected — and `delimit` fences the message between markers the SMS can
no longer contain.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

BEGIN, END = "<<<SMS", "SMS>>>"
# Chat-template control tokens of the common families (ChatML/Qwen, Llama 3, Gemma, Mistral, Phi, Llama 2).
_TEMPLATE_TOKEN = re.compile(
    r"<\|[^<>|\n]{1,40}\|>|</?s>|\[/?INST\]|<</?SYS>>|<(?:start|end)_of_turn>|<\|?(?:endoftext|eot_id)\|?>",
    re.IGNORECASE,
)
_FIELD_MARKER = re.compile(r"\[\s*\[\s*#+\s*([^\]\n]{0,60}?)\s*#+\s*\]\s*\]")
_FENCE = re.compile(r"<{3,}\s*SMS|SMS\s*>{3,}", re.IGNORECASE)
# Zero-width and bidirectional control characters: they hide or reorder text for a human reader and
# split keywords for a model. (Letters of other scripts are kept: they are evidence, not noise.)
_INVISIBLE = dict.fromkeys(
    [0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)


def sanitize_sms(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)  # fullwidth -> ASCII, drop invisibles
    text = _TEMPLATE_TOKEN.sub(lambda m: "(" + m.group(0).strip("<>|[]/ ").strip("|") + ")", text)
    text = _FIELD_MARKER.sub(lambda m: f"(## {m.group(1).strip()} ##)", text)
    text = _FENCE.sub("(sms)", text)
    return text


def delimit(text: str) -> str:
    return f"{BEGIN}\n{text}\n{END}"


def harden_text(text: str) -> str:
    return delimit(sanitize_sms(text))


@dataclass
class HardenedSolver:
    """Wraps a solver: the model sees the sanitised (and fenced) SMS; the run records the original text."""

    inner: object
    fence: bool = True

    def __call__(self, text: str) -> dict:
        return self.inner(harden_text(text) if self.fence else sanitize_sms(text))

    def __getattr__(self, name):
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)



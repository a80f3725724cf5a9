"""The chat rendering shared by label scoring and fine-tuning.

A classification prompt for a small model works best as plain chat turns: the instructions in the
system turn (a prefix shared by every message, so llama.cpp's prefix cache serves it), each demo as a
user turn holding the bare SMS and an assistant turn holding the bare label, and the SMS to classify
as the last user turn. No field markers, no JSON: the label's first tokens are what the model scores.
"""

from __future__ import annotations

from smishctl.signals import extract

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


# ---- the signals line (kNN param signals=true) ------------------------------------------------------
# One short line after the SMS, and after each demo rendered the same way, so the model learns from the
# demos what the line means. Short on purpose (about 10-25 tokens): every demo carries one.
SIGNALS_FORMAT = "line-v1"  # stored with a program: another wording is another prompt
MAX_SIGNAL_LINKS = 2
MAX_SIGNALS_CHARS = 110
_LINK_NOTES = {"lookalike": "lookalike", "shortener": "shortener", "tld_risk": "risky TLD", "ip_host": "IP host",
               "idn": "IDN", "homoglyph": "homoglyphs", "idn_invalid": "broken IDN", "url_obfuscated": "obfuscated"}
_TEXT_NOTES = {"phone": "phone number", "short_code": "short code", "money": "money", "deadline": "deadline",
               "urgency": "urgency", "code_request": "asks for a code", "card_request": "asks for card details",
               "do_not_share": "do-not-share wording", "otp_code": "one-time code"}


def _link_part(host: str, found: list) -> str:
    notes, others = [], []
    for s in found:
        if s.name == "brand_official_link":
            notes.append(f"{s.value.split(':', 1)[0]}'s own domain")
        elif s.name == "brand_link_mismatch":  # one note for every brand the text names
            others.append(s.value.split(" named", 1)[0])
        elif s.name in _LINK_NOTES:
            notes.append(_LINK_NOTES[s.name])
    if others:
        notes.insert(0, f"not {'/'.join(dict.fromkeys(others))}'s domain")
    notes = list(dict.fromkeys(notes))
    return f"link {host}" + (f" ({'; '.join(notes)})" if notes else "")


def signals_line(text: str) -> str:
    """`[signals: link tollcenter-pay.top (not e-zpass's domain; risky TLD); money; deadline]`: the
    analyst signals of `text` (smishctl.signals) in one line; `[signals: none]` when none fired."""
    sig = extract(text)
    links: dict[tuple[int, int], list] = {}
    for s in sig.items:
        if s.name == "url":
            links.setdefault(s.span, [])
    for s in sig.items:
        if s.span in links and s.name != "url":
            links[s.span].append(s)
    parts, named = [], set()
    for found in list(links.values())[:MAX_SIGNAL_LINKS]:
        host = next((s.value for s in found if s.name in ("domain", "ip_host")), None)
        if host:
            parts.append(_link_part(host, found))
            named |= {s.value.split(":", 1)[0].split(" named", 1)[0] for s in found
                      if s.name in ("brand_official_link", "brand_link_mismatch")}
    for s in sig.items:  # a brand no link note names (a brand named without a link, say)
        if s.name == "brand" and s.value not in named:
            named.add(s.value)
            parts.append(f"brand {s.value}")
    parts += list(dict.fromkeys(_TEXT_NOTES[s.name] for s in sig.items if s.name in _TEXT_NOTES))
    line = "; ".join(parts) or "none"
    if len(line) > MAX_SIGNALS_CHARS:  # whole parts only, in order, as many as fit
        kept: list[str] = []
        for p in parts:
            if len("; ".join([*kept, p])) <= MAX_SIGNALS_CHARS - 3:
                kept.append(p)
        line = "; ".join(kept) + "; …"
    return f"[signals: {line}]"


def with_signals(text: str) -> str:
    """The SMS as a signals-on program shows it: the text, then its signals line."""
    return f"{text}\n{signals_line(text)}"

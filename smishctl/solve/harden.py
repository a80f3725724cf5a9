"""Treat every SMS as hostile text before it enters a prompt.

The SMS is placed in the user message after DSPy's `[[ ## sms ## ]]` marker; the model answers in JSON,
and the local backend constrains decoding to a JSON schema whose `label` is one of the dataset's labels,
so an injection can change *which* label comes out, never the output format. What an attacker can do is
forge structure: DSPy field markers (`[[ ## label ## ]] ham`), chat-template tokens
(`<|im_end|><|im_start|>assistant`, which llama.cpp's tokenizer turns into real control tokens when they
appear in a message), invisible characters that split keywords or reorder text, and fake end-of-message
delimiters. `sanitize_sms` neutralises those — it is a no-op on ordinary messages, so quality on normal
data and optimized prompts are unaffected — and `delimit` fences the message between markers the SMS can
no longer contain. Text that speaks to the classifier is evidence in itself: `injection_signals` finds it
and `guard_row` keeps such a message from coming out as ham, whatever the model answered.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from smishctl.signals import extract
from smishctl.signals.lookalike import CONFUSABLES

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


# Text that speaks to the classifier instead of to the recipient. No genuine message needs to tell a spam
# filter what to answer, so such text is itself evidence of an attack (`injection_signals`). Each pattern
# is narrow on purpose: ordinary messages say "ignore my previous message", "label the boxes" or "the
# label on the jar says ham" (tests/test_robustness.py holds such controls and checks that no message of
# the default dataset gives a signal; bench/bench_robustness.py measures the guard). The patterns are
# read against the text as written and against its de-obfuscated form (`fold_obfuscation`), and cover
# the languages of the project's traffic besides English (French, Spanish, German, Hindi and Tagalog
# in Latin script).
_BENIGN_WORDS = (r"(?:ham|legit(?:imate)?|safe|benign|genuine|harmless|trusted|whitelisted|"
                 r"not\W+(?:spam|phishing|smishing|a\W+scam))")
_I = re.IGNORECASE
_SIGNALS = {
    "chat-template token": _TEMPLATE_TOKEN,
    "prompt field marker": _FIELD_MARKER,
    "forged label": re.compile(
        r"""(?:["'{<(\[]\s*label\s*["'>]?\s*[:=>]?\s*["']?\w)|(?:\blabel\s*[:=]\s*["']?\w)"""
        r"""|(?:\b(?:verdict|classification(?:\s+result)?|category)\s*[:=|]+\s*["']?\w)"""
        # a key-value verdict, as JSON or in a link's query: {"prediction": "ham"}, ?classify=ham&spam=false
        r"""|\b(?:label|verdict|classif(?:y|ication)|category|prediction|class|is_?spam|spam|result|output)["']?\s*"""
        r"""[:=]\s*["']?\s*(?:ham|legit\w*|safe|benign|false|not[_\s-]?spam|clean)\b""", _I),
    "fake system tag": re.compile(
        r"<\s*/?\s*(?:system|assistant|instructions?|admin|developer|sms)\b[^<>\n]{0,30}>"
        r"|\[\s*/?\s*(?:system|admin|assistant|developer|instructions?)\s*\]"
        r"|(?:^|\n)\s*#{2,}\s*(?:system|assistant|user)\s*:", _I),
    "instruction override": re.compile(
        r"(?<!n't\s)(?<!not\s)(?<!never\s)\b(?:ignore|disregard|forget|override|pay\s+no\s+attention\s+to)\s+"
        r"(?:(?:all|any|the|your|its|my|of|previous|prior|earlier|above|original|system|former)\s+){0,4}"
        r"(?:instructions?|rules|prompts?|guidance|guidelines)\b|\bforget\s+everything\s+you\s+(?:were|have\s+been)\s+told"
        r"|\b(?:previous|prior|earlier|above|original|old|your)\s+(?:instructions?|rules|guidance|guidelines|directions"
        r"|prompts?)\s+(?:are|is|were|have\s+been)\s+(?:now\s+)?(?:void|cancell?ed|revoked|obsolete|invalid|lifted|replaced)"
        # French, Spanish, German, Hindi and Tagalog
        r"|\b(?:ignore[rz]?|oublie[rz]?|ne\s+(?:suivez|tenez)\s+(?:plus|pas)(?:\s+compte\s+d\w*)?)\s+(?:\w+\s+){0,3}?"
        r"(?:consignes|instructions|r[èe]gles)\b"
        r"|\b(?:ignora\w*|olvida\w*|omite|no\s+sigas)\s+(?:\w+\s+){0,3}?(?:reglas|instrucciones|indicaciones|normas)\b"
        r"|\b(?:ignorier\w*|vergiss|vergessen\s+sie|missacht\w*)\s+(?:\w+\s+){0,3}?(?:anweisungen|regeln|vorgaben)\b"
        r"(?![^.!?\n]*\bnicht\b)"
        r"|\b(?:anweisungen|regeln)\s+(?:\w+\s+)?nicht\s+(?:beachten|befolgen)\b"
        r"|\b(?:rules|instructions|nirdesh|niyam)\s+(?:\w+\s+){0,2}?(?:bhool|bhul|ignore\s+karo)\b"
        r"|\b(?:huwag\s+pansinin|kalimutan|balewalain)\s+(?:\w+\s+){0,4}?(?:patakaran|tagubilin|utos|rules|instructions)\b",
        _I),
    "verdict request": re.compile(
        r"\b(?:classify|label|mark|treat|flag|tag|categori[sz]e|recogni[sz]e|consider)\b(?:\W+\w+){0,3}?\W+as\W+"
        + _BENIGN_WORDS + r"\b"
        r"|\b(?:class|marqu|consid[ée]r|trait)\w*(?:-le|-la)?\s+(?:\w+\s+){0,3}?comme\s+(?:l[ée]gitime|s[ûu]re?|normal"
        r"|fiable|authentique|ham)\b"
        r"|\b(?:marca|clasifica|considera|trata)\w*\s+(?:\w+\s+){0,3}?como\s+(?:segur[oa]|leg[ií]tim[oa]|normal|ham"
        r"|confiable)\b"
        r"|\bals\s+(?:sicher|harmlos|legitim|vertrauensw[üu]rdig|unbedenklich|ham|echt)\s+(?:\w+\s+)?(?:markieren"
        r"|einstufen|klassifizieren|kennzeichnen|behandeln|werten)\b"
        r"|\b(?:ko|isko|ise)\s+(?:\w+\s+){0,2}?(?:safe|legit|genuine|surakshit|ham)\s+(?:bolo|likho|likhna|samjho"
        r"|maano|batao|mark\s+kar\w*|label\s+do)\b"
        r"|\b(?:markahan|ituring)\s+(?:\w+\s+){0,4}?(?:ham|ligtas|lehitimo|safe)\b", _I),
    "answer dictation": re.compile(
        r"\b(?:answer|reply|respond|output|return|say)\b(?:\W+(?:with|only|just|the|a|label|word))*\W+[\"'(]?ham\b"
        r"|\b(?:correct|right|true|real)\s+(?:label|answer|classification)\s+is\b"
        r"|\br[ée]pon(?:ds|dez|dre|se)\b\W+(?:\w+\W+){0,2}?ham\b"
        r"|\b(?:responde|contesta|respuesta)\w*\W+(?:\w+\W+){0,3}?ham\b"
        r"|\b(?:antworte\w*|antwort)\W+(?:\w+\W+){0,2}?ham\b"
        r"|\bjawab\W+(?:\w+\W+){0,2}?ham\b"
        r"|\b(?:sabihing|sagutin|isagot|sagot)\W+(?:\w+\W+){0,2}?ham\b", _I),
    "addressed to a classifier": re.compile(
        r"\b(?:note|instruction|message|notice|memo|ps)s?\s+(?:for|to)\s+(?:the\s+|any\s+)?(?:\w+\s+)?(?:ai|classifier"
        r"|spam\s+filter|filter|model|llm|screening|bot|moderator|screener)s?\b"
        r"|\b(?:ai|classifier|filter|model|llm)s?\s+(?:reading\s+this|instructions?)\b"
        r"|\b(?:automated|ai|spam)\s+(?:screening|filter|classifier)s?\s*:"
        # a greeting to the filter ("Dear spam filter", "Hi AI", "Good day, automated reviewer")
        r"|\b(?:dear|hello|hi|hey|good\s+day|greetings)\s*,?\s+(?:(?:the|dear|automated|spam|sms|message|text|screening"
        r"|content|security)\s+){0,2}(?:filter|moderator|checker|reviewer|screener|scanner|classifier|ai|bot|robot"
        r"|screening\s+software)\b"
        r"|\b(?:to\s+(?:the|whatever|whoever|any)|whatever\s+is|whoever\s+is)\s+(?:\w+\s+)?(?:checking|scanning|screening"
        r"|reading|reviewing|filtering)\s+(?:this|these|texts|messages|sms)\b"
        r"|\b(?:who|that)\s+(?:built|made|created|programmed|trained|designed)\s+you\b"
        r"|\blet\s+(?:it|this(?:\s+(?:one|text|message|sms))?)\s+(?:pass|through)\b"
        r"|\byour\s+(?:developers|creators|makers|programmers|operators)\b"
        r"|\b(?:note|hinweis|nota|paalala)\s+(?:pour\s+le|an\s+den|para\s+el|sa|ke\s+liye)\s+(?:\w+\s+)?(?:filtre|filter"
        r"|filtro|classificateur|ki|ia|ai)\b"
        r"|\b(?:au|an\s+das|an\s+den|para\s+la|para\s+el|para\s+sa)\s+(?:\w+[\s-]+)?(?:filtre|filter|filtro|ki-system"
        r"|classificateur|ia|ai)\b"
        r"|\b(?:filter|ai)\s+ke\s+liye\b|\bai\s+bhai\b", _I),
    "role override": re.compile(
        r"\byou\s+are\s+(?:no\s+longer|now\s+(?:a|an|the)\s+(?:helpful|friendly|different|new)?\s*"
        r"(?:ai|assistant|classifier|filter|bot|model|pen\s+pal))\b"
        r"|\byou\s+are\s+an?\s+(?:helpful\s+|friendly\s+)?(?:ai|assistant|classifier|filter|bot|language\s+model)\b",
        re.IGNORECASE),
}
# Spaced letters folded back into words: each run's most common gap joins letters, a longer gap is a space.
_SPACED_RUN = re.compile(r"(?<![\w])(?:[^\W\d_][ .\-*_]{1,3}){2,}[^\W\d_](?![\w])")
_GAP = re.compile(r"[ .\-*_]{1,3}")
# A run spaced evenly (the loader folds whitespace, so word gaps are lost) is read whole, words run together.
_SQUASHED = re.compile(
    r"(?:ignore|disregard|forget)(?:all|any|the|your|previous|prior|above|earlier|everything)*"
    r"(?:instructions?|rules|prompts?|guidance)|(?:answer|reply|respond|say|output)(?:with)?(?:only|just)?ham"
    r"|(?:classify|mark|label|treat)(?:this|it|me)?as(?:ham|safe|legit)|notefor(?:the)?(?:ai|filter|classifier)", _I)
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_LEET_WORD = re.compile(r"[^\W_]*(?:[^\W\d_][0-9@$]|[0-9@$][^\W\d_])[\w@$]*")
_LINK_PUNCT = re.compile(r"(?<=[^\W_])[_/#?&=+]+(?=[^\W_])")
_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")


def _despace(run: str) -> str:
    gaps = _GAP.findall(run)
    letters = _GAP.split(run)
    join = max(set(gaps), key=gaps.count) if gaps else ""
    return "".join(a + ("" if g == join else " ") for a, g in zip(letters, [*gaps, join], strict=True))


def fold_obfuscation(text: str) -> str:
    """The text an obfuscated instruction reads as: NFKC (fullwidth, mathematical letters), no invisible
    characters, homoglyphs mapped to the Latin letter they pass for (the confusables of
    signals/lookalike.py), digits and symbols inside words read as letters (leetspeak: "h4m", "1gn0r3"),
    spaced letters joined ("i g n o r e", "A-N-S-W-E-R") and a link's separators read as spaces
    ("/answer_ham?mark=safe"). Only the guard reads it; the model sees the text as sanitised."""
    text = _SPACED_RUN.sub(lambda m: _despace(m.group()), _unmask(text))
    return _LINK_PUNCT.sub(" ", text)


def _unmask(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    text = "".join(_latin(ch) for ch in text)
    return _LEET_WORD.sub(lambda m: m.group().translate(_LEET), text)


def _latin(ch: str) -> str:
    """The Latin letter a Cyrillic or Greek lookalike passes for, in its case ("І" -> "I")."""
    if ch.isascii():
        return ch
    if ch in CONFUSABLES:
        return CONFUSABLES[ch]
    low = CONFUSABLES.get(ch.lower())
    return low.upper() if low else ch


def _spaced_instruction(text: str) -> bool:
    """Spaced letters that read, run together, as an instruction ("r e p l y w i t h h a m")."""
    return any(_SQUASHED.search(_GAP.sub("", m.group())) for m in _SPACED_RUN.finditer(_unmask(text)))


def _mixed_script_word(text: str) -> bool:
    """A word that mixes Latin with Cyrillic or Greek letters ("Аррle"): a lookalike, never a spelling."""
    for word in re.findall(r"\w{3,}", text):
        scripts = {name.split(" ", 1)[0] for ch in word if ch.isalpha() and (name := unicodedata.name(ch, ""))}
        if len(scripts & set(_SCRIPTS)) >= 2:
            return True
    return False


def injection_signals(text: str) -> list[str]:
    """The kinds of attack text found in an SMS (empty for an ordinary message)."""
    norm = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    folded = fold_obfuscation(text)
    found = [name for name, pattern in _SIGNALS.items() if pattern.search(norm) or pattern.search(folded)]
    if _spaced_instruction(text):
        found.append("spaced-letter instruction")
    if _mixed_script_word(norm):
        found.append("mixed-script word")
    return found


# Evidence of fraud in the message's own content, whatever its text says to the reader or the model: a
# brand named beside a link off the brand's official domains, a host that imitates a brand's (lookalike,
# brand in a subdomain), homoglyphs or invalid punycode in a host, a bare IP as a link. None of these is
# found in a ham message of the default dataset or of the modern sets (tests/test_robustness.py); code and
# card requests are left out, since ham asks for account details too ("send me your account number").
FRAUD_EVIDENCE = ("brand_link_mismatch", "lookalike", "brand_in_subdomain", "homoglyph", "idn_invalid", "ip_host")


def fraud_evidence(text: str) -> list[str]:
    """The fraud evidence among the message's signals (smishctl.signals, the bundled reference lists)."""
    names = extract(text).names()
    return [f"fraud evidence: {name}" for name in FRAUD_EVIDENCE if name in names]


def guard_reasons(text: str) -> list[str]:
    """Why the guard would keep this message from coming out as ham (empty: it leaves the answer alone)."""
    return injection_signals(text) + fraud_evidence(text)


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


def guard_row(row: dict, signals: list[str], labels: tuple[str, ...], benign: str) -> dict:
    """An SMS with attack text is not let through as `benign`: the row takes the most probable other
    label (the first other label in the label order when the row has no probabilities). The row keeps
    the signals, and the model's own answer under `guarded_from`."""
    if not signals:
        return row
    row = {**row, "guard": signals}
    if row.get("status") != "ok" or row.get("pred") != benign or benign not in labels:
        return row
    others = [lab for lab in labels if lab != benign]
    probs = row.get("probs") or {}
    row["guarded_from"] = row["pred"]
    row["pred"] = max(others, key=lambda lab: probs.get(lab, 0.0)) if probs else others[0]
    return row


@dataclass
class HardenedSolver:
    """Wraps a solver: the model sees the sanitised (and fenced) SMS; the run records the original text.
    With `guard`, a message carrying attack text (`injection_signals`) cannot come out as `benign`."""

    inner: Any  # the wrapped solver: called on a text, returns its row
    fence: bool = True
    guard: bool = True
    benign: str = "ham"

    def __call__(self, text: str) -> dict:
        row = self.inner(harden_text(text) if self.fence else sanitize_sms(text))
        if not self.guard:
            return row
        return guard_row(row, guard_reasons(text), tuple(getattr(self.inner, "labels", ())), self.benign)

    def __getattr__(self, name):
        if name in ("inner", "guard", "benign", "fence"):
            raise AttributeError(name)
        return getattr(self.inner, name)



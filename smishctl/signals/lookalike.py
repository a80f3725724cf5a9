"""Hosts made to look like another: internationalised (punycode) labels, homoglyphs, near-misses.

The confusables are the Latin look-alikes from Unicode's confusables.txt (UTS #39) that phishing
kits use most (Cyrillic, Greek, fullwidth, a few Latin letters with marks), plus the digit swaps of
typo-squatting (0->o, 1->l, 3->e, 5->s); `skeleton` maps a host onto them so "раураl.com" and
"paypa1.com" both read "paypal.com".
"""

from __future__ import annotations

import unicodedata

# Unicode character -> the ASCII letter it passes for.
CONFUSABLES = {
    # Cyrillic
    "а": "a", "в": "b", "с": "c", "е": "e", "һ": "h", "і": "i", "ј": "j", "к": "k", "м": "m", "н": "h",
    "о": "o", "р": "p", "ԛ": "q", "г": "r", "ѕ": "s", "т": "t", "у": "y", "х": "x", "ԝ": "w", "ɡ": "g",
    "ӏ": "l", "ь": "b", "ц": "u", "п": "n",
    # Greek
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "ω": "w", "ϲ": "c",
    # Latin with marks, dotless i, ligature-like
    "ı": "i", "ɩ": "i", "ł": "l", "ƚ": "l", "ɑ": "a", "ɢ": "g", "ʀ": "r", "ꜱ": "s", "ᴠ": "v",
}
DIGIT_SWAPS = {"0": "o", "1": "l", "3": "e", "5": "s", "4": "a", "7": "t"}
MULTI_SWAPS = (("rn", "m"), ("vv", "w"), ("cl", "d"))


def decode_punycode(host: str) -> tuple[str, bool]:
    """(the host with every `xn--` label decoded, whether all of them decoded); a broken label stays as written."""
    out, ok = [], True
    for label in host.split("."):
        if label.startswith("xn--"):
            try:
                label = label[4:].encode("ascii").decode("punycode")
            except (UnicodeError, ValueError):
                ok = False
        out.append(label)
    return ".".join(out), ok


def to_punycode(host: str) -> str | None:
    """The ASCII (xn--) form of a host written in Unicode; None when it has no valid one."""
    out = []
    for label in host.split("."):
        if label.isascii():
            out.append(label)
            continue
        try:
            out.append("xn--" + label.encode("punycode").decode("ascii"))
        except UnicodeError:
            return None
    return ".".join(out)


def confusable_chars(host: str) -> list[str]:
    """The non-ASCII characters of `host` that pass for ASCII letters, each as 'а (CYRILLIC SMALL LETTER A)'."""
    seen = []
    for ch in host:
        if not ch.isascii() and _ascii_of(ch) and ch not in seen:
            seen.append(ch)
    return [f"{ch} ({unicodedata.name(ch, f'U+{ord(ch):04X}')})" for ch in seen]


def _ascii_of(ch: str) -> str | None:
    if ch in CONFUSABLES:
        return CONFUSABLES[ch]
    # Fullwidth and accented Latin letters: their compatibility decomposition starts with the ASCII letter.
    base = unicodedata.normalize("NFKD", ch)[:1]
    return base.lower() if base.isascii() and base.isalpha() else None


def skeleton(text: str, digits: bool = True) -> str:
    """What `text` reads as: confusables and (with `digits`) typo-squatting digits mapped to ASCII."""
    out = "".join(_ascii_of(ch) or ch if not ch.isascii() else ch for ch in text.lower())
    if digits:
        out = "".join(DIGIT_SWAPS.get(ch, ch) for ch in out)
        for a, b in MULTI_SWAPS:
            out = out.replace(a, b)
    return out


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Levenshtein distance, stopping early at `limit` (anything further reads as `limit`)."""
    if abs(len(a) - len(b)) >= limit:
        return limit
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        if min(cur) >= limit:
            return limit
        prev = cur
    return min(prev[-1], limit)

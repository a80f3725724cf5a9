"""`extract(text) -> Signals`: what an analyst reads first in an SMS, each with the span it came from.

Deterministic and offline. Bounded on any input: only the first MAX_CHARS characters are read, at
most MAX_URLS links and MAX_SIGNALS signals are kept, and the result says when a cap was hit
(`Signals.notes`), so a 10 MB message or one with 10,000 links is a clear answer, not a stall.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from smishctl.signals import patterns as P
from smishctl.signals.lists import Brand, ReferenceLists, load_lists
from smishctl.signals.lookalike import confusable_chars, decode_punycode, edit_distance, skeleton, to_punycode
from smishctl.signals.urls import Url, extractor, find_urls

MAX_CHARS = 10_000  # an SMS is at most a few hundred characters; ten long concatenated ones fit
MAX_URLS = 20
MAX_SIGNALS = 200


@dataclass(frozen=True)
class Signal:
    name: str
    value: str
    span: tuple[int, int]  # [start, end) in the message as given

    def to_dict(self) -> dict:
        return {"name": self.name, "value": self.value, "span": list(self.span)}


@dataclass(frozen=True)
class Signals:
    items: tuple[Signal, ...]
    notes: tuple[str, ...] = ()  # caps hit, characters ignored: the result says what it did not read
    lists_sha256: str = ""
    text_chars: int = 0

    def names(self) -> set[str]:
        return {s.name for s in self.items}

    def count(self, name: str) -> int:
        return sum(s.name == name for s in self.items)

    def of(self, name: str) -> list[Signal]:
        return [s for s in self.items if s.name == name]

    def to_dict(self) -> dict:
        return {"items": [s.to_dict() for s in self.items], "notes": list(self.notes),
                "lists_sha256": self.lists_sha256}


@dataclass
class _Collector:
    limit: int
    items: list[Signal] = field(default_factory=list)
    dropped: int = 0

    def add(self, name: str, value: str, span: tuple[int, int]) -> None:
        if len(self.items) < self.limit:
            self.items.append(Signal(name, value, span))
        else:
            self.dropped += 1


def extract(text: str, lists: ReferenceLists | None = None) -> Signals:
    lists = lists or load_lists()
    if not isinstance(text, str):
        text = str(text or "")
    notes = []
    read = text
    if len(text) > MAX_CHARS:
        read = text[:MAX_CHARS]
        notes.append(f"only the first {MAX_CHARS} of {len(text)} characters were read")
    if "\x00" in read:  # not text: no link, word or number runs across one
        notes.append(f"{read.count(chr(0))} NUL characters in the message were read as separators")
    out = _Collector(MAX_SIGNALS)
    urls, total = find_urls(read, MAX_URLS)
    if total > len(urls):
        notes.append(f"{total} links found, the first {len(urls)} recorded")
    taken = [u.span for u in urls]
    for u in urls:
        _url_signals(u, lists, out)
    mentioned = _brands(read, lists, out, taken)
    _brand_links(mentioned, urls, lists, out)
    _text_signals(read, taken, out)
    if out.dropped:
        notes.append(f"{out.dropped + len(out.items)} signals found, the first {len(out.items)} recorded")
    items = sorted(out.items, key=lambda s: (s.span, s.name))
    return Signals(items=tuple(items), notes=tuple(notes), lists_sha256=lists.identity.get("sha256", ""),
                   text_chars=len(text))


def _url_signals(u: Url, lists: ReferenceLists, out: _Collector) -> None:
    out.add("url", u.url, u.span)
    if u.obfuscated:
        out.add("url_obfuscated", ", ".join(u.obfuscated), u.span)
    if not u.has_scheme:
        out.add("url_no_scheme", u.host, u.span)
    if u.is_ip:
        out.add("ip_host", u.host, u.span)
        return
    out.add("domain", u.registrable, u.span)
    if u.registrable in lists.shorteners or u.host in lists.shorteners:
        out.add("shortener", u.host if u.host in lists.shorteners else u.registrable, u.span)
    last = u.suffix.rsplit(".", 1)[-1]
    if last in lists.tld_notes:
        out.add("tld_risk", f".{last}: {lists.tld_notes[last]}", u.span)
    _lookalike(u, lists, out)


def _lookalike(u: Url, lists: ReferenceLists, out: _Collector) -> None:
    host = u.host
    if "xn--" in host:
        decoded, ok = decode_punycode(host)
        if not ok:
            out.add("idn_invalid", f"{host}: a label is not valid punycode", u.span)
            return
        out.add("idn", f"{host} = {decoded}", u.span)
        host = decoded
    elif not host.isascii():
        out.add("idn", f"{host} = {to_punycode(host) or 'no valid punycode'}", u.span)
    chars = confusable_chars(host)
    if chars:
        out.add("homoglyph", f"{host}: {', '.join(chars)}", u.span)
    if any(b.owns(u.host) for b in lists.brands):
        return  # a brand's own host
    parts = host.split(".")
    reg_label = u.domain if "xn--" not in u.domain else decode_punycode(u.domain)[0]
    sub_parts = [p for s in u.subdomain.split(".") if s for p in [s, s.replace("-", ""), *s.split("-")]]
    path = u.path.lower()
    reg_skel = skeleton(reg_label)
    for brand in lists.brands:
        for official in brand.domains:
            off_label = _label(official)
            if len(off_label) < 4:
                continue
            if reg_skel == _skeleton(off_label) or (
                    len(off_label) >= 5 and 0 < edit_distance(reg_label, off_label, 3) <= (2 if len(off_label) >= 7 else 1)):
                out.add("lookalike", f"{'.'.join(parts)} looks like {official} ({brand.key})", u.span)
                break
        tokens = _tokens(brand)
        if any(p in tokens for p in sub_parts) or any(d in u.subdomain for d in brand.domains):
            out.add("brand_in_subdomain", f"{brand.key} in {u.subdomain}", u.span)
        elif any(_token_in_label(t, reg_label) for t in tokens):
            out.add("brand_in_domain", f"{brand.key} in {u.registrable}", u.span)
        elif path and any(len(t) >= 4 and t in path for t in tokens):
            out.add("brand_in_path", f"{brand.key} in {u.path}", u.span)


_TOKENS: dict[Brand, frozenset[str]] = {}
_skeleton = functools.lru_cache(maxsize=4096)(skeleton)


@functools.lru_cache(maxsize=4096)
def _label(domain: str) -> str:
    """The registrable label of an official domain (hmrc's gov.uk is all public suffix: none)."""
    return extractor()(domain).domain


def _tokens(brand: Brand) -> frozenset[str]:
    """The words a host uses to pass for `brand`: its domains' labels and its names run together."""
    if brand not in _TOKENS:
        words = {_label(d) for d in brand.domains} | {re.sub(r"[^a-z0-9]", "", n.lower()) for n in brand.names}
        words |= {w.replace("-", "") for w in words}
        _TOKENS[brand] = frozenset(w for w in words if len(w) >= 3)
    return _TOKENS[brand]


def _token_in_label(token: str, label: str) -> bool:
    parts = label.split("-")
    return any(p == token or (len(token) >= 4 and (p.startswith(token) or (len(token) >= 6 and p.endswith(token))))
               for p in parts) or (len(token) >= 5 and label.replace("-", "").startswith(token))


_BRAND_RE: dict[str, tuple[re.Pattern, re.Pattern, dict[str, Brand]]] = {}


def _brand_patterns(lists: ReferenceLists):
    key = lists.identity.get("sha256", "")
    if key not in _BRAND_RE:
        by_name: dict[str, Brand] = {}
        for b in lists.brands:
            for n in b.names:
                by_name.setdefault(n.lower(), b)
        # Short all-capital names (EE, UPS, NAB) only in capitals: "ee" or "nab" in prose is no brand.
        exact = sorted((n for b in lists.brands for n in b.names if len(n) <= 4 and n.isupper()), key=len, reverse=True)
        loose = sorted((n for n in by_name if n.upper() not in exact), key=len, reverse=True)

        def alt(ns):
            return "|".join(re.escape(n) for n in ns) or r"(?!x)x"

        _BRAND_RE[key] = (re.compile(rf"(?<![\w.-])(?:{alt(exact)})(?![\w-])"),
                          re.compile(rf"(?<![\w.-])(?:{alt(loose)})(?![\w-])", re.IGNORECASE), by_name)
    return _BRAND_RE[key]


def _brands(text: str, lists: ReferenceLists, out: _Collector, urls: list[tuple[int, int]]) -> dict[str, Brand]:
    exact, loose, by_name = _brand_patterns(lists)
    seen: dict[str, Brand] = {}
    spans: list[tuple[int, int]] = list(urls)  # a name inside a link is the link's business (lookalikes)
    for rx in (exact, loose):
        for m in rx.finditer(text):
            if any(s < m.end() and m.start() < e for s, e in spans):
                continue
            brand = by_name[m.group().lower()]
            spans.append(m.span())
            out.add("brand", brand.key, m.span())
            seen.setdefault(brand.key, brand)
    return seen


def _brand_links(mentioned: dict[str, Brand], urls: list[Url], lists: ReferenceLists, out: _Collector) -> None:
    for brand in mentioned.values():
        for u in urls:
            if brand.owns(u.host):
                out.add("brand_official_link", f"{brand.key}: {u.host}", u.span)
            elif not any(b.owns(u.host) for b in lists.brands):
                out.add("brand_link_mismatch", f"{brand.key} named, link on {u.registrable}", u.span)


def _overlaps(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return any(s < span[1] and span[0] < e for s, e in taken)


def _text_signals(text: str, taken: list[tuple[int, int]], out: _Collector) -> None:
    for m in P.OTP_RE.finditer(text):
        g = 1 if m.group(1) else 2
        out.add("otp_code", m.group(g), m.span(g))
        taken.append(m.span(g))
    for m in P.MONEY_RE.finditer(text):
        if not _overlaps(m.span(), taken):
            out.add("money", m.group().strip(), m.span())
            taken.append(m.span())
    for m in P.PHONE_RE.finditer(text):
        digits = P.phone_digits(m.group())
        if 7 <= digits <= 15 and not _overlaps(m.span(), taken) and not _date_like(m.group()):
            out.add("phone", re.sub(r"[^\d+]", "", m.group()), m.span())
            taken.append(m.span())
    for m in P.SHORT_CODE_RE.finditer(text):
        g = 1 if m.group(1) else 2
        if not _overlaps(m.span(g), taken):
            out.add("short_code", m.group(g), m.span(g))
    for name, rx in (("deadline", P.DEADLINE_RE), ("urgency", P.URGENCY_RE)):
        for m in rx.finditer(text):
            out.add(name, m.group().lower(), m.span())
    for name, rx in (("code_request", P.CODE_REQUEST_RE), ("card_request", P.CARD_REQUEST_RE)):
        for m in rx.finditer(text):
            if not P.negated(text, m.start()):
                out.add(name, m.group(), m.span())
    for m in P.DO_NOT_SHARE_RE.finditer(text):
        out.add("do_not_share", m.group(), m.span())


def _date_like(s: str) -> bool:
    return bool(re.fullmatch(r"\s*\d{1,4}[.-]\d{1,2}[.-]\d{1,4}\s*", s))

"""Links in a message, written plainly or obfuscated ("hxxp", "[.]", "(dot)", " dot ", spaces around a
dot, no scheme, a bare domain), each with the span it was written in and its registrable domain.

The registrable domain comes from the Public Suffix List snapshot that tldextract ships, never a
download: `TLDExtract(suffix_list_urls=(), cache_dir=None)` reads no network and writes no cache (its
default constructor does both). tldextract is imported on first use, so commands that read no
message do not pay for it.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from dataclasses import dataclass

_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
# A dot as written to dodge link detection; " dot " and spaces around "." are obfuscation too.
_DOT_OBF = r"\s?(?:\[\.\]|\(\.\)|\{\.\}|\[\s?dot\s?\]|\(\s?dot\s?\)|\{\s?dot\s?\})\s?|\s+dot\s+|\s\.\s?"
_SCHEME = r"(?P<scheme>(?:h(?:tt|xx|\*\*)ps?|ftp)\s?(?:\[:\]|:)\s?//)"
_HOST = rf"(?P<host>{_LABEL}(?:(?:{_DOT_OBF}|\.){_LABEL})++)"
_PORT = r"(?::\d{2,5}(?!\d))?"
_PATH = r"(?P<path>[/?#][^\s<>\"'`]*)?"
URL_RE = re.compile(rf"(?<![\w@.\-/]){_SCHEME}?{_HOST}(?![\w-]){_PORT}{_PATH}", re.IGNORECASE)
OBF_DOT_RE = re.compile(_DOT_OBF, re.IGNORECASE)
WORD_DOT_RE = re.compile(r"\s+dot\s+", re.IGNORECASE)
# " dot " in prose ("polka dot dress") is only a link when it ends in a TLD links commonly use.
COMMON_TLDS = frozenset("com net org info biz io co app top xyz shop online site me us uk in au ca".split())
TRAILING = ".,;:!?)]}'\"”’…"


@dataclass(frozen=True)
class Url:
    span: tuple[int, int]
    written: str  # as in the message
    url: str  # normalised: scheme://host/path, lower-case host
    host: str  # lower-case, as written (Unicode or punycode)
    subdomain: str
    domain: str  # the registrable label (tolldue-notice)
    suffix: str  # the public suffix (cc, co.uk); empty for an IP or an unknown suffix
    path: str
    obfuscated: tuple[str, ...]  # how it was hidden: hxxp, bracket-dot, word-dot, spaced-dot
    has_scheme: bool
    is_ip: bool

    @property
    def registrable(self) -> str:
        return f"{self.domain}.{self.suffix}" if self.suffix else self.domain


_EXTRACTOR = None
_EXTRACTOR_LOCK = threading.Lock()


def extractor():
    """The one offline TLDExtract (bundled snapshot, no download, no cache written)."""
    global _EXTRACTOR
    with _EXTRACTOR_LOCK:
        if _EXTRACTOR is None:
            import tldextract

            _EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
        return _EXTRACTOR


def _how_obfuscated(scheme: str, host_written: str) -> tuple[str, ...]:
    how = []
    if scheme and not scheme.lower().startswith(("http", "ftp")):
        how.append("hxxp")
    for m in OBF_DOT_RE.finditer(host_written):
        kind = "word-dot" if "dot" in m.group().lower() and "[" not in m.group() and "(" not in m.group() \
            and "{" not in m.group() else "bracket-dot" if any(b in m.group() for b in "[({") else "spaced-dot"
        if kind not in how:
            how.append(kind)
    return tuple(how)


def _ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def _secure(scheme: str) -> bool:
    return scheme.lower().split(":")[0].split("[")[0].strip().endswith("s")


def find_urls(text: str, limit: int) -> tuple[list[Url], int]:
    """(at most `limit` links of `text`, how many were found in all)."""
    out: list[Url] = []
    total = 0
    tld = extractor()
    for m in URL_RE.finditer(text):
        scheme = m.group("scheme") or ""
        written_host = m.group("host")
        host = OBF_DOT_RE.sub(".", written_host).replace(" ", "").lower()
        path = (m.group("path") or "").rstrip(TRAILING)
        end = m.end("host") if not path else m.start("path") + len(path)
        ip = _ip(host)
        if ip:
            sub, dom, suf = "", host, ""
        else:
            if any(ch.isdigit() for ch in host.rsplit(".", 1)[-1]) and not host.rsplit(".", 1)[-1].startswith("xn--"):
                continue  # 3.50, 1.2.3: numbers, not hosts
            parts = tld(host)
            sub, dom, suf = parts.subdomain, parts.domain, parts.suffix
            if not suf or not dom:
                continue  # no public suffix: "e.g", "St.Louis"
            if WORD_DOT_RE.search(written_host) and not scheme and suf.rsplit(".", 1)[-1] not in COMMON_TLDS \
                    and len(suf.rsplit(".", 1)[-1]) != 2:
                continue
        total += 1
        if len(out) >= limit:
            continue
        clean_path = OBF_DOT_RE.sub(".", path) if path else ""
        out.append(Url(span=(m.start(), end), written=text[m.start():end],
                       url=f"{'https' if _secure(scheme) else 'http'}://{host}{clean_path}",
                       host=host, subdomain=sub, domain=dom, suffix=suf, path=clean_path,
                       obfuscated=_how_obfuscated(scheme, written_host), has_scheme=bool(scheme), is_ip=ip))
    return out, total

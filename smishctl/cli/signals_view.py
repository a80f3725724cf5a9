"""Message signals for people: the message with each signal's span highlighted, and one line per signal
(what it is, what it read, where). Shared by `classify --explain`, `runs show --items` and `review`."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from smishctl.cli.common import plain

# Colour by what a signal says about the link or the ask; anything else is plain emphasis.
STYLES = {
    "lookalike": "bold red", "homoglyph": "bold red", "idn": "red", "idn_invalid": "red",
    "brand_link_mismatch": "bold red", "brand_in_subdomain": "red", "brand_in_domain": "red",
    "brand_in_path": "red", "ip_host": "red", "shortener": "magenta", "tld_risk": "magenta",
    "code_request": "bold red", "card_request": "bold red", "urgency": "yellow", "deadline": "yellow",
    "money": "cyan", "phone": "cyan", "short_code": "cyan", "brand": "blue",
    "brand_official_link": "green", "do_not_share": "green", "otp_code": "green",
}
SPAN_STYLE = "underline"


def highlighted(text: str, signals: dict) -> Text:
    """`text` with every signal's span underlined and coloured."""
    shown = Text(text.replace("\n", " "))  # a Text is never read as markup; same length, same spans
    for s in signals.get("items", []):
        a, b = s["span"]
        shown.stylize(f"{SPAN_STYLE} {STYLES.get(s['name'], 'bold')}", a, b)
    return shown


def table(text: str, signals: dict) -> Table:
    t = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
    for col in ("signal", "value", "where"):
        t.add_column(col, overflow="fold")
    for s in signals.get("items", []):
        a, b = s["span"]
        t.add_row(Text(s["name"], style=STYLES.get(s["name"], "")), plain(s["value"]),
                  f"{a}-{b} {plain(repr(text[a:b][:60]))}")
    return t


def summary(signals: dict, limit: int = 6) -> str:
    """One short line: the signal names (URLs and domains left out: their lookalike flags say more)."""
    names = [s["name"] for s in signals.get("items", []) if s["name"] not in ("url", "domain", "url_no_scheme")]
    seen = list(dict.fromkeys(names))
    more = f" +{len(seen) - limit}" if len(seen) > limit else ""
    return ", ".join(seen[:limit]) + more


def notes(signals: dict) -> list[str]:
    return [f"note: {plain(n)}" for n in signals.get("notes", [])]

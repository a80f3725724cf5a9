"""Signals as numbers for a linear model: one column per signal kind, its count capped at CAP and
scaled to [0, 1], in a fixed order (FEATURES) so a model and its inputs never disagree."""

from __future__ import annotations

from smishctl.signals.extract import Signals

FEATURES = (
    "url", "url_obfuscated", "url_no_scheme", "ip_host", "shortener", "tld_risk", "idn", "idn_invalid",
    "homoglyph", "lookalike", "brand_in_subdomain", "brand_in_domain", "brand_in_path", "brand",
    "brand_official_link", "brand_link_mismatch", "phone", "short_code", "money", "deadline", "urgency",
    "code_request", "card_request", "do_not_share", "otp_code",
)
# Derived columns a linear model cannot form itself: a link that is no brand's own.
DERIVED = ("url_not_official",)
CAP = 3


def vector(signals: Signals) -> list[float]:
    counts = dict.fromkeys(FEATURES, 0)
    for s in signals.items:
        if s.name in counts:
            counts[s.name] += 1
    row = [min(counts[name], CAP) / CAP for name in FEATURES]
    row.append(float(counts["url"] > 0 and counts["brand_official_link"] == 0))
    return row


def names() -> tuple[str, ...]:
    return FEATURES + DERIVED

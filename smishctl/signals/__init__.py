"""Message signals (rank 2: imports core/ and util/ only): links and their registrable domains, brands
and lookalikes, phone numbers, money, deadlines, requests for codes or card data. Pure, deterministic,
offline. `extract(text)` -> Signals; `load_lists(section)` the reference lists and their identity."""

from smishctl.signals.extract import MAX_CHARS, MAX_SIGNALS, MAX_URLS, Signal, Signals, extract
from smishctl.signals.lists import ReferenceLists, load_lists

__all__ = ["MAX_CHARS", "MAX_SIGNALS", "MAX_URLS", "ReferenceLists", "Signal", "Signals", "extract", "load_lists"]

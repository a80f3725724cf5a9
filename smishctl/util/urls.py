"""Endpoint URLs: what may be recorded of them, and what identifies them without their secrets."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import overload
from urllib.parse import urlsplit, urlunsplit


@overload
def public_url(url: str) -> str: ...
@overload
def public_url(url: str | None) -> str | None: ...
def public_url(url: str | None) -> str | None:
    """`url` without what may hold credentials: user:password@, the query string and the fragment."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL we can parse: record nothing rather than something unsafe
        return "<unparsable url>"
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def has_secret_parts(url: str) -> bool:
    """Whether `url` has what public_url drops for safety: user:password@, a query or a fragment (an
    unparsable URL counts: nothing can be said of it)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return True
    return "@" in parts.netloc or bool(parts.query) or bool(parts.fragment)


@lru_cache(maxsize=64)
def endpoint_text(url: str | None) -> str | None:
    """What an endpoint tag hashes for `url`. A URL with nothing to hide is itself, exactly as written
    (so tags made before stay valid). One with credentials or a query keeps them apart from its siblings
    (another key may reach another deployment) through a memory-hard digest: the 12-hex tag lands in
    run files, and a fast hash of the whole URL would let anyone holding one confirm a guessed password
    offline. The salt is the public URL, the same on every machine, so that runs still compare across
    machines: one dictionary attack per endpoint, not per user, but at scrypt's price per guess."""
    if not url or not has_secret_parts(url):
        return url
    public = public_url(url) or ""
    # scrypt with n=2**14, r=8: 16 MiB and tens of milliseconds per guess instead of nanoseconds.
    hidden = hashlib.scrypt(url.encode(), salt=public.encode(), n=1 << 14, r=8, p=1, dklen=16).hex()
    return f"{public}|hidden:{hidden}"

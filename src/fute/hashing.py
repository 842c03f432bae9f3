"""The one content hash: every key, id and fingerprint of a JSON-able value goes through here."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def content_hash(obj: Any, n: int = 16, *, ascii: bool = True) -> str:
    """First ``n`` hex digits of sha256 over canonical JSON (sorted keys; non-JSON values as ``str``).

    ``ascii=False`` keeps non-ASCII text as UTF-8 instead of escapes (the label cache's keys are made so).
    The same value always gives the same hash, on any machine: stored keys depend on it.
    """
    text = json.dumps(obj, sort_keys=True, default=str, ensure_ascii=ascii)
    return hashlib.sha256(text.encode()).hexdigest()[:n]

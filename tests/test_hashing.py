"""The one content hash keeps every key it replaced: stored vectors, jobs and label caches stay found."""

from __future__ import annotations

import hashlib
import json

from fute.hashing import content_hash

VALUE = {"b": [1, 2.5, None], "a": {"y": "critiques-données", "x": True}}


def test_same_hash_as_the_formulas_it_replaced():
    old_sorted = hashlib.sha256(json.dumps(VALUE, sort_keys=True).encode()).hexdigest()
    assert content_hash(VALUE, 16) == old_sorted[:16] and content_hash(VALUE, 32) == old_sorted[:32]
    pair = [["critiques-données", "b"], None]
    old_utf8 = hashlib.sha256(json.dumps(pair, ensure_ascii=False).encode()).hexdigest()[:24]
    assert content_hash(pair, 24, ascii=False) == old_utf8


def test_key_order_does_not_matter_and_values_do():
    assert content_hash({"a": 1, "b": 2}) == content_hash({"b": 2, "a": 1})
    assert content_hash({"a": 1}) != content_hash({"a": 2})
    assert len(content_hash(VALUE, 24)) == 24

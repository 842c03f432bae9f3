"""The one content hash keeps every key it replaced: stored vectors, jobs and label caches stay found."""

from __future__ import annotations

import hashlib
import json
import os

from fute.hashing import content_hash, portable_files_state

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


def test_portable_file_state_ignores_modification_times(tmp_path):
    """A benchmark job key must be the same on another machine, where the same files have other times."""
    f = tmp_path / "model.gguf"
    f.write_bytes(b"weights")
    before = portable_files_state(str(f))
    os.utime(f, (1, 1))
    assert portable_files_state(str(f)) == before
    f.write_bytes(b"weightz")  # same size, other content
    assert portable_files_state(str(f)) != before
    assert portable_files_state(str(tmp_path / "hub-id")) is None

"""Files fute writes: atomic, and with the mode the user's umask gives (a served report must be readable)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from fute.paths import UMASK, atomic_write


def test_atomic_write_uses_the_umask_not_0600(tmp_path):
    path = atomic_write(tmp_path / "out.html", lambda tmp: Path(tmp).write_text("<html></html>"))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~UMASK
    assert path.read_text() == "<html></html>" and not list(tmp_path.glob(".out.html.*"))


def test_model_source_names_a_missing_folder_and_passes_hub_ids(tmp_path, monkeypatch):
    from fute import paths
    from fute.errors import ConfigError
    from fute.paths import model_source

    monkeypatch.setattr(paths, "hub_reachable", lambda: True)  # online: a hub id goes to the hub's loader

    assert model_source(str(tmp_path), "LLM") == str(tmp_path)
    assert (
        model_source("sentence-transformers/all-MiniLM-L6-v2", "surrogate") == "sentence-transformers/all-MiniLM-L6-v2"
    )
    for missing in ("./no/such", "../nope", str(tmp_path / "nope"), "~/nope-fute", "a/b/c"):
        with pytest.raises(ConfigError, match="no such folder"):
            model_source(missing, "classifier")

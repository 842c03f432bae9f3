"""Where fute keeps its files: $FUTE_HOME (default ~/.cache/fute)."""

from __future__ import annotations

import os
from pathlib import Path


def fute_home() -> Path:
    return Path(os.environ.get("FUTE_HOME", Path.home() / ".cache" / "fute")).expanduser()

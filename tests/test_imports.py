"""Light entry points stay light: `import fute`, the space module and `fute --help` do not load torch."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["fute", "fute.errors", "fute.space", "fute.hashing", "fute.cli"])
def test_importing_does_not_load_torch(module):
    code = f"import sys, {module}; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"], f"import {module} loads torch or transformers"


def test_the_lazy_api_is_still_there():
    import fute

    assert callable(fute.embed_dataset) and fute.TaskVector.__name__ == "TaskVector"
    assert {"embed_dataset", "rank", "Store"} <= set(dir(fute))
    with pytest.raises(AttributeError):
        fute.no_such_name  # noqa: B018

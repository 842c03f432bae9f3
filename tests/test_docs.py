"""What the README promises, checked against the code, so the two cannot drift apart."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _section(title: str) -> str:
    text = README.read_text()
    start = text.index(title)
    end = text.find("\n#", start + len(title))
    return text[start : end if end > 0 else None]


def test_the_guaranteed_exit_codes_are_the_cli_s():
    from fute import cli

    said = dict(
        re.findall(r"(\d+) ([^;.]+?)(?:;|\.|$)", _section("### What fute guarantees").split("**Exit codes**")[1])
    )
    assert "3" in said and "damaged" in said["3"] and "2" in said and "one-line error" in said["2"]
    assert (cli.EXIT_ERROR, cli.EXIT_SKIPPED, cli.EXIT_INTERRUPTED) == (2, 3, 130)
    assert "130" in said and "interrupted" in said["130"]

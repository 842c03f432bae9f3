"""The README and the docs, checked against the code so that neither can rot: every Python example runs, every
`fute` command line in them parses with today's options, every script they name exists, and what the
guarantees promise is what the CLI does."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
HEAVY = re.compile(r"\b(embed_dataset|embed_model|embed_samples|load_target|select_prompts)\(")


def _blocks(lang: str) -> list[tuple[Path, int, str]]:
    out = []
    for page in PAGES:
        for i, m in enumerate(re.finditer(rf"^```{lang}\n(.*?)^```", page.read_text(), flags=re.S | re.M)):
            out.append((page, i, m.group(1)))
    return out


def _id(block: tuple[Path, int, str]) -> str:
    return f"{block[0].relative_to(ROOT)}#{block[1]}"


PYTHON = [pytest.param(b, marks=[pytest.mark.slow] if HEAVY.search(b[2]) else [], id=_id(b)) for b in _blocks("python")]


def test_the_readme_is_a_front_door():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    assert "make demo" in text and "make test" in text and PYTHON and _blocks("bash")


@pytest.mark.parametrize("block", PYTHON)
def test_python_examples_run(block, tmp_path_factory):
    """Each example runs as a user would run it: in a fresh process, in a folder of its own with the data pack
    beside it (nothing is written into the repository); the pages share one $FUTE_HOME and that folder, so a
    vector one example made is a cache hit for the next."""
    page, _, code = block
    if "../shared/data" in code and not SHARED_DATA.is_dir():
        pytest.skip("needs ../shared/data")
    base = tmp_path_factory.getbasetemp() / "docs-examples"
    work = base / "work"  # a user's folder, with the data pack beside it as beside this checkout: ../shared/data
    if not work.is_dir():
        work.mkdir(parents=True)
        if SHARED_DATA.is_dir():
            (base / "shared").symlink_to(SHARED_DATA.parent)
    env = {**os.environ, "FUTE_HOME": str(base / "home"), "HF_HUB_OFFLINE": "1"}
    env.pop("FUTE_STORE", None)
    r = subprocess.run([sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"{_id(block)} failed:\n{r.stderr[-3000:]}"


def _commands() -> list[tuple[str, list[str]]]:
    """Every command line of the pages' bash blocks and of bench/'s shell scripts (continuations joined, comments
    cut, the block's own variables expanded)."""
    out = []
    scripts = [(p, 0, p.read_text()) for p in sorted((ROOT / "bench").glob("*.sh"))]
    for page, i, code in [*_blocks("bash"), *scripts]:
        where = f"{page.relative_to(ROOT)}#{i}"
        vars_: dict[str, str] = {}
        for line in re.sub(r"\\\n\s*", " ", code).splitlines():
            line = line.strip()
            for name, value in vars_.items():
                line = line.replace(f"${{{name}}}", value).replace(f"${name}", value)
            m = re.fullmatch(r"(?:export )?([A-Z_]+)=(.*)", line)
            if m:
                vars_[m.group(1)] = " ".join(shlex.split(m.group(2), comments=True))
                continue
            line = re.sub(r"^(for .*?; do|do)\s+", "", line)
            words = shlex.split(line, comments=True)
            if words:
                out.append((where, words))
    return out


def test_every_fute_command_line_in_the_docs_parses():
    """Renamed options and commands break the build, not a reader's first try."""
    import typer

    from fute.cli import app

    root = typer.main.get_command(app)
    checked = 0
    for where, words in _commands():
        if words[0] != "fute":
            continue
        cmd, args = root, words[1:]
        while hasattr(cmd, "commands") and args and not args[0].startswith("-"):
            assert args[0] in cmd.commands, f"{where}: `{shlex.join(words)}`: no command '{args[0]}'"
            cmd, args = cmd.commands[args[0]], args[1:]
        try:
            cmd.make_context(words[0], list(args))
        except Exception as e:  # typer's own click raises its UsageError / BadParameter
            pytest.fail(f"{where}: `{shlex.join(words)}` does not parse: {e}")
        checked += 1
    assert checked >= 20


def test_every_script_the_docs_run_exists():
    for where, words in _commands():
        if words[0] in ("python", "python3", "bash") and len(words) > 1 and not words[1].startswith("-"):
            assert (ROOT / words[1]).is_file(), f"{where}: `{shlex.join(words)}`: no {words[1]}"
        if words[0] == "make":  # noqa: SIM102 - one check per kind of line
            targets = re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), flags=re.M)
            assert all(t in targets for t in words[1:] if not t.startswith("-")), f"{where}: {words}"


def test_every_script_named_in_the_prose_exists():
    for page in PAGES:
        for script in re.findall(r"`(?:python3? |bash )((?:bench|tools)/[\w./-]+\.(?:py|sh))", page.read_text()):
            assert (ROOT / script).is_file(), f"{page.relative_to(ROOT)} names {script}, which is not there"


def _section(page: Path, title: str) -> str:
    text = page.read_text()
    start = text.index(title)
    end = text.find("\n#", start + len(title))
    return text[start : end if end > 0 else None]


def test_the_guaranteed_exit_codes_are_the_cli_s():
    from fute import cli

    said = _section(ROOT / "docs" / "store.md", "## What fute guarantees").split("**Exit codes**")[1]
    codes = dict(re.findall(r"(\d+) ([^;.]+?)(?:;|\.|$)", said))
    assert "damaged" in codes[str(cli.EXIT_SKIPPED)] and "one-line error" in codes[str(cli.EXIT_ERROR)]
    assert "interrupted" in codes[str(cli.EXIT_INTERRUPTED)]
    assert "exit 3" in (ROOT / "README.md").read_text() and cli.EXIT_SKIPPED == 3


def test_bench_readme_lists_every_script():
    listed = (ROOT / "bench" / "README.md").read_text()
    scripts = sorted(p.name for p in (ROOT / "bench").iterdir() if p.suffix in (".py", ".sh"))
    assert scripts and [s for s in scripts if f"`{s}`" not in listed] == []


def test_source_cites_no_result_file():
    """Measured numbers live in results pages written by benchmarks; the code points to the docs, not to them."""
    cited = [
        f"{p.relative_to(ROOT)}:{i}"
        for p in sorted((ROOT / "src" / "fute").rglob("*.py"))
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(r"bench/results/[A-Za-z_]", line)
    ]
    assert cited == []

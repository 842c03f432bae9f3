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


def _reading_order() -> list[Path]:
    """The README, then the site's pages in its navigation's order (a reader's order: an example may use what an
    earlier one made), then any page the navigation does not list."""
    nav = re.findall(r"^\s+- [^:]+: ([\w./-]+\.md)$", (ROOT / "mkdocs.yml").read_text(), flags=re.M)
    pages = [ROOT / "docs" / n for n in nav]
    return [ROOT / "README.md", *pages, *sorted(set((ROOT / "docs").glob("*.md")) - set(pages))]


PAGES = _reading_order()
# examples that load the real surrogate or an LLM: marked slow
HEAVY = re.compile(
    r"\b(embed_dataset|embed_model|embed_samples|load_target|select_prompts)\(|\bfute (embed|rank|map|report|select-)"
)
NOT_RUN = re.compile(r"<!-- not run in the tests: (.+?) -->\s*$")


def _fenced(lang: str) -> list[tuple[Path, int, str, str | None]]:
    """(page, index, code, why not run): the reason comes from a `<!-- not run in the tests: ... -->` line right
    above the block; None: the block runs."""
    out = []
    for page in PAGES:
        text = page.read_text()
        for i, m in enumerate(re.finditer(rf"^```{lang}\n(.*?)^```", text, flags=re.S | re.M)):
            why = NOT_RUN.search(text[: m.start()].rstrip("\n"))
            out.append((page, i, m.group(1), why.group(1) if why else None))
    return out


def _blocks(lang: str) -> list[tuple[Path, int, str]]:
    return [(page, i, code) for page, i, code, _ in _fenced(lang)]


def _id(block: tuple) -> str:
    return f"{block[0].relative_to(ROOT)}#{block[1]}"


def _examples() -> list:
    """Every Python block, and every bash block that does not say why it cannot run here, in reading order."""
    blocks = [(p, i, "python", code) for p, i, code, _ in _fenced("python")]
    blocks += [(p, i, "bash", code) for p, i, code, why in _fenced("bash") if why is None]
    blocks.sort(key=lambda b: (PAGES.index(b[0]), b[0].read_text().index(f"```{b[2]}\n{b[3]}")))
    return [
        pytest.param(b, marks=[pytest.mark.slow] if HEAVY.search(b[3]) else [], id=f"{_id(b)}-{b[2]}") for b in blocks
    ]


EXAMPLES = _examples()


def test_the_readme_is_a_front_door():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    assert "make demo" in text and "make test" in text
    readme = {b.values[0][2] for b in EXAMPLES if b.values[0][0].name == "README.md"}
    assert readme == {"python", "bash"}  # its command-line and its Python quickstart both run


def test_every_block_runs_or_says_why_not():
    """A bash block runs in test_examples_run unless the comment above it says why it cannot run here (a GPU, a
    cluster, a hub model, hours of CPU); the walkthroughs (README, usage, models, maps) run."""
    blocks = _fenced("bash")
    assert all(len(why.split()) >= 3 for *_, why in blocks if why is not None)
    run = {page.name for page, _, _, why in blocks if why is None}
    assert {"README.md", "usage.md", "models.md", "maps.md"} <= run, run


@pytest.fixture(scope="session")
def docs_sandbox(tmp_path_factory) -> Path:
    """A user's folder: the data pack beside it (../shared/data, as beside this checkout) and the files the examples
    call the user's own: reviews.csv (columns review and stars) and ./my-finetuned-classifier (a classifier folder;
    a tiny random one: which classifier it is does not matter to the commands)."""
    import csv
    import json

    from transformers import BertConfig, BertForSequenceClassification

    from tests.conftest import build_tokenizer

    base = tmp_path_factory.getbasetemp() / "docs-examples"
    work = base / "work"
    work.mkdir(parents=True)
    if SHARED_DATA.is_dir():
        (base / "shared").symlink_to(SHARED_DATA.parent)
    lines = (ROOT / "src" / "fute" / "data" / "demo" / "sst2" / "train.jsonl").read_text().splitlines()[:200]
    with (work / "reviews.csv").open("w", newline="") as f:
        csv.writer(f).writerows([("review", "stars"), *[(r["text"], r["label"]) for r in map(json.loads, lines)]])
    folder = work / "my-finetuned-classifier"
    config = BertConfig(
        vocab_size=len(build_tokenizer(folder)),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        id2label={0: "negative", 1: "positive"},
        label2id={"negative": 0, "positive": 1},
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    return work


@pytest.mark.parametrize("block", EXAMPLES)
def test_examples_run(block, docs_sandbox):
    """Each example runs as a user would run it, in a fresh process, in the user's folder (nothing is written into
    the repository). The pages share one $FUTE_HOME and that folder: a vector one example made is a cache hit for
    the next, and an example may use a file an earlier one wrote."""
    page, _, lang, code = block
    if "../shared/data" in code and not SHARED_DATA.is_dir():
        pytest.skip("needs ../shared/data")
    env = {**os.environ, "FUTE_HOME": str(docs_sandbox.parent / "home"), "HF_HUB_OFFLINE": "1"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # this environment's `fute`
    env.pop("FUTE_STORE", None)
    argv = [sys.executable, "-c", code] if lang == "python" else ["bash", "-euo", "pipefail", "-c", code]
    r = subprocess.run(argv, cwd=docs_sandbox, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"{_id(block)} failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"


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
    rows = [r.strip("|").split(" | ") for r in listed.splitlines() if r.startswith("| `")]
    assert all(len(r) == 4 and r[2].strip() and "results" in r[3] for r in rows), "script | what | cost | page"


def test_source_cites_no_result_file():
    """Measured numbers live in results pages written by benchmarks; the code points to the docs, not to them."""
    cited = [
        f"{p.relative_to(ROOT)}:{i}"
        for p in sorted((ROOT / "src" / "fute").rglob("*.py"))
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(r"bench/results/[A-Za-z_]", line)
    ]
    assert cited == []

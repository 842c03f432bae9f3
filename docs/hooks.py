"""MkDocs hooks: the pages that are generated so that they cannot drift from the code and the results.

- ``results/``: every benchmark's result page and figure, taken from ``bench/results/`` as the benchmarks wrote
  them (nothing is copied into docs/ by hand).
- Links: pages link to repository files the way they would on disk (``../bench/results/x.md``); a link to a
  file the site holds points to its page, any other becomes the file's repository path as code, so the site
  never has a dead link and ``mkdocs build --strict`` passes.
- ``<!-- fute:cli -->``: the whole command reference, read from the typer app.
- ``<!-- fute:method-options -->``: every method's options, read from their config fields.
- ``<!-- fute:results -->``: the index of the result pages, with each page's title and the command that made it.
"""

from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
SITE_KINDS = {".md", ".png", ".svg", ".html"}
_LINK = re.compile(r"(!?)\[([^\]\n]*)\]\(([^)\s]+)\)")
_on_disk: dict[str, Path] = {}  # site uri -> the repository file it comes from
_by_path: dict[Path, str] = {}


def on_files(files: Files, config: Any) -> Files:
    for f in files:
        if f.abs_src_path:
            _remember(f.src_uri, Path(f.abs_src_path))
    for path in sorted(RESULTS.rglob("*")):
        if path.is_file() and path.suffix in SITE_KINDS:
            uri = "results/" + path.relative_to(RESULTS).as_posix()
            files.append(File.generated(config, uri, abs_src_path=str(path)))
            _remember(uri, path)
    return files


def _remember(uri: str, path: Path) -> None:
    _on_disk[uri] = path.resolve()
    _by_path[path.resolve()] = uri


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    if "<!-- fute:cli -->" in markdown:
        markdown = markdown.replace("<!-- fute:cli -->", cli_reference())
    if "<!-- fute:method-options -->" in markdown:
        markdown = markdown.replace("<!-- fute:method-options -->", method_options_reference())
    if "<!-- fute:results -->" in markdown:
        markdown = markdown.replace("<!-- fute:results -->", results_index(page.file.src_uri))
    return _relink(markdown, page.file.src_uri)


def _relink(markdown: str, uri: str) -> str:
    here = _on_disk.get(uri)
    if here is None:
        return markdown
    out, pos = [], 0
    for block in re.finditer(r"^```.*?^```", markdown, flags=re.S | re.M):  # code blocks keep their text
        out.append(_LINK.sub(lambda m: _fix(m, here, uri), markdown[pos : block.start()]))
        out.append(block.group(0))
        pos = block.end()
    out.append(_LINK.sub(lambda m: _fix(m, here, uri), markdown[pos:]))
    return "".join(out)


def _fix(m: re.Match[str], here: Path, uri: str) -> str:
    bang, text, target = m.groups()
    if re.match(r"^([a-z]+:|#)", target):
        return m.group(0)
    path, _, anchor = target.partition("#")
    found = (here.parent / path).resolve()
    if found.is_dir():
        for index in ("README.md", "index.md"):
            if (found / index).resolve() in _by_path:
                found = (found / index).resolve()
    if found in _by_path:
        rel = posixpath.relpath(_by_path[found], posixpath.dirname(uri) or ".")
        return f"{bang}[{text}]({rel}{'#' + anchor if anchor else ''})"
    try:
        shown = found.relative_to(REPO).as_posix()
    except ValueError:
        shown = path
    if bang:
        return f"*{text}* (`{shown}`)"
    return f"`{shown}`" if text.strip("`") == shown or text.strip("`") == path else f"{text} (`{shown}`)"


def cli_reference() -> str:
    """Every `fute` command with its arguments and options, read from the typer app itself."""
    import typer

    from fute.cli import app

    root = typer.main.get_command(app)
    parts: list[str] = []

    def walk(cmd: Any, path: list[str]) -> None:
        if hasattr(cmd, "commands"):  # a group (typer vendors its own click: no isinstance on click's classes)
            if path:
                parts.append(f"## `{' '.join(path)}`\n\n{_help(cmd)}\n")
            for name in sorted(cmd.commands):
                walk(cmd.commands[name], [*path, name])
            return
        ctx = type(root.make_context("fute", [], resilient_parsing=True))(cmd, info_name=" ".join(path))
        parts.append(f"{'###' if len(path) > 2 else '##'} `{' '.join(path)}`\n\n{_help(cmd)}\n")
        parts.append(f"```\n{' '.join([*path, *cmd.collect_usage_pieces(ctx)])}\n```\n")
        rows = []
        for p in cmd.params:
            if getattr(p, "hidden", False):
                continue
            names = ", ".join(f"`{n}`" for n in (*p.opts, *p.secondary_opts))
            kind = "argument" if p.param_type_name == "argument" else p.display_type(ctx).strip("<>")
            default = (
                "" if p.required or p.default is None or p.default is False or p.default == () else f"`{p.default}`"
            )
            text = (getattr(p, "help", None) or "").replace("|", "\\|").replace("\n", " ")
            rows.append(f"| {names} | {kind} | {default} | {text} |")
        if rows:
            parts.append("| name | type | default | help |\n|---|---|---|---|\n" + "\n".join(rows) + "\n")

    walk(root, ["fute"])
    return "\n".join(parts)


def method_options_reference() -> str:
    """Each registered method's options, from the help and bounds declared on its config's fields (the same
    metadata ``fute methods NAME`` prints)."""
    from fute.methods import method_options
    from fute.registry import METHODS

    parts = []
    for name in METHODS.in_order():
        rows = [
            f"| `{o.name}` | `{o.default!r}` | {o.bounds} | {o.in_space} | {o.help.replace('|', '/')} |"
            for o in method_options(name)
        ]
        head = "| option | default | bounds | in space | what it does |\n|---|---|---|---|---|\n"
        parts.append(f"### `{name}`\n\n{head}" + "\n".join(rows) + "\n")
    return "\n".join(parts)


def _help(cmd: Any) -> str:
    return (cmd.help or "").strip().replace("\b\n", "")


def results_index(uri: str) -> str:
    """One row per result page of bench/results (and of its run folders, one level down): its title and the
    command that made it. Repeated runs (run1/, run2/) are reached from their page."""
    rows = []
    for path in sorted(RESULTS.glob("*.md")) + sorted(RESULTS.glob("*/*.md")):
        text = path.read_text(errors="replace")
        title = next((ln.lstrip("# ").strip() for ln in text.splitlines() if ln.startswith("#")), path.stem)
        made = re.search(r"`(python [^`]+|fute [^`]+|bash [^`]+)`", text)
        link = Path(os.path.relpath(path, (REPO / "docs" / uri).parent)).as_posix()  # on disk; _relink maps it
        cell = f"`{made.group(1)}`" if made else ""
        rows.append(f"| [{title.replace('|', '/')}]({link}) | {cell.replace('|', '/')} |")
    return "| result | made by |\n|---|---|\n" + "\n".join(rows)

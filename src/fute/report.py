"""`fute report`: one static HTML page of a store (maps, nearest neighbours, benchmark tables).

The page is self-contained (plotly's JavaScript inlined, images beside it), so the folder opens in a
browser from disk with no server, and can be copied or attached as it is.
"""

from __future__ import annotations

import html
import re
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from fute import __version__
from fute.errors import ConfigError
from fute.paths import atomic_write
from fute.rank import rank
from fute.space import TaskVector
from fute.store import VectorStore, open_store
from fute.viz import build_map, category_of, choose_space, figure, write_png

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1200px;color:#222;
padding:0 1rem}
h1{font-size:1.6rem}h2{border-bottom:1px solid #ddd;padding-bottom:.3rem;margin-top:2.5rem}h3{margin-top:1.8rem}
table{border-collapse:collapse;font-size:.85rem;margin:.8rem 0}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f5f5}.muted{color:#777;font-size:.85rem}code{background:#f3f3f3;padding:0 .2rem}
.result img{max-width:100%}nav a{margin-right:1rem}
"""


def _esc(x: object) -> str:
    return html.escape(str(x))


def neighbour_table(vectors: Sequence[TaskVector], store: VectorStore, k: int, *, progress: bool) -> str:
    """Each vector's ``k`` nearest others in its space, by the space's own score (cosine for most)."""
    rows = []
    for v in tqdm(vectors, desc="nearest neighbours", unit="vector", disable=not progress, leave=False):
        near = rank(v, store, k=k)
        cells = "".join(f"<td>{_esc(r.vector.name)} <span class='muted'>{r.score:.3f}</span></td>" for r in near)
        cells += "<td></td>" * (k - len(near))
        rows.append(
            f"<tr><td><b>{_esc(v.name)}</b></td><td>{_esc(v.kind)}</td><td>{_esc(category_of(v.card))}</td>{cells}</tr>"
        )
    head = "".join(f"<th>#{i}</th>" for i in range(1, k + 1))
    return f"<table><tr><th>vector</th><th>kind</th><th>category</th>{head}</tr>{''.join(rows)}</table>"


def results_section(results: Path, out: Path) -> str:
    """Every benchmark result table (``*.md``) of ``results``, with its images copied beside the page."""
    import markdown

    parts = []
    for md in sorted(results.glob("*.md")):
        body = markdown.markdown(md.read_text(encoding="utf-8"), extensions=["tables", "fenced_code"])
        for src in re.findall(r'src="([^":/]+\.png)"', body):
            if (results / src).is_file():
                (out / "results").mkdir(exist_ok=True)
                shutil.copy2(results / src, out / "results" / src)
        body = re.sub(r'src="([^":/]+\.png)"', r'src="results/\1"', body)
        body = re.sub(r"<(/?)h([1-4])", lambda m: f"<{m[1]}h{int(m[2]) + 2}", body)  # under the page's own h2
        parts.append(
            f"<div class='result' id='result-{_esc(md.stem)}'>{body}<p class='muted'>from {_esc(md.name)}</p></div>"
        )
    return "\n".join(parts)


def write_report(
    out: str | Path,
    store: str | Path | VectorStore | None = None,
    *,
    space: str | None = None,
    projection: str = "tsne",
    results: str | Path | None = None,
    k: int = 5,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Write ``out/index.html`` (+ one PNG map per space); returns the page's path.

    ``space`` limits the page to one space (default: every space of the store, each on its own map).
    ``results``: a folder of benchmark results (``*.md`` with their PNGs) to include.
    """
    import plotly.offline

    st = open_store(store)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    spaces = [choose_space(st, space)] if space else st.spaces()
    if not spaces:
        choose_space(st)  # raises the "no vectors" error
    if results is not None and not Path(results).is_dir():
        raise ConfigError(f"--results {results}: not a folder of benchmark results")
    sections, nav = [], []
    for sid in spaces:
        vectors = sorted(st.vectors(sid), key=lambda v: (v.kind, v.name))
        title = vectors[0].card.space.describe()
        nav.append(f"<a href='#space-{sid}'>{_esc(title)} · {sid[:8]}</a>")
        kinds = ", ".join(f"{sum(v.kind == kd for v in vectors)} {kd}" for kd in sorted({v.kind for v in vectors}))
        body = [
            f"<h2 id='space-{sid}'>Space {sid}: {_esc(title)}</h2>",
            f"<p class='muted'>{len(vectors)} vectors ({kinds}); surrogate weights "
            f"{_esc(vectors[0].card.space.surrogate['weights_sha256'][:16])}; "
            f"config {_esc(vectors[0].card.space.config)}</p>",
        ]
        if vectors[0].vector.size >= 2:
            tmap = build_map(vectors, projection=projection, seed=seed)
            write_png(tmap, out / f"map-{sid}.png")
            div = figure(tmap).to_html(
                full_html=False, include_plotlyjs=False, div_id=f"map-{sid}", config={"displaylogo": False}
            )
            body.append(
                f"<div class='map' data-space='{sid}' data-points='{len(tmap.points)}'>{div}</div>"
                f"<p class='muted'>{projection} of the L2-normalised vectors, seed {seed}; "
                f"<a href='map-{sid}.png'>PNG</a></p>"
            )
        else:
            body.append("<p class='muted'>1-d vectors: no map.</p>")
        body += [f"<h3>Nearest {k} of each vector</h3>", neighbour_table(vectors, st, k, progress=progress)]
        sections.append("\n".join(body))
    if results is not None:
        res = results_section(Path(results), out)
        if res:
            nav.append("<a href='#results'>benchmarks</a>")
            sections.append(f"<h2 id='results'>Benchmark results</h2>\n{res}")
    page = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>fute report</title>"
        f"<style>{STYLE}</style><script>{plotly.offline.get_plotlyjs()}</script></head><body>"
        f"<h1>fute task space report</h1><p class='muted'>store {_esc(getattr(st, 'path', st))} · "
        f"fute {__version__} · {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}</p>"
        f"<nav>{''.join(nav)}</nav>{''.join(sections)}</body></html>"
    )
    return atomic_write(out / "index.html", lambda tmp: Path(tmp).write_text(page, encoding="utf-8"))

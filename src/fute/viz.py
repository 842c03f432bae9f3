"""Maps of one space: stored task vectors projected to 2-D, drawn as a PNG and a self-contained HTML.

Vectors are L2-normalised before projecting, so distances on the map follow the cosine that ``rank``
uses. A map never mixes spaces: ``choose_space`` names the spaces a store holds and asks for one.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fute.errors import ConfigError, StoreError
from fute.paths import atomic_write
from fute.registry import PROJECTIONS
from fute.space import Card, TaskVector, category_of
from fute.store import VectorStore, open_store

ATTRIBUTES = ("category", "task", "kind", "model", "prompt-type", "shape")
MARKERS = {
    "dataset": ("o", "circle"),
    "model": ("D", "diamond"),
    "prompt (vanilla)": ("^", "triangle-up"),
    "prompt (cot)": ("X", "x"),
    "prompt": ("^", "triangle-up"),
}
OTHER_MARKERS = (("s", "square"), ("P", "cross"), ("v", "triangle-down"), ("*", "star"), ("p", "pentagon"))


# -- what a point is -----------------------------------------------------------------------------
def attribute(card: Card, what: str) -> str:
    """The value of one of ``ATTRIBUTES`` for a vector's card (what colors or marks it on a map)."""
    target = card.target or {}
    prompt_type = (target.get("prompt") or {}).get("type")
    if what == "category":
        return category_of(card)
    if what == "task":  # classification and regression (CR) beside extractive QA: FUTE's two classes of task
        return card.data.task
    if what == "kind":
        return card.kind
    if what == "model":
        return Path(str(target["model"])).name if target.get("model") else "(dataset)"
    if what == "prompt-type":
        if card.kind == "prompt":
            return prompt_type or "(type not recorded)"
        return "(no prompt)"
    if what == "shape":
        return f"{card.kind} ({prompt_type})" if card.kind == "prompt" and prompt_type else card.kind
    raise ConfigError(f"unknown map attribute '{what}'; use one of {', '.join(ATTRIBUTES)}")


def hover_card(card: Card) -> str:
    """The provenance lines shown when hovering a point (HTML, escaped)."""
    s, d, esc = card.space.surrogate, card.data, html.escape
    lines = [
        f"space {card.space_id}: {card.space.describe()}",
        f"data {d.source} · {d.n_used}/{d.n_total} examples · fingerprint {d.fingerprint[:16]}",
        f"task {d.task} · seed {card.seed} · fute {card.fute_version} · {card.created}",
    ]
    target = card.target
    if target:
        t = f"target {target.get('backend')}: {target.get('model')}"
        if target.get("weights_sha256"):
            t += f" ({str(target['weights_sha256'])[:12]})"
        if target.get("prompt"):
            prompt = target["prompt"]  # a recording names its prompt's id only; no type
            t += f" + prompt {prompt.get('id')}" + (f" ({prompt['type']})" if prompt.get("type") else "")
        lines.append(t)
    if card.corpus:
        lines.append(f"U {card.corpus.get('name', '')} · fingerprint {str(card.corpus.get('fingerprint'))[:16]}")
    lines.append(f"surrogate {s['name']} ({s['weights_sha256'][:12]})")
    head = f"<b>{esc(card.name)}</b> ({esc(card.kind)}, {esc(category_of(card))})"
    return "<br>".join([head, *(esc(x) for x in lines)])


# -- projection ----------------------------------------------------------------------------------
def project(matrix: np.ndarray, method: str = "tsne", *, seed: int = 0) -> np.ndarray:
    """2-D coordinates of the rows of ``matrix`` (cosine geometry), seeded so that reruns agree.

    Every projection (a plug-in in ``fute.registry.PROJECTIONS``) works on the first 50 principal
    components; with fewer than 5 vectors t-SNE and UMAP fall back to PCA, since neither is defined
    for so few neighbours.
    """
    projection = PROJECTIONS.create(method)
    x = np.asarray(matrix, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = x / np.where(norms > 0, norms, 1.0)
    n = len(x)
    if n == 0:
        return np.zeros((0, 2))
    pcs = _pca(x, min(50, n, x.shape[1]))
    if n < 5:
        return PCAProjection().fit_transform(pcs, seed)
    return projection.fit_transform(pcs, seed)


class PCAProjection:
    """The first two principal components."""

    name = "pca"

    def fit_transform(self, pcs: np.ndarray, seed: int) -> np.ndarray:
        return _pad2(pcs[:, :2])


class TSNEProjection:
    """t-SNE (scikit-learn), perplexity min(30, (n - 1) / 3), PCA init."""

    name = "tsne"

    def fit_transform(self, pcs: np.ndarray, seed: int) -> np.ndarray:
        from sklearn.manifold import TSNE

        perplexity = float(min(30.0, (len(pcs) - 1) / 3))
        return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(pcs)


class UMAPProjection:
    """UMAP (umap-learn), up to 15 neighbours, random init, one thread (so that a seed fixes it)."""

    name = "umap"

    def fit_transform(self, pcs: np.ndarray, seed: int) -> np.ndarray:
        try:
            import umap
        except ImportError:
            raise ConfigError("the UMAP projection needs umap-learn: pip install 'fute[viz]'") from None
        reducer = umap.UMAP(
            n_components=2, n_neighbors=min(15, len(pcs) - 1), random_state=seed, init="random", n_jobs=1
        )
        return np.asarray(reducer.fit_transform(pcs), dtype=np.float64)


def _pca(x: np.ndarray, k: int) -> np.ndarray:
    """Scores on the top ``k`` principal components, signs fixed so that the result is deterministic."""
    centered = x - x.mean(axis=0)
    u, s, _ = np.linalg.svd(centered, full_matrices=False)
    scores = u[:, :k] * s[:k]
    signs = np.sign(scores[np.abs(scores).argmax(axis=0), range(scores.shape[1])])
    return scores * np.where(signs == 0, 1.0, signs)


def _pad2(x: np.ndarray) -> np.ndarray:
    return np.hstack([x, np.zeros((len(x), 2 - x.shape[1]))]) if x.shape[1] < 2 else x


# -- a map ---------------------------------------------------------------------------------------
@dataclass
class MapPoint:
    name: str
    kind: str
    x: float
    y: float
    color: str
    symbol: str
    hover: str


@dataclass
class TaskMap:
    """The 2-D picture of one space: points with their color and marker groups."""

    space_id: str
    space: str
    projection: str
    color_by: str
    symbol_by: str
    points: list[MapPoint] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{len(self.points)} task vectors · {self.space} · space {self.space_id} · {self.projection}"


def choose_space(store: VectorStore, space: str | None = None, *, method: str | None = None) -> str:
    """The space to map: the one given, the only one of ``method``, or the store's only one. Several
    candidates are named, never mixed."""
    spaces = store.spaces()
    if not spaces:
        raise StoreError(f"no vectors in {getattr(store, 'path', store)}; add some with `fute embed dataset PATH`")
    if space is not None:
        if space not in spaces:
            raise StoreError(f"no space '{space}' in the store; spaces: {describe_spaces(store)}")
        return space
    if method is not None:
        spaces = [s for s in spaces if store.vectors(s)[0].card.space.method == method]
        if not spaces:
            raise StoreError(f"no space of method '{method}' in the store; spaces: {describe_spaces(store)}")
    if len(spaces) > 1:
        raise StoreError(
            f"the store holds {len(spaces)} spaces{f' of {method}' if method else ''}, and a map "
            f"shows one: {describe_spaces(store)}; choose one with --space (or --method)"
        )
    return spaces[0]


def describe_spaces(store: VectorStore) -> str:
    """``id = method on surrogate (n vectors)`` for every space in the store."""
    out = []
    for sid in store.spaces():
        vecs = store.vectors(sid)
        if vecs:
            out.append(f"{sid} = {vecs[0].card.space.describe()} ({len(vecs)} vectors)")
    return "; ".join(out)


def build_map(
    vectors: Sequence[TaskVector],
    *,
    projection: str = "tsne",
    color_by: str = "category",
    symbol_by: str = "shape",
    seed: int = 0,
) -> TaskMap:
    """Project vectors of one space to 2-D; vectors of several spaces are refused, naming them."""
    if not vectors:
        raise StoreError("nothing to map: no vectors match")
    spaces = {v.space_id for v in vectors}
    if len(spaces) > 1:
        raise StoreError(f"a map shows one space, but these vectors are in {len(spaces)}: {', '.join(sorted(spaces))}")
    for what in (color_by, symbol_by):
        attribute(vectors[0].card, what)  # an unknown attribute fails here, before projecting
    if vectors[0].vector.size < 2:
        raise ConfigError(
            f"space {vectors[0].space_id} holds {vectors[0].vector.size}-d vectors "
            f"({vectors[0].card.space.method}): nothing to project"
        )
    xy = project(np.stack([v.vector for v in vectors]), projection, seed=seed)
    tmap = TaskMap(vectors[0].space_id, vectors[0].card.space.describe(), projection, color_by, symbol_by)
    for v, (x, y) in zip(vectors, xy, strict=True):
        tmap.points.append(
            MapPoint(
                v.name,
                v.kind,
                float(x),
                float(y),
                attribute(v.card, color_by),
                attribute(v.card, symbol_by),
                hover_card(v.card),
            )
        )
    return tmap


def map_store(
    store: str | Path | VectorStore | None = None,
    *,
    space: str | None = None,
    method: str | None = None,
    kinds: Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    **options: Any,
) -> TaskMap:
    """The map of one space of a store, optionally only some kinds or names (see ``build_map``)."""
    st = open_store(store)
    sid = choose_space(st, space, method=method)
    vectors = [v for v in st.vectors(sid) if (not kinds or v.kind in kinds) and (names is None or v.name in names)]
    vectors.sort(key=lambda v: (v.kind, v.name))
    return build_map(vectors, **options)


# -- drawing -------------------------------------------------------------------------------------
def _palette(values: Sequence[str]) -> dict[str, str]:
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    uniq = sorted(set(values))
    cmap = colormaps["tab10" if len(uniq) <= 10 else "tab20"]
    return {v: to_hex(cmap(i % cmap.N)) for i, v in enumerate(uniq)}


def _markers(values: Sequence[str]) -> dict[str, tuple[str, str]]:
    """(matplotlib, plotly) marker per value: fixed ones for the kinds, the rest in turn."""
    out, spare = {}, iter(OTHER_MARKERS * 10)
    for v in sorted(set(values)):
        out[v] = MARKERS.get(v) or next(spare)
    return out


def write_png(tmap: TaskMap, path: str | Path, *, labels: bool | None = None) -> Path:
    """A static picture: colors by ``color_by``, markers by ``symbol_by``, names beside the points
    when there are few enough to read (``labels``: default up to 80 points)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    colors = _palette([p.color for p in tmap.points])
    markers = _markers([p.symbol for p in tmap.points])
    fig, ax = plt.subplots(figsize=(10, 7.5), dpi=120)
    for c, s in sorted({(p.color, p.symbol) for p in tmap.points}):
        pts = [p for p in tmap.points if p.color == c and p.symbol == s]
        ax.scatter(
            [p.x for p in pts],
            [p.y for p in pts],
            c=colors[c],
            marker=markers[s][0],
            s=60,
            edgecolors="black",
            linewidths=0.4,
            alpha=0.9,
        )
    if labels if labels is not None else len(tmap.points) <= LABELLED_POINTS:
        _place_labels(fig, ax, tmap.points)
    handles = [Line2D([], [], ls="", marker="o", color=col, label=c) for c, col in colors.items()]
    shapes = [Line2D([], [], ls="", marker=m[0], color="gray", label=s) for s, m in markers.items()]
    first = ax.legend(handles=handles, title=tmap.color_by, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    ax.add_artist(first)
    second = ax.legend(handles=shapes, title=tmap.symbol_by, loc="lower left", bbox_to_anchor=(1.01, 0), fontsize=8)
    ax.set_title(tmap.title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    # a legend added with add_artist is not in the tight box unless named: without this it was cut at the edge
    out = atomic_write(
        Path(path),
        lambda tmp: fig.savefig(tmp, format="png", bbox_inches="tight", bbox_extra_artists=[first, second]),
    )
    plt.close(fig)
    return out


LABELLED_POINTS = 80  # names are drawn beside the points up to this many (a toggle in the HTML map either way)
_OFFSETS = ((4, 3), (4, -9), (-4, 3), (-4, -9), (0, 8), (0, -14))  # points: right-up first, then around


def _place_labels(fig: Any, ax: Any, points: Sequence[MapPoint]) -> None:
    """Names beside the points, each at the first offset whose box overlaps no label already placed (greedy,
    densest points first), so that labels of near points do not print over each other; a name with no free
    place is left out of the picture (the HTML map shows every name on hover)."""
    renderer = fig.canvas.get_renderer()
    placed: list[Any] = []
    xy = np.array([[p.x, p.y] for p in points]) if points else np.zeros((0, 2))
    crowd = [int((np.linalg.norm(xy - xy[i], axis=1) < np.ptp(xy, axis=0).max() / 15).sum()) for i in range(len(xy))]
    for i in sorted(range(len(points)), key=lambda i: -crowd[i]):
        p = points[i]
        for dx, dy in _OFFSETS:
            text = ax.annotate(
                p.name, (p.x, p.y), xytext=(dx, dy), textcoords="offset points", fontsize=6, alpha=0.85,
                ha="left" if dx > 0 else "right" if dx < 0 else "center",
            )  # fmt: skip
            box = text.get_window_extent(renderer).expanded(1.05, 1.1)
            if not any(box.overlaps(other) for other in placed):
                placed.append(box)
                break
            text.remove()


def figure(tmap: TaskMap):  # noqa: ANN201 - a plotly Figure; plotly is imported lazily
    """The interactive plotly figure: one trace per (color, marker) group, provenance on hover."""
    import plotly.graph_objects as go

    colors = _palette([p.color for p in tmap.points])
    markers = _markers([p.symbol for p in tmap.points])
    show_names = len(tmap.points) <= LABELLED_POINTS
    fig = go.Figure()
    for c, s in sorted({(p.color, p.symbol) for p in tmap.points}):
        pts = [p for p in tmap.points if p.color == c and p.symbol == s]
        fig.add_trace(
            go.Scatter(
                x=[p.x for p in pts],
                y=[p.y for p in pts],
                mode="markers+text" if show_names else "markers",
                textposition="top center",
                textfont={"size": 10},
                name=f"{c} · {s}",
                text=[p.name for p in pts],
                customdata=[p.hover for p in pts],
                hovertemplate="%{customdata}<extra></extra>",
                marker={
                    "color": colors[c],
                    "symbol": markers[s][1],
                    "size": 11,
                    "line": {"width": 0.6, "color": "#222"},
                },
            )
        )
    n = len(fig.data)
    fig.update_layout(
        title={"text": tmap.title, "font": {"size": 13}},
        template="plotly_white",
        autosize=True,
        margin={"l": 20, "r": 20, "t": 60, "b": 50},
        xaxis={"showticklabels": False, "title": ""},
        yaxis={"showticklabels": False, "title": ""},
        legend={"title": {"text": f"{tmap.color_by} · {tmap.symbol_by}"}},
        updatemenus=[
            {
                "type": "buttons",
                "direction": "left",
                "x": 0,
                "y": -0.01,
                "xanchor": "left",
                "yanchor": "top",
                "showactive": True,
                "active": 0 if show_names else 1,
                "buttons": [
                    {"label": "names on", "method": "restyle", "args": [{"mode": ["markers+text"] * n}]},
                    {"label": "names off", "method": "restyle", "args": [{"mode": ["markers"] * n}]},
                ],
            }
        ],
    )
    return fig


def write_html(tmap: TaskMap, path: str | Path) -> Path:
    """A self-contained page (plotly's JavaScript inlined), so it opens offline from a plain folder."""
    fig = figure(tmap)
    return atomic_write(
        Path(path),
        lambda tmp: fig.write_html(
            tmp,
            include_plotlyjs=True,
            full_html=True,
            config={"displaylogo": False, "responsive": True},
            default_height="92vh",  # the figure fills the window instead of a fixed 640 px in a tall page
            default_width="100%",
        ),
    )


def write_map(tmap: TaskMap, out: str | Path) -> list[Path]:
    """``out`` (a name; a .png or .html suffix is dropped) -> ``out.png`` and ``out.html``."""
    base = Path(out)
    if base.suffix in (".png", ".html"):
        base = base.with_suffix("")
    return [write_png(tmap, base.with_name(base.name + ".png")), write_html(tmap, base.with_name(base.name + ".html"))]

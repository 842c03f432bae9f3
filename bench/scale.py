"""How the cost grows: embedding time and peak memory, store latency, Ray overhead.

    python bench/scale.py                 # all parts; bench/results/scale.{json,md,png}
    python bench/scale.py --only store    # one part: embed | store | ray

embed  `fisher` and `prompt` (default configs except the sample cap) on the default surrogate, on
       IMDB reviews (long enough to fill any window): seconds and peak RSS vs examples at a
       64-token window, and vs token window at 250 examples. Each point runs in a fresh process, so its peak
       RSS is its own; the time excludes loading the surrogate.
store  insert and query latency of both backends at 1k, 10k and 100k random vectors: bulk insert
       (put_many in batches of 1,000, 10,000 above 1k), one more single put, and the median of 20 exact cosine
       queries (k=10; 5 where one takes over 0.5 s). PostgreSQL sizes stop at 40M stored floats.
       PostgreSQL is a throw-away local server (tests/store/conftest.py), plain
       real[] path (no pgvector here).
ray    per-job wall time of the same 1,000-example `fisher` jobs in-process and on a local Ray
       cluster (2 CPUs, one job at a time so each gets both cores), and of tiny `textemb` jobs,
       where the fixed cost shows.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT.parent / "shared" / "data"
RESULTS = HERE / "results"
EXAMPLES = (100, 500, 1000, 5000)
EXAMPLES_LENGTH = 64  # token window of the examples curve
LENGTHS = (32, 64, 128, 256)
LENGTH_EXAMPLES = 250  # examples per point of the length curve
SIZES = (1_000, 10_000, 100_000)


def embed_point(method: str, n: int, length: int, data: Path) -> dict:
    """One embedding in this process (called in a fresh subprocess by ``embed_curves``)."""
    from fute.methods import get_method
    from fute.samples import load_samples
    from fute.surrogate import load_surrogate

    samples = load_samples(data).take(n, 0)
    sur = load_surrogate("default", max_length=length)
    m = get_method(method, max_examples=n)
    t = time.perf_counter()
    m.embed(samples, sur, progress=False)
    return {
        "method": method,
        "examples": n,
        "max_length": length,
        "seconds": time.perf_counter() - t,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def embed_curves(data: Path, examples: tuple[int, ...], lengths: tuple[int, ...]) -> list[dict]:
    points = [(m, n, EXAMPLES_LENGTH) for m in ("fisher", "prompt") for n in examples]
    points += [
        (m, LENGTH_EXAMPLES, L)
        for m in ("fisher", "prompt")
        for L in lengths
        if L != EXAMPLES_LENGTH or LENGTH_EXAMPLES not in examples
    ]
    return [measure(method, n, length, data) for method, n, length in points]


def measure(method: str, n: int, length: int, data: Path) -> dict:
    """``embed_point`` in a fresh process, so that its peak RSS is its own."""
    code = (  # this very script, run as a module in the child (its main() does not run): its own embed_point
        f"import json, pathlib, runpy; point = runpy.run_path({str(Path(__file__).resolve())!r})['embed_point']; "
        f"print(json.dumps(point({method!r}, {n}, {length}, pathlib.Path({str(data)!r}))))"
    )
    res = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, check=True)
    point = json.loads(res.stdout.strip().splitlines()[-1])
    print(f"{method} n={n} len={length}: {point['seconds']:.1f} s, {point['peak_rss_mb']:.0f} MB", flush=True)
    return point


def random_vectors(n: int, dim: int, seed: int, start: int = 0) -> list:
    from fute.space import TaskVector

    rng = np.random.default_rng(seed)
    block = rng.standard_normal((n, dim)).astype(np.float32)
    card = {"kind": "dataset", "space_id": f"bench{dim}", "space": {"method": "bench", "surrogate": {}}}
    return [TaskVector(block[i], {**card, "name": f"v{start + i}", "key": f"k{start + i}"}) for i in range(n)]


def store_latency(store, dim: int, sizes: tuple[int, ...], label: str) -> list[dict]:  # noqa: ANN001
    out = []
    have = 0
    for size in sizes:
        t = time.perf_counter()
        while have < size:
            batch = min(1000 if size <= 1000 else 10_000, size - have)
            store.put_many(random_vectors(batch, dim, seed=have, start=have))
            have += batch
        insert_s = time.perf_counter() - t
        t = time.perf_counter()
        store.put(random_vectors(1, dim, seed=10**9, start=10**9)[0])
        single_ms = (time.perf_counter() - t) * 1000
        rng = np.random.default_rng(1)
        warm = []
        for _ in range(2):  # the first and second query after a write (the embedded store loads on the 2nd)
            t = time.perf_counter()
            store.search(rng.standard_normal(dim), f"bench{dim}", k=10)
            warm.append((time.perf_counter() - t) * 1000)
        first_ms, second_ms = warm
        repeats = 20 if first_ms < 500 else 5
        times = []
        for _ in range(repeats):
            q = rng.standard_normal(dim)
            t = time.perf_counter()
            hits = store.search(q, f"bench{dim}", k=10)
            times.append(time.perf_counter() - t)
        assert len(hits) == 10
        out.append(
            {
                "backend": label,
                "dim": dim,
                "vectors": size + 1,
                "bulk_insert_per_1k_s": insert_s * 1000 / size,
                "single_put_ms": single_ms,
                "first_query_ms": first_ms,
                "second_query_ms": second_ms,
                "query_ms_median": 1000 * float(np.median(times)),
                "query_ms_p90": 1000 * float(np.percentile(times, 90)),
            }
        )
        print(
            f"{label} d={dim} n={size}: query {out[-1]['query_ms_median']:.1f} ms, put {single_ms:.0f} ms, "
            f"bulk {out[-1]['bulk_insert_per_1k_s']:.2f} s/1k",
            flush=True,
        )
    return out


def store_part(
    work: Path,
    dims: tuple[int, ...],
    sizes: tuple[int, ...],
    pg_sizes: tuple[int, ...],
    pg_max_elements: int,
    backends: tuple[str, ...],
) -> list[dict]:
    import shutil

    from fute.store import LocalStore
    from fute.store.postgres import PostgresStore
    from fute.store.server import start_postgres

    out = []
    for dim in dims if "local" in backends else ():
        folder = work / f"lance-{dim}"
        shutil.rmtree(folder, ignore_errors=True)
        out += store_latency(LocalStore(folder), dim, sizes, "LanceDB (embedded)")
        shutil.rmtree(folder, ignore_errors=True)
    if "postgres" not in backends:
        return out
    url, stop = start_postgres()
    try:
        for dim in dims:
            fits = tuple(n for n in pg_sizes if n * dim <= pg_max_elements)  # the SQL scan is slow: bounded
            out += store_latency(PostgresStore(f"{url}/postgres"), dim, fits, "PostgreSQL (real[])")
    finally:
        stop()
    return out


def ray_part(data: Path, jobs: int) -> list[dict]:
    from fute.execute import EmbedSpec, LocalExecutor, RayExecutor, embed_many

    out = []
    for method, n in (("fisher", 1000), ("textemb", 20)):
        specs = [
            EmbedSpec(f"{method}-{i}", data=str(data), method=method, method_options=(("max_examples", n), ("seed", i)))
            for i in range(jobs)
        ]
        for ex in (LocalExecutor(), RayExecutor(cpus_per_job=2, num_cpus=2)):
            store = HERE / "work" / f"ray-{ex.name}-{method}-{time.time_ns()}"
            t = time.perf_counter()
            embed_many(specs, store=store, executor=ex, progress=False)
            wall = time.perf_counter() - t
            out.append(
                {"method": method, "examples": n, "executor": ex.name, "jobs": jobs, "seconds_per_job": wall / jobs}
            )
            print(f"{method} x{jobs} on {ex.name}: {wall / jobs:.1f} s/job", flush=True)
    import ray

    ray.shutdown()
    return out


def plot(embed: list[dict], store: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for method in ("fisher", "prompt"):
        pts = sorted(
            (p["examples"], p["seconds"]) for p in embed if p["method"] == method and p["max_length"] == EXAMPLES_LENGTH
        )
        if pts:
            axes[0].plot(*zip(*pts, strict=True), "o-", label=method)
        pts = sorted(
            (p["max_length"], p["seconds"]) for p in embed if p["method"] == method and p["examples"] == LENGTH_EXAMPLES
        )
        if pts:
            axes[1].plot(*zip(*pts, strict=True), "o-", label=method)
    axes[0].set(xlabel=f"examples ({EXAMPLES_LENGTH} tokens)", ylabel="seconds", title="embedding time vs examples")
    axes[1].set(xlabel=f"token window ({LENGTH_EXAMPLES} examples)", ylabel="seconds", title="embedding time vs length")
    for backend, dim in sorted({(p["backend"], p["dim"]) for p in store}):
        pts = sorted((p["vectors"], p["query_ms_median"]) for p in store if (p["backend"], p["dim"]) == (backend, dim))
        axes[2].plot(*zip(*pts, strict=True), "o-", label=f"{backend}, {dim}-d")
    axes[2].axhline(50, color="grey", ls=":", label="50 ms goal")
    axes[2].set(xscale="log", yscale="log", xlabel="stored vectors", ylabel="ms (median)", title="cosine query, k=10")
    for ax in axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def linear_fit(points: list[tuple[float, float]]) -> dict:
    """Least-squares seconds = a + b * x, and how far the largest point is from it."""
    x, y = np.array(points, dtype=float).T
    b, a = np.polyfit(x, y, 1)
    pred = a + b * x
    return {"intercept_s": float(a), "slope_s": float(b), "max_rel_dev": float(np.max(np.abs(y - pred) / y))}


def write(result: dict) -> None:
    md = [
        "# How the cost grows",
        "",
        f"Machine: {result['machine']}  ",
        *[f"{part}: `{cmd}`  " for part, cmd in result["commands"].items()],
        "",
    ]
    embed = result.get("embed", [])
    if embed:
        md += [
            "## Embedding (default surrogate, IMDB reviews)",
            "",
            "| method | examples | token window | seconds | s per example | peak RSS (MB) |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        md += [
            f"| {p['method']} | {p['examples']} | {p['max_length']} | {p['seconds']:.1f} | "
            f"{p['seconds'] / p['examples']:.3f} | {p['peak_rss_mb']:.0f} |"
            for p in sorted(embed, key=lambda p: (p["method"], p["max_length"], p["examples"]))
        ]
        md += [
            "",
            f"Linear fit of seconds vs examples at {EXAMPLES_LENGTH} tokens (largest relative deviation "
            "of a point from the line):",
            "",
        ]
        for m, fit in result["linear"].items():
            md.append(
                f"- {m}: {fit['intercept_s']:.1f} s + {fit['slope_s'] * 1000:.1f} ms x examples "
                f"(max deviation {100 * fit['max_rel_dev']:.0f}%)"
            )
        md.append("")
    if result.get("store"):
        ms = lambda p, key: f"{p[key]:.0f}" if key in p else "-"  # noqa: E731
        md += [
            "## Store",
            "",
            "Query: exact cosine, k=10, median and p90 of repeated queries; the first and second "
            "query after a write are shown apart (the embedded store scans its files for the first and loads "
            "them into memory on the second).",
            "",
            "| backend | dim | vectors | query median (ms) | query p90 (ms) | 1st query after a write (ms) | "
            "2nd (ms) | single put (ms) | bulk insert (s per 1k) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        md += [
            f"| {p['backend']} | {p['dim']} | {p['vectors']:,} | {p['query_ms_median']:.1f} | "
            f"{p['query_ms_p90']:.1f} | {ms(p, 'first_query_ms')} | {ms(p, 'second_query_ms')} | "
            f"{p['single_put_ms']:.0f} | {p['bulk_insert_per_1k_s']:.2f} |"
            for p in result["store"]
        ]
        md.append("")
    if result.get("ray"):
        md += [
            "## Executors",
            "",
            "| job | executor | jobs | seconds per job | overhead vs local |",
            "|---|---|---:|---:|---:|",
        ]
        local = {p["method"]: p["seconds_per_job"] for p in result["ray"] if p["executor"] == "local"}
        for p in result["ray"]:
            over = p["seconds_per_job"] - local[p["method"]]
            rel = f"{over:+.1f} s ({100 * over / local[p['method']]:+.0f}%)" if p["executor"] != "local" else ""
            md.append(
                f"| {p['method']}, {p['examples']} examples | {p['executor']} | {p['jobs']} | "
                f"{p['seconds_per_job']:.1f} | {rel} |"
            )
        md.append("")
    if (RESULTS / "scale.png").is_file():
        md += ["![cost curves](scale.png)", ""]
    (RESULTS / "scale.md").write_text("\n".join(md))
    (RESULTS / "scale.json").write_text(json.dumps(result, indent=2) + "\n")
    print("\n".join(md))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=("embed", "store", "ray"), default=None)
    ap.add_argument("--data", type=Path, default=SHARED / "imdb")
    ap.add_argument("--examples", default=",".join(map(str, EXAMPLES)))
    ap.add_argument("--lengths", default=",".join(map(str, LENGTHS)))
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    ap.add_argument("--pg-sizes", default=",".join(map(str, SIZES)))
    ap.add_argument(
        "--pg-max-elements",
        type=int,
        default=40_000_000,
        help="PostgreSQL sizes only up to this many stored floats (vectors x dim)",
    )
    ap.add_argument(
        "--backends",
        default="local,postgres",
        help="store part: which backends to measure (the others' earlier results are kept)",
    )
    ap.add_argument("--dims", default="384,3072", help="vector sizes for the store part (fisher's default is 3072)")
    ap.add_argument("--ray-jobs", type=int, default=1)
    ap.add_argument(
        "--redo",
        default="",
        help="with --only embed: measure again only these points, e.g. "
        "fisher:100,fisher:500 (at the examples curve's window), keeping the others",
    )
    args = ap.parse_args()
    ints = lambda s: tuple(int(x) for x in s.split(","))  # noqa: E731
    RESULTS.mkdir(parents=True, exist_ok=True)
    previous = json.loads((RESULTS / "scale.json").read_text()) if (RESULTS / "scale.json").is_file() else {}
    cores = subprocess.getoutput("nproc")
    result = {**previous, "machine": f"{platform.processor() or platform.machine()}, {cores} cores"}
    command = "python bench/scale.py " + shlex.join(sys.argv[1:])
    result["commands"] = {
        **previous.get("commands", {}),
        **{part: command for part in ("embed", "store", "ray") if args.only in (None, part) and not args.redo},
    }
    if args.only == "store" and args.backends != "local,postgres":  # a partial rerun: say both commands
        base = previous.get("commands", {}).get("store", "").split("; then ")[0]
        result["commands"]["store"] = f"{base}; then {command}"
    if args.redo:
        redo = [(m, int(n)) for m, n in (x.split(":") for x in args.redo.split(","))]
        again = {(m, n): measure(m, n, EXAMPLES_LENGTH, args.data) for m, n in redo}
        result["embed"] = [
            again.get((p["method"], p["examples"]), p) if p["max_length"] == EXAMPLES_LENGTH else p
            for p in previous["embed"]
        ]
        result["commands"]["embed"] += f"; then {command}"
    elif args.only in (None, "embed"):
        result["embed"] = embed_curves(args.data, ints(args.examples), ints(args.lengths))
    if args.only in (None, "store"):
        backends = tuple(args.backends.split(","))
        label = {"local": "LanceDB (embedded)", "postgres": "PostgreSQL (real[])"}
        kept = [p for p in previous.get("store", []) if p["backend"] not in {label[b] for b in backends}]
        result["store"] = kept + store_part(
            HERE / "work", ints(args.dims), ints(args.sizes), ints(args.pg_sizes), args.pg_max_elements, backends
        )
    if args.only in (None, "ray"):
        result["ray"] = ray_part(args.data, args.ray_jobs)
    if result.get("embed"):
        result["linear"] = {
            m: linear_fit(
                [
                    (p["examples"], p["seconds"])
                    for p in result["embed"]
                    if p["method"] == m and p["max_length"] == EXAMPLES_LENGTH
                ]
            )
            for m in ("fisher", "prompt")
        }
    plot(result.get("embed", []), result.get("store", []), RESULTS / "scale.png")
    write(result)


if __name__ == "__main__":
    main()

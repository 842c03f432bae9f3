"""A repeated command is a lookup: the wall time of `fute embed dataset` on a dataset the store already holds, and
of `fute rank NAME`, against `fute list`'s, each a fresh process as a user or a script would start it.

    python bench/cache_hit.py            # writes bench/results/cache_hit.json and .md

The store is made first (one bundled 300-row sample, default method and surrogate: the one embedding computed);
then each command runs ``--runs`` times in turn and the median is kept. Goal (#43): within 1.5x `fute list`.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def main() -> None:
    from fute.demo import demo_datasets

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    data = next(p for p in demo_datasets() if p.name == "sst2")
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "FUTE_HOME": home}
        fute = [sys.executable, "-m", "fute"]
        commands = {
            "fute list": ["list"],
            "fute embed dataset (stored)": ["embed", "dataset", str(data), "--quiet"],
            "fute rank NAME": ["rank", "sst2", "--no-catalog"],
        }
        t0 = time.perf_counter()
        first = subprocess.run(
            [*fute, *commands["fute embed dataset (stored)"]], env=env, capture_output=True, text=True
        )
        assert first.returncode == 0, first.stderr
        made = time.perf_counter() - t0
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, argv in commands.items():
                t = time.perf_counter()
                r = subprocess.run([*fute, *argv], env=env, capture_output=True, text=True)
                times[name].append(time.perf_counter() - t)
                assert r.returncode == 0, (name, r.stderr)
                if name.startswith("fute embed"):
                    assert "(cached)" in r.stdout, r.stdout
    median = {name: statistics.median(ts) for name, ts in times.items()}
    base = median["fute list"]
    record = {
        "command": ("python bench/cache_hit.py " + shlex.join(sys.argv[1:])).strip(),
        "runs": args.runs,
        "first_embedding_s": round(made, 1),
        "median_s": {k: round(v, 3) for k, v in median.items()},
        "times_s": {k: [round(t, 3) for t in ts] for k, ts in times.items()},
        "ratio_to_list": {k: round(v / base, 2) for k, v in median.items()},
        "goal": "within 1.5x fute list",
        "met": all(v / base <= 1.5 for v in median.values()),
        "cpu": _cpu(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cache_hit.json").write_text(json.dumps(record, indent=1) + "\n")
    rows = "\n".join(
        f"| {k} | {median[k]:.2f} | {record['ratio_to_list'][k]:.2f}x | {min(times[k]):.2f}-{max(times[k]):.2f} |"
        for k in commands
    )
    (args.out / "cache_hit.md").write_text(
        "# A repeated command is a lookup\n\n"
        f"Command: `{record['command']}` on {record['cpu']}: each command a fresh process, {args.runs} runs in "
        "turn, on a store holding the vector of a bundled 300-row sample (default method and surrogate; made "
        f"first in {made:.0f} s).\n\n| command | median s | against `fute list` | range s |\n|---|---:|---:|---:|\n"
        f"{rows}\n\nGoal: within 1.5x `fute list`: **{'met' if record['met'] else 'not met'}**.\n"
    )
    print(json.dumps(record["median_s"]), "met" if record["met"] else "not met")


def _cpu() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        name = next((ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name")), "?")
    except OSError:
        name = "?"
    return f"{name}, {os.cpu_count()} CPUs"


if __name__ == "__main__":
    main()

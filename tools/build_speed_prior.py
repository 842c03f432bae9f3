"""The first guess of an embedding's time, before this machine has measured its own, from the embedding-quality
benchmark's jobs.

    python tools/build_speed_prior.py          # writes src/fute/data/speed_prior.json

Per method: the median of seconds per row over the benchmark's vectors made at the method's default config
(1,000 rows each, cold: the surrogate trained, not cached). A method without such jobs takes the nearest one's
(``prompt`` trains a soft prompt as ``prefix`` does a prefix). ``fute.execute.SpeedLog`` starts from these and
refines them with every vector this machine makes.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
JOBS = ROOT / "bench" / "results" / "embedding_quality_jobs"
OUT = ROOT / "src" / "fute" / "data" / "speed_prior.json"
STAND_INS = {"prompt": "prefix"}  # a method without jobs: the method whose work it shares


def main() -> None:
    from fute.methods import get_method
    from fute.paths import atomic_write

    out: dict = {"command": shlex.join(["python", "tools/build_speed_prior.py", *sys.argv[1:]]), "seconds_per_row": {}}
    rates = out["seconds_per_row"]
    for folder in sorted(p for p in JOBS.iterdir() if p.is_dir()):
        default = get_method(folder.name).config.to_dict()
        jobs = [json.loads(p.read_text()) for p in folder.glob("*.json")]
        per_row = [j["seconds"] / j["rows"] for j in jobs if {**j["config"], "max_examples": 1000} == default]
        if per_row:
            rates[folder.name] = round(float(np.median(per_row)), 4)
            print(f"{folder.name}: {rates[folder.name]} s per row, median of {len(per_row)} vectors", flush=True)
    for method, like in STAND_INS.items():
        if method not in rates and like in rates:
            rates[method] = rates[like]
            out.setdefault("stand_ins", {})[method] = like
    atomic_write(OUT, lambda tmp: Path(tmp).write_text(json.dumps(out, indent=1) + "\n"))


if __name__ == "__main__":
    main()

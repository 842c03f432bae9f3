"""How much a rank score moves with the seed alone, per method, from the embedding-quality benchmark's jobs.

    python tools/build_score_noise.py          # writes src/fute/data/score_noise.json

For every dataset D of the benchmark, half A was embedded with seed 0 and with seed 1 (another sample, held-out
slice and initialisation). Against every other dataset's half B, the two scores cos(D seed 0, E) and
cos(D seed 1, E) differ by a seed-to-seed change; with independent noise of standard deviation sd on each score,
that change has standard deviation sd * sqrt(2), so sd = RMS(change) / sqrt(2). ``fute rank`` marks two
candidates whose scores are closer than sd as tied. Only jobs made at the method's default config count, and the
file names the default space each number belongs to (another space gets no tie marks).
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
JOBS = ROOT / "bench" / "results" / "embedding_quality_jobs"
OUT = ROOT / "src" / "fute" / "data" / "score_noise.json"


def main() -> None:
    from fute.methods import get_method
    from fute.paths import atomic_write
    from fute.space import space_card, space_id
    from fute.surrogate import load_surrogate

    identity = load_surrogate("default").identity
    out = {"command": "python tools/build_score_noise.py " + shlex.join(sys.argv[1:]), "methods": {}}
    for folder in sorted(p for p in JOBS.iterdir() if p.is_dir()):
        method = get_method(folder.name)
        jobs = {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json")}
        default = method.config.to_dict()
        names = sorted(n.removesuffix("-A") for n in jobs if n.endswith("-A"))
        vec = {k: np.asarray(j["vector"], dtype=np.float64) for k, j in jobs.items()}
        at_default = [d for d in names if {**jobs[f"{d}-A"]["config"], "max_examples": 1000} == default]
        changes = [
            _cos(vec[f"{d}-A"], vec[f"{e}-B"]) - _cos(vec[f"{d}-A-seed1"], vec[f"{e}-B"])
            for d in at_default
            for e in at_default
            if e != d and f"{d}-A-seed1" in vec and f"{e}-B" in vec
        ]
        if not changes:
            continue
        sd = float(np.sqrt(np.mean(np.square(changes))) / np.sqrt(2))
        out["methods"][folder.name] = {
            "space_id": space_id(space_card(identity, method)),
            "score_sd": round(sd, 4),
            "pairs": len(changes),
            "datasets": len(at_default),
        }
        print(f"{folder.name}: sd {sd:.4f} over {len(changes)} pairs of {len(at_default)} datasets", flush=True)
    atomic_write(OUT, lambda tmp: Path(tmp).write_text(json.dumps(out, indent=1) + "\n"))


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


if __name__ == "__main__":
    main()

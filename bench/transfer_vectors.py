"""Make the vectors and score tables ``fute bench transfer eval`` will read, while the truth still runs.

The eval's embedding rankers cache each vector in the run's store by key; the rankers that read the run's models
(fute-mte, taskemb, tupate, logme, esm-logme) keep their score tables in the run's ``rankers`` folder. Once a
truth run's first seed has its sources and baselines (the models the eval reads), both can be made: the truth's
pairs and later seeds change nothing they read. Made now, on this machine or another, they are found by the eval
later instead of made then; commit the run's ``store`` and ``rankers`` folders with its jobs.

    python bench/transfer_vectors.py ../shared/data/{sst2,mr,cr,mpqa,sst5,snli,mnli,rte,cb,wnli,qqp,stsb} \\
        --seeds 3 --run-dir bench/results/transfer_truth3 --ranker fute-fisher --ranker textemb

The options are the truth's, with its defaults (read from ``fute bench transfer truth`` itself); they must be
the run's: a first-seed job missing under their keys is a one-line error. The cheap rankers (datasize, curvegrad,
random) keep nothing and gain nothing here.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import fields
from pathlib import Path

from fute.errors import FuteError
from fute.evaluation.rankers import DTERanker, RankContext, fit_kept, get_ranker
from fute.evaluation.transfer.data import TransferConfig
from fute.evaluation.transfer.truth import first_seed_truth
from fute.registry import RANKERS
from fute.store import open_store

# the rankers whose work is kept: DTEs in the store, or score tables (fute-mte's MTEs are in the store too)
STORED = [n for n in RANKERS.in_order() if issubclass(cls := RANKERS.get_class(n), DTERanker) or cls.keeps_scores]
# the truth's config fields that the truth command takes as options (and so its job keys), at their defaults
TRUTH_OPTIONS = {f.name: getattr(TransferConfig(), f.name) for f in fields(TransferConfig) if f.name != "dev_seed"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="+", help="the truth's datasets, in its order")
    ap.add_argument("--run-dir", required=True, help="the truth's run folder")
    for name, default in TRUTH_OPTIONS.items():
        ap.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default, help=f"default: {default}")
    ap.add_argument("--ranker", action="append", choices=STORED, help=f"default: all of {', '.join(STORED)}")
    args = ap.parse_args(argv)
    cfg = TransferConfig(**{name: getattr(args, name) for name in TRUTH_OPTIONS})
    try:
        truth = first_seed_truth(args.data, cfg, args.run_dir)
        ctx = RankContext(
            truth, open_store(f"{args.run_dir}/store"), progress=False, tables=Path(args.run_dir) / "rankers"
        )
        for name in args.ranker or STORED:
            t = time.perf_counter()
            fit_kept(get_ranker(name), ctx)
            print(f"{name}: {len(ctx.names)} datasets' work kept ({time.perf_counter() - t:.0f} s)", flush=True)
    except FuteError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

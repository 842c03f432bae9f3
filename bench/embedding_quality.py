"""Do the task vectors measure the task? Self-retrieval of dataset halves, cap and seed stability, the learned
count, misses by cause. The benchmark's library is ``fute.evaluation.embedding_quality`` (its docstring says what
each job and table is); this script runs it with its results under bench/results and the data beside the checkout.

    python bench/embedding_quality.py --method fisher            # resumable: one small JSON per finished job
    python bench/embedding_quality.py --method fisher --report-only
"""

from __future__ import annotations

import sys
from pathlib import Path

from fute.evaluation.embedding_quality import main

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    sys.exit(main(results=HERE / "results", data=HERE.parents[1] / "shared" / "data"))

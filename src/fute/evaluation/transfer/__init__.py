"""Source-dataset selection, the paper's first experiment, in four parts that import one way
(``data`` <- ``truth``, ``stats`` <- ``report``):

- ``data``: the regime (``TransferConfig``), datasets, training splits, scored rows and the leak guard;
- ``truth``: the jobs (sources, baselines, pairs; seeds) and the truth they assemble (``run_truth``);
- ``stats``: the rankers' orders judged (rho, NDCG, Regret@k, nested intervals, paired tests);
- ``report``: ``run_eval`` and its JSON, markdown and plot.

This package imports nothing itself, so that the rankers (``fute.evaluation.rankers``), which read the data
helpers, and ``report``, which runs the rankers, form no import circle.
"""

"""The paper's experiments as a library: source-dataset selection (``transfer``: truth, rankers, judging) and prompt
selection (``prompts``), with their metrics (``metrics``: rho, NDCG, Regret@k, Rate, intervals, paired tests), the
source rankers (``rankers``, LogME in ``logme``) and resumable job folders (``jobs``)."""

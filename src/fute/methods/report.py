"""How a method's training ended, as its card keeps it, and the growth rule that reads it: the one home that
``methods.base`` (which runs the rule's attempts) and ``methods.training`` (which fills the report) both import, so
neither imports the other. The module itself uses no torch."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# "Learned with a margin": held-out loss at most this share of the better constant prediction's (issue #41's bar;
# docs/methods.md, "Growing the rows until the task is learned"). Below it, ``grow_rows`` stops drawing more rows.
LEARN_MARGIN = 0.90


@dataclass
class TrainingReport:
    """How training ended: goes on the card as ``training``."""

    rows_train: int = 0
    rows_heldout: int = 0
    probe_epochs: int = 0
    probe_heldout_loss: float | None = None
    probe_converged: bool = False
    finetune_epochs: int = 0
    finetune_steps: int = 0
    train_loss: float | None = None
    heldout_loss: float | None = None
    initial_heldout_loss: float | None = None
    converged: bool = False
    prior_heldout_loss: float | None = None  # what predicting the training rows' label frequencies scores
    # the held-out labels' mean entropy: the least loss any model can reach (0 for one-hot labels; for a model's
    # soft labels, constant loss minus this is all there is to learn)
    heldout_label_entropy: float | None = None
    learned: bool = True  # False: held-out loss within 1% of a constant (uniform or label-frequency) prediction
    stopped: str = ""  # patience | budget | probe-only | probe-learned | no-holdout
    history: list[float] = field(default_factory=list)  # held-out loss after the probe, then each epoch
    # the growth rule's tries, this one last: rows, loss / constant, seconds (``grow_rows``; empty without it)
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, float):
                d[k] = round(v, 6)
        d["history"] = [round(x, 6) for x in self.history]
        if not self.attempts:
            del d["attempts"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> TrainingReport:
        """A report from a card's or a job's ``training`` entry (keys of other versions ignored)."""
        return cls(**{k: v for k, v in (d or {}).items() if k in cls.__dataclass_fields__})

    def loss_ratio(self) -> float | None:
        """Held-out loss / the better constant prediction's (None without a held-out slice or a constant: QA)."""
        bar = constant_loss(self)
        return None if bar is None or not bar > 0 or self.heldout_loss is None else self.heldout_loss / bar


def constant_loss(report: TrainingReport) -> float | None:
    """The held-out loss to beat: the better constant prediction (uniform, or the training label frequencies)."""
    bars = [x for x in (report.prior_heldout_loss, report.initial_heldout_loss) if x is not None]
    return min(bars) if bars else None


def next_rows(report: TrainingReport, used: int, available: float, budget: int) -> int | None:
    """The growth rule (docs/methods.md, "Growing the rows ..."): None where the task was learned with a margin
    (``LEARN_MARGIN``), cannot be judged (no held-out slice, no constant: QA), or no more rows can be drawn (every
    row used, or the budget reached); else twice ``used``, at most ``budget`` and ``available``."""
    ratio = report.loss_ratio()
    if ratio is None or ratio <= LEARN_MARGIN or used >= min(available, budget):
        return None
    return int(min(2 * used, budget, available))


def attempt_record(report: TrainingReport, rows: int, seconds: float) -> dict[str, Any]:
    """One try of the growth rule, as the card keeps it."""
    ratio = report.loss_ratio()
    return {
        "rows": rows,
        "loss_ratio": None if ratio is None else round(ratio, 4),
        "margin": LEARN_MARGIN,
        "seconds": round(seconds, 1),
    }


def as_first_attempt(
    training: dict[str, Any] | None,
    old_config: dict[str, Any],
    config: dict[str, Any],
    rows: int,
    available: float,
    seconds: float,
) -> dict[str, Any] | None:
    """A run made before the growth rule (``old_config``, no ``grow_rows``) read as a run of ``config`` (the same,
    with the rule), where the rule would have stopped at it (learned with a margin, nothing to judge, or no more of
    the ``available`` rows to draw): its ``training`` entry with that one attempt. Then the run is the rule's first
    and last attempt, and its vector the one the rule computes. None where the rule would have drawn more rows, or
    the configs differ in more than the rule. What carries results made before the rule (the catalog tool, the
    embedding-quality bench)."""
    budget = config.get("grow_rows")
    if "grow_rows" in old_config or budget is None or {**old_config, "grow_rows": budget} != config:
        return None
    report = TrainingReport.from_dict(training)
    if next_rows(report, rows, available, budget) is not None:
        return None
    return {**(training or {}), "attempts": [attempt_record(report, rows, seconds)]}

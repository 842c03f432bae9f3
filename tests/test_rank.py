from __future__ import annotations

import numpy as np
import pytest

from fute.errors import StoreError
from fute.rank import rank
from fute.store import LocalStore
from tests.store.test_local import vec


def test_nearest_first_and_self_excluded(tmp_path):
    st = LocalStore(tmp_path)
    st.put(vec("q", [1, 0, 0]))
    st.put(vec("near", [1, 0.2, 0]))
    st.put(vec("mid", [1, 1, 0]))
    st.put(vec("far", [-1, 0, 0]))
    st.put(vec("model", [1, 0.1, 0], kind="model"))
    got = rank("q", st, kind="dataset")
    assert [r.vector.name for r in got] == ["near", "mid", "far"] and [r.rank for r in got] == [1, 2, 3]
    assert got[0].score == pytest.approx(1 / np.sqrt(1.04), abs=1e-5) and got[2].score == pytest.approx(-1, abs=1e-5)
    assert [r.vector.name for r in rank("q", st, kind="model")] == ["model"]
    assert len(rank("q", st, k=2)) == 2


def test_ambiguous_or_missing_names_are_errors(tmp_path):
    st = LocalStore(tmp_path)
    st.put(vec("q", [1, 0], space="s1"))
    st.put(vec("q", [1, 0, 0], space="s2"))
    with pytest.raises(StoreError, match="several spaces"):
        rank("q", st)
    assert rank("q", st, space="s1") == []
    with pytest.raises(StoreError, match="no vector named 'zz'"):
        rank("zz", st)


def test_datasize_ranks_by_size_not_cosine(tmp_path):
    st = LocalStore(tmp_path)
    for name, n in (("q", 50), ("small", 10), ("big", 900), ("mid", 300)):
        v = vec(name, [n], space="ds")
        v.card.space.method = "datasize"
        st.put(v)
    assert [r.vector.name for r in rank("q", st)] == ["big", "mid", "small"]


def test_scores_within_the_measured_noise_are_marked_tied(tmp_path, monkeypatch):
    import json

    import fute.rank
    from fute.tables import ties_note

    noise = tmp_path / "noise.json"
    noise.write_text(json.dumps({"methods": {"fisher": {"space_id": "s1", "score_sd": 0.05}}}))
    monkeypatch.setattr(fute.rank, "SCORE_NOISE", noise)
    st = LocalStore(tmp_path / "st")
    for name, v in (("q", [1, 0]), ("a", [1, 0.1]), ("b", [1, 0.3]), ("c", [0, 1])):
        st.put(vec(name, v))
    ranked = rank("q", st)  # cosines 0.995, 0.958, 0.0
    assert [(r.vector.name, r.tied) for r in ranked] == [("a", False), ("b", True), ("c", False)]
    assert "within 0.050 of the score above, the seed-to-seed spread of a fisher score" in ties_note(ranked, "s1")
    assert ties_note(ranked, "s2") is None and not any(r.tied for r in rank("q", st, space="s1")[:0])
    st.put(vec("q2", [1, 0], space="s2"))
    st.put(vec("z", [1, 0.1], space="s2"))
    assert [r.tied for r in rank("q2", st)] == [False]  # no noise measured for that space: no marks


def test_measured_transfer_gains_are_shown_beside_the_sources_they_were_measured_for(tmp_path, monkeypatch):
    """Matched by the training split's fingerprint on the cards (not by name); a pair whose source trained on the
    target's scored rows is marked; each gain shows its own standard error, and the note says over how many seeds
    and in which truth it was measured."""
    import json

    from rich.console import Console

    import fute.rank
    from fute.rank import measured_gains
    from fute.tables import gains_note, ranking_table

    ev = tmp_path / "evidence.json"
    ev.write_text(
        json.dumps(
            {
                "gain_points": {"fp-q": {"fp-a": 7.7, "fp-b": -2.0}},
                "noise_points": {"fp-q": {"fp-a": 1.2, "fp-b": 3.3}},
                "overlap_rows": {"fp-q": {"fp-a": 26}},
                "truths": [
                    {"seeds": 1, "settings": {"target_examples": 9}, "truth": "runs/other/truth.json"},
                    {"seeds": 3, "settings": {"target_examples": 250}, "truth": "runs/t/truth.json"},
                ],
                "truth_of": {"fp-q": 1},  # each target's gains are from the truth that measured it
            }
        )
    )
    monkeypatch.setattr(fute.rank, "TRANSFER_EVIDENCE", ev)
    st = LocalStore(tmp_path / "st")
    for name, v in (("q", [1, 0]), ("renamed-a", [1, 0.1]), ("b", [1, 0.3]), ("c", [0, 1])):
        x = vec(name, v)
        x.card.data.fingerprint = {"q": "fp-q", "renamed-a": "fp-a", "b": "fp-b"}.get(name, "fp-other")
        st.put(x)
    q = st.vectors(name="q")[0]
    ranked = rank(q, st)
    gains = measured_gains(q)
    assert set(gains) == {"fp-a", "fp-b"} and gains["fp-a"].overlap == 26 and gains["fp-b"].overlap == 0
    console = Console(width=200, record=True)
    console.print(ranking_table("q", ranked, gains))
    lines = {ln.split("│")[2].strip(): ln for ln in console.export_text().splitlines() if ln.count("│") > 3}
    assert lines["renamed-a"].rstrip(" │").endswith("+7.7 ±1.2 *") and lines["b"].rstrip(" │").endswith("-2.0 ±3.3")
    assert lines["c"].rstrip(" │").endswith("0.0000")  # no measurement for c: an empty cell
    note = gains_note(ranked, gains)
    assert "250 rows" in note and "mean of 3 seeds; runs/t/truth.json" in note and "up to 26" in note
    assert gains["fp-a"].noise == 1.2 and gains["fp-b"].noise == 3.3  # each pair its own standard error
    other = vec("p", [1, 0])
    other.card.data.fingerprint = "fp-unmeasured"
    assert measured_gains(other) == {} and measured_gains(vec("m", [1, 0], kind="model")) == {}
    assert gains_note(ranked, {}) is None


def test_vectors_from_a_surrogate_that_did_not_learn_are_marked_in_the_ranking(tmp_path, run_cli):
    """Their vectors are mostly training noise (docs/usage.md has the measured share): `fute rank` marks such
    candidates with † and says so, and says when the query itself is one. Not learned: nothing learned, or the growth
    rule's margin missed at every row it drew; vectors that learned, or that were made without training, are not
    marked."""
    st = LocalStore(tmp_path)
    weak = [{"rows": 1000, "loss_ratio": 0.97, "margin": 0.9, "seconds": 1.0}]
    for name, v, learned, tries in (
        ("q", [1, 0], True, []),
        ("noise", [1, 0.1], False, []),
        ("weak", [1, 0.2], True, weak),
        ("ok", [1, 0.3], True, [{**weak[0], "loss_ratio": 0.5}]),
        ("t", [0, 1], None, []),
    ):
        x = vec(name, v)
        x.card.training = None if learned is None else {"learned": learned, "heldout_loss": 0.6, "attempts": tries}
        st.put(x)
    code, out, _ = run_cli("rank", "q", "--store", str(tmp_path))
    names = [ln.split("│")[2].strip() for ln in out.splitlines() if ln.count("│") > 3]
    assert code == 0 and names == ["noise †", "weak †", "ok", "t"]
    assert "†: the surrogate did not learn that vector's task" in out
    assert "the task of q's samples" not in out
    code, out, _ = run_cli("rank", "noise", "--store", str(tmp_path))
    assert code == 0 and "did not learn the task of noise's samples, so these scores say little" in out
    assert "weak †" in out and "ok †" not in out and "q †" not in out

from __future__ import annotations

import json

import pytest

from fute.cli import parse_value
from tests.conftest import make_classification, write_jsonl


def toy_file(tmp_path, name, seed, flip=False, column="text"):
    s = make_classification(12, seed=seed, flip=flip)
    rows = [{column: t, "label": s.label_names[i]} for t, i in zip(s.texts, s.targets.argmax(1), strict=True)]
    return write_jsonl(tmp_path / f"{name}.jsonl", rows)


def test_embed_list_show_rank(tmp_path, tiny_paths, run_cli):
    store = str(tmp_path / "store")
    common = [
        "--surrogate",
        str(tiny_paths["encoder"]),
        "--max-length",
        "32",
        "--store",
        store,
        "--quiet",
        "--method",
        "fisher",
        "--option",
        "max_epochs=1",
        "--option",
        "batch_size=8",
    ]
    for name, seed, flip in (("a", 0, False), ("b", 1, False), ("c", 2, True)):
        code, out, err = run_cli("embed", "dataset", str(toy_file(tmp_path, name, seed, flip)), *common)
        assert code == 0, err
        assert f"{name}: 128-d fisher vector" in out
    code, out, _ = run_cli(
        "embed",
        "dataset",
        str(toy_file(tmp_path, "d", 3, column="sentence")),
        *common,
        "--column",
        "text=sentence",
        "--name",
        "renamed",
    )
    assert code == 0 and "renamed" in out
    code, out, _ = run_cli("list", "--store", store)
    assert code == 0 and all(n in out for n in ("a", "b", "c", "renamed")) and "fisher on" in out
    code, out, _ = run_cli("show", "a", "--store", store, "--json")
    card = json.loads(out)[0]
    assert card["name"] == "a" and card["space"]["method"] == "fisher" and card["method_config"]["max_epochs"] == 1
    code, out, _ = run_cli("show", "a", "--store", store)
    assert "weights sha256" in out and card["data"]["fingerprint"] in out
    assert card["device"] == "cpu" and "computed on" in out  # recorded and shown, not part of the space
    code, out, _ = run_cli("rank", "a", "--store", store, "-k", "2")
    assert code == 0 and "nearest to a" in out
    assert len([ln for ln in out.splitlines() if ln.startswith("│")]) == 2


def test_errors_are_one_line(tmp_path, run_cli):
    for args, message in (
        (("rank", "nothing", "--store", str(tmp_path)), "no vector named 'nothing'"),
        (("show", "nothing", "--store", str(tmp_path)), "no vector named 'nothing'"),
        (
            ("embed", "dataset", str(toy_file(tmp_path, "a", 0)), "--method", "nope", "--store", str(tmp_path)),
            "unknown method 'nope'",
        ),
        (
            ("embed", "dataset", str(toy_file(tmp_path, "a", 0)), "--option", "x", "--store", str(tmp_path)),
            "needs the form KEY=VALUE",
        ),
    ):
        code, out, err = run_cli(*args)
        assert code == 2 and err.strip().startswith("error:") and message in err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_list_on_an_empty_store(tmp_path, run_cli):
    code, out, _ = run_cli("list", "--store", str(tmp_path / "none"))
    assert code == 0 and "no vectors" in out


def test_parse_value():
    assert [parse_value(x) for x in ("3", "1e-4", "true", "None", "mean")] == [3, 1e-4, True, None, "mean"]


def test_embed_model_and_corpus_build(tmp_path, tiny_paths, tiny_llama, run_cli, monkeypatch):
    monkeypatch.setenv("FUTE_HOME", str(tmp_path / "home"))
    store = str(tmp_path / "store")
    a = toy_file(tmp_path, "a", 0)
    code, out, err = run_cli(
        "corpus",
        "build",
        str(a),
        str(toy_file(tmp_path, "b", 1)),
        "--exclude",
        "b",
        "--size",
        "8",
        "--out",
        str(tmp_path / "u.jsonl"),
    )
    assert code == 0, err
    assert "8 rows (single texts) from a 8" in out
    common = [
        "--surrogate",
        str(tiny_paths["encoder"]),
        "--max-length",
        "32",
        "--store",
        store,
        "--quiet",
        "--option",
        "max_epochs=1",
        "--option",
        "batch_size=8",
    ]
    assert run_cli("embed", "dataset", str(a), *common)[0] == 0
    code, out, err = run_cli(
        "embed",
        "model",
        str(tiny_llama),
        "--prompt",
        "sentiment:sentiment-colon",
        "--corpus",
        str(tmp_path / "u.jsonl"),
        "--name",
        "llm",
        *common,
    )
    assert code == 0, err
    assert "llm (prompt): 128-d fisher vector" in out
    code, out, _ = run_cli("rank", "a", "--kind", "prompt", "--store", store)
    assert "llm" in out and "prompt" in out
    code, out, _ = run_cli("show", "llm", "--store", store)  # an MTE shows its model, prompt and U
    assert code == 0 and "[hf-lm]" in out and "sentiment:sentiment-colon (vanilla)" in out
    assert "corpus U" in out and "a 8" in out and "U fingerprint" in out and "pooling" in out
    card = json.loads(run_cli("show", "llm", "--store", store, "--json")[1])[0]
    assert card["method_config"]["max_examples"] == 256  # an LLM's default U size: minutes on a CPU
    code, _, err = run_cli("embed", "model", str(tiny_llama), "--corpus", str(tmp_path / "u.jsonl"), *common)
    assert code == 2 and "give a prompt" in err


def test_every_command_has_working_help(run_cli):
    for args in (
        (),
        ("embed",),
        ("embed", "dataset"),
        ("embed", "model"),
        ("list",),
        ("show",),
        ("rank",),
        ("prompts",),
        ("corpus", "build"),
        ("demo",),
        ("map",),
        ("report",),
    ):
        code, out, err = run_cli(*args, "--help")
        assert code == 0 and "Usage" in out and "Traceback" not in err, (args, err[-300:])


def test_prompts_lists_the_sets_and_one_set_lists_its_prompts(run_cli):
    code, out, _ = run_cli("prompts")
    assert code == 0 and "sentiment" in out and "nli" in out and "fute prompts SET" in out
    assert "{premise}" not in out  # the sets, not every template
    code, out, _ = run_cli("prompts", "nli")
    assert code == 0 and "{premise}" in out and "sentiment (" not in out


def test_version(run_cli):
    import fute

    code, out, _ = run_cli("--version")
    assert code == 0 and out.strip() == f"fute {fute.__version__}"


@pytest.mark.parametrize(
    ("option", "says"),
    [
        ("max_examples=0", "max_examples=0: must be at least 1"),
        ("max_examples=-5", "max_examples=-5: must be at least 1"),
        ("max_epochs=abc", "max_epochs='abc': must be int"),
        ("batch_size=0", "batch_size=0: must be at least 1"),
        ("holdout_fraction=1.5", "holdout_fraction=1.5: must be at least 0 and below 1"),
    ],
)
def test_bad_method_options_are_one_line_errors_before_any_work(run_cli, tmp_path, option, says):
    data = write_jsonl(tmp_path / "d.jsonl", [{"text": "good film", "label": "pos"}, {"text": "bad", "label": "neg"}])
    code, _, err = run_cli("embed", "dataset", str(data), "--store", str(tmp_path / "st"), "--option", option)
    assert code == 2 and says in err and "Traceback" not in err
    assert not (tmp_path / "st").exists() or not any((tmp_path / "st").iterdir())


def _tree_bytes(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_stored_name_is_never_replaced_unasked(run_cli, tmp_path, tiny_paths):
    rows = [
        {"text": f"good film {i}" if i % 2 else f"bad film {i}", "label": "pos" if i % 2 else "neg"} for i in range(12)
    ]
    a = write_jsonl(tmp_path / "a.jsonl", rows)
    b = write_jsonl(tmp_path / "b.jsonl", rows[::-1][:10])
    common = [
        "--store",
        str(tmp_path / "st"),
        "--surrogate",
        str(tiny_paths["encoder"]),
        "--max-length",
        "32",
        "--method",
        "textemb",
        "--quiet",
    ]
    assert run_cli("embed", "dataset", str(a), "--name", "x", *common)[0] == 0
    before = _tree_bytes(tmp_path / "st")
    code, _, err = run_cli("embed", "dataset", str(b), "--name", "x", *common)
    assert code == 2 and "'x' (dataset) is already stored" in err and "--overwrite" in err and "Traceback" not in err
    assert _tree_bytes(tmp_path / "st") == before  # byte for byte
    code, out, _ = run_cli("embed", "dataset", str(a), "--name", "x", *common)  # the same data: a cache hit
    assert code == 0 and "(cached)" in out
    code, out, _ = run_cli("embed", "dataset", str(a), "--name", "y", *common)  # under another name: a copy
    assert code == 0 and "(cached, copy of x)" in out
    assert run_cli("embed", "dataset", str(b), "--name", "x", *common, "--overwrite")[0] == 0
    code, out, _ = run_cli("show", "x", "--store", str(tmp_path / "st"), "--json")
    assert code == 0 and '"n_total": 10' in out
    code, out, _ = run_cli("show", "x", "--store", str(tmp_path / "st"), "--json", "--history")
    old, new = json.loads(out)  # the replaced vector stays readable from the store's past versions
    assert old["data"]["n_total"] == 12 and new["data"]["n_total"] == 10 and old["table_version"] < new["table_version"]
    code, out, _ = run_cli("show", "x", "--store", str(tmp_path / "st"), "--history")
    assert code == 0 and out.count("table version") == 2


def test_embed_dataset_records_a_category_and_a_cache_hit_takes_a_new_one(run_cli, tmp_path, tiny_paths):
    store = str(tmp_path / "st")
    common = ["--store", store, "--surrogate", str(tiny_paths["encoder"]), "--max-length", "32"]
    data = str(toy_file(tmp_path, "reviews", 0))
    assert run_cli("embed", "dataset", data, *common, "--method", "textemb", "--quiet", "--category", "films")[0] == 0
    code, out, _ = run_cli("list", "--store", store)
    assert code == 0 and "films" in out
    assert run_cli("embed", "dataset", data, *common, "--method", "textemb", "--quiet", "--category", "movies")[0] == 0
    cards = json.loads(run_cli("show", "reviews", "--store", store, "--json")[1])
    assert len(cards) == 1 and cards[0]["category"] == "movies"
    code, out, _ = run_cli("rank", "reviews", "--store", store)
    assert code == 0


def test_embed_model_offers_only_the_methods_that_read_labels(run_cli):
    code, out, _ = run_cli("embed", "model", "--help")
    flat = " ".join(out.replace("│", " ").split())  # the help box wraps lines
    assert code == 0 and "--method <str> fisher | prefix | prompt (the methods that read labels)" in flat
    assert "datasize" not in flat and "textemb" not in flat


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("rank", "x", "--top", "-3"), "top (k)=-3: must be at least 1"),
        (("rank", "x", "--kind", "bogus"), "unknown kind 'bogus'"),
        (("list", "--kind", "bogus"), "unknown kind 'bogus'"),
        (("embed", "dataset", "DATA", "--max-length", "0"), "max_length (tokens per input)=0: must be at least 2"),
        (("corpus", "build", "DATA", "--size", "0", "--out", "u.jsonl"), "size=0: must be at least 1"),
        (
            ("select-prompt", "--model", "m", "--prompts", "sentiment", "--dataset", "DATA", "--examples", "0"),
            "examples=0",
        ),
    ],
)
def test_bad_options_are_one_line_errors(run_cli, tmp_path, args, says):
    data = str(toy_file(tmp_path, "d", 0))
    args = [data if a == "DATA" else a for a in args]
    code, _, err = run_cli(*args, *(["--store", str(tmp_path / "st")] if args[0] in ("rank", "list", "embed") else []))
    assert code == 2 and says in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_store_check_and_repair(run_cli, tmp_path):
    from fute.store import LocalStore
    from tests.store.conftest import vec

    store = LocalStore(tmp_path / "st")
    store.put(vec("a", [1, 0, 0], space="good"))
    store.put(vec("b", [1, 0], space="bad"))
    store.put(vec("c", [0, 1], space="bad"))
    data = store.path / "space_bad.lance" / "data"
    max(data.iterdir(), key=lambda p: p.stat().st_mtime_ns).write_bytes(b"garbage")
    st = ["--store", str(tmp_path / "st")]
    code, out, err = run_cli("list", *st)
    assert code == 3 and "a" in out and "space bad: unreadable" in err  # named, skipped, the rest listed; exit 3
    code, out, _ = run_cli("store", "check", *st)
    assert code == 1 and "bad: damaged" in out and "good: ok" in out and "1 damaged" in out
    code, out, _ = run_cli("store", "repair", *st)
    assert code == 0 and "bad: restored to version 1" in out
    code, out, _ = run_cli("store", "check", *st)
    assert code == 0 and "0 damaged" in out


def test_fute_debug_shows_the_traceback(run_cli, tmp_path, monkeypatch):
    from fute.errors import StoreError

    monkeypatch.setenv("FUTE_DEBUG", "1")
    with pytest.raises(StoreError, match="no vector named"):
        run_cli("rank", "nothing", "--store", str(tmp_path))


def test_ctrl_c_says_what_was_kept(tmp_path, tiny_paths, run_cli):
    """A real SIGINT in the middle of an embedding: exit 130, one line, and what was stored stays stored."""
    import os
    import signal
    import subprocess
    import sys
    import threading
    import time

    store = tmp_path / "st"
    code, _, err = run_cli(
        "embed", "dataset", str(toy_file(tmp_path, "kept", 5)), "--store", str(store), "--quiet",
        "--surrogate", str(tiny_paths["encoder"]), "--method", "textemb",
    )  # fmt: skip
    assert code == 0, err
    before = _tree_bytes(store)
    paths = [str(toy_file(tmp_path, n, i)) for i, n in enumerate(("a", "b"))]
    cmd = [
        sys.executable,
        "-c",
        "from fute.cli import main; main()",
        "embed",
        "dataset",
        *paths,
        "--store",
        str(tmp_path / "st"),
        "--surrogate",
        str(tiny_paths["encoder"]),
        "--option",
        "max_epochs=100000",
        "--option",
        "patience=100000",
        "--option",
        "probe_max_epochs=0",
        "--option",
        "holdout_fraction=0.5",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ)
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(iter(lambda: proc.stderr.read(1), "")), daemon=True)
    reader.start()
    deadline = time.time() + 120
    while "fine-tune" not in "".join(seen) and time.time() < deadline:  # the job's own progress: it is training
        time.sleep(0.2)
    assert proc.poll() is None, "the embedding ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    reader.join(timeout=10)
    err = "".join(seen)
    assert proc.returncode == 130, err
    assert "interrupted; everything stored before this point is kept" in err and "Traceback" not in err
    assert _tree_bytes(store) == before  # the interrupted job wrote nothing; the stored vector is as it was


def test_an_ensemble_of_seeds_is_its_own_space_and_its_card_says_so(tmp_path, tiny_paths, run_cli):
    store = str(tmp_path / "store")
    common = ["--surrogate", str(tiny_paths["encoder"]), "--max-length", "32", "--store", store, "--quiet"]
    opts = ["--option", "max_epochs=1", "--option", "batch_size=8"]
    data = str(toy_file(tmp_path, "a", 0, False))
    assert run_cli("embed", "dataset", data, *common, *opts)[0] == 0
    code, _, err = run_cli("embed", "dataset", data, *common, *opts, "--option", "ensemble_seeds=2")
    assert code == 0, err
    cards = json.loads(run_cli("show", "a", "--store", store, "--json")[1])
    # the ensemble did not replace the plain vector, nor join its space
    assert len({json.dumps(c["space"], sort_keys=True) for c in cards}) == 2
    ens = next(c for c in cards if c["method_config"].get("ensemble_seeds") == 2)
    assert len(ens["training"]["members"]) == 2
    code, out, _ = run_cli("show", "a", "--store", store)
    assert code == 0 and "an ensemble of 2 seeds" in out


def test_options_by_method_reads_method_key_value_or_says_the_form():
    from fute.cli import options_by_method
    from fute.errors import ConfigError

    got = options_by_method(["fisher:keep_probe=false", "fisher:max-epochs=2", "prompt:n_tokens=4"])
    assert got == {"fisher": {"keep_probe": False, "max_epochs": 2}, "prompt": {"n_tokens": 4}}
    with pytest.raises(ConfigError, match="METHOD:KEY=VALUE"):
        options_by_method(["keep_probe=false"])


@pytest.mark.parametrize(
    ("mapping", "says"),
    [
        ("text", "needs the form KEY=VALUE"),
        ("=review", "the key is empty"),
        ("text=", "the value is empty"),
        ("words=review", "unknown field"),
        ("text=nope", "no column 'nope'"),
    ],
)
def test_a_bad_column_mapping_is_one_line(run_cli, tmp_path, mapping, says):
    data = write_jsonl(tmp_path / "d.jsonl", [{"review": "good", "label": "pos"}, {"review": "bad", "label": "n"}])
    for cmd in (["embed", "dataset", str(data), "--name", "d"], ["rank", str(data)]):
        code, _, err = run_cli(*cmd, "--column", mapping, "--store", str(tmp_path / "st"), "--quiet")
        assert code == 2 and says in err and len(err.strip().splitlines()) == 1, (cmd, err)


def test_fute_methods_lists_methods_and_each_ones_options(run_cli):
    from fute.methods import method_options

    code, out, _ = run_cli("methods")
    assert code == 0 and all(m in out for m in ("fisher", "prefix", "prompt", "textemb", "datasize"))
    assert "TaskEmb" in out  # the first line of each method's docstring
    code, out, _ = run_cli("methods", "fisher")
    assert code == 0
    for o in method_options("fisher"):  # every option, with its default, bounds and help, from the same metadata
        assert f"{o.name} = {o.default!r}" in out and o.help[:40] in out
    assert "holdout_fraction = 0.2  (float; at least 0, below 1; in space: yes)" in out
    assert "max_examples = 1000  (int | None; at least 1; in space: no)" in out
    code, _, err = run_cli("methods", "nope")
    assert code == 2 and "unknown method 'nope'" in err

"""The paper's two pictures of the task space, with our data and models.

    python bench/task_map.py              # vectors into bench/work/store, maps into bench/results/

(a) DTEs of the shared datasets plus MTEs of classifiers of three architectures: the default
    surrogate's (all-MiniLM-L6-v2, fine-tuned by bench/model_rank.py) and two tiny random-init ones
    trained from scratch here (a GPT-2-style decoder and a Llama-style decoder, both on the MiniLM
    tokenizer), colored by category.
(b) MTEs of the two offline LLMs (SmolLM2-135M-Instruct, gemma-3-270m) with each of the 13 sentiment
    and 13 NLI prompts, colored by category and marked vanilla vs chain-of-thought.

Every vector is `fisher` on the default surrogate, so all of them share one space; DTEs, MTEs and
prompt MTEs reuse the store of bench/model_rank.py (same cap, same U exclusions), so a rerun costs
only what is missing. Labels, classifiers and vectors are cached, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from fute.embed import embed_dataset, embed_model
from fute.paths import default_surrogate_path
from fute.samples import load_samples
from fute.space import TaskVector
from fute.store import open_store
from fute.targets.hf_classifier import HFClassifier
from fute.targets.hf_lm import HFCausalLM
from fute.targets.prompts import load_prompt_set
from fute.train import FinetuneConfig, evaluate_classifier, finetune_classifier
from fute.viz import build_map, category_of, choose_space, write_map

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "data"
POOL = "sst2,mr,cr,subj,imdb,agnews,trec,snli,mnli,rte,qnli,qqp,mrpc,cola,stsb,boolq"
IN_U = {"snli", "mnli", "qnli", "boolq", "stsb", "wnli"}  # sources of the shipped U
# bench/model_rank.py's U exclusions: its vectors are reused, so the MTEs here must match them
U_EXCLUDE = ("mnli", "snli", "stsb")
SCRATCH = "sst2,agnews,trec"  # datasets the tiny from-scratch classifiers learn
LLMS = "smollm2,gemma-3-270m"


def tiny_config(arch: str, vocab_size: int, pad_id: int):  # noqa: ANN201
    """A small random-init config of a decoder architecture unlike the surrogate's encoder."""
    from transformers import GPT2Config, LlamaConfig

    if arch == "gpt2":
        return GPT2Config(vocab_size=vocab_size, n_positions=256, n_embd=128, n_layer=2, n_head=4, pad_token_id=pad_id)
    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=pad_id,
    )


def scratch_base(arch: str, folder: Path) -> Path:
    """A saved random-init model of ``arch`` with the surrogate's tokenizer, to train from scratch."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if (folder / "config.json").is_file():
        return folder
    import torch

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(default_surrogate_path())
    model = AutoModelForSequenceClassification.from_config(tiny_config(arch, len(tok), tok.pad_token_id))
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--pool", default=POOL)
    ap.add_argument("--scratch", default=SCRATCH, help="datasets for the tiny from-scratch classifiers")
    ap.add_argument("--llms", default=LLMS)
    ap.add_argument("--max-examples", type=int, default=500, help="cap for DTEs and classifier MTEs")
    ap.add_argument("--prompt-examples", type=int, default=128, help="U rows each LLM + prompt labels")
    ap.add_argument("--max-reasoning-tokens", type=int, default=48)
    ap.add_argument("--only", choices=("a", "b", "maps", "a+maps"), default=None, help="one part only")
    ap.add_argument(
        "--note-command",
        action="append",
        default=[],
        help="with --only maps: another command that made vectors in the store, to record",
    )
    ap.add_argument("--work", type=Path, default=HERE / "work")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    args = ap.parse_args()
    store = args.work / "store"
    t0 = time.perf_counter()
    info: dict = {"command": "python bench/task_map.py " + shlex.join(sys.argv[1:]), "classifiers": {}}

    if args.only in (None, "a", "a+maps"):
        opts = {"method": "fisher", "store": store, "max_examples": args.max_examples, "progress": False}
        for name in args.pool.split(","):
            embed_dataset(args.shared / name, name, **opts)
        for arch in ("gpt2", "llama"):
            base = scratch_base(arch, args.work / "models" / f"tiny-{arch}-init")
            for name in args.scratch.split(","):
                path = args.work / "models" / f"tiny-{arch}-{name}"
                if not (path / "config.json").is_file():
                    train = load_samples(args.shared / name).take(2000, 0)
                    finetune_classifier(
                        str(base), train, path, FinetuneConfig(epochs=4, learning_rate=1e-3, max_length=64)
                    )
                dev = load_samples(args.shared / name, split="dev").take(500, 0)
                score = evaluate_classifier(path, dev)
                info["classifiers"][f"{arch}:{name}"] = {"path": str(path), "dev_accuracy": score}
                print(f"tiny {arch} on {name}: dev accuracy {score:.3f}", flush=True)
                embed_model(HFClassifier(str(path)), f"{arch}:{name}", exclude=U_EXCLUDE, **opts)

    if args.only in (None, "b"):
        opts = {"method": "fisher", "store": store, "max_examples": args.prompt_examples, "progress": True}
        for llm in args.llms.split(","):
            target = None
            for set_name in ("sentiment", "nli"):
                for p in load_prompt_set(set_name):
                    t = time.perf_counter()
                    target = HFCausalLM(
                        llm,
                        p,
                        max_reasoning_tokens=args.max_reasoning_tokens,
                        **({"model": target.model, "tokenizer": target.tokenizer} if target else {}),
                    )
                    embed_model(target, f"{llm}/{p.full_id}", exclude=U_EXCLUDE, **opts)
                    print(f"{llm} + {p.full_id}: {time.perf_counter() - t:.0f} s", flush=True)

    info["seconds_vectors"] = time.perf_counter() - t0
    if args.only in (None, "maps", "a+maps"):
        previous = (
            json.loads((args.out / "task_map.json").read_text()) if (args.out / "task_map.json").is_file() else {}
        )
        if not info["classifiers"]:  # maps only: keep the accuracies part (a) measured
            info["classifiers"] = previous.get("classifiers", {})
        if args.only in ("maps", "a+maps"):  # the runs that made the vectors, then this one
            earlier = previous.get("commands") or ([previous["command"]] if "command" in previous else [])
            info["commands"] = [*earlier, *args.note_command, info["command"]]
        info["maps"] = draw_maps(store, args.out)
        write_results(info, args.out)


def nearest_agreement(vectors: list[TaskVector], among: list[TaskVector], key) -> tuple[int, int]:  # noqa: ANN001
    """How many of ``vectors`` have a nearest vector (cosine, full dimension) in ``among`` with the same ``key``."""
    hits = 0
    for v in vectors:
        others = [o for o in among if o is not v]
        best = max(others, key=lambda o: v.cosine(o))
        hits += key(best) == key(v)
    return hits, len(vectors)


def draw_maps(store: Path, out: Path) -> dict:
    """Picture (a) and (b) as PNG + HTML, and how often nearest neighbours share a category."""
    st = open_store(store)
    vecs = st.vectors(choose_space(st, method="fisher"))
    dte_category = {v.name: category_of(v.card) for v in vecs if v.kind == "dataset"}
    for v in vecs:  # classifiers: the category of their training data; the MiniLM ones get their architecture's name
        if v.kind == "model":
            arch, trained_on = v.name.split(":", 1)
            v.card.category = dte_category.get(trained_on, "uncategorised")
            v.card.name = f"minilm:{trained_on}" if arch == "model" else v.name
    category = lambda v: category_of(v.card)  # noqa: E731
    datasets = [v for v in vecs if v.kind == "dataset"]
    models = [v for v in vecs if v.kind == "model"]
    prompts = [v for v in vecs if v.kind == "prompt"]
    result: dict = {}
    if models:
        tmap = build_map(datasets + models, projection="tsne", color_by="category", symbol_by="shape")
        files = write_map(tmap, out / "map_models")
        hit, n = nearest_agreement(models, datasets, category)
        result["models"] = {
            "files": [str(f.relative_to(out.parent)) for f in files],
            "datasets": len(datasets),
            "models": [v.name for v in models],
            "nearest_dte_same_category": [hit, n],
        }
    if prompts:
        near = [v for v in datasets if category_of(v.card) in ("sentiment", "nli")]
        files = []
        for color in ("category", "model"):
            tmap = build_map(prompts + near, projection="tsne", color_by=color, symbol_by="shape")
            files += write_map(tmap, out / f"map_prompts_by_{color}")
        ptype = lambda v: v.card.target["prompt"]["type"]  # noqa: E731
        model = lambda v: Path(v.card.target["model"]).name  # noqa: E731
        rows: dict[str, set[int]] = {}
        for v in prompts:
            rows.setdefault(model(v), set()).add(v.card.data.n_used)
        result["prompts"] = {
            "files": [str(f.relative_to(out.parent)) for f in files],
            "prompts": len(prompts),
            "u_rows_per_llm": {k: sorted(n) for k, n in sorted(rows.items())},
            "llms": sorted({model(v) for v in prompts}),
            "nearest_prompt_same_category": nearest_agreement(prompts, prompts, category),
            "nearest_prompt_same_type": nearest_agreement(prompts, prompts, ptype),
            "nearest_prompt_same_llm": nearest_agreement(prompts, prompts, model),
            "nearest_dte_same_category": nearest_agreement(prompts, near, category),
        }
    return result


def write_results(info: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "task_map.json").write_text(json.dumps(info, indent=2) + "\n")
    maps = info["maps"]
    commands = info.get("commands") or [info["command"]]
    md = [
        "# Maps of the task space",
        "",
        *[f"Command: `{c}`  " for c in commands],
        "Every vector: `fisher` on all-MiniLM-L6-v2 (one space); t-SNE of the L2-normalised vectors, seed 0. "
        "Neighbour counts use the cosine in the full space, not the 2-D picture.",
        "",
    ]
    if "models" in maps:
        m = maps["models"]
        hit, n = m["nearest_dte_same_category"]
        md += [
            "## (a) Datasets and fine-tuned classifiers",
            "",
            "![datasets and classifiers](map_models.png)",
            "",
            f"{m['datasets']} DTEs and {len(m['models'])} classifier MTEs ({', '.join(m['models'])}). "
            f"Classifiers whose nearest DTE is of their training data's category: **{hit} of {n}**.",
            "",
            "| classifier | dev accuracy |",
            "|---|---:|",
        ]
        md += [f"| {k} | {v['dev_accuracy']:.3f} |" for k, v in info["classifiers"].items()]
        md.append("")
    if "prompts" in maps:
        p = maps["prompts"]
        rows = [
            ("nearest other prompt MTE has the same category (sentiment / NLI)", p["nearest_prompt_same_category"]),
            ("nearest other prompt MTE has the same type (vanilla / CoT)", p["nearest_prompt_same_type"]),
            ("nearest other prompt MTE is of the same LLM", p["nearest_prompt_same_llm"]),
            ("nearest sentiment/NLI DTE has the prompt's category", p["nearest_dte_same_category"]),
        ]
        md += [
            "## (b) LLMs with prompts",
            "",
            "![prompts by category](map_prompts_by_category.png)",
            "",
            "![prompts by LLM](map_prompts_by_model.png)",
            "",
            f"{p['prompts']} prompt MTEs ({', '.join(p['llms'])}; 13 sentiment + 13 NLI prompts each), with the "
            "sentiment and NLI DTEs for reference. U rows labeled per prompt: "
            + ", ".join(f"{k} {'/'.join(map(str, n))}" for k, n in p["u_rows_per_llm"].items())
            + ".",
            "",
            "| prompt MTEs whose ... | count |",
            "|---|---:|",
        ]
        md += [f"| {text} | {h} of {n} |" for text, (h, n) in rows]
        md.append("")
    if "commands" not in info:  # a run that made vectors (a maps-only run made none)
        md += [f"Vectors computed in {info['seconds_vectors'] / 60:.0f} min (cached parts excluded).", ""]
    (out / "task_map.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()

from __future__ import annotations

import numpy as np
import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from fute.errors import ConfigError
from fute.targets.hf_lm import HFCausalLM
from fute.targets.prompts import load_prompt_set, parse_prompt_set

SET = {
    "name": "toy",
    "labels": ["negative", "positive"],
    "input": "single",
    "verbalizer": {"negative": ["bad"], "positive": ["good"]},
    "prompts": [
        {"id": "plain", "template": "review {text} sentiment"},
        {
            "id": "multi",
            "template": "review {text} sentiment",
            "verbalizer": {"negative": ["very bad", "awful"], "positive": ["very good"]},
        },
        {
            "id": "missing",
            "template": "review {text} sentiment",
            "verbalizer": {"negative": ["terrible"], "positive": ["good"]},
        },
        {"id": "cot", "type": "cot", "template": "review {text} why", "answer": "so the answer is"},
    ],
}
TEXTS = ["the movie was good", "the plot was awful and boring", "a big happy dog", "the food"]


@pytest.fixture(scope="module")
def lm(tiny_llama):
    return AutoModelForCausalLM.from_pretrained(tiny_llama), AutoTokenizer.from_pretrained(tiny_llama)


def target(lm, prompt_id, **kw):
    model, tok = lm
    return HFCausalLM("tiny-llama", parse_prompt_set(SET, "toy.yaml")[prompt_id], model=model, tokenizer=tok, **kw)


def test_distributions_sum_to_one_and_are_deterministic(lm):
    t = target(lm, "plain")
    a = t.predict(TEXTS, progress=False, cache=False)
    b = t.predict(TEXTS, progress=False, cache=False)
    assert a.shape == (4, 2) and np.allclose(a.sum(axis=1), 1) and (a > 0).all()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a[0], a[1])


def test_text_nll_is_the_models_own_mean_token_loss(lm):
    """SPELL's log-perplexity: the mean next-token cross-entropy the model itself reports for the text."""
    import torch

    model, tok = lm
    t = target(lm, "plain")
    for text in TEXTS[:2]:
        ids = tok(text, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            loss = float(model(input_ids=ids, labels=ids).loss)
        assert t.text_nll([text])[0] == pytest.approx(loss, rel=1e-5)


def test_label_score_is_the_log_softmax_over_label_words(lm):
    """Single-token words: the distribution is softmax over the vocabulary log-probs of the two words."""
    t = target(lm, "plain")
    assert t._head_is_plain()  # labels come from the label words' rows of the output matrix alone
    scores = t.score_words([t._context([t.prompt.render(x)]) for x in TEXTS])
    probs = t.predict(TEXTS, progress=False, cache=False)
    expected = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(probs, expected, rtol=1e-6)
    assert (scores < 0).all()  # real log-probabilities, not clamped


def test_multi_token_words_are_scored_in_full(lm):
    t = target(lm, "multi")
    contexts = [t._context([t.prompt.render(x)]) for x in TEXTS[:2]]
    scores = t.score_words(contexts)
    model, tok = lm
    # reference: log p("very") + log p("bad" | "very") by hand, for the first context
    import torch

    ids = tok(contexts[0])["input_ids"]
    cont = tok(" very bad", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([ids + cont])).logits[0].double(), dim=-1)
    ref = sum(float(logp[len(ids) - 1 + k, cont[k]]) for k in range(len(cont)))
    assert scores[0, 0] == pytest.approx(ref, rel=1e-6)
    probs = t.predict(TEXTS, progress=False, cache=False)
    assert np.allclose(probs.sum(axis=1), 1)


def test_label_word_missing_from_vocabulary_is_a_clear_error(lm):
    with pytest.raises(ConfigError, match="label word 'terrible' of prompt toy:missing is not in the vocabulary"):
        target(lm, "missing").predict(TEXTS[:1], progress=False, cache=False)


def test_chain_of_thought_runs_two_turns_with_a_cap(lm):
    t = target(lm, "cot", max_reasoning_tokens=5)
    reasons = t._generate([t._context([t.prompt.render(x)]) for x in TEXTS[:2]])
    assert all(len(r.split()) <= 5 for r in reasons)
    probs = t.predict(TEXTS[:2], progress=False, cache=False)
    assert probs.shape == (2, 2) and np.allclose(probs.sum(axis=1), 1)
    assert t.identity()["max_reasoning_tokens"] == 5


def test_chat_template_is_used_when_present(lm):
    model, tok = lm
    tok2 = AutoTokenizer.from_pretrained(tok.name_or_path)
    tok2.chat_template = (
        "{% for m in messages %}[CLS] {{ m['role'] }} {{ m['content'] }} [SEP] {% endfor %}"
        "{% if add_generation_prompt %}[CLS] assistant {% endif %}"
    )
    t = HFCausalLM("tiny-llama", parse_prompt_set(SET, "toy.yaml")["plain"], model=model, tokenizer=tok2)
    assert t.chat and t._context(["hi"]).startswith("[CLS] user hi")
    assert not target(lm, "plain").chat
    assert np.allclose(t.predict(TEXTS[:2], progress=False, cache=False).sum(axis=1), 1)


def test_a_long_input_loses_its_beginning_not_the_question(tiny_llama):
    """The rendered prompt always fits: a long text is cut from the left, so the template's question and the
    answer cue survive (right truncation of the rendered prompt used to cut them off long reviews)."""

    prompt = load_prompt_set("sentiment")["sentiment-colon"]
    lm = HFCausalLM(str(tiny_llama), prompt, max_length=48)
    long = " ".join(["the movie was very boring"] * 30) + " the film was great"
    text, _ = lm._fit(long, None)
    assert text.endswith("the film was great") and len(text) < len(long)
    context = lm._context([prompt.render(text)])
    assert len(lm._ids(context)) <= 48 and context.rstrip().endswith(prompt.render("").rstrip().split("\n")[-1])
    assert lm._fit("a short one", None) == ("a short one", None)
    assert lm.predict([long], progress=False, cache=False).shape == (1, 2)


@pytest.mark.parametrize("prompt_id", ["plain", "multi", "cot"])
def test_length_sorted_batches_give_each_input_its_own_answer(lm, prompt_id):
    """Inputs are batched shortest first and put back in their order: a batch of mixed lengths labels each input
    as it is labeled alone, and so do the perplexities (SPELL) and the reasoning."""
    mixed = [TEXTS[1], TEXTS[3], TEXTS[0] + " and " + TEXTS[2], TEXTS[2]]  # lengths out of order
    alone = np.concatenate(
        [target(lm, prompt_id, batch_size=1).predict([x], progress=False, cache=False) for x in mixed]
    )
    together = target(lm, prompt_id, batch_size=4).predict(mixed, progress=False, cache=False)
    np.testing.assert_allclose(together, alone, atol=1e-5)
    t = target(lm, prompt_id, batch_size=8)
    np.testing.assert_allclose(t.text_nll(mixed), [float(t.text_nll([x])[0]) for x in mixed], atol=1e-5)


def reference_cot(t, texts):
    """A CoT prompt's label distribution the long way: the answer context re-rendered and run whole."""
    return t.label_distribution(t.score_words(t.answer_contexts(texts)))


def test_chain_of_thought_answer_turn_is_read_from_the_generation_cache(lm, monkeypatch):
    """The answer turn runs only what the generation's KV cache does not hold, and gives what running the whole
    re-rendered context gives, for inputs of mixed lengths and for a row whose reasoning stopped early (its
    cached padding after the stop masked out)."""
    model, tok = lm
    mixed = [TEXTS[1], TEXTS[3], TEXTS[0] + " and " + TEXTS[2], TEXTS[2]]
    t = target(lm, "cot", max_reasoning_tokens=6, batch_size=4)
    first = t._generate([t._context([t.prompt.render(mixed[3])])])[0].split()[0]
    monkeypatch.setattr(model.generation_config, "eos_token_id", tok.convert_tokens_to_ids(first))
    reasons = t._generate([t._context([t.prompt.render(x)]) for x in mixed])
    assert reasons[3] == first and any(len(r.split()) > 2 for r in reasons)  # one stopped at once, others ran on
    expected = reference_cot(t, mixed)

    fresh = []
    monkeypatch.setattr(t, "score_words", lambda contexts, words=None: fresh.append(contexts))
    got = t.predict(mixed, progress=False, cache=False)
    assert fresh == []  # the answer turn came from the cache, nothing was run afresh
    np.testing.assert_allclose(got, expected, atol=1e-5)


def tiny_gemma3(tok, window: int = 256, softcap: float | None = None):
    """A random-init two-layer gemma-3 (one local, one global layer) on the tiny word-level tokenizer."""
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    config = Gemma3TextConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        sliding_window=window,
        layer_types=["sliding_attention", "full_attention"],
        max_position_embeddings=256,
        final_logit_softcapping=softcap,
        pad_token_id=0,
        bos_token_id=2,
        eos_token_id=4,
    )
    return Gemma3ForCausalLM(config).eval()


@pytest.mark.parametrize("window", [256, 6])
def test_chain_of_thought_cache_serves_a_sliding_window_model(tiny_llama, window):
    """gemma-3's mix of local (sliding-window) and global layers gives the same answer turn from the cache; where
    a local layer's window is shorter than the context, the answer turn is run afresh."""
    tok = AutoTokenizer.from_pretrained(tiny_llama)
    prompt = parse_prompt_set(SET, "toy.yaml")["cot"]
    model = tiny_gemma3(tok, window)
    t = HFCausalLM("tiny-gemma3", prompt, model=model, tokenizer=tok, max_reasoning_tokens=5, batch_size=4)
    mixed = [TEXTS[1], TEXTS[3], TEXTS[0] + " and " + TEXTS[2]]
    np.testing.assert_allclose(t.predict(mixed, progress=False, cache=False), reference_cot(t, mixed), atol=1e-5)


@pytest.mark.parametrize(("softcap", "plain"), [(None, True), (2.0, False)])
@pytest.mark.parametrize("prompt_id", ["plain", "cot"])
def test_labels_from_the_label_words_rows_alone_equal_the_full_vocabulary(tiny_llama, softcap, plain, prompt_id):
    """Labels are read from the output matrix's label-word rows only where the model's logits are that plain
    projection; a soft-capped head (a nonlinearity after it) is detected and run whole. Either way the
    distribution is the softmax of the full-vocabulary log-probs of the words (``score_words``)."""
    tok = AutoTokenizer.from_pretrained(tiny_llama)
    t = HFCausalLM(
        "tiny-gemma3",
        parse_prompt_set(SET, "toy.yaml")[prompt_id],
        model=tiny_gemma3(tok, softcap=softcap),
        tokenizer=tok,
        max_reasoning_tokens=5,
    )
    assert t._head_is_plain() is plain
    expected = t.label_distribution(t.score_words(t.answer_contexts(TEXTS)))
    np.testing.assert_allclose(t.predict(TEXTS, progress=False, cache=False), expected, atol=1e-6)


def tiny_model(kind: str, tiny_llama, tok):
    """The tiny llama, or a tiny gemma-3 with a long or a 20-position sliding window."""
    if kind == "llama":
        return AutoModelForCausalLM.from_pretrained(tiny_llama)
    return tiny_gemma3(tok, window=20) if kind == "gemma3-window" else tiny_gemma3(tok)


LONG = ("the movie was good and the food was happy " * 3) + "review {text} sentiment"  # 27 shared words


@pytest.mark.parametrize("model_kind", ["llama", "gemma3", "gemma3-window"])
def test_the_prefix_every_input_shares_runs_once(tiny_llama, model_kind, monkeypatch):
    """A vanilla prompt's text before the input runs once per batch, its KV cache repeated for each row, and the
    labels equal the full-vocabulary log-probs of each whole context (``score_words``). A prefix too short to save
    a forward pass, or a sliding window shorter than the context, runs everything as before."""
    tok = AutoTokenizer.from_pretrained(tiny_llama)
    model = tiny_model(model_kind, tiny_llama, tok)
    long = parse_prompt_set({**SET, "prompts": [{"id": "long", "template": LONG}]}, "toy.yaml")["long"]
    mixed = [TEXTS[1], TEXTS[3], TEXTS[0] + " and " + TEXTS[2], TEXTS[2]]
    shared = []
    real = HFCausalLM._after_cache
    monkeypatch.setattr(HFCausalLM, "_after_cache", lambda self, *a: shared.append(a[0].shape[1]) or real(self, *a))
    for prompt, rows in ((long, 27), (parse_prompt_set(SET, "toy.yaml")["plain"], None)):
        t = HFCausalLM("tiny", prompt, model=model, tokenizer=tok, batch_size=4)
        expected = t.label_distribution(t.score_words(t.answer_contexts(mixed)))
        shared.clear()
        np.testing.assert_allclose(t.predict(mixed, progress=False, cache=False), expected, atol=1e-5)
        runs_once = rows is not None and model_kind != "gemma3-window"
        assert (shared and all(held >= 27 for held in shared)) if runs_once else shared == []


@pytest.mark.parametrize("model_kind", ["llama", "gemma3", "gemma3-window"])
def test_chain_of_thought_reasoning_runs_the_shared_prefix_once(tiny_llama, model_kind, monkeypatch):
    """A batch's reasoning is generated with the prefix its contexts share run once (each row: that prefix, its
    padding, the rest): the same reasoning as each input generated alone, and the answer turn, still read from the
    generation's cache, gives the labels of the whole re-rendered contexts. A sliding window shorter than the
    batch's span generates as before."""
    tok = AutoTokenizer.from_pretrained(tiny_llama)
    model = tiny_model(model_kind, tiny_llama, tok)
    cot = {"id": "long-cot", "type": "cot", "template": LONG.replace("sentiment", "why"), "answer": "so the answer is"}
    prompt = parse_prompt_set({**SET, "prompts": [cot]}, "toy.yaml")["long-cot"]
    mixed = [TEXTS[1], TEXTS[3], TEXTS[0] + " and " + TEXTS[2], TEXTS[2]]
    alone = HFCausalLM("tiny", prompt, model=model, tokenizer=tok, max_reasoning_tokens=5, batch_size=1)
    contexts = [alone._context([alone.prompt.render(x)]) for x in mixed]
    expected_reasons = [alone._generate([c])[0] for c in contexts]
    expected = reference_cot(alone, mixed)

    prefixes = []
    real = HFCausalLM._prefix_cache
    monkeypatch.setattr(
        HFCausalLM, "_prefix_cache", lambda self, prefix, rows: prefixes.append(len(prefix)) or real(self, prefix, rows)
    )
    t = HFCausalLM("tiny", prompt, model=model, tokenizer=tok, max_reasoning_tokens=5, batch_size=4)
    assert t._generate(contexts) == expected_reasons
    np.testing.assert_allclose(t.predict(mixed, progress=False, cache=False), expected, atol=1e-5)
    if model_kind == "gemma3-window":
        assert prefixes == []
    else:
        assert len(prefixes) == 2 and all(n >= 27 for n in prefixes)  # once in each generation, none alone

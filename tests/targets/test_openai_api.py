"""The HTTP backend against an in-process server that speaks the OpenAI completions/chat protocol."""

from __future__ import annotations

import numpy as np
import pytest

from fute.errors import ConfigError
from fute.targets.openai_api import OpenAITarget
from fute.targets.prompts import load_prompt_set
from tests.fake_openai import FakeLLM

PROMPT = load_prompt_set("sentiment")["sentiment-colon"]
TEXTS = ["a good film", "a dull film"]


@pytest.mark.parametrize("api", ["completions", "chat"])
def test_logprobs_give_label_distributions(openai_server, api, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    FakeLLM.seen.clear()
    t = OpenAITarget("fake", PROMPT, base_url=openai_server, api=api)
    probs = t.predict(TEXTS, progress=False, cache=False)
    np.testing.assert_allclose(probs[0], [0.2 / 0.9, 0.7 / 0.9], rtol=1e-6)
    np.testing.assert_allclose(probs[1], [0.7 / 0.9, 0.2 / 0.9], rtol=1e-6)
    path, body, auth = FakeLLM.seen[0]
    assert path.endswith("chat/completions" if api == "chat" else "/completions") and auth == "Bearer sk-test"
    assert body["max_tokens"] == 1 and body["temperature"] == 0


def test_text_only_server_gives_one_hot(openai_server):
    t = OpenAITarget("text-only", PROMPT, base_url=openai_server)
    np.testing.assert_array_equal(t.predict(TEXTS, progress=False, cache=False), [[0, 1], [1, 0]])
    assert t.used_text_only == 2


def test_chain_of_thought_is_two_calls(openai_server):
    FakeLLM.seen.clear()
    cot = load_prompt_set("sentiment")["cot-step-by-step"]
    t = OpenAITarget("fake", cot, base_url=openai_server, api="chat", max_reasoning_tokens=16)
    probs = t.predict(TEXTS[:1], progress=False, cache=False)
    assert len(FakeLLM.seen) == 2 and FakeLLM.seen[0][1]["max_tokens"] == 16
    assert [m["role"] for m in FakeLLM.seen[1][1]["messages"]] == ["user", "assistant", "user"]
    assert probs[0, 1] > probs[0, 0]


def test_concurrent_requests_keep_the_inputs_order(openai_server):
    texts = [f"{i} {'a good' if i % 3 else 'a dull'} film" for i in range(20)]
    one = OpenAITarget("fake", PROMPT, base_url=openai_server, concurrency=1).predict(
        texts, progress=False, cache=False
    )
    many = OpenAITarget("fake", PROMPT, base_url=openai_server, concurrency=8).predict(
        texts, progress=False, cache=False
    )
    np.testing.assert_array_equal(one, many)
    assert [int(p.argmax()) for p in many] == [1 if i % 3 else 0 for i in range(20)]
    with pytest.raises(ConfigError, match="concurrency must be at least 1"):
        OpenAITarget("fake", PROMPT, base_url=openai_server, concurrency=0)


def test_retries_with_backoff_then_succeeds(openai_server):
    FakeLLM.failures_left = 2
    t = OpenAITarget("fake", PROMPT, base_url=openai_server, retries=3)
    assert t.predict(TEXTS[:1], progress=False, cache=False).shape == (1, 2)
    FakeLLM.failures_left = 5
    with pytest.raises(ConfigError, match="after 2 tries"):
        OpenAITarget("fake", PROMPT, base_url=openai_server, retries=1).predict(TEXTS[:1], progress=False, cache=False)
    FakeLLM.failures_left = 0


def test_unreachable_server_is_one_line():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    t = OpenAITarget("fake", PROMPT, base_url=f"http://127.0.0.1:{port}/v1", retries=1, timeout=2)
    with pytest.raises(ConfigError, match=r"cannot reach http://127.0.0.1:\d+/v1/completions after 2 tries") as info:
        t.predict(TEXTS[:1], progress=False, cache=False)
    assert "\n" not in str(info.value)


def test_an_endpoint_is_named_model_at_url():
    from fute.targets import split_endpoint

    assert split_endpoint("Qwen/Qwen2.5-7B@http://127.0.0.1:8000/v1") == ("Qwen/Qwen2.5-7B", "http://127.0.0.1:8000/v1")
    assert split_endpoint("m@https://user@host/v1") == ("m", "https://user@host/v1")
    assert split_endpoint("smollm2") == ("smollm2", None)
    assert split_endpoint("org/model@main") == ("org/model@main", None)  # not a URL: a local name


@pytest.mark.parametrize(
    ("model", "says"), [("not-json", "the answer is not JSON"), ("no-choices", "the answer has no 'choices'")]
)
def test_a_broken_answer_is_one_line(openai_server, model, says):
    with pytest.raises(ConfigError, match=f"{openai_server}/completions: {says}"):
        OpenAITarget(model, PROMPT, base_url=openai_server, retries=0).predict(["good"], progress=False, cache=False)


def test_label_words_are_matched_by_their_first_token():
    """A multi-token label word is scored by its first token, the longest top token it starts with; before, a
    whole-word match gave "inconclusive" the floor whatever the server said."""
    from fute.targets.openai_api import first_token_logprob

    top = {"incon": -0.2, "in": -1.0, "yes": -2.0, "no": -3.0}
    assert first_token_logprob("inconclusive", top, -9.0) == -0.2  # the longest prefix, not "in"
    assert first_token_logprob("yes", top, -9.0) == -2.0 and first_token_logprob("maybe", top, -9.0) == -9.0
    t = OpenAITarget("m", PROMPT, base_url="http://127.0.0.1:1/v1")
    t.label_names = ("yes", "no")
    t.prompt = type(PROMPT)(PROMPT.id, PROMPT.template, {"yes": ["inconclusive"], "no": ["no"]}, ("yes", "no"))
    p = t._distribution("", {" Incon": -0.2, " no": -3.0})
    assert p[0] == pytest.approx(np.exp(-0.2) / (np.exp(-0.2) + np.exp(-3.0)))


def test_without_the_openai_package_it_is_one_line(openai_server, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "openai", None)  # as if not installed: importing it raises ImportError
    t = OpenAITarget("fake", PROMPT, base_url=openai_server)
    with pytest.raises(ConfigError, match=r"needs the openai package: pip install 'fute\[openai\]'"):
        t.predict(TEXTS[:1], progress=False, cache=False)


def test_a_client_error_is_not_retried_and_names_the_status(openai_server):
    FakeLLM.seen.clear()
    with pytest.raises(ConfigError, match=r"/completions: HTTP 404: .*model 'missing' not found") as e:
        OpenAITarget("missing", PROMPT, base_url=openai_server).predict(["good"], progress=False, cache=False)
    assert len(FakeLLM.seen) == 1 and "\n" not in str(e.value)

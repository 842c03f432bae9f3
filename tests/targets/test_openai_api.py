"""The HTTP backend against an in-process server that speaks the OpenAI completions/chat protocol."""

from __future__ import annotations

import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from fute.errors import ConfigError
from fute.targets.openai_api import OpenAITarget
from fute.targets.prompts import load_prompt_set


class FakeLLM(BaseHTTPRequestHandler):
    """'positive' is likely when the prompt says good; no logprobs when the model is 'text-only'."""

    failures_left = 0
    seen: list = []

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_POST(self):  # noqa: N802 - http.server's naming
        if FakeLLM.failures_left > 0:
            FakeLLM.failures_left -= 1
            self.send_response(503)
            self.end_headers()
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeLLM.seen.append((self.path, body, self.headers.get("Authorization")))
        prompt = body.get("prompt") or " ".join(m["content"] for m in body["messages"])
        good = "good" in prompt
        top = {" positive": math.log(0.7 if good else 0.2), " negative": math.log(0.2 if good else 0.7),
               " the": math.log(0.05)}
        text = "positive" if good else "negative"
        if body.get("max_tokens", 1) > 1:
            text = "the writer seems happy" if good else "the writer seems upset"
        with_lp = body["model"] != "text-only" and (body.get("logprobs") or body.get("top_logprobs"))
        if self.path.endswith("/chat/completions"):
            choice = {"message": {"role": "assistant", "content": text}}
            if with_lp:
                choice["logprobs"] = {"content": [{"token": text.split()[0], "logprob": -0.1, "top_logprobs": [
                    {"token": k.strip(), "logprob": v} for k, v in top.items()]}]}
        else:
            choice = {"text": " " + text}
            if with_lp:
                choice["logprobs"] = {"tokens": [" " + text], "top_logprobs": [top]}
        data = json.dumps({"choices": [choice]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), FakeLLM)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()


PROMPT = load_prompt_set("sentiment")["sentiment-colon"]
TEXTS = ["a good film", "a dull film"]


@pytest.mark.parametrize("api", ["completions", "chat"])
def test_logprobs_give_label_distributions(server, api, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    FakeLLM.seen.clear()
    t = OpenAITarget("fake", PROMPT, base_url=server, api=api)
    probs = t.predict(TEXTS, progress=False, cache=False)
    np.testing.assert_allclose(probs[0], [0.2 / 0.9, 0.7 / 0.9], rtol=1e-6)
    np.testing.assert_allclose(probs[1], [0.7 / 0.9, 0.2 / 0.9], rtol=1e-6)
    path, body, auth = FakeLLM.seen[0]
    assert path.endswith("chat/completions" if api == "chat" else "/completions") and auth == "Bearer sk-test"
    assert body["max_tokens"] == 1 and body["temperature"] == 0


def test_text_only_server_gives_one_hot(server):
    t = OpenAITarget("text-only", PROMPT, base_url=server)
    np.testing.assert_array_equal(t.predict(TEXTS, progress=False, cache=False), [[0, 1], [1, 0]])
    assert t.used_text_only == 2


def test_chain_of_thought_is_two_calls(server):
    FakeLLM.seen.clear()
    cot = load_prompt_set("sentiment")["cot-step-by-step"]
    t = OpenAITarget("fake", cot, base_url=server, api="chat", max_reasoning_tokens=16)
    probs = t.predict(TEXTS[:1], progress=False, cache=False)
    assert len(FakeLLM.seen) == 2 and FakeLLM.seen[0][1]["max_tokens"] == 16
    assert [m["role"] for m in FakeLLM.seen[1][1]["messages"]] == ["user", "assistant", "user"]
    assert probs[0, 1] > probs[0, 0]


def test_retries_with_backoff_then_succeeds(server):
    FakeLLM.failures_left = 2
    t = OpenAITarget("fake", PROMPT, base_url=server, retries=3, backoff=0.01)
    assert t.predict(TEXTS[:1], progress=False, cache=False).shape == (1, 2)
    FakeLLM.failures_left = 5
    with pytest.raises(ConfigError, match="after 2 tries"):
        OpenAITarget("fake", PROMPT, base_url=server, retries=1, backoff=0.01).predict(TEXTS[:1], progress=False,
                                                                                       cache=False)
    FakeLLM.failures_left = 0


def test_unreachable_server_is_one_line():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    t = OpenAITarget("fake", PROMPT, base_url=f"http://127.0.0.1:{port}/v1", retries=1, backoff=0.01, timeout=2)
    with pytest.raises(ConfigError, match=r"cannot reach http://127.0.0.1:\d+/v1/completions after 2 tries") as info:
        t.predict(TEXTS[:1], progress=False, cache=False)
    assert "\n" not in str(info.value)

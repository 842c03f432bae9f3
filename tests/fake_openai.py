"""An in-process server that speaks the OpenAI completions/chat protocol, for the HTTP backend's tests."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeLLM(BaseHTTPRequestHandler):
    """'positive' is likely when the prompt says good; no logprobs when the model is 'text-only'; an HTML page
    for 'not-json' and an answer without choices for 'no-choices' (each with status 200)."""

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
        if body.get("model") == "missing":  # a client error: answered at once, not retried
            payload = json.dumps({"error": {"message": "model 'missing' not found"}}).encode()
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        prompt = body.get("prompt") or " ".join(m["content"] for m in body["messages"])
        good = "good" in prompt
        top = {
            " positive": math.log(0.7 if good else 0.2),
            " negative": math.log(0.2 if good else 0.7),
            " the": math.log(0.05),
        }
        text = "positive" if good else "negative"
        if body.get("max_tokens", 1) > 1:
            text = "the writer seems happy" if good else "the writer seems upset"
        with_lp = body["model"] != "text-only" and (body.get("logprobs") or body.get("top_logprobs"))
        if self.path.endswith("/chat/completions"):
            choice = {"message": {"role": "assistant", "content": text}}
            if with_lp:
                choice["logprobs"] = {
                    "content": [
                        {
                            "token": text.split()[0],
                            "logprob": -0.1,
                            "top_logprobs": [{"token": k.strip(), "logprob": v} for k, v in top.items()],
                        }
                    ]
                }
        else:
            choice = {"text": " " + text}
            if with_lp:
                choice["logprobs"] = {"tokens": [" " + text], "top_logprobs": [top]}
        data = json.dumps({"choices": [choice]}).encode()
        if body["model"] == "not-json":  # a proxy's error page, answered with 200
            data = b"<html><body>gateway</body></html>"
        elif body["model"] == "no-choices":
            data = json.dumps({"object": "error", "message": "model not loaded"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@contextmanager
def serve() -> Iterator[str]:
    """The fake server on a free loopback port; yields its base URL."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), FakeLLM)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    finally:
        srv.shutdown()

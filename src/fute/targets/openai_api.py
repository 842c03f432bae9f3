"""An OpenAI-compatible HTTP endpoint (vLLM, llama.cpp's server, ...) plus a prompt as a target model.

The answer position is asked for one token with its top log-probabilities (completions:
``logprobs=k``; chat: ``logprobs=true, top_logprobs=k``). Each label word is matched by its first
token (case and surrounding spaces ignored): a label's score is the log-sum-exp of its matched
words, and a word outside the top k gets the smallest returned log-probability (an upper bound on
its own). A server that returns no log-probabilities gives text only: the answer is matched to a
label word and becomes a one-hot label (unmatched answers are uniform, with a warning).

Up to ``concurrency`` requests are in flight at once (servers such as vLLM batch them); the labels
keep the inputs' order and do not depend on it. The HTTP work (connections kept alive, timeouts, retries with
jittered exponential back-off on connection errors, 408, 429 and 5xx, ``Retry-After``) is the ``openai``
package's, the client users of vLLM and llama.cpp servers already have (``pip install 'fute[openai]'``); fute
reads the raw answers and says in one line what is wrong with one.
"""

from __future__ import annotations

import json
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from fute.errors import ConfigError
from fute.targets.base import LABEL_SCORES, TEXT_ONLY, TargetModel
from fute.targets.prompts import Prompt, chat_messages


def first_token_logprob(word: str, top: dict[str, float], floor: float) -> float:
    """log p of ``word``'s first token among a server's top tokens (stripped, lower-cased): the server's tokens
    are unknown here, so the first token is the longest top token that the word starts with ("incon" for
    "inconclusive"); a word none of them starts is given the floor, the least likely top token's log p."""
    prefixes = [t for t in top if t and word.startswith(t)]
    return top[max(prefixes, key=len)] if prefixes else floor


class OpenAITarget(TargetModel):
    backend = "openai"
    needs_prompt = True
    capabilities = frozenset({LABEL_SCORES, TEXT_ONLY})  # label scores where the server gives log-probs

    def __init__(
        self,
        model: str,
        prompt: Prompt,
        *,
        base_url: str = "http://127.0.0.1:8000/v1",
        api_key_env: str = "OPENAI_API_KEY",
        api: str = "completions",
        top_logprobs: int = 20,
        timeout: float = 60.0,
        retries: int = 4,
        max_reasoning_tokens: int = 64,
        concurrency: int = 8,
    ) -> None:
        if api not in ("completions", "chat"):
            raise ConfigError("api must be completions or chat")
        if concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, not {concurrency}")
        self.concurrency = concurrency
        self.model, self.prompt, self.api = model, prompt, api
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        self.top_logprobs, self.timeout, self.retries = top_logprobs, timeout, retries
        self._client: Any = None
        self.max_reasoning_tokens = max_reasoning_tokens
        self.label_names = prompt.labels
        self.used_text_only = 0

    def identity(self) -> dict[str, Any]:
        d = {
            "backend": self.backend,
            "model": self.model,
            "base_url": self.base_url,
            "api": self.api,
            "prompt": self.prompt.card(),
            "top_logprobs": self.top_logprobs,
        }
        if self.prompt.type == "cot":
            d["max_reasoning_tokens"] = self.max_reasoning_tokens
        return d

    @property
    def display_name(self) -> str:
        return f"{self.model} @ {self.base_url} + {self.prompt.full_id}"

    # -- HTTP -------------------------------------------------------------------------------------
    def _endpoint(self, path: str) -> Any:
        """The ``openai`` client's resource for ``path``; one client per target, shared by the request threads."""
        if self._client is None:
            try:
                from openai import OpenAI
            except ImportError:
                raise ConfigError(
                    "a served model (MODEL@URL) needs the openai package: pip install 'fute[openai]'"
                ) from None
            self._client = OpenAI(
                base_url=self.base_url,
                api_key=os.environ.get(self.api_key_env) or "unused",  # local servers without a key ignore it
                timeout=self.timeout,
                max_retries=self.retries,
            )
        return self._client.chat.completions if path == "chat/completions" else self._client.completions

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        endpoint = self._endpoint(path)  # a missing openai package is one line here
        import openai

        url = f"{self.base_url}/{path}"
        tries = f"after {self.retries + 1} tries"
        try:
            raw = endpoint.with_raw_response.create(model=self.model, **body).http_response.text
        except openai.APIStatusError as e:
            what = f"HTTP {e.status_code}: {str(e.response.text)[:160]}"
            if e.status_code in (408, 409, 429) or e.status_code >= 500:  # retried by the client, then given up
                raise ConfigError(f"cannot reach {url} {tries} ({what}); is a server running there?") from None
            raise ConfigError(f"{url}: {what}") from None
        except openai.APIConnectionError as e:  # refused, unreachable or timed out, retried by the client
            why = " ".join(str(e.__cause__ or e).split())[:160]
            raise ConfigError(f"cannot reach {url} {tries} ({why}); is a server running there?") from None
        try:
            answer = json.loads(raw)
        except ValueError:
            raise ConfigError(
                f"{url}: the answer is not JSON ({raw[:80]!r}); is this an OpenAI-compatible endpoint?"
            ) from None
        if not isinstance(answer, dict) or not answer.get("choices"):
            raise ConfigError(
                f"{url}: the answer has no 'choices' ({raw[:80]!r}); is this an OpenAI-compatible endpoint?"
            )
        return answer

    def _complete(self, turns: list[str], max_tokens: int, logprobs: bool) -> tuple[str, dict[str, float] | None]:
        """One answer: its text, and {token: logprob} of the first position's top tokens (None if absent)."""
        if self.api == "chat":
            body: dict[str, Any] = {"messages": chat_messages(turns), "max_tokens": max_tokens, "temperature": 0}
            if logprobs:
                body.update(logprobs=True, top_logprobs=self.top_logprobs)
            choice = self._post("chat/completions", body)["choices"][0]
            text = (choice.get("message") or {}).get("content") or ""
            content = (choice.get("logprobs") or {}).get("content") or []
            top = {t["token"]: t["logprob"] for t in content[0].get("top_logprobs", [])} if content else None
            return text, top
        body = {"prompt": "\n".join(turns), "max_tokens": max_tokens, "temperature": 0}
        if logprobs:
            body["logprobs"] = self.top_logprobs
        choice = self._post("completions", body)["choices"][0]
        tops = (choice.get("logprobs") or {}).get("top_logprobs") or []
        return choice.get("text") or "", (tops[0] if tops else None)

    # -- labels -----------------------------------------------------------------------------------
    def _distribution(self, text: str, top: dict[str, float] | None) -> np.ndarray:
        norm = {}
        for tok, lp in (top or {}).items():
            key = tok.strip().lower()
            norm[key] = np.logaddexp(norm[key], lp) if key in norm else lp
        if norm:
            floor = min(norm.values())
            scores = []
            for label in self.label_names:
                words = [w.strip().lower() for w in self.prompt.verbalizer[label]]
                scores.append(np.logaddexp.reduce([first_token_logprob(w, norm, floor) for w in words]))
            s = np.array(scores)
            return np.exp(s - np.logaddexp.reduce(s))
        self.used_text_only += 1
        answer = text.strip().lower()
        for i, label in enumerate(self.label_names):
            if any(answer.startswith(w.strip().lower()) for w in self.prompt.verbalizer[label]):
                return np.eye(len(self.label_names))[i]
        warnings.warn(
            f"{self.display_name}: answer {text.strip()[:40]!r} matches no label word; counted as uniform", stacklevel=3
        )
        return np.full(len(self.label_names), 1.0 / len(self.label_names))

    def _answer(self, text: str, pair: str | None) -> tuple[str, dict[str, float] | None]:
        turns = [self.prompt.render(text, pair)]
        if self.prompt.type == "cot":
            reasoning, _ = self._complete(turns, self.max_reasoning_tokens, logprobs=False)
            turns = (
                [turns[0] + "\n" + reasoning.strip(), self.prompt.answer]
                if self.api == "completions"
                else [turns[0], reasoning.strip(), self.prompt.answer]
            )
        return self._complete(turns, 1, logprobs=True)

    def _predict(self, texts: list[str], text_pairs: list[str] | None) -> np.ndarray:
        pairs = text_pairs or [None] * len(texts)
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(texts))) as pool:
            answers = list(pool.map(self._answer, texts, pairs))
        return np.stack([self._distribution(text, top) for text, top in answers])

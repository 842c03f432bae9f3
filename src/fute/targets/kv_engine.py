"""The engine under ``HFCausalLM``: batched forward passes and greedy generation on a causal LM with its KV cache,
apart from the prompt protocol (rendering, label words, chain-of-thought turns) that ``fute.targets.hf_lm`` keeps.

What it saves, each the same tokens at the same positions as a plain forward over whole contexts (so the same
logits up to float rounding): the prefix that a batch's contexts share runs once and its cache is repeated for
each row; a chain-of-thought answer turn reads the generation's own cache; only the label words' rows of the
output matrix are multiplied where the model's logits are that matrix times the last hidden state; batches are
cut where padding would cost more than another forward pass (``length_batches``).

``KVCacheEngine`` is a mixin: the class that uses it sets ``model``, ``tokenizer`` (with a pad token), ``device``,
``batch_size``, ``max_length``, ``max_reasoning_tokens``, ``_cache_arg`` (the name ``generate`` takes a cache
under), ``_keeps_logits`` (whether the model takes ``logits_to_keep``) and ``_ids(text) -> token ids``.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import torch

from fute.targets.base import FORWARD_OVERHEAD_TOKENS, in_input_order, length_batches

# per loaded model (weakly held, so a freed model leaves): whether its logits are its output matrix times the
# decoder's last hidden state (``KVCacheEngine._head_is_plain``)
_PLAIN_HEADS: weakref.WeakKeyDictionary[torch.nn.Module, bool] = weakref.WeakKeyDictionary()


class KVCacheEngine:
    """Forward passes and generation with a shared-prefix KV cache (module docstring)."""

    def _generations(self, contexts: list[str]):
        """Greedy reasoning for each context, in batches of similar length (less padding to compute), with the
        KV cache ``generate`` keeps: yields (the batch's indices into ``contexts``, its reasoning texts, the
        output of ``generate`` with that cache, the batch's attention mask over its input). The prefix the
        batch's contexts share runs once (``_shared_prefix``): each row is that prefix, its padding, then the
        rest of its context, so the generated tokens are the same as from left-padded whole contexts (the
        same tokens at the same positions; docs/speed.md, "Labeling speed", has what it saves)."""
        ids = [self._ids(c)[-self.max_length :] for c in contexts]
        for rows, p in self._reasoning_batches(ids):
            seqs = [ids[j] for j in rows]
            inputs = self._inputs(seqs, shared=p)
            gen = self.model.generate(
                input_ids=inputs["input_ids"],
                attention_mask=inputs["attention_mask"],
                max_new_tokens=self.max_reasoning_tokens,
                do_sample=False,
                pad_token_id=self.tokenizer.pad_token_id,
                return_dict_in_generate=True,
                **({self._cache_arg: self._prefix_cache(seqs[0][:p], len(seqs))} if p else {}),
            )
            width = inputs["input_ids"].shape[1]
            reasons = self.tokenizer.batch_decode(gen.sequences[:, width:], skip_special_tokens=True)
            yield rows, [t.strip() for t in reasons], gen, inputs["attention_mask"].cpu()

    def _reasoning_batches(self, ids: list[list[int]]):
        """The batches CoT reasoning runs (indices into ``ids``, similar lengths) and each one's shared prefix length
        (``_shared_prefix``). Each batch also pays a forward pass per generated token, so it pays to keep it full."""
        overhead = FORWARD_OVERHEAD_TOKENS * (1 + self.max_reasoning_tokens)
        for rows in length_batches([len(x) for x in ids], self.batch_size, overhead):
            yield rows, self._shared_prefix([ids[j] for j in rows], self.max_reasoning_tokens)

    @torch.no_grad()
    def _generate(self, contexts: list[str]) -> list[str]:
        """Greedy reasoning for each context (``_generations``), in the contexts' order."""
        out: list[str] = [""] * len(contexts)
        for rows, reasons, _, _ in self._generations(contexts):
            for j, why in zip(rows, reasons, strict=True):
                out[j] = why
        return out

    @torch.no_grad()
    def _answer_from_cache(
        self, gen: Any, mask: torch.Tensor, contexts: list[str], tokens: list[int]
    ) -> np.ndarray | None:
        """Logits of ``tokens`` (``_next_logits``) after each answer context, from the generation's KV cache: the
        context's tokens that the cache already holds (the question and the reasoning, up to where the
        re-rendered context first differs from what was generated) are not run again, only the rest (the end
        of the reasoning turn and the answer cue). The same tokens at the same positions as a fresh forward
        over the whole context, so the same logits up to float rounding, as a change of batch gives (what it
        saves: docs/speed.md, "Labeling speed"). None where the cache cannot
        serve (a context past ``max_length``, or past a sliding-window layer's reach, a model without a returned
        cache): the caller runs it afresh."""
        cache = getattr(gen, "past_key_values", None) or getattr(gen, "cache", None)
        ids2 = [self._ids(c) for c in contexts]
        if cache is None or any(len(x) > self.max_length for x in ids2):
            return None
        held = cache.get_seq_length()  # the input and the generated tokens fed back (not the last one)
        if self._past_window(held + max(len(x) for x in ids2)):
            return None
        # the cache positions that hold each row's tokens: its input's (padding left out) and the generated ones
        real = torch.cat([mask, torch.ones((len(ids2), held - mask.shape[1]), dtype=mask.dtype)], dim=1).bool()
        reads = torch.zeros((len(ids2), held), dtype=torch.long)
        suffix = []
        for r, x in enumerate(ids2):
            where = real[r].nonzero().squeeze(1)
            cached = gen.sequences[r, where.to(gen.sequences.device)].tolist()
            n = next((k for k, (a, b) in enumerate(zip(cached, x, strict=False)) if a != b), min(len(cached), len(x)))
            n = min(n, len(x) - 1)  # at least the last token runs: its logits are the answer
            reads[r, where[:n]] = 1
            suffix.append(x[n:])
        return self._next_logits(self._after_cache(reads, suffix), tokens, cache=cache).cpu().numpy()

    def _past_window(self, span: int) -> bool:
        """Whether ``span`` positions reach past a sliding-window layer (gemma-3's local layers: 512): its cache has
        then dropped positions that a mask over the whole context would let the next tokens see."""
        window = getattr(self.model.config, "sliding_window", None) or 0
        return bool(window) and span > window

    def _after_cache(self, reads: torch.Tensor, suffix: list[list[int]]) -> dict[str, torch.Tensor]:
        """Inputs that go on from a KV cache: row r reads the cache positions where ``reads[r]`` [rows, held] is 1
        (the rest masked out), then runs its ``suffix``, left-padded, at the positions after those, as if the whole
        context had run."""
        held, width = reads.shape[1], max(len(x) for x in suffix)
        ids = torch.full((len(suffix), width), self.tokenizer.pad_token_id, dtype=torch.long)
        attn = torch.cat([reads, torch.zeros((len(suffix), width), dtype=torch.long)], dim=1)
        positions = torch.zeros((len(suffix), width), dtype=torch.long)
        starts = reads.sum(dim=1).tolist()
        for r, x in enumerate(suffix):
            ids[r, width - len(x) :] = torch.tensor(x)
            attn[r, held + width - len(x) :] = 1
            positions[r, width - len(x) :] = torch.arange(starts[r], starts[r] + len(x))
        return {"input_ids": ids, "attention_mask": attn, "position_ids": positions}

    def _shared_prefix(self, seqs: list[list[int]], more: int = 0) -> int:
        """How many leading tokens every sequence of a batch shares and can run once (``_prefix_cache``), 0 where
        that saves less than a forward pass costs (``FORWARD_OVERHEAD_TOKENS``), or where the batch and ``more``
        tokens after it could reach past a sliding-window layer, whose cache then drops positions. Each row keeps
        at least its last token: its logits are the answer."""
        shared = min(len(s) for s in seqs) - 1
        p = next((k for k in range(shared) if any(s[k] != seqs[0][k] for s in seqs)), shared)
        if (len(seqs) - 1) * p <= FORWARD_OVERHEAD_TOKENS or self._past_window(max(len(s) for s in seqs) + more):
            return 0
        return p

    def _prefix_cache(self, prefix: list[int], rows: int) -> Any:
        """The KV cache of ``prefix`` run once, repeated for ``rows`` rows."""
        kw = {"logits_to_keep": 1} if self._keeps_logits else {}
        ids = torch.tensor([prefix], device=self.device)
        cache = self.model(input_ids=ids, use_cache=True, **kw).past_key_values
        cache.batch_repeat_interleave(rows)
        return cache

    @torch.no_grad()
    def _batch_logits(self, seqs: list[list[int]], tokens: list[int]) -> torch.Tensor:
        """``_next_logits`` of ``tokens`` after each sequence. The prefix that every sequence of the batch shares
        (a chat template's system turn, the prompt's text before the input)
        runs once, its KV cache repeated for each row, and only each row's rest runs; the same tokens at the same
        positions, so the same logits up to float rounding. Where that saves less than a forward pass costs
        (``FORWARD_OVERHEAD_TOKENS``), or a sliding-window layer could not see the whole context, all of it runs."""
        p = self._shared_prefix(seqs)
        if not p:
            return self._next_logits(self._inputs(seqs), tokens)
        cache = self._prefix_cache(seqs[0][:p], len(seqs))
        inputs = self._after_cache(torch.ones((len(seqs), p), dtype=torch.long), [s[p:] for s in seqs])
        return self._next_logits(inputs, tokens, cache=cache)

    def _forward(self, seqs: list[list[int]], keep: int, *, log_softmax: bool = True) -> torch.Tensor:
        """Log-probs (or, without ``log_softmax``, logits) of the last ``keep`` positions of left-padded
        sequences: [B, keep, vocab].

        Left padding puts every sequence's end at the same place, so only the last ``keep`` positions
        need logits (``logits_to_keep``: for a 262k-word vocabulary that is most of the compute);
        position ids count real tokens only, so padding does not shift them.
        """
        kw = {"logits_to_keep": keep} if self._keeps_logits else {}
        logits = self.model(**self._inputs(seqs), **kw).logits[:, -keep:]
        return self._log_softmax(logits) if log_softmax else logits

    def _inputs(self, seqs: list[list[int]], shared: int = 0) -> dict[str, torch.Tensor]:
        """Left-padded ids, attention mask and position ids (counting real tokens only) on the device; with
        ``shared``, each row's first ``shared`` tokens (the prefix all rows share) come before its padding."""
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), self.tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for r, s in enumerate(seqs):
            ids[r, :shared], mask[r, :shared] = torch.tensor(s[:shared], dtype=torch.long), 1
            ids[r, width - len(s) + shared :] = torch.tensor(s[shared:])
            mask[r, width - len(s) + shared :] = 1
        positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
        return {
            "input_ids": ids.to(self.device),
            "attention_mask": mask.to(self.device),
            "position_ids": positions.to(self.device),
        }

    def _next_logits(self, inputs: dict[str, torch.Tensor], tokens: list[int], cache: Any = None) -> torch.Tensor:
        """Logits of ``tokens`` at the last position of each row, float64 [B, tokens]. Where the model's logits are
        its output matrix times the decoder's last hidden state (``_head_is_plain``), only those rows of the
        matrix are multiplied, not a 262k-word projection and its float64 log-softmax (gemma-3's). Logits, not
        log-probs: the normaliser is the same for every word
        of a context, so a label distribution (a softmax over label words) does not need it."""
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        if cache is not None:
            inputs |= {"use_cache": True, self._cache_arg: cache}
        if self._head_is_plain():
            head = self.model.get_output_embeddings()
            hidden = self.model.get_decoder()(**inputs).last_hidden_state[:, -1]
            rows = torch.tensor(tokens, device=self.device)
            bias = None if head.bias is None else head.bias[rows]
            logits = torch.nn.functional.linear(hidden, head.weight[rows], bias)
        else:
            kw = {"logits_to_keep": 1} if self._keeps_logits else {}
            logits = self.model(**inputs, **kw).logits[:, -1, tokens]
        return logits.to(torch.float32 if self.device.type == "mps" else torch.float64)

    @torch.no_grad()
    def _head_is_plain(self) -> bool:
        """Whether the model's next-token logits are exactly its output embedding (a linear layer) applied to its
        decoder's last hidden state, with no soft-capping or scaling after: checked once, on a short input,
        against the model's own logits, since architectures differ in what follows the projection. Once per loaded
        model: the 13 prompts of one LLM share the answer."""
        if self.model not in _PLAIN_HEADS:
            try:
                head, decoder = self.model.get_output_embeddings(), self.model.get_decoder()
                ids = torch.tensor([self._ids(self._context(["Is it so?"]))], device=self.device)
                full = self.model(input_ids=ids).logits[0, -1].float()
                part = head(decoder(input_ids=ids).last_hidden_state[0, -1]).float()
                _PLAIN_HEADS[self.model] = isinstance(head, torch.nn.Linear) and bool(
                    torch.allclose(part, full, rtol=1e-3, atol=1e-3 * float(full.abs().max()))
                )
            except (AttributeError, TypeError, ValueError, NotImplementedError):
                _PLAIN_HEADS[self.model] = False
        return _PLAIN_HEADS[self.model]

    def _log_softmax(self, logits: torch.Tensor) -> torch.Tensor:
        """In float64 where the device has it (MPS does not): label scores are differences of close log-probs."""
        return torch.log_softmax(logits.to(torch.float32 if self.device.type == "mps" else torch.float64), dim=-1)

    def _last_logprobs(self, seqs: list[list[int]]) -> np.ndarray:
        """Log-probs of the next token after each sequence, in batches of similar length."""
        batches = length_batches([min(len(s), self.max_length) for s in seqs], self.batch_size)
        out = [self._forward([seqs[j][-self.max_length :] for j in rows], 1)[:, 0].cpu().numpy() for rows in batches]
        return in_input_order(np.concatenate(out), batches)

    def _continuation_logprobs(self, seqs: list[list[int]], spans: list[int]) -> np.ndarray:
        """Summed log-prob of each sequence's last ``span`` tokens, in batches of similar length."""
        batches = length_batches([len(s) for s in seqs], self.batch_size)
        out = []
        for rows in batches:
            chunk, lens = [seqs[j] for j in rows], [spans[j] for j in rows]
            keep = max(lens) + 1
            logp = self._forward(chunk, keep)  # position j predicts token j + 1
            for r, (s, k) in enumerate(zip(chunk, lens, strict=True)):
                pos = torch.arange(keep - 1 - k, keep - 1)
                out.append(float(logp[r, pos, torch.tensor(s[-k:])].sum()))
        return in_input_order(out, batches)

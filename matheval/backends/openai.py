"""OpenAI-compatible HTTP backend (`/v1/completions`): any server that speaks the API, e.g.
`python -m vllm.entrypoints.openai.api_server`, SGLang, TGI.

Prompts are already fully rendered by matheval (chat template applied locally from the model's
tokenizer), so the plain completions endpoint serves every prompt style and what is logged is
exactly what was sent. Requests run concurrently; each finished prompt is handed back at once.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed

from matheval.backends import BackendInfo, GenParams, OnDone
from matheval.errors import UsageError
from matheval.record import Completion


class OpenAIBackend:
    def __init__(self, model: str, *, base_url: str | None = None, tokenizer_path: str | None = None,
                 concurrency: int = 32, timeout: float = 600.0, retries: int = 2, **_: object) -> None:
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or "http://127.0.0.1:8000/v1").rstrip("/")
        self.model = model
        self.tokenizer_path = tokenizer_path or model
        self.concurrency, self.timeout, self.retries = concurrency, timeout, retries
        self.api_key = os.environ.get("OPENAI_API_KEY", "EMPTY")
        self.info = BackendInfo(name="openai", model=model, settings={"base_url": self.base_url})
        self._tok = None

    def tokenizer(self):
        if self._tok is None:
            from transformers import AutoTokenizer

            try:
                self._tok = AutoTokenizer.from_pretrained(self.tokenizer_path)
            except OSError:
                return None  # no local tokenizer: completion-form styles only
        return self._tok

    def _post(self, payload: dict) -> dict:
        req = urllib.request.Request(
            f"{self.base_url}/completions",
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.api_key}"},
        )
        last: Exception | None = None
        for _ in range(self.retries + 1):  # bounded: a dead server fails the run, it does not hang it
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    return json.loads(resp.read())
            except urllib.error.HTTPError as exc:
                if exc.code < 500:
                    raise UsageError(f"openai backend: HTTP {exc.code}: {exc.read()[:200]!r}") from exc
                last = exc
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                last = exc
        raise UsageError(f"openai backend: {self.base_url} unreachable: {last}")

    def _one(self, prompt: str, params: GenParams) -> list[Completion]:
        payload = {
            "model": self.model, "prompt": prompt, "n": params.n, "max_tokens": params.max_tokens,
            "temperature": params.temperature, "top_p": params.top_p, "seed": params.seed,
        }
        if params.stop:
            payload["stop"] = list(params.stop)
        if params.include_stop_str:
            payload["include_stop_str_in_output"] = True  # vLLM extension, ignored elsewhere
        body = self._post(payload)
        usage_each = (body.get("usage") or {}).get("completion_tokens", 0) // max(1, params.n)
        return [
            Completion(text=c.get("text", ""), n_tokens=usage_each, finish_reason=c.get("finish_reason") or "stop",
                       greedy=params.greedy)
            for c in sorted(body["choices"], key=lambda c: c.get("index", 0))
        ]

    def generate(self, prompts: Sequence[str], params: GenParams, on_done: OnDone | None = None) -> list[
        list[Completion]
    ]:
        results: list[list[Completion]] = [[] for _ in prompts]
        from tqdm import tqdm

        with ThreadPoolExecutor(self.concurrency) as pool, tqdm(total=len(prompts), desc="generate") as bar:
            futures = {pool.submit(self._one, p, params): i for i, p in enumerate(prompts)}
            for fut in as_completed(futures):
                i = futures[fut]
                results[i] = fut.result()
                if on_done is not None:
                    on_done(i, results[i])
                bar.update(1)
        return results

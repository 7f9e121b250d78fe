"""OpenAI-compatible HTTP backend (`/v1/completions`) over one or several servers: any server that
speaks the API (vLLM's `python -m vllm.entrypoints.openai.api_server`, SGLang, TGI), e.g. a set a
cluster scheduler (Slurm, Kubernetes) started.

Prompts are fully rendered by matheval (chat template applied locally from `tokenizer`), so the
plain completions endpoint serves every prompt style and the log holds exactly what was sent. Each
request goes to the live server with the fewest outstanding requests (at most `per_server` each,
`concurrency` in all). A failure of the server -- refused, reset, timed out, 5xx -- moves the request
to another server (`max_tries` attempts in all) and takes the failed server out until a probe of
`/models` finds it back (`max_probes` probes, 1 s, 2 s, 4 s ... apart). A 4xx is the user's error.
Every finished prompt is handed back at once through `on_done`, `served_by` naming its server.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import CancelledError, ThreadPoolExecutor, as_completed

from matheval.backends import BackendInfo, GenParams, OnDone
from matheval.backends.servers import Server, ServerPool, Stopped, parse_base_urls
from matheval.errors import UsageError
from matheval.record import Completion

__all__ = ["OpenAIBackend", "parse_base_urls"]
# 408 (request timeout) and 429 (too many requests) are the server's state, not a wrong request.
_RETRYABLE_4XX = (408, 429)


class _ServerError(Exception):
    """The server failed, not the request: the request may go elsewhere."""


class _UserError(Exception):
    """A 4xx: the request is wrong wherever it is sent."""


class OpenAIBackend:
    def __init__(
        self,
        model: str,
        *,
        base_urls: Sequence[str] | None = None,
        base_url: str | None = None,
        served_model_name: str | None = None,
        tokenizer: str | None = None,
        concurrency: int = 32,
        per_server: int | None = None,
        max_tries: int = 3,
        timeout: float = 600.0,
        max_probes: int = 3,
        reprobe_after: float = 1.0,
    ) -> None:
        given = [*(base_urls or []), *([base_url] if base_url else [])]
        self.urls = parse_base_urls(given or None)
        for name, value in (("concurrency", concurrency), ("max_tries", max_tries), ("max_probes", max_probes)):
            if value < 1:
                raise UsageError(f"openai backend: {name} must be at least 1, not {value}")
        if per_server is not None and per_server < 1:
            raise UsageError(f"openai backend: per_server must be at least 1, not {per_server}")
        if timeout <= 0 or reprobe_after <= 0:
            raise UsageError("openai backend: timeout and reprobe_after must be positive")
        self.model = model
        self.served_model_name = served_model_name or model
        self.tokenizer_source = tokenizer or model
        self.concurrency, self.max_tries, self.timeout = concurrency, max_tries, timeout
        self.per_server = per_server or concurrency
        self.max_probes, self.reprobe_after = max_probes, reprobe_after
        self.api_key = os.environ.get("OPENAI_API_KEY", "EMPTY")
        self.info = BackendInfo(name="openai", model=model, settings={
            "base_urls": list(self.urls), "served_model_name": self.served_model_name,
            "tokenizer": self.tokenizer_source, "concurrency": concurrency, "per_server": self.per_server,
            "max_tries": max_tries, "timeout": timeout,
        })
        self.pool = ServerPool(self.urls, self.per_server, max_probes, reprobe_after, lambda s: self._probe(s)[0])
        self.servers = self.pool.servers
        self.stats = {"requests": 0, "tries": 0, "retries": 0}
        self._lock = threading.Lock()
        self._checked = False
        self._tok = None

    def tokenizer(self):
        if self._tok is None:
            from transformers import AutoTokenizer

            try:
                self._tok = AutoTokenizer.from_pretrained(self.tokenizer_source)
            except OSError:
                return None  # no local tokenizer: completion-form styles only
        return self._tok

    # ------------------------------------------------------------ HTTP

    def _http(self, url: str, payload: dict | None, timeout: float) -> dict:
        req = urllib.request.Request(
            url,
            data=None if payload is None else json.dumps(payload).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.api_key}"},
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            detail = _detail(exc)
            if 400 <= exc.code < 500 and exc.code not in _RETRYABLE_4XX:
                raise _UserError(f"HTTP {exc.code} from {url}: {detail}") from None
            raise _ServerError(f"HTTP {exc.code}: {detail}") from None
        except urllib.error.URLError as exc:
            raise _ServerError(str(exc.reason)) from None
        except (http.client.HTTPException, OSError, ValueError) as exc:  # reset, timeout, torn or bad JSON
            raise _ServerError(f"{type(exc).__name__}: {exc}") from None

    def _probe(self, server: Server) -> tuple[bool, list[dict]]:
        """GET /models: (answers, the models it lists). A server without /models (404) is up."""
        try:
            body = self._http(f"{server.url}/models", None, min(10.0, self.timeout))
        except _UserError:
            return True, []
        except _ServerError as exc:
            server.last_error = str(exc)
            return False, []
        data = body.get("data") if isinstance(body, dict) else None
        return True, [m for m in data or [] if isinstance(m, dict)]

    def check(self) -> None:
        """Before any work: at least one server answers (probing the others `max_probes` times,
        1 s, 2 s ... apart, while none does), and every live one serves `served_model_name`. Raises
        UsageError otherwise; records the servers' max_model_len in the settings when they report it."""
        for attempt in range(self.max_probes + 1):
            down = [s for s in self.servers if not s.live or attempt == 0]
            with ThreadPoolExecutor(len(down)) as probes:
                answers = list(probes.map(self._probe, down))
            for s, (up, models) in zip(down, answers, strict=True):
                self.pool.set_state(s, up)
                names = [m.get("id") for m in models]
                if up and names and self.served_model_name not in names:
                    raise UsageError(
                        f"openai backend: {s.url} serves {names}, not {self.served_model_name!r} "
                        "(set --served-model-name to the server's model name)"
                    )
                lengths = [m.get("max_model_len") for m in models if m.get("id") == self.served_model_name]
                if lengths and isinstance(lengths[0], int):
                    known = self.info.settings.get("max_model_len", lengths[0])
                    self.info.settings["max_model_len"] = min(known, lengths[0])
            if any(s.live for s in self.servers):
                self._checked = True
                return
            if attempt < self.max_probes:
                time.sleep(self.reprobe_after * 2**attempt)
        raise UsageError(f"openai backend: no server answers ({self.pool.down_list()})")

    def _request(self, i: int, prompt: str, params: GenParams, seed: int) -> tuple[int, list[Completion]]:
        payload = {
            "model": self.served_model_name, "prompt": prompt, "n": params.n, "max_tokens": params.max_tokens,
            "temperature": params.temperature, "top_p": params.top_p, "seed": seed,
        }
        if params.stop:
            payload["stop"] = list(params.stop)
        if params.include_stop_str:
            payload["include_stop_str_in_output"] = True  # vLLM extension, ignored elsewhere
        tried: set[str] = set()
        last = ""
        for attempt in range(self.max_tries):
            server = self.pool.acquire(tried)
            if attempt:
                with self._lock:
                    self.stats["retries"] += 1
            try:
                comps = _completions(self._http(f"{server.url}/completions", payload, self.timeout), params, server.url)
            except _ServerError as exc:
                self.pool.release(server, str(exc))
                tried.add(server.url)
                last = f"{server.url}: {exc}"
                continue
            except _UserError:
                self.pool.release(server, None)  # the server is fine; the request is not
                raise
            self.pool.release(server, None)
            return i, comps
        raise _ServerError(last)

    def generate(self, prompts: Sequence[str], params: GenParams, on_done: OnDone | None = None,
                 seeds: Sequence[int] | None = None) -> list[list[Completion]]:
        """All prompts, `on_done(i, completions)` on this thread as each finishes; `seeds[i]` is
        prompt i's sampling seed (default `params.seed`). On a fatal error (a 4xx, every server
        down, a request failing `max_tries` times) nothing new is sent, the requests in flight
        finish and are handed back, then UsageError."""
        from tqdm import tqdm

        results: list[list[Completion]] = [[] for _ in prompts]
        if not prompts:
            return results
        if not self._checked:
            self.check()
        self.pool.restart()
        self.stats["requests"] += len(prompts)
        tries_before = self.pool.tries
        fatal: str | None = None
        done_probing = threading.Event()
        prober = threading.Thread(target=self.pool.reprobe, args=(done_probing,), name="openai-reprobe", daemon=True)
        prober.start()
        executor = ThreadPoolExecutor(self.concurrency, thread_name_prefix="openai")
        try:
            with tqdm(total=len(prompts), desc="generate") as bar:
                futures = [executor.submit(self._request, i, p, params, params.seed if seeds is None else seeds[i])
                           for i, p in enumerate(prompts)]
                for fut in as_completed(futures):
                    try:
                        i, comps = fut.result()
                    except (Stopped, CancelledError):
                        continue
                    except (_UserError, _ServerError) as exc:
                        fatal = fatal or f"openai backend: {exc}"
                        self.pool.stop()
                        continue
                    results[i] = comps
                    if on_done is not None:
                        on_done(i, comps)
                    bar.update(1)
        finally:
            self.pool.stop()
            # Every future is done unless on_done raised (or ^C): then do not wait on requests in flight.
            executor.shutdown(wait=False, cancel_futures=True)
            done_probing.set()
            prober.join()
            self.stats["tries"] += self.pool.tries - tries_before
        finished = sum(1 for r in results if r)
        if finished < len(prompts):
            if fatal is None or not self.pool.any_hope():
                fatal = f"openai backend: every server is down ({self.pool.down_list()})"
            raise UsageError(f"{fatal} [{finished} of {len(prompts)} requests finished and were kept]")
        return results


def _completions(body: dict, params: GenParams, url: str) -> list[Completion]:
    """The response's choices in index order; a malformed answer is the server's failure."""
    try:
        choices = sorted(body["choices"], key=lambda c: c.get("index", 0))
        usage_each = (body.get("usage") or {}).get("completion_tokens", 0) // max(1, params.n)
        comps = [
            Completion(text=c["text"], n_tokens=usage_each, finish_reason=c.get("finish_reason") or "stop",
                       greedy=params.greedy, served_by=url)
            for c in choices
        ]
    except (KeyError, TypeError, AttributeError) as exc:
        raise _ServerError(f"malformed response ({type(exc).__name__}: {exc})") from None
    if len(comps) != params.n:
        raise _ServerError(f"{len(comps)} choices for n={params.n}")
    return comps


def _detail(exc: urllib.error.HTTPError) -> str:
    """The server's error message in one line (vLLM/OpenAI: {"error": {"message": ...}})."""
    try:
        raw = exc.read()[:2000].decode("utf-8", "replace")
    except OSError:
        return exc.reason or ""
    try:
        body = json.loads(raw)
        err = body.get("error", body) if isinstance(body, dict) else body
        msg = err.get("message", raw) if isinstance(err, dict) else str(err)
    except ValueError:
        msg = raw
    return " ".join(str(msg).split())[:300]

"""The openai backend over several servers: load spreading, bounded concurrency, retries, dead
servers and re-probes, against tiny real HTTP servers in this process (canned completions or errors).
The real thing (two vLLM servers, one killed mid-run) is in test_openai_vllm_servers.py."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from matheval.backends import GenParams
from matheval.backends.openai import OpenAIBackend, parse_base_urls
from matheval.errors import UsageError

NAME = "served-name"
TOTAL = {"now": 0, "max": 0}  # requests in flight over all fake servers of a test
TOTAL_LOCK = threading.Lock()
PARAMS = GenParams(n=2, temperature=0.7, max_tokens=8)


class Fake:
    """A real HTTP server on 127.0.0.1 answering /v1/models and /v1/completions. `behave(prompt)`
    returns None (answer), an HTTP status to fail with, or "drop" (close the connection unanswered)."""

    def __init__(self, delay: float = 0.0, behave: Callable[[str], int | str | None] = lambda p: None,
                 models: list[str] | None = None, die_after: int | None = None) -> None:
        self.delay, self.behave, self.die_after = delay, behave, die_after
        self.models = [NAME] if models is None else models
        self.lock = threading.Lock()
        self.inflight = self.max_inflight = 0
        self.answered: list[str] = []
        self.model_fields: list[str] = []
        self.seeds: dict[str, int] = {}
        self.probes = 0
        self.dead = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                with fake.lock:
                    fake.probes += 1
                if fake.dead.is_set():
                    self.close_connection = True
                    return
                self._send(200, {"data": [{"id": m, "max_model_len": 512} for m in fake.models]})

            def do_POST(self) -> None:  # noqa: N802
                req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.enter()
                end = time.monotonic() + fake.delay
                while time.monotonic() < end and not fake.dead.is_set():
                    time.sleep(0.002)
                verdict = "drop" if fake.dead.is_set() else fake.behave(req["prompt"])
                fake.leave()  # before answering: the client may send its next request at once
                if verdict == "drop":
                    self.close_connection = True  # no response at all: the client sees a reset
                    return
                if verdict is not None:
                    self._send(int(verdict), {"error": {"message": f"canned {verdict} for {req['prompt']}"}})
                    return
                with fake.lock:
                    fake.answered.append(req["prompt"])
                    fake.model_fields.append(req["model"])
                    fake.seeds[req["prompt"]] = req["seed"]
                    if len(fake.answered) == fake.die_after:  # crash right after this answer
                        fake.dead.set()
                        threading.Thread(target=fake.kill).start()
                choices = [{"index": k, "text": f"{req['prompt']}#{k}", "finish_reason": "length"}
                           for k in range(req["n"])]
                self._send(200, {"choices": choices[::-1], "usage": {"completion_tokens": 8 * req["n"]}})

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # the default backlog of 5 refuses connections on a busy machine

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def enter(self) -> None:
        with self.lock:
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)
        with TOTAL_LOCK:
            TOTAL["now"] += 1
            TOTAL["max"] = max(TOTAL["max"], TOTAL["now"])

    def leave(self) -> None:
        with self.lock:
            self.inflight -= 1
        with TOTAL_LOCK:
            TOTAL["now"] -= 1

    def kill(self) -> None:
        """Like a crash: requests in flight get no answer, new connections are refused."""
        self.dead.set()
        if self.httpd.socket.fileno() < 0:
            return
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fakes() -> Iterator[list[Fake]]:
    TOTAL.update(now=0, max=0)
    made: list[Fake] = []
    yield made
    for f in made:
        f.kill()


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


def _backend(urls: list[str], **kw: object) -> OpenAIBackend:
    kw.setdefault("reprobe_after", 0.05)
    return OpenAIBackend("/models/local-folder", base_urls=urls, served_model_name=NAME, **kw)  # type: ignore[arg-type]


def _run(backend: OpenAIBackend, n: int) -> tuple[list, Counter]:
    calls: Counter = Counter()
    prompts = [f"p{i}" for i in range(n)]

    def on_done(i: int, comps: list) -> None:
        calls[i] += 1
        assert [c.text for c in comps] == [f"p{i}#0", f"p{i}#1"]  # index order, whatever the wire order

    return backend.generate(prompts, PARAMS, on_done), calls


def test_spreads_by_load_within_the_concurrency_bounds(fakes: list[Fake]) -> None:
    fakes += [Fake(delay=0.03), Fake(delay=0.03)]
    backend = _backend([f.url for f in fakes], concurrency=6, per_server=4)
    results, calls = _run(backend, 60)
    assert calls == Counter(range(60))  # every prompt handed back exactly once
    by = Counter(r[0].served_by for r in results)
    assert set(by) == {fakes[0].url, fakes[1].url} and min(by.values()) >= 20, (by, backend.stats)
    assert all(c.served_by == r[0].served_by and c.n_tokens == 8 for r in results for c in r)
    assert max(f.max_inflight for f in fakes) <= 4 and 5 <= TOTAL["max"] <= 6  # the total bound binds
    assert backend.stats == {"requests": 60, "tries": 60, "retries": 0}
    assert set(fakes[0].model_fields) == {NAME}  # the served name goes on the wire, not the local path
    for f in fakes:
        f.max_inflight = 0
    TOTAL.update(now=0, max=0)
    _, calls = _run(_backend([f.url for f in fakes], concurrency=8, per_server=2), 40)
    assert calls == Counter(range(40)) and [f.max_inflight for f in fakes] == [2, 2] and TOTAL["max"] == 4
    # (the per-server bound binds: 8 allowed in all, 2 per server)


def test_each_prompt_carries_its_own_seed(fakes: list[Fake]) -> None:
    fakes += [Fake(), Fake()]
    backend = _backend([f.url for f in fakes])
    backend.generate(["p0", "p1", "p2"], PARAMS, None, [11, 22, 33])
    assert {**fakes[0].seeds, **fakes[1].seeds} == {"p0": 11, "p1": 22, "p2": 33}
    backend.generate(["p3"], PARAMS)
    assert {**fakes[0].seeds, **fakes[1].seeds}["p3"] == PARAMS.seed


def test_the_less_loaded_server_gets_more(fakes: list[Fake]) -> None:
    # Least outstanding first: the slow server keeps about half the slots busy, the fast one turns
    # its half over many times (about 50x as many answers on an idle machine).
    fakes += [Fake(delay=0.5), Fake(delay=0.005)]
    results, _ = _run(_backend([f.url for f in fakes], concurrency=4), 40)
    by = Counter(r[0].served_by for r in results)
    assert by[fakes[1].url] >= 3 * by[fakes[0].url], by


def test_a_5xx_server_is_taken_out_and_its_requests_move(fakes: list[Fake]) -> None:
    fakes += [Fake(delay=0.01, behave=lambda p: 500), Fake(delay=0.01)]
    backend = _backend([f.url for f in fakes], concurrency=4, per_server=2, max_probes=1, reprobe_after=30)
    results, calls = _run(backend, 30)
    assert calls == Counter(range(30)) and {r[0].served_by for r in results} == {fakes[1].url}
    # Only what was in flight on the failing server when it failed was retried.
    assert 1 <= backend.stats["retries"] <= 2 and backend.stats["tries"] == 30 + backend.stats["retries"]


def test_a_refused_server_is_skipped_from_the_start(fakes: list[Fake]) -> None:
    fakes.append(Fake())
    dead = _closed_port_url()
    backend = _backend([dead, fakes[0].url], max_probes=1)
    results, calls = _run(backend, 10)
    assert calls == Counter(range(10)) and {r[0].served_by for r in results} == {fakes[0].url}
    assert backend.info.settings["base_urls"] == [dead, fakes[0].url]
    assert backend.info.settings["max_model_len"] == 512  # reported by the live server's /models


def test_a_server_killed_mid_run_loses_nothing(fakes: list[Fake]) -> None:
    fakes += [Fake(delay=0.02, die_after=10), Fake(delay=0.02)]
    backend = _backend([f.url for f in fakes], concurrency=6, per_server=3, max_probes=2)
    results, calls = _run(backend, 60)
    assert calls == Counter(range(60))
    by = Counter(r[0].served_by for r in results)
    assert by[fakes[0].url] == len(fakes[0].answered) == 10 and by[fakes[1].url] == len(fakes[1].answered)
    assert sorted(fakes[0].answered + fakes[1].answered) == sorted(f"p{i}" for i in range(60))
    assert 1 <= backend.stats["retries"] <= 3  # what was in flight on the killed server, once each
    assert fakes[0].probes <= 1 + 2  # the start-up check, then at most max_probes re-probes


def test_a_4xx_is_one_line_and_finished_requests_are_kept(fakes: list[Fake]) -> None:
    fakes.append(Fake(delay=0.02, behave=lambda p: 400 if p == "p5" else None))
    backend = _backend([fakes[0].url], concurrency=3)
    kept: list[int] = []
    with pytest.raises(UsageError) as err:
        backend.generate([f"p{i}" for i in range(40)], PARAMS, lambda i, c: kept.append(i))
    msg = str(err.value)
    assert "\n" not in msg and "HTTP 400" in msg and "canned 400 for p5" in msg
    assert len(kept) == len(fakes[0].answered) < 40  # stopped early, and every answered one handed back
    assert backend.stats["retries"] == 0  # the user's error is never retried


def test_every_server_down_is_one_line_and_keeps_what_finished(fakes: list[Fake]) -> None:
    fakes += [Fake(delay=0.02, die_after=5), Fake(delay=0.02, die_after=5)]
    backend = _backend([f.url for f in fakes], concurrency=4, max_probes=2)
    kept: list[int] = []
    start = time.monotonic()
    with pytest.raises(UsageError) as err:
        backend.generate([f"p{i}" for i in range(200)], PARAMS, lambda i, c: kept.append(i))
    assert time.monotonic() - start < 10  # bounded: 0.05 + 0.1 s of re-probes, not the 600 s timeout
    msg = str(err.value)
    assert msg.startswith("openai backend: every server is down") and "\n" not in msg
    assert f"{len(kept)} of 200 requests finished" in msg
    assert sorted(kept) == sorted(int(p[1:]) for f in fakes for p in f.answered) and len(kept) == 10


def test_a_server_that_recovers_is_probed_back_in(fakes: list[Fake]) -> None:
    fails = {"left": 2}

    def flaky(prompt: str) -> int | None:
        with threading.Lock():
            if fails["left"] > 0:
                fails["left"] -= 1
                return 503
        return None

    fakes += [Fake(delay=0.02, behave=flaky), Fake(delay=0.02)]
    backend = _backend([f.url for f in fakes], concurrency=2, per_server=1, reprobe_after=0.05)
    results, calls = _run(backend, 40)
    assert calls == Counter(range(40))
    assert len(fakes[0].answered) > 0 and fakes[0].probes >= 2  # out after its 503s, then back


def test_retries_are_bounded_by_max_tries(fakes: list[Fake]) -> None:
    # /models answers, /completions always fails: each probe lets the server back in, each try fails.
    fakes.append(Fake(behave=lambda p: 502))
    backend = _backend([fakes[0].url], concurrency=2, max_tries=3, max_probes=5, reprobe_after=0.02)
    with pytest.raises(UsageError) as err:
        backend.generate([f"p{i}" for i in range(50)], PARAMS, lambda i, c: None)
    assert "HTTP 502" in str(err.value)
    assert backend.stats["tries"] <= 2 * 3  # two requests in flight at most, three tries each


def test_wrong_served_model_name_fails_before_any_request(fakes: list[Fake]) -> None:
    fakes.append(Fake(models=["other-model"]))
    with pytest.raises(UsageError, match="serves \\['other-model'\\], not 'served-name'"):
        _backend([fakes[0].url]).check()
    assert fakes[0].answered == []


def test_no_server_answers_is_a_bounded_usage_error() -> None:
    backend = _backend([_closed_port_url(), _closed_port_url()], max_probes=2, reprobe_after=0.02)
    start = time.monotonic()
    with pytest.raises(UsageError, match="^openai backend: no server answers"):
        backend.check()
    assert time.monotonic() - start < 5


def test_urls_names_and_settings() -> None:
    a, b = "http://10.0.0.1:8000/v1", "http://10.0.0.2:8000/v1"
    assert parse_base_urls([f"{a}/, {b}", a]) == (a, b)
    assert parse_base_urls(a) == (a,)
    for bad in ("10.0.0.1:8000", "ftp://x/v1", "http:///v1"):
        with pytest.raises(UsageError, match="bad base URL"):
            parse_base_urls([bad])
    with pytest.raises(UsageError, match="concurrency"):
        OpenAIBackend("m", base_url=a, concurrency=0)
    old_style = OpenAIBackend("/path/to/model", base_url=a)
    assert old_style.urls == (a,) and old_style.served_model_name == "/path/to/model"
    assert old_style.tokenizer_source == "/path/to/model"
    backend = OpenAIBackend("/m", base_urls=[a, b], served_model_name="x", tokenizer="/tok", concurrency=8,
                            per_server=2, max_tries=4, timeout=30)
    assert backend.info.settings == {
        "base_urls": [a, b], "served_model_name": "x", "tokenizer": "/tok", "concurrency": 8, "per_server": 2,
        "max_tries": 4, "timeout": 30,
    }

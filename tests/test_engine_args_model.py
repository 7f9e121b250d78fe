"""Engine arguments reach the engine: flags -> config.json -> the vLLM engine that actually runs."""

from __future__ import annotations

import gc
import json

import pytest

from matheval import run
from matheval.backends import GenParams
from matheval.backends.vllm import VLLMBackend
from matheval.cli import _run_parser, request_from_args

pytestmark = pytest.mark.model


def test_engine_args_and_max_model_len_are_recorded_and_applied(tmp_path, data_dir, model_path):
    args = _run_parser().parse_args([
        "--model", "smollm2-135m-instruct", "--tasks", "gsm8k", "--limit", "2", "--max-tokens", "16",
        "--engine-args", "max_num_seqs=4,max_num_batched_tokens=3072", "--tensor-parallel-size", "1",
        "--max-model-len", "1536", "--data-dir", str(data_dir), "--output-dir", str(tmp_path), "--run-id", "ea",
    ])
    cfg, backend = run.prepare(request_from_args(args))
    try:
        path = run.evaluate(cfg, backend)
        engine = backend.engine_settings()  # read back from the live vLLM engine, not from what we passed
    finally:
        run.close_backend(backend)

    saved = json.loads((path / "config.json").read_text())["backend"]
    assert saved["engine_args"] == {"max_num_seqs": 4, "max_num_batched_tokens": 3072, "tensor_parallel_size": 1}
    assert saved["max_model_len"] == 1536
    assert engine["max_num_seqs"] == 4 and engine["max_num_batched_tokens"] == 3072
    assert engine["max_model_len"] == 1536 and engine["tensor_parallel_size"] == 1
    assert engine["dtype"] == "float32" and engine["enable_chunked_prefill"] is False
    assert len((path / "samples.jsonl").read_text().splitlines()) == 2


def test_a_closed_engine_is_torn_down_at_once_and_the_next_one_runs(model_path):
    # Regression (CI): an in-process engine tears down vLLM's process-wide parallel state when it is
    # garbage-collected. One never closed, collected while a later engine ran, made that engine fail
    # with "pipeline model parallel group is not initialized". close() tears it down when its run
    # ends (run.evaluate closes what it made), so nothing is left to happen later.
    from vllm.distributed import parallel_state

    params = GenParams(max_tokens=4)
    first = VLLMBackend(model_path, max_model_len=512)
    try:
        want = first.generate(["2+2="], params)
        assert parallel_state._PP is not None
    finally:
        first.close()
    assert first._llm is None and parallel_state._PP is None  # torn down now, not at some later gc
    second = VLLMBackend(model_path, max_model_len=512)
    try:
        assert second.generate(["2+2="], params) == want
        gc.collect()
        assert second.generate(["2+2="], params) == want
    finally:
        second.close()

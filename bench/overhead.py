"""matheval's wall time vs a bare `vllm.LLM.generate` script on the same rendered prompts.

Both use one engine loaded once (model load excluded from both), the same 64 GSM8K prompts
(chat style, rendered by matheval) and the same SamplingParams (greedy, max_tokens, no stop).
matheval's figure is a whole `evaluate()` run: data load + sha256 check, rendering, generation,
extraction, grading, per-sample writes, aggregation and reports. Goal: ratio ≤ 1.05.

    MATHEVAL_DATA_DIR=../shared/data .venv/bin/python bench/overhead.py [--n-problems 64] [--max-tokens 256]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-problems", type=int, default=64)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()

    import dataclasses

    import matheval.run as run_mod
    from matheval.config import RunRequest
    from matheval.record import read_results

    out = tempfile.mkdtemp(prefix="matheval-bench-")
    req = RunRequest(model="smollm2-135m-instruct", tasks=("gsm8k",), limit=args.n_problems,
                     max_tokens=args.max_tokens, prompt_style="chat", output_dir=out)
    cfg, backend = run_mod.prepare(req)
    llm = backend._engine()  # model load: excluded from both timings
    prompts = list(run_mod.load(cfg, backend.tokenizer())[0].prompts)

    from vllm import SamplingParams

    sp = SamplingParams(n=1, temperature=0.0, top_p=1.0, max_tokens=args.max_tokens)
    run_mod.make_backend = lambda *a, **k: backend  # reuse the loaded engine
    bare, ours = [], []
    llm.generate(prompts[:4], sp, use_tqdm=False)  # warm-up for both

    def run_bare() -> int:
        t0 = time.perf_counter()
        outs = llm.generate(prompts, sp, use_tqdm=False)
        bare.append(time.perf_counter() - t0)
        return sum(len(o.outputs[0].token_ids) for o in outs)

    def run_ours(i: int) -> int:
        t0 = time.perf_counter()
        path = run_mod.evaluate(dataclasses.replace(cfg, run_id=f"bench{i}"), backend)
        ours.append(time.perf_counter() - t0)
        return sum(r.completions[0].n_tokens for r in read_results(str(path / "samples.jsonl")))

    # Alternate which goes first, so neither profits from running second (warm caches, turbo).
    for i in range(args.repeats):
        if i % 2 == 0:
            n_bare, n_ours = run_bare(), run_ours(i)
        else:
            n_ours, n_bare = run_ours(i), run_bare()
        print(f"repeat {i}: bare {bare[-1]:.2f} s ({n_bare} tokens)  matheval {ours[-1]:.2f} s ({n_ours} tokens)")
    b, m = sum(bare) / len(bare), sum(ours) / len(ours)
    print(f"\nprompts: {len(prompts)}  max_tokens: {args.max_tokens}  dtype: {backend.info.settings['dtype']}")
    print(f"bare LLM.generate : {b:7.2f} s (mean of {args.repeats})")
    print(f"matheval evaluate : {m:7.2f} s (mean of {args.repeats})")
    print(f"ratio             : {m / b:7.3f}  (goal ≤ 1.05)")


if __name__ == "__main__":
    main()

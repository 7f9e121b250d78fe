"""Throughput of matheval.reward against Math-Verify called the way TRL calls it, in one run.

    python bench/reward.py [--data DIR] [--mix 10000] [--timeouts 10,2] [--batch 256] [--repeat 5]

Datasets (gold = the dataset's full reference solution, as TRL passes its `solution` column):
- qwen: the 800 Qwen2.5-Math responses of the MATH 100x8 example (gold: `solution`).
- minerva: the 219 Minerva MATH samples of the sample explorer (gold: `target`).
- mix: --mix pairs drawn with replacement from both (seed 0), 1 % of them replaced by
  pathological completions (2^{2^{2^{100}}}, 50k characters of LaTeX, deeply nested braces, a
  sum sympy cannot finish). Answers repeat, as they do across a GRPO group.

Contestants, timed batch by batch in turn on the same batches of --batch pairs (the machine is
shared, so a load swing hits all of them alike):
- matheval-wN-tT: `RewardPool(N).score` (task "math", the hard per-sample deadline T s on),
  on fresh worker processes started before the clock starts.
- math-verify: `trl.rewards.accuracy_reward` (Math-Verify's parse + verify, TRL 1.16.0) in the
  main thread, where its signal-based timeouts are active.

qwen and minerva are scored --repeat times (fresh worker processes each time), the mix once.
Printed per dataset: answers/s, p99 seconds per batch, verdict counts, the ratio to math-verify,
and the agreement of the two rewards.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import random
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from matheval.reward import RewardPool, spec_for  # noqa: E402

Pair = tuple[str, str]  # (gold solution, response)


def load(data: Path) -> dict[str, list[Pair]]:
    qwen, minerva = [], []
    for line in (data / "qwen25math-example-math100x8" / "math_cot_100.jsonl").read_text().splitlines():
        row = json.loads(line)
        qwen += [(row["solution"], resp) for resp in row["code"]]
    for line in (data / "minerva-sample-explorer-math-mmlu" / "minerva_sample_explorer.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["source"] == "MATH":
            minerva.append((row["target"], row["output"]))
    return {"qwen": qwen, "minerva": minerva}


def pathological(k: int) -> str:
    kinds = [
        r"The value is $\boxed{2^{2^{2^{100}}}}$.",
        "We expand: " + r"\frac{x^{2}+\sqrt{y}}{\left(1+z_{k}\right)^{3}} + " * 1200 + r"so $\boxed{\frac{1}{2}}$",
        r"Hence $\boxed{" + "{" * 3000 + "1" + "}" * 3000 + "}$",
        r"Therefore $\boxed{\sum_{k=1}^{10^{100}} k^{k}}$.",
    ]
    return kinds[k % len(kinds)]


def mix(sets: dict[str, list[Pair]], n: int, seed: int = 0) -> list[Pair]:
    rng = random.Random(seed)
    pairs = rng.choices(sets["qwen"] + sets["minerva"], k=n)
    for k, i in enumerate(rng.sample(range(n), n // 100)):
        pairs[i] = (pairs[i][0], pathological(k))
    return pairs


def batches(pairs: list[Pair], size: int) -> list[list[Pair]]:
    return [pairs[i : i + size] for i in range(0, len(pairs), size)]


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


class Matheval:
    """A fresh pool of `workers` processes, started before the clock runs."""

    def __init__(self, workers: int, timeout: float) -> None:
        self.pool, self.timeout, self.spec = RewardPool(workers), timeout, spec_for("math")
        self.pool.start()

    def __call__(self, b: list[Pair]) -> tuple[list[float | None], list[str]]:
        scores = self.pool.score([g for g, _ in b], [r for _, r in b], [self.spec] * len(b), self.timeout)
        return [s.reward() for s in scores], [s.status for s in scores]


def mathverify(b: list[Pair]) -> tuple[list[float | None], list[str]]:
    from trl.rewards import accuracy_reward

    out = accuracy_reward([[{"role": "assistant", "content": r}] for _, r in b], [g for g, _ in b])
    return out, ["none" if r is None else ("correct" if r else "wrong") for r in out]


def run(pairs: list[Pair], timeouts: list[float], size: int, repeat: int) -> dict[str, dict]:
    """Batch by batch, every contestant on the same batch in turn: load swings hit them alike.
    Each repeat starts fresh worker processes, so no matheval cache survives from one to the next."""
    runs: dict[str, dict] = collections.defaultdict(lambda: {"rewards": [], "statuses": collections.Counter(),
                                                             "times": [], "n": 0})
    for _ in range(repeat):
        contestants = {"math-verify": mathverify}
        for timeout in timeouts:
            for workers in (1, 2):
                contestants[f"matheval-w{workers}-t{timeout:g}"] = Matheval(workers, timeout)
        for b in batches(pairs, size):
            for name, fn in contestants.items():
                t = time.perf_counter()
                rewards, statuses = fn(b)
                runs[name]["times"].append(time.perf_counter() - t)
                runs[name]["rewards"] += rewards
                runs[name]["statuses"].update(statuses)
                runs[name]["n"] += len(b)
        for fn in contestants.values():
            if isinstance(fn, Matheval):
                fn.pool.close()
    for r in runs.values():
        r["rate"], r["p99"], r["max"] = r["n"] / sum(r["times"]), p99(r["times"]), max(r["times"])
    return dict(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data = Path(os.environ.get("MATHEVAL_DATA_DIR") or REPO.parent / "shared" / "data")
    ap.add_argument("--data", type=Path, default=data / "outputs", help="default: $MATHEVAL_DATA_DIR/outputs")
    ap.add_argument("--mix", type=int, default=10000, help="size of the mixed sample (0: skip)")
    ap.add_argument("--timeouts", default="10,2", help="matheval's hard deadlines per sample to run, s")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=5, help="passes over qwen and minerva (fresh workers each)")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    logging.disable(logging.CRITICAL)  # Math-Verify logs every timeout and parse failure

    sets = load(args.data)
    if args.mix:
        sets["mix"] = mix(sets, args.mix)
    from trl.rewards import accuracy_reward  # import and ANTLR warm-up are not per-answer costs

    accuracy_reward([[{"content": r"\boxed{1}"}]], [r"\boxed{1}"])
    timeouts = [float(t) for t in args.timeouts.split(",")]
    print(f"batch {args.batch}; matheval-wN-tT: N worker processes, hard deadline T s per sample\n")
    print(f"{'dataset':8s} {'grader':16s} {'n':>6s} {'answers/s':>10s} {'p99 s/batch':>12s} {'max s':>7s} "
          f"{'x math-verify':>13s}  verdicts")
    for name, pairs in sets.items():
        repeat = 1 if name == "mix" else args.repeat
        runs = run(pairs, timeouts, args.batch, repeat)
        base = runs["math-verify"]["rate"]
        for grader, r in runs.items():
            verdicts = ", ".join(f"{k} {v}" for k, v in sorted(r["statuses"].items()))
            print(f"{name:8s} {grader:16s} {r['n']:6d} {r['rate']:10.0f} {r['p99']:12.3f} {r['max']:7.2f} "
                  f"{r['rate'] / base:13.1f}  {verdicts}")
        mv, me = runs["math-verify"]["rewards"], runs[f"matheval-w2-t{timeouts[0]:g}"]["rewards"]
        both = [(a, b) for a, b in zip(mv, me, strict=True) if a is not None and b is not None]
        agree = sum(a == b for a, b in both)
        print(f"{name:8s} rewards agree on {agree}/{len(both)} pairs both scored\n", flush=True)


if __name__ == "__main__":
    main()

"""Benchmark: grade and vote MATH-5000 x 64 synthetic-but-realistic answers with the real grader.

    python bench/vote.py                      # all 5000 problems x 64 samples, 2 processes
    python bench/vote.py --problems 500 --naive 20

Answers are built from each problem's gold (the last \\boxed{} of its solution): correct ones in
equivalent spellings (\\frac <-> a/b <-> decimal, \\dfrac, spacing, "x =" prefix), wrong ones
concentrated on a few plausible near-misses per problem plus a tail of one-offs, and some None.
The accuracy per sample falls with the MATH level, like a mid-sized model's. Prints the wall
time, ms per problem, grader calls against the N^2/2 pairs of naive clustering, and how many
intended-correct spellings the grader rejected (a grading, not a voting, figure).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import re
import statistics
import time
from fractions import Fraction
from pathlib import Path

from matheval.grading import canonical_key, equivalent
from matheval.metrics import default_ks, score_problem

DATA = Path(os.environ.get("MATHEVAL_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
P_CORRECT = {"Level 1": 0.9, "Level 2": 0.8, "Level 3": 0.7, "Level 4": 0.55, "Level 5": 0.35}


def last_boxed(text: str) -> str | None:
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    i = text.index("{", start)
    depth = 0
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1 : j]
    return None


def _as_fraction(s: str) -> Fraction | None:
    m = re.fullmatch(r"(-?)\\d?frac\{(\d+)\}\{(\d+)\}", s) or re.fullmatch(r"(-?)(\d+)/(\d+)", s)
    if m:
        return Fraction(int(m.group(2)), int(m.group(3))) * (-1 if m.group(1) else 1)
    if re.fullmatch(r"-?\d+(\.\d+)?", s):
        return Fraction(s)
    return None


def _decimal(f: Fraction) -> str | None:
    # Only short terminating decimals, written exactly: a rounding is a different answer.
    d = f.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    if d != 1:
        return None
    text = f"{float(f):.8f}".rstrip("0").rstrip(".")
    return text if Fraction(text) == f else None


def correct_spelling(gold: str, rng: random.Random) -> str:
    f = _as_fraction(gold)
    # Spaces after a backslash are LaTeX spacing commands ("\\ "), not removable whitespace.
    options = [gold, gold, gold, re.sub(r"(?<!\\) ", "", gold), re.sub(r",(?=\S)", ", ", gold)]
    if "\\frac" in gold:
        options.append(gold.replace("\\frac", "\\dfrac"))
    if f is not None and f.denominator != 1:
        options += [f"{f.numerator}/{f.denominator}", f"\\frac{{{f.numerator}}}{{{f.denominator}}}"]
        if (dec := _decimal(f)) is not None:
            options.append(dec)
    if f is not None and f.denominator == 1:
        options += [f"x = {gold}", f"{gold}.0"]
    return rng.choice(options)


def wrong_pool(gold: str, rng: random.Random) -> list[str]:
    f = _as_fraction(gold)
    if f is not None and f.denominator == 1:
        n = f.numerator
        near = [n + 1, n - 1, 2 * n, -n, n + 10, n * n] + [rng.randint(-50, 500) for _ in range(3)]
        pool = [str(x) for x in near if x != n]
    elif f is not None:
        inv = f"\\frac{{{f.denominator}}}{{{f.numerator}}}" if f.numerator else "1"
        pool = [inv, f"\\frac{{{f.numerator + 1}}}{{{f.denominator}}}", str(f.denominator), "0"]
    else:
        digits = [m.start() for m in re.finditer(r"\d", gold)]
        pool = []
        for _ in range(6):
            if digits:
                i = rng.choice(digits)
                pool.append(gold[:i] + str((int(gold[i]) + rng.randint(1, 9)) % 10) + gold[i + 1 :])
            else:
                pool.append(gold + "+1")
        pool.append("-" + gold if not gold.startswith("-") else gold[1:])
    return [p for p in dict.fromkeys(pool) if p != gold] or ["0"]


def synth(problem: dict, idx: int, n: int, seed: int) -> tuple[str, list[str | None], list[bool]]:
    rng = random.Random(seed * 1_000_003 + idx)
    gold = last_boxed(problem["solution"]) or "0"
    p = min(0.97, max(0.02, P_CORRECT.get(problem.get("level", ""), 0.5) + rng.uniform(-0.25, 0.25)))
    pool = wrong_pool(gold, rng)
    weights = [1 / (r + 1) ** 1.5 for r in range(len(pool))]  # models agree on a few wrong answers
    answers: list[str | None] = []
    intended: list[bool] = []
    for _ in range(n):
        u = rng.random()
        if u < 0.03:
            answers.append(None)
            intended.append(False)
        elif u < 0.03 + p:
            answers.append(correct_spelling(gold, rng))
            intended.append(True)
        elif rng.random() < 0.15:
            answers.append(str(rng.randint(-1000, 100000)))  # one-off garbage
            intended.append(False)
        else:
            answers.append(correct_spelling(rng.choices(pool, weights)[0], rng))
            intended.append(False)
    return gold, answers, intended


def _work(job: tuple[str, list[str | None], list[bool], list[int]]) -> dict:
    gold, answers, intended, ks = job
    t0 = time.perf_counter()
    scored = score_problem(answers, gold, ks)
    ms = 1e3 * (time.perf_counter() - t0)
    rejected = [a for a, ok, cid in zip(answers, intended, scored.cluster_ids, strict=True)
                if ok and cid is not None and not scored.cluster_correct[cid]]
    keys = {canonical_key(a) for a in answers if a is not None}
    return {"ms": ms, "calls": scored.grader_calls, "keys": len(keys),
            "scores": scored.scores, "vote_correct": scored.vote_correct, "rejected": rejected[:1],
            "n_rejected": len(rejected), "gold": gold}


def _naive_ms(job: tuple[str, list[str | None], list[bool], list[int]]) -> float:
    """Cost of the naive alternative on one problem: every sample graded, every pair compared."""
    gold, answers, _, _ = job
    t0 = time.perf_counter()
    for i, a in enumerate(answers):
        equivalent(gold, a)
        for b in answers[:i]:
            if a is not None and b is not None:
                equivalent(b, a)
    return 1e3 * (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=5000)
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--naive", type=int, default=0,
                    help="also time naive N^2 clustering on this many problems")
    args = ap.parse_args()

    with open(DATA / "math" / "test.jsonl", encoding="utf-8") as fh:
        problems = [json.loads(line) for line in fh][: args.problems]
    ks = default_ks(args.samples)
    jobs = [(*synth(p, i, args.samples, args.seed), ks) for i, p in enumerate(problems)]

    t0 = time.perf_counter()
    with mp.get_context("fork").Pool(args.procs) as pool:
        out = pool.map(_work, jobs, chunksize=16)
    wall = time.perf_counter() - t0

    ms = sorted(r["ms"] for r in out)
    calls = sum(r["calls"] for r in out)
    pairs = len(out) * args.samples * (args.samples - 1) // 2
    print(f"problems={len(out)} samples={args.samples} procs={args.procs} ks={ks}")
    print(f"wall {wall:.1f} s  ({1e3 * wall / len(out):.2f} ms/problem wall, "
          f"{statistics.mean(ms):.2f} ms/problem cpu; p50 {ms[len(ms) // 2]:.2f}, "
          f"p99 {ms[int(0.99 * len(ms))]:.1f}, max {ms[-1]:.0f} ms)")
    print(f"grader calls {calls} = {calls / len(out):.1f}/problem for "
          f"{statistics.mean(r['keys'] for r in out):.1f} distinct keys; naive pairs would be "
          f"{pairs} ({pairs / max(calls, 1):.0f}x more)")
    for name in [f"maj@{k}" for k in ks] + [f"pass@{k}" for k in ks]:
        print(f"  {name:<8} {100 * statistics.mean(r['scores'][name] for r in out):6.2f}")
    bad = [r for r in out if r["n_rejected"]]
    print(f"problems where the grader rejected an intended-correct spelling: {len(bad)}")
    for r in bad[:10]:
        print(f"  gold {r['gold']!r} rejected {r['rejected'][0]!r} ({r['n_rejected']} samples)")
    if args.naive:
        sample = jobs[: args.naive]
        naive = [_naive_ms(j) for j in sample]
        ours = [r["ms"] for r in out[: args.naive]]
        print(f"naive all-pairs on {len(sample)} problems: {statistics.mean(naive):.0f} ms/problem vs "
              f"{statistics.mean(ours):.1f} ms ({statistics.mean(naive) / statistics.mean(ours):.0f}x)")


if __name__ == "__main__":
    main()

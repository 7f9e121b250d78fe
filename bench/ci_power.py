"""Power and false-alarm rate of the CI regression gate, measured on the embedded model.

    python bench/ci_power.py                         # 3 clean runs + 3 injected regressions
    python bench/ci_power.py --clean 2 --out /tmp/p  # fewer clean runs, keep the run dirs

Runs the CI suite (profiles/ci-smollm2.yaml, fp32) in separate processes, each under
`flock /tmp/matheval-model.lock`, one at a time:
- clean reruns, same settings: must all pass against the first (false alarms, max |difference|,
  and how many completions differ at all: reproducibility across processes);
- injected regressions, each a realistic harness change: the chat template's boxed instruction
  removed (a task-dir copy whose chat style renders question.jinja, via MATHEVAL_TASKS_DIR),
  max tokens halved, and an extraction bug that takes the first number instead of the last
  ("the answer is 12 + 7 = 19" read as 12, and in the last-number fallback; the clean
  generations re-graded by `matheval rescore` with that bug patched in), and the task's
  extractor edited to `boxed` (`rescore --extractor boxed`): each must
  exit 1 (with --allow-mismatch where the fingerprint rightly refuses it, which is exit 2);
- synthetic drops: a random fraction of the clean run's correct completions lost, re-scored,
  checked; gives the smallest drop (points) the suite catches at its size.
Prints one table; `--out` keeps the runs and writes power.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parent.parent
BASELINES = REPO / "results" / "baselines"
LOCK = "/tmp/matheval-model.lock"
PY = sys.executable

# The extraction bug, as a developer could write it: the "last number" fallback takes the first.
# Two extraction bugs, as a developer could write them (env CI_POWER_BUG picks one):
# "response": answers read as the first number of the response (`findall(...)[0]` for `[-1]`);
# "statement": only inside the answer statement and the fallback ("the answer is 12 + 7 = 19" -> 12).
FIRST_NUMBER_PATCH = """
import os
import re
import sys
import matheval.grading.extract as E
fallback = sys.modules.get("matheval.grading.fallback", E)
pattern = getattr(fallback, "NUMBER_RE", None) or re.compile(r"-?\\d+(?:\\.\\d+)?")
make = getattr(fallback, "make", None) or getattr(E, "_make")
def first_number(text, *args, **kwargs):
    m = pattern.search(text)
    return None if m is None else make(m.group(0), "first_number", m.start(), m.end())
if os.environ["CI_POWER_BUG"] == "response":
    E.STYLES["auto"] = first_number
else:
    patched = [n for n in ("last_number", "last_candidate", "_last_number") if hasattr(E, n)]
    assert patched, "no last-number fallback found to break"
    for name in patched:
        setattr(E, name, first_number)
    anchor = E.after_anchor
    def first_in_statement(text, *args, **kwargs):
        found = anchor(text, *args, **kwargs)
        m = None if found is None else pattern.search(found.answer)
        return found if m is None else make(m.group(0), found.method, found.span[0], found.span[1])
    E.after_anchor = first_in_statement
from matheval.cli import main
sys.exit(main(sys.argv[1:]))
"""


def suite_flags(profile: Path) -> list[str]:
    """The suite as scripts/ci_regression.sh runs it: the profile, fp32."""
    return ["--profile", profile.stem, "--dtype", "float32"]


def _env(**extra: str) -> dict[str, str]:
    return dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false", **extra)


def generate(out: Path, run_id: str, flags: list[str], env: dict[str, str] | None = None) -> tuple[Path, float]:
    cmd = ["flock", LOCK, PY, "-m", "matheval", "--model", "smollm2-135m-instruct", *flags,
           "--output-dir", str(out), "--run-id", run_id, "-q"]
    t0 = time.time()
    proc = subprocess.run(cmd, env=env or _env(), capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"run {run_id} failed:\n{proc.stderr[-3000:]}")
    return out / run_id, time.time() - t0


def check(baseline: Path, run: Path, *extra: str) -> tuple[int, dict]:
    proc = subprocess.run([PY, "-m", "matheval", "check", "--baseline", str(baseline), str(run), "--format", "json",
                           *extra], env=_env(), capture_output=True, text=True)
    doc = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else {}
    return proc.returncode, doc


def no_boxed_tasks(tmp: Path, tasks: list[str]) -> Path:
    """A copy of tasks/ whose chat style renders the bare problem (question.jinja)."""
    dst = tmp / "tasks_no_boxed"
    shutil.copytree(REPO / "tasks", dst)
    for name in tasks:
        doc = yaml.safe_load((dst / f"{name}.yaml").read_text(encoding="utf-8"))
        doc["prompts"]["chat"]["template"] = "question.jinja"
        (dst / f"{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return dst


def first_number_rescore(clean: Path, out: Path, bug: str) -> Path:
    run_id = f"reg_first_number_{bug}"
    if (out / run_id / "summary.json").is_file():
        return out / run_id
    proc = subprocess.run([PY, "-c", FIRST_NUMBER_PATCH, "rescore", str(clean), "--output-dir", str(out),
                           "--run-id", run_id], env=_env(CI_POWER_BUG=bug), capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"rescore failed:\n{proc.stderr[-3000:]}")
    return out / run_id


def boxed_only_rescore(clean: Path, out: Path) -> Path:
    """The task's extractor edited to `boxed` (a one-word YAML change): re-grade the clean run."""
    run_id = "reg_extractor_boxed"
    if not (out / run_id / "summary.json").is_file():
        proc = subprocess.run([PY, "-m", "matheval", "rescore", str(clean), "--extractor", "boxed", "--output-dir",
                               str(out), "--run-id", run_id], env=_env(), capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"rescore failed:\n{proc.stderr[-3000:]}")
    return out / run_id


def completions_differ(a: Path, b: Path) -> tuple[int, int]:
    def texts(run: Path) -> dict[tuple[str, str], list[str]]:
        rows = (json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines() if line.strip())
        return {(r["task"], str(r["id"])): [c["text"] for c in r["completions"]] for r in rows}

    ta, tb = texts(a), texts(b)
    pairs = [(x, y) for k in ta.keys() & tb.keys() for x, y in zip(ta[k], tb[k], strict=False)]
    return sum(x != y for x, y in pairs), len(pairs)


def summarize(name: str, code: int, doc: dict, gating: set[str] | None = None) -> dict:
    cells = [c for c in doc.get("cells", []) if gating is None or c["metric"] in gating]
    worst = min(cells, key=lambda c: c["p_value"]) if cells else None
    return {
        "name": name, "exit": code,
        "drops": {f"{c['task']}/{c['metric']}": round(-100 * c["diff"], 2) for c in cells},
        "min_p": worst["p_value"] if worst else None,
        "worst_cell": f"{worst['task']}/{worst['metric']}" if worst else None,
        "max_abs_diff": max((abs(100 * c["diff"]) for c in cells), default=0.0),
        "regressed": [f"{c['task']}/{c['metric']}" for c in cells if c["verdict"] == "REGRESSION"],
    }


# ---------------------------------------------------------------- synthetic drops (no model)


def synthetic_power(clean: Path, fractions: list[float], draws: int, policy: Path | None) -> list[dict]:
    """Lose a random fraction of the correct completions (greedy and sampled alike), re-score
    with the pipeline's metrics, and check against the clean run."""
    import pandas as pd

    from matheval.check import run_check
    from matheval.ci_policy import load_policy
    from matheval.metrics import default_ks, score_problem
    from matheval.scores import COLUMNS, Scored, load

    base = load(clean)
    pol = load_policy(policy)
    records = [json.loads(line) for line in (clean / "samples.jsonl").read_text().splitlines() if line.strip()]
    rng = np.random.default_rng(0)
    out = []
    for f in fractions:
        caught, drops = 0, []
        for _ in range(draws):
            rows = []
            for r in records:
                ok = [bool(v["correct"]) and rng.random() >= f for v in r["verdicts"]]
                flags = [c.get("greedy", True) for c in r["completions"]]
                scores = {}
                g = [o for o, is_g in zip(ok, flags, strict=True) if is_g]
                if g:
                    scores["top1"] = float(g[0])
                s = [o for o, is_g in zip(ok, flags, strict=True) if not is_g]
                if s:
                    answers = ["right" if o else None for o in s]
                    ps = score_problem(answers, "right", default_ks(len(s)), equiv=lambda a, b: a == b)
                    scores.update(ps.scores)
                rows += [(r["task"], str(r["id"]), m, v) for m, v in scores.items()]
            run = Scored("synthetic", pd.DataFrame(rows, columns=COLUMNS), base.fingerprints)
            result = run_check(base, run, policy=pol, n_perm=4000)
            caught += result.exit_code == 1
            drops.append(max(-100 * c.diff for c in result.cells))
        out.append({"fraction_lost": f, "mean_max_drop_pts": round(float(np.mean(drops)), 2),
                    "power": caught / draws})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", type=Path, default=REPO / "profiles" / "ci-smollm2.yaml")
    ap.add_argument("--policy", type=Path, default=BASELINES / "smollm2-135m-instruct-ci.policy.yaml")
    ap.add_argument("--clean", type=int, default=3, help="clean runs (separate processes, same settings)")
    ap.add_argument("--out", type=Path, help="keep run dirs and power.json here (default: a temp dir)")
    ap.add_argument("--draws", type=int, default=20, help="random draws per synthetic drop size")
    ap.add_argument("--reuse", action="store_true", help="reuse run dirs already in --out (no generation)")
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="ci_power_"))
    out.mkdir(parents=True, exist_ok=True)
    flags = suite_flags(args.profile)
    prof = yaml.safe_load(args.profile.read_text(encoding="utf-8"))
    policy = args.policy if args.policy.is_file() else None
    pol_args = ["--policy", str(policy)] if policy else []
    gating = set(yaml.safe_load(policy.read_text())["metrics"]) if policy else None
    timings: dict[str, float] = {}

    def run(run_id: str, fl: list[str], env: dict[str, str] | None = None) -> Path:
        if args.reuse and (out / run_id / "summary.json").is_file():
            return out / run_id
        path, secs = generate(out, run_id, fl, env)
        timings[run_id] = round(secs, 1)
        print(f"  {run_id}: {secs:.0f} s", flush=True)
        return path

    print(f"suite: {' '.join(flags)}\nruns in {out}", flush=True)
    base = run("clean_0", flags)
    from matheval.scores import load

    if not load(base).fingerprints:
        # Runs made before config.json carried fingerprints: comparability cannot be checked.
        print("note: the runs record no fingerprint; every check below uses --allow-mismatch", flush=True)
        pol_args.append("--allow-mismatch")
    print(f"\n{'case':<28}{'exit':>5}{'exit*':>6}{'max drop':>10}{'min p':>10}  worst cell / notes", flush=True)
    rows = []

    def report(row: dict) -> None:
        rows.append(row)
        star = row.get("exit_without_allow_mismatch", "")
        note = row.get("completions_differ", "")
        note = f"completions differing: {note}" if note else f"regressed: {', '.join(row['regressed']) or '-'}"
        print(f"{row['name']:<28}{row['exit']:>5}{star!s:>6}{row['max_abs_diff']:>10.1f}{(row['min_p'] or 1):>10.2g}"
              f"  {row['worst_cell']}; {note}; drops {row['drops']}", flush=True)
        (out / "power.json").write_text(json.dumps({"suite": flags, "timings_s": timings, "rows": rows}, indent=2))

    def regression(name: str, path: Path) -> None:
        code, _ = check(base, path, *pol_args)
        code_allowed, doc = check(base, path, *pol_args, "--allow-mismatch")
        report(summarize(name, code_allowed, doc, gating) | {"exit_without_allow_mismatch": code})

    # Cheapest first (no model), then the clean reruns, then the regenerations.
    regression("extraction: first number", first_number_rescore(base, out, "response"))
    regression("first number in statement", first_number_rescore(base, out, "statement"))
    regression("extractor: boxed only", boxed_only_rescore(base, out))
    for i in range(1, args.clean):
        c = run(f"clean_{i}", flags)
        code, doc = check(base, c, *pol_args)
        differ, total = completions_differ(base, c)
        report(summarize(f"clean_{i}", code, doc, gating) | {"completions_differ": f"{differ}/{total}"})
    with tempfile.TemporaryDirectory() as tmp:
        tasks_dir = no_boxed_tasks(Path(tmp), prof["tasks"])
        regression("no boxed instruction", run("reg_no_boxed", flags, _env(MATHEVAL_TASKS_DIR=str(tasks_dir))))
    regression("max tokens halved", run("reg_half_tokens", [*flags, "--max-tokens", str(prof["max_tokens"] // 2)]))
    print("exit* = without --allow-mismatch (2 = refused: the fingerprint differs, as it should)")

    synth = synthetic_power(base, [0.2, 0.4, 0.6, 0.8, 1.0], args.draws, policy)
    print(f"\n{'fraction of correct completions lost':<40}{'mean max drop (pts)':>20}{'power':>8}")
    for s in synth:
        print(f"{s['fraction_lost']:<40}{s['mean_max_drop_pts']:>20.1f}{s['power']:>8.2f}")
    doc = {"suite": flags, "timings_s": timings, "rows": rows, "synthetic": synth}
    (out / "power.json").write_text(json.dumps(doc, indent=2))
    print(f"\ntimings (s): {timings}\nwritten {out / 'power.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

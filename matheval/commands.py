"""Subcommands other than `run`: rescore, compare, check, data. Dispatch is a dict."""

from __future__ import annotations

from collections.abc import Callable

from matheval.errors import UsageError, did_you_mean


def dispatch(name: str, argv: list[str], parser_cls) -> int:
    handlers: dict[str, Callable[[list[str], type], int]] = {
        "rescore": _rescore,
        "compare": _compare,
        "check": _check,
        "report": _report,
        "data": _data,
    }
    if name not in handlers:
        raise UsageError(f"unknown command '{name}'{did_you_mean(name, list(handlers))}")
    return handlers[name](argv, parser_cls)


def _rescore(argv: list[str], parser_cls) -> int:
    from matheval.rescore import main as rescore_main

    return rescore_main(argv, parser_cls)


def compare_parser(parser_cls):
    ap = parser_cls(prog="matheval compare", description="Per task and metric: B - A with a paired CI.")
    ap.add_argument("run_a")
    ap.add_argument("run_b")
    ap.add_argument("--alpha", type=float, default=0.05)
    return ap


def _compare(argv: list[str], parser_cls) -> int:
    from matheval import compare, scores

    args = compare_parser(parser_cls).parse_args(argv)
    table = compare.compare_tables(scores.load(args.run_a), scores.load(args.run_b), alpha=args.alpha)
    print(compare.format_compare(table))
    return 0


def check_parser(parser_cls):
    from matheval.check_report import RENDERERS

    ap = parser_cls(prog="matheval check", description="Statistical regression check against a baseline. "
                    "Exit codes: 0 pass, 1 regression or missing problems, 2 usage error or incomparable baseline.")
    ap.add_argument("--baseline", required=True, help="baseline (.jsonl written by --update) or a run dir")
    ap.add_argument("run", nargs="?", help="run dir (default: the newest run in --output-dir)")
    ap.add_argument("--output-dir", default="results")
    ap.add_argument("--tasks", help="check only these tasks (comma list); baseline tasks outside are not required")
    ap.add_argument("--policy", help="YAML: alpha, gated metrics, per-task min_drop and critical (see docs/ci.md)")
    ap.add_argument("--alpha", type=float, help="family-wise false-alarm rate (default 0.05, or the policy's)")
    ap.add_argument("--format", default="text", choices=sorted(RENDERERS), help="report format (default text)")
    ap.add_argument("--allow-mismatch", action="store_true",
                    help="compare even when protocol fingerprints differ (a deliberate change)")
    ap.add_argument("--update", action="store_true", help="write the run's per-problem scores as the new baseline")
    return ap


def _check(argv: list[str], parser_cls) -> int:
    """Exit 0 pass, 1 a significant drop or something missing, 2 bad input or incomparable runs."""
    import sys
    from pathlib import Path

    from matheval import scores
    from matheval.check import run_check
    from matheval.check_report import RENDERERS
    from matheval.ci_policy import load_policy

    args = check_parser(parser_cls).parse_args(argv)
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()] if args.tasks else None
    run = scores.load(args.run or _newest_run(Path(args.output_dir)))
    if args.update:
        if tasks and (unknown := sorted(set(tasks) - set(run.tasks))):
            raise UsageError(f"--tasks {', '.join(unknown)}: not in the run (it has {', '.join(run.tasks)})")
        return _update(run.only(tasks) if tasks else run, Path(args.baseline), partial=bool(tasks))
    policy = load_policy(args.policy)
    if not Path(args.baseline).exists():
        raise UsageError(f"baseline {args.baseline} not found (create it with --update)")
    result = run_check(scores.load(args.baseline), run, policy=policy, tasks=tasks, alpha=args.alpha,
                       allow_mismatch=args.allow_mismatch)
    sys.stdout.write(RENDERERS[args.format](result).rstrip("\n") + "\n")
    if result.refused:
        raise UsageError(result.refusal())
    return result.exit_code


def _update(run, baseline, *, partial: bool) -> int:
    import sys

    from matheval import scores

    keep = scores.load(baseline) if partial and baseline.exists() else None
    n = scores.write_baseline(run, baseline, keep=keep)
    print(f"baseline {baseline} written from {run.source} ({n} problems)")
    if unrecorded := [t for t in run.tasks if t not in run.fingerprints]:
        print(f"warning: the run records no fingerprint for {', '.join(unrecorded)}: `check` will refuse "
              "this baseline unless --allow-mismatch", file=sys.stderr)
    return 0


def _newest_run(out) -> str:
    runs = sorted((p for p in out.glob("*/samples.jsonl")), key=lambda p: p.stat().st_mtime)
    if not runs:
        raise UsageError(f"no runs in {out}; give the run dir explicitly")
    return str(runs[-1].parent)


def _report(argv: list[str], parser_cls) -> int:
    from matheval.html_report import DEFAULT_SAMPLE_TEXTS, build_report

    ap = parser_cls(prog="matheval report", description="One self-contained HTML page (opens from disk, offline): "
                    "leaderboard, per-task breakdowns and k-curves, every sample, two runs side by side.")
    ap.add_argument("paths", nargs="+", metavar="RESULTS_DIR|RUN_DIR",
                    help="run dirs, or results dirs (every run inside)")
    ap.add_argument("-o", "--output", default="report.html", help="the HTML file to write (default report.html)")
    ap.add_argument("--sample-texts", type=int, default=DEFAULT_SAMPLE_TEXTS,
                    help=f"sampled completion texts embedded per problem (default {DEFAULT_SAMPLE_TEXTS}; greedy ones "
                         "always are; the rest keep answer and verdict)")
    ap.add_argument("--title", help="page title (default: the model and run)")
    args = ap.parse_args(argv)
    if args.sample_texts < 0:
        raise UsageError("--sample-texts must be 0 or more")
    out = build_report(args.paths, args.output, sample_texts=args.sample_texts, title=args.title)
    print(f"report: {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


def _data(argv: list[str], parser_cls) -> int:
    from matheval.datapull import main as data_main

    return data_main(argv, parser_cls)

"""Subcommands other than `run`: rescore, compare, check, data. Dispatch is a dict."""

from __future__ import annotations

from collections.abc import Callable

from matheval.errors import UsageError, did_you_mean


def dispatch(name: str, argv: list[str], parser_cls) -> int:
    handlers: dict[str, Callable[[list[str], type], int]] = {
        "rescore": _rescore,
        "compare": _compare,
        "check": _check,
        "data": _data,
    }
    if name not in handlers:
        raise UsageError(f"unknown command '{name}'{did_you_mean(name, list(handlers))}")
    return handlers[name](argv, parser_cls)


def _rescore(argv: list[str], parser_cls) -> int:
    from matheval.rescore import main as rescore_main

    return rescore_main(argv, parser_cls)


def _compare(argv: list[str], parser_cls) -> int:
    from matheval import compare

    ap = parser_cls(prog="matheval compare", description="Per task and metric: B - A with a paired CI.")
    ap.add_argument("run_a")
    ap.add_argument("run_b")
    ap.add_argument("--alpha", type=float, default=0.05)
    args = ap.parse_args(argv)
    table = compare.compare_tables(compare.load_scores(args.run_a), compare.load_scores(args.run_b), alpha=args.alpha)
    print(compare.format_compare(table))
    return 0


def _check(argv: list[str], parser_cls) -> int:
    """Exit 1 when the run is significantly worse than the baseline on any task × metric."""
    from pathlib import Path

    from matheval import compare

    ap = parser_cls(prog="matheval check", description="Statistical regression check against a baseline.")
    ap.add_argument("--baseline", required=True, help="baseline scores (.jsonl) or a run dir")
    ap.add_argument("run", nargs="?", help="run dir (default: the newest run in --output-dir)")
    ap.add_argument("--output-dir", default="results")
    ap.add_argument("--alpha", type=float, default=0.05, help="family-wise false-alarm rate (default 0.05)")
    ap.add_argument("--update", action="store_true", help="write the run's per-problem scores as the new baseline")
    args = ap.parse_args(argv)
    run = args.run or _newest_run(Path(args.output_dir))
    run_scores = compare.load_scores(run)
    if args.update:
        compare.write_scores(run_scores, args.baseline)
        n = run_scores[["task", "id"]].drop_duplicates().shape[0]
        print(f"baseline {args.baseline} written from {run} ({n} problems)")
        return 0
    if not Path(args.baseline).exists():
        raise UsageError(f"baseline {args.baseline} not found (create it with --update)")
    base_scores = compare.load_scores(args.baseline)
    regressions = compare.check_regressions(base_scores, run_scores, alpha=args.alpha)
    print(compare.format_regressions(regressions, compare.coverage(base_scores, run_scores)))
    return 1 if regressions else 0


def _newest_run(out) -> str:
    runs = sorted((p for p in out.glob("*/samples.jsonl")), key=lambda p: p.stat().st_mtime)
    if not runs:
        raise UsageError(f"no runs in {out}; give the run dir explicitly")
    return str(runs[-1].parent)


def _data(argv: list[str], parser_cls) -> int:
    from matheval.datapull import main as data_main

    return data_main(argv, parser_cls)

"""`matheval rescore PATH`: re-grade saved generations without a model.

PATH is a matheval run dir (or its samples.jsonl) or another harness's output file (importers in
`matheval.importers`). Either way the records go through the pipeline's own extract → grade →
score functions (`matheval.run`) and are written as a new run dir: samples.jsonl, summary.json,
leaderboard rows. Where the file carries per-sample labels, agreement with them is reported, and
where it holds fewer problems than the benchmark, accuracy over the full benchmark is shown too.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matheval import grading
from matheval.backends import BackendInfo, GenParams
from matheval.config import RunConfig
from matheval.errors import UsageError
from matheval.importers import IMPORTERS, Import, sniff
from matheval.record import Result, read_results
from matheval.report import RunDir, aggregate, report
from matheval.run import TaskPlan, extract, grade
from matheval.tasks import PromptStyle, Task, load_task


@dataclass(frozen=True)
class Rescored:
    label: str
    path: Path
    summary: dict[str, Any]
    results: list[Result]


def make_plan(task: Task, style_name: str, style: PromptStyle, grader_opts: dict[str, Any]) -> TaskPlan:
    grading.GraderOptions.from_dict(grader_opts)  # strict: a typo fails before any grading
    return TaskPlan(task, style_name, style, GenParams(), None, dict(grader_opts), (), 0)


def regrade(results: list[Result], plan: TaskPlan) -> list[Result]:
    """Drop whatever was decided before and run extract → grade → score again."""
    from tqdm import tqdm

    for r in tqdm(results, desc=f"grade {plan.task.name}", unit="sample", disable=len(results) < 50):
        r.extractions, r.verdicts, r.vote, r.scores = [], [], None, {}
        grade(extract(r, plan), plan, plan.grader)
    return results


def label_agreement(results: list[Result], labels: dict[str, tuple[bool, ...]]) -> dict[str, Any]:
    """Per-completion agreement of matheval's verdicts with a file's own correctness labels."""
    agree, disagree = 0, []
    for r in results:
        theirs = labels.get(r.id)
        if theirs is None:
            continue
        for k, (mine, their) in enumerate(zip((v["correct"] for v in r.verdicts), theirs, strict=True)):
            if bool(mine) == their:
                agree += 1
            else:
                disagree.append({"id": r.id, "completion": k, "matheval": bool(mine), "label": their,
                                 "gold": r.gold, "pred": (r.extractions[k] or {}).get("answer")})
    return {"agree": agree, "total": agree + len(disagree), "disagreements": disagree}


def coverage(results: list[Result], benchmark_size: int | None) -> dict[str, Any] | None:
    """Top1 over the file's records and over the whole benchmark (missing problems count wrong)."""
    if not benchmark_size or len(results) >= benchmark_size:
        return None
    correct = sum(r.scores.get("top1", 0.0) for r in results)
    return {"records": len(results), "benchmark_size": benchmark_size, "correct": int(correct),
            "top1_over_records": correct / len(results), "top1_over_benchmark": correct / benchmark_size}


def write_run(
    label: str, fmt: str, source: Path, plans: list[TaskPlan], results: list[Result], output_dir: str,
    run_id: str | None, extra: dict[str, Any], grader_overrides: dict[str, Any], profile: str | None = None,
) -> tuple[Path, dict[str, Any]]:
    cfg = RunConfig(model=label, tasks=tuple(p.task.name for p in plans), backend="rescore", output_dir=output_dir,
                    run_id=run_id or _run_id(label), grader=grader_overrides, profile=profile)
    info = BackendInfo(name="rescore", model=label, settings={"format": fmt, "source": str(source)})
    run = RunDir.open(cfg, info, plans)
    for r in results:
        run.write(r)
    summary = aggregate(run.results(), plans, run)
    summary["rescore"] = {"format": fmt, "source": str(source), **extra}
    report(summary, run)
    return run.path, summary


def rescore_import(imp: Import, fmt: str, source: Path, *, extractor: str | None = None,
                   grader_overrides: dict[str, Any] | None = None, output_dir: str = "results",
                   run_id: str | None = None) -> Rescored:
    task = load_task(imp.task)
    overrides = dict(grader_overrides or {})
    style = PromptStyle(template="(imported)", extractor=extractor or imp.extractor)
    plan = make_plan(task, f"import:{fmt}", style, {**task.grader, **overrides})
    results = regrade(imp.results, plan)
    extra: dict[str, Any] = {"extractor": style.extractor}
    if imp.labels:
        extra["labels"] = label_agreement(results, imp.labels)
    cov = coverage(results, imp.benchmark_size)
    if cov:
        extra["coverage"] = cov
    path, summary = write_run(imp.label, fmt, source, [plan], results, output_dir, run_id, extra, overrides)
    return Rescored(imp.label, path, summary, results)


def _saved_style(task: Task, info: dict[str, Any], extractor: str | None) -> PromptStyle:
    # The task's current style when it still exists (a rescore after fixing a task's extractor
    # is the point), else the style as the run recorded it (imports, since-renamed styles).
    style = task.prompts.get(info["prompt_style"]) or PromptStyle(
        template=info["template"], form=info["form"], stop=tuple(info["stop"]),
        extractor=info["extractor"], mode=info["mode"],
    )
    return style.model_copy(update={"extractor": extractor}) if extractor else style


def rescore_run_dir(run_dir: Path, *, grader_overrides: dict[str, Any] | None = None, output_dir: str = "results",
                    run_id: str | None = None, only_task: str | None = None,
                    extractor: str | None = None) -> Rescored:
    """Re-grade a matheval run into one new run dir: each task with the style it was run with."""
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        raise UsageError(f"{run_dir}: no config.json (not a matheval run dir)")
    saved = json.loads(config_path.read_text(encoding="utf-8"))
    if only_task and only_task not in saved["tasks"]:
        raise UsageError(f"{run_dir}: the run has no task '{only_task}' (it has {', '.join(saved['tasks'])})")
    overrides = dict(grader_overrides or {})
    by_task: dict[str, list[Result]] = {}
    for r in read_results(str(run_dir / "samples.jsonl")):
        by_task.setdefault(r.task, []).append(r)
    plans, results = [], []
    for name, info in saved["tasks"].items():
        if only_task and name != only_task:
            continue
        task = load_task(name)
        style = _saved_style(task, info, extractor)
        plan = make_plan(task, info["prompt_style"], style, {**info.get("grader", task.grader), **overrides})
        plans.append(plan)
        results += regrade(by_task.get(name, []), plan)
    label = saved["config"]["model"]
    path, summary = write_run(label, "matheval", run_dir, plans, results, output_dir, run_id,
                              {"original_run": saved.get("run_id")}, overrides, profile=saved["config"].get("profile"))
    return Rescored(label, path, summary, results)


def _run_id(label: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", label)[:40]
    return f"{dt.datetime.now().strftime('%Y%m%d-%H%M%S-%f')}-rescore-{slug}"


def main(argv: list[str], parser_cls) -> int:
    p = parser_cls(prog="matheval rescore", description="Re-grade saved generations without a model.")
    p.add_argument("path", help="a matheval run dir / samples.jsonl, or another harness's output file")
    p.add_argument("--format", default="auto", choices=["auto", "matheval", *IMPORTERS],
                   help="input format (default: guessed from the first record)")
    p.add_argument("--task", help="task whose grader options apply (default: the format's benchmark)")
    p.add_argument("--extractor", help="override the extraction style used for imported responses")
    p.add_argument("--percent-compat", action="store_true",
                   help="ToRA/Qwen leniency: also accept gold x100 and gold /100 (off by default)")
    p.add_argument("--output-dir", default="results")
    p.add_argument("--run-id")
    args = p.parse_args(argv)
    path = Path(args.path)
    if not path.exists():
        raise UsageError(f"{path}: no such file or directory")
    fmt = sniff(path) if args.format == "auto" else args.format
    overrides = {"percent_compat": True} if args.percent_compat else {}
    if fmt == "matheval":
        run_dir = path if path.is_dir() else path.parent
        done = [rescore_run_dir(run_dir, grader_overrides=overrides, output_dir=args.output_dir,
                                run_id=args.run_id, only_task=args.task, extractor=args.extractor)]
    else:
        importer, default_task = IMPORTERS[fmt]
        task = args.task or default_task
        load_task(task)  # an unknown --task fails before the file is read
        imports = importer(path, task)
        done = [
            rescore_import(imp, fmt, path, extractor=args.extractor, grader_overrides=overrides,
                           output_dir=args.output_dir,
                           run_id=args.run_id and (args.run_id if len(imports) == 1 else f"{args.run_id}-{imp.label}"))
            for imp in imports
        ]
    for d in done:
        _print_extra(d)
    return 0


def _print_extra(d: Rescored) -> None:
    extra = d.summary.get("rescore", {})
    lab = extra.get("labels")
    if lab:
        print(f"{d.label}: agrees with the file's labels on {lab['agree']}/{lab['total']} completions")
    cov = extra.get("coverage")
    if cov:
        print(f"{d.label}: top1 {100 * cov['top1_over_records']:.2f} over the {cov['records']} records, "
              f"{100 * cov['top1_over_benchmark']:.2f} over all {cov['benchmark_size']} problems "
              f"(missing ones counted wrong)")

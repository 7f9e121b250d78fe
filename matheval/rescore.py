"""`matheval rescore PATH`: re-grade saved generations without a model.

PATH is a matheval run dir (or its samples.jsonl) or another harness's output file (importers in
`matheval.importers`). Either way the records go through the pipeline's own extract → grade →
score functions (`matheval.run`) and are written as a new run dir: samples.jsonl, summary.json,
leaderboard rows. Where the file carries per-sample labels, agreement with them is reported, and
where it holds fewer problems than the benchmark, accuracy over the full benchmark is shown too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matheval.config import RunRequest
from matheval.errors import UsageError
from matheval.importers import IMPORTERS, Import, sniff
from matheval.record import Result, read_results
from matheval.report import aggregate, report
from matheval.resolve import CONFIG_FORMAT, BackendConfig, GradingSpec, RunConfig, TaskConfig, load_run_config
from matheval.run import extract, grade
from matheval.rundir import RunDir
from matheval.tasks import PromptStyle, load_task


@dataclass(frozen=True)
class Rescored:
    label: str
    path: Path
    summary: dict[str, Any]
    results: list[Result]


def regrade(results: list[Result], tc: TaskConfig) -> list[Result]:
    """Drop whatever was decided before and run extract → grade → score again."""
    from tqdm import tqdm

    for r in tqdm(results, desc=f"grade {tc.name}", unit="sample", disable=len(results) < 50):
        r.extractions, r.verdicts, r.programs, r.vote, r.scores = [], [], [], None, {}
        grade(extract(r, tc.grading), tc.grading, tc.unscorable)
    return results


def with_overrides(spec: GradingSpec, grader: dict[str, Any], extractor: str | None) -> GradingSpec:
    try:
        options = spec.grader.replace(**grader) if grader else spec.grader
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    return dataclasses.replace(spec, grader=options, extractor=extractor or spec.extractor)


def label_agreement(results: list[Result], labels: dict[str, tuple[bool, ...]]) -> dict[str, Any]:
    """Per-completion agreement of matheval's verdicts with a file's own correctness labels."""
    agree, disagree = 0, []
    for r in results:
        theirs = labels.get(r.id)
        if theirs is None:
            continue
        for k, (mine, their) in enumerate(zip((v.correct for v in r.verdicts), theirs, strict=True)):
            if bool(mine) == their:
                agree += 1
            else:
                ext = r.extractions[k]
                disagree.append({"id": r.id, "completion": k, "matheval": bool(mine), "label": their,
                                 "gold": r.gold, "pred": ext.answer if ext is not None else None})
    return {"agree": agree, "total": agree + len(disagree), "disagreements": disagree}


def coverage(results: list[Result], benchmark_size: int | None) -> dict[str, Any] | None:
    """Top1 over the file's records and over the whole benchmark (missing problems count wrong)."""
    if not benchmark_size or len(results) >= benchmark_size:
        return None
    correct = sum(r.scores.get("top1", 0.0) for r in results)
    return {"records": len(results), "benchmark_size": benchmark_size, "correct": int(correct),
            "top1_over_records": correct / len(results), "top1_over_benchmark": correct / benchmark_size}


def write_run(cfg: RunConfig, results: list[Result], extra: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    run = RunDir.open(cfg)
    for r in results:
        run.write(r)
    run.close(complete=True)
    summary = aggregate(run.results(), cfg)
    summary["rescore"] = extra
    report(summary, run)
    return run.path, summary


def import_config(imp: Import, fmt: str, source: Path, spec: GradingSpec, output_dir: str, run_id: str | None,
                  grader_overrides: dict[str, Any]) -> RunConfig:
    """The config of a run made from another harness's file: no generation settings, its grading."""
    task = load_task(imp.task)
    tc = TaskConfig(
        name=task.name, version=task.version, style=f"import:{fmt}", template="(imported)", form="completion",
        system=None, stop=(), greedy=None, sampled=None, grading=spec, tool_rounds=None, result_expr=None,
        limit=None, data_file=task.data.file, data_sha256=task.data.sha256, prompt_sha256=f"import:{fmt}",
        unscorable={**task.lint.gold_issues, **task.lint.prose_golds},
    )
    backend = BackendConfig(name="rescore", model=imp.label, model_path=str(source), model_sha=f"import:{fmt}",
                            dtype="n/a", max_model_len=None, seed=0, engine_version=f"import:{fmt}")
    return RunConfig(request=RunRequest(model=imp.label, tasks=(task.name,), grader=grader_overrides),
                     run_id=run_id or _run_id(imp.label), output_dir=output_dir, data_dir="", backend=backend,
                     tasks=(tc,))


def rescore_import(imp: Import, fmt: str, source: Path, *, extractor: str | None = None,
                   grader_overrides: dict[str, Any] | None = None, output_dir: str = "results",
                   run_id: str | None = None) -> Rescored:
    task = load_task(imp.task)
    overrides = dict(grader_overrides or {})
    style = PromptStyle(template="(imported)", extractor=extractor or imp.extractor)
    spec = GradingSpec.for_task(task, style, overrides)
    cfg = import_config(imp, fmt, source, spec, output_dir, run_id, overrides)
    results = regrade(imp.results, cfg.tasks[0])
    extra: dict[str, Any] = {"format": fmt, "source": str(source), "extractor": spec.extractor}
    if imp.labels:
        extra["labels"] = label_agreement(results, imp.labels)
    cov = coverage(results, imp.benchmark_size)
    if cov:
        extra["coverage"] = cov
    path, summary = write_run(cfg, results, extra)
    return Rescored(imp.label, path, summary, results)


def rescore_run_dir(run_dir: Path, *, grader_overrides: dict[str, Any] | None = None, output_dir: str = "results",
                    run_id: str | None = None, only_task: str | None = None,
                    extractor: str | None = None) -> Rescored:
    """Re-grade a matheval run into one new run dir, each task with the grading its config recorded
    (and the overrides given); the generations are read back, never produced again."""
    saved = load_run_config(run_dir)
    names = [t.name for t in saved.tasks]
    if only_task and only_task not in names:
        raise UsageError(f"{run_dir}: the run has no task '{only_task}' (it has {', '.join(names)})")
    by_task: dict[str, list[Result]] = {}
    for r in read_results(str(run_dir / "samples.jsonl")):
        by_task.setdefault(r.task, []).append(r)
    tasks, results = [], []
    for tc in saved.tasks:
        if only_task and tc.name != only_task:
            continue
        tc = dataclasses.replace(tc, grading=with_overrides(tc.grading, dict(grader_overrides or {}), extractor))
        tasks.append(tc)
        results += regrade(by_task.get(tc.name, []), tc)
    cfg = dataclasses.replace(saved, run_id=run_id or _run_id(saved.model), output_dir=output_dir,
                              tasks=tuple(tasks), format=CONFIG_FORMAT)
    path, summary = write_run(cfg, results, {"format": "matheval", "source": str(run_dir),
                                             "original_run": saved.run_id})
    return Rescored(saved.model, path, summary, results)


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

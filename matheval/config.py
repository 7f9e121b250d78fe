"""What the user asked for: the run request (CLI flags as given) and the protocol profiles.

A `RunRequest` holds only what was given: every setting is None unless the user set it, so an
explicit `0`, `0.0` or `1` is never mistaken for "unset". `matheval.resolve` turns a request
into the one frozen, typed `RunConfig` that runs (defaults < task YAML < profile < CLI).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from matheval.errors import UsageError, did_you_mean
from matheval.paths import profiles_dir
from matheval.tasks import load_yaml_model


@dataclass(frozen=True)
class RunRequest:
    """The settings a user gave, unresolved. None everywhere means "not given"."""

    model: str | None = None
    tasks: tuple[str, ...] = ()
    profile: str | None = None
    limit: int | None = None
    prompt_style: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    n: int | None = None
    seed: int | None = None
    tool_rounds: int | None = None
    # Grader overrides applied to every task (e.g. {"percent_compat": True}).
    grader: dict[str, Any] = field(default_factory=dict)
    # Backend and engine.
    backend: str | None = None
    dtype: str | None = None
    max_model_len: int | None = None
    engine_args: dict[str, Any] = field(default_factory=dict)
    data_parallel: int | None = None
    ray_address: str | None = None
    base_urls: tuple[str, ...] = ()
    served_model_name: str | None = None
    tokenizer: str | None = None
    # Where things go.
    data_dir: str | None = None
    output_dir: str | None = None
    run_id: str | None = None
    # Threads grading beside generation (0: grade inline, in the engine's loop).
    grading_workers: int | None = None
    # Also log the summary and per-task metrics to an experiment tracker: "wandb" or "mlflow".
    tracker: str | None = None

    def given(self) -> dict[str, Any]:
        """The settings that were given (what `--resume` compares against the saved run)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value not in (None, (), {}):
                out[f.name] = value
        return out

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RunRequest:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(raw) - names
        if unknown:
            raise UsageError(f"unknown run settings: {', '.join(sorted(unknown))}")
        raw = dict(raw)
        for key in ("tasks", "base_urls"):
            if key in raw:
                raw[key] = tuple(raw[key])
        return cls(**raw)


TRACKERS = ("wandb", "mlflow")
_POSITIVE = ("max_tokens", "n", "limit", "data_parallel")
_NON_NEGATIVE = ("temperature", "seed", "tool_rounds", "grading_workers")


def check_request(req: RunRequest) -> None:
    """Values that can be judged without loading anything: one line each, exit 2."""
    if req.backend is None or req.backend == "vllm" or req.backend == "openai":
        if not req.model:
            raise UsageError("--model is required (e.g. --model smollm2-135m-instruct)")
    for name in _POSITIVE:
        value = getattr(req, name)
        if value is not None and value < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    for name in _NON_NEGATIVE:
        value = getattr(req, name)
        if value is not None and value < 0:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 0, got {value}")
    if req.top_p is not None and not 0 < req.top_p <= 1:
        raise UsageError(f"--top-p must be in (0, 1], got {req.top_p}")
    if req.max_model_len is not None and req.max_model_len < 16:
        raise UsageError(f"--max-model-len must be >= 16, got {req.max_model_len}")
    if req.output_dir is not None:
        check_writable(req.output_dir)
    if req.tracker is not None:
        import importlib.util

        if req.tracker not in TRACKERS:
            raise UsageError(f"--tracker {req.tracker}: one of {', '.join(TRACKERS)}")
        if importlib.util.find_spec(req.tracker) is None:
            raise UsageError(f"--tracker {req.tracker} needs the package: pip install {req.tracker}")
        if req.tracker == "wandb" and not _wandb_can_log():
            raise UsageError("--tracker wandb: no W&B login (set WANDB_API_KEY, run `wandb login`, or "
                             "WANDB_MODE=offline to log to local files)")


def _wandb_can_log() -> bool:
    """Offline/disabled modes need no account; online needs a key (env or the netrc `wandb login` writes)."""
    import netrc
    import os

    if os.environ.get("WANDB_MODE", "").lower() in ("offline", "disabled", "dryrun") or os.environ.get("WANDB_API_KEY"):
        return True
    host = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai").split("//")[-1].split("/")[0]
    try:
        return netrc.netrc().authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def check_writable(path: str) -> None:
    """The nearest existing folder of `path` must take a new entry (tried, then removed)."""
    import tempfile
    from pathlib import Path

    p = Path(path).expanduser().absolute()
    base = next((q for q in (p, *p.parents) if q.exists()), None)
    if base is None or not base.is_dir():
        raise UsageError(f"--output-dir {path}: {base} is not a directory")
    try:
        tempfile.TemporaryDirectory(dir=base).cleanup()
    except OSError as exc:
        raise UsageError(f"--output-dir {path}: cannot write under {base} ({exc.strerror})") from None


class Profile(BaseModel):
    """A published evaluation protocol: suite, prompt styles, generation and grading settings.

    `n`, `temperature` and `top_p` describe the sampled completions; the greedy top1 completion is
    always greedy and is drawn unless `greedy: false` (reasoning models are evaluated on samples).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str
    source: str
    # Prompt style per task; "*" is the fallback for tasks not listed.
    styles: dict[str, str]
    tasks: tuple[str, ...] = ()
    max_tokens: int | None = Field(default=None, ge=1)
    greedy: bool = True
    # Sampled completions per problem: one number, or per task with "*" as the fallback.
    n: int | dict[str, int] | None = None
    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, gt=0, le=1)
    seed: int | None = None
    limit: int | None = Field(default=None, ge=1)
    tool_rounds: int | None = Field(default=None, ge=0)
    max_model_len: int | None = Field(default=None, ge=16)
    # Grader options the protocol implies (e.g. ToRA's percent leniency).
    grader: dict[str, Any] = {}
    # What the protocol fixes beyond the fields above, and what could not be verified.
    notes: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Profile:
        ns = self.n.values() if isinstance(self.n, dict) else [self.n]
        if any(v is not None and v < 1 for v in ns):
            raise ValueError("n must be >= 1")
        if not self.greedy and self.n is None:
            raise ValueError("greedy: false needs n (the samples the protocol is scored on)")
        return self

    def style_for(self, task: str) -> str | None:
        return self.styles.get(task, self.styles.get("*"))

    def n_for(self, task: str) -> int | None:
        if isinstance(self.n, dict):
            return self.n.get(task, self.n.get("*"))
        return self.n


def profile_names() -> list[str]:
    return sorted(p.stem for p in profiles_dir().glob("*.yaml"))


def load_profile(name: str) -> Profile:
    path = profiles_dir() / f"{name}.yaml"
    if not path.is_file():
        raise UsageError(f"unknown profile '{name}'{did_you_mean(name, profile_names())}")
    return load_yaml_model(path, Profile, "profile", name)

"""One frozen run configuration: CLI → RunConfig → evaluate(config).

Precedence per task: built-in defaults < task YAML < protocol profile < CLI flags. The resolved
values (per task: style, stop words, max tokens, sampling) are saved beside the results.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from matheval.errors import UsageError, did_you_mean
from matheval.paths import default_data_dir, profiles_dir
from matheval.tasks import load_yaml_model


@dataclass(frozen=True)
class RunConfig:
    model: str
    tasks: tuple[str, ...]
    limit: int | None = None
    backend: str = "vllm"
    prompt_style: str | None = None
    profile: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    n: int = 1
    seed: int = 0
    data_dir: str = field(default_factory=lambda: str(default_data_dir()))
    output_dir: str = "results"
    run_id: str | None = None
    resume: str | None = None
    dtype: str = "auto"
    max_model_len: int = 4096
    tool_rounds: int | None = None
    base_url: str | None = None  # openai backend: the server's /v1 URL
    # Grader overrides applied to every task (e.g. {"percent_compat": True} for ToRA compat).
    grader: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RunConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(raw) - names
        if unknown:
            raise UsageError(f"unknown config keys: {', '.join(sorted(unknown))}")
        raw = dict(raw)
        raw["tasks"] = tuple(raw["tasks"])
        return cls(**raw)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)


class Profile(BaseModel):
    """A published evaluation protocol: which prompt style and generation settings it fixes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str
    source: str
    # Prompt style per task; "*" is the fallback for tasks not listed.
    styles: dict[str, str]
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    n: int | None = None
    tasks: tuple[str, ...] = ()
    # Grader options the protocol implies (e.g. ToRA's percent leniency).
    grader: dict[str, Any] = {}
    # What the protocol fixes beyond the fields above, and what could not be verified.
    notes: str | None = None

    def style_for(self, task: str) -> str | None:
        return self.styles.get(task, self.styles.get("*"))


def profile_names() -> list[str]:
    return sorted(p.stem for p in profiles_dir().glob("*.yaml"))


def load_profile(name: str) -> Profile:
    path = profiles_dir() / f"{name}.yaml"
    if not path.is_file():
        raise UsageError(f"unknown profile '{name}'{did_you_mean(name, profile_names())}")
    return load_yaml_model(path, Profile, "profile", name)

"""The regression gate's policy: which cells gate, at what family-wise level, with what minimum drop.

A small strict YAML (unknown keys are errors), e.g.

    alpha: 0.05                 # family-wise false-alarm rate over the gating cells
    metrics: [top1, pass@1]     # cells tested per task (default: every metric both sides have)
    min_drop: 0                 # points: a significant drop smaller than this passes
    tasks:
      mawps: {min_drop: 3}
      svamp: {critical: false}  # informational: tested and shown, never fails the check
    max_changed: 4              # problems whose gated scores may change, in either direction

A cell fails only when its drop is significant (see `matheval.check`) AND at least `min_drop`
points AND its task is critical. `max_changed` is for runs whose decoding is reproducible (fp32 on
CPU: a clean rerun changes nothing): more changed problems than that fails a critical task even when
the changes cancel in the mean, as an extraction bug that loses as many answers as it finds does.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from matheval.errors import UsageError
from matheval.tasks import load_yaml_model


class TaskPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    critical: bool = True
    min_drop: float | None = Field(default=None, ge=0, le=100)
    metrics: tuple[str, ...] | None = None
    max_changed: int | None = Field(default=None, ge=0)


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "default"
    description: str | None = None
    alpha: float = Field(default=0.05, gt=0, lt=1)
    metrics: tuple[str, ...] | None = None
    min_drop: float = Field(default=0.0, ge=0, le=100)
    max_changed: int | None = Field(default=None, ge=0)
    tasks: dict[str, TaskPolicy] = {}

    def for_task(self, task: str) -> TaskPolicy:
        own = self.tasks.get(task, TaskPolicy())
        return TaskPolicy(
            critical=own.critical,
            min_drop=self.min_drop if own.min_drop is None else own.min_drop,
            metrics=own.metrics if own.metrics is not None else self.metrics,
            max_changed=self.max_changed if own.max_changed is None else own.max_changed,
        )


def load_policy(path: str | Path | None) -> Policy:
    if path is None:
        return Policy()
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"policy file {p} not found")
    return load_yaml_model(p, Policy, "policy", p.stem)

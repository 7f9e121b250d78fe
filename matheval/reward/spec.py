"""What a reward grades with: extraction style + grader options, from a matheval task or a data source.

`spec_for(name)` maps a task name or a verl / Hugging Face data-source name ("openai/gsm8k",
"lighteval/MATH", …) onto a matheval task and takes that task's `grader:` and `extract:` options and
the extractor of its zero-shot chat style, exactly what an evaluation of that task uses. An unknown
name gets `DEFAULT`, which grades like `matheval.verify(gold, response)`.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from matheval import hooks
from matheval.errors import UsageError
from matheval.grading import STYLES, GraderOptions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RewardSpec:
    """How to grade one response: the pipeline's `grade(gold, text, style=…, options=…, **extract)`.

    style None means `verify`'s rule: "auto" extraction, and a short response that is itself a bare
    answer ("1/2", "(3, 4)") is compared whole before falling back to its last number.
    `format_style` is the extraction style whose success counts as "the answer was given in the
    expected form" for a format reward (default: a `\\boxed{}`).
    """

    task: str | None = None
    style: str | None = None
    options: GraderOptions = field(default_factory=GraderOptions)
    extract: tuple[tuple[str, Any], ...] = ()  # options of the extraction style
    format_style: str = "boxed"

    def __post_init__(self) -> None:
        for name in (self.style, self.format_style):
            if name is not None and name not in STYLES:
                raise UsageError(f"unknown extraction style '{name}'; known: {', '.join(STYLES)}")

    def to_wire(self) -> dict[str, Any]:
        """Plain JSON for the worker processes."""
        return {
            "task": self.task,
            "style": self.style,
            "options": dataclasses.asdict(self.options),
            "extract": dict(self.extract),
            "format_style": self.format_style,
        }

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> RewardSpec:
        return cls(
            task=d["task"],
            style=d["style"],
            options=GraderOptions.from_dict(d["options"]),
            extract=tuple(sorted(d["extract"].items())),
            format_style=d["format_style"],
        )


DEFAULT = RewardSpec()

# verl's and Hugging Face's usual names for the datasets matheval has tasks for. Names not listed
# here still resolve when they (or their part after the last "/") are a matheval task name.
ALIASES: dict[str, str] = {
    "openai/gsm8k": "gsm8k",
    "gsm8k": "gsm8k",
    "lighteval/math": "math",
    "digitallearninggmbh/math-lighteval": "math",
    "hendrycks/competition_math": "math",
    "eleutherai/hendrycks_math": "math",
    "math": "math",
    "math_dapo": "math",  # verl routes it to its MATH scorer; DAPO-Math golds are integers
    "huggingfaceh4/math-500": "math500",
    "math-500": "math500",
    "cais/mmlu": "mmlu_stem",
}


def task_for_source(source: str) -> str | None:
    """The matheval task a data-source name stands for, or None when it names none."""
    from matheval.tasks import task_names

    name = str(source).strip().lower()
    if name in ALIASES:
        return ALIASES[name]
    names = set(task_names())
    for candidate in (name, name.rsplit("/", 1)[-1]):
        if candidate in names:
            return candidate
        if candidate.replace("-", "_") in names:
            return candidate.replace("-", "_")
    if name.rsplit("/", 1)[-1].startswith("aime"):
        return "aime24"  # verl: data_source.startswith("aime"); AIME answers are integers 0-999
    return None


@cache
def spec_for(source: str | None, prompt_style: str | None = None) -> RewardSpec:
    """The spec of a matheval task or data source; DEFAULT (verify's rule) for None or an unknown name.

    prompt_style picks whose extractor is used; by default the task's "chat" style (RL policies
    are prompted zero-shot), else its default style.
    """
    if source is None:
        return DEFAULT
    task_name = task_for_source(source)
    if task_name is None:
        log.warning("matheval.reward: data source %r is not a matheval task; grading like verify()", source)
        return DEFAULT
    from matheval.resolve import GradingSpec
    from matheval.tasks import load_task

    task = load_task(task_name)
    if prompt_style is None:
        prompt_style = "chat" if "chat" in task.prompts else (task.default_style or next(iter(task.prompts)))
    grading = GradingSpec.for_task(task, task.style(prompt_style))  # what an evaluation run resolves
    return from_grading(task_name, grading)


def from_grading(task: str | None, grading: Any) -> RewardSpec:
    """The reward spec of a pipeline `matheval.resolve.GradingSpec` (its extractor, extract and grader)."""
    extract = tuple(sorted((k, v) for k, v in grading.extract.items()))
    return RewardSpec(task=task, style=grading.extractor, options=grading.grader, extract=extract)


_HASHES = re.compile(r"####\s*\S")


def prepare_gold(raw: Any) -> str | None:
    """The gold answer to grade against, from what a dataset column holds; None when empty.

    A full solution is reduced the way matheval's task loading does it: a MATH-style solution to
    its last `\\boxed{}` (hook math_boxed), a GSM8K answer to the number after "####" (hook
    gsm8k). A bare answer is kept as it is; a number is written as a number.
    """
    if raw is None or isinstance(raw, bool):
        return None
    if isinstance(raw, float):
        return _prepare_text(str(int(raw)) if raw.is_integer() else repr(raw))
    if isinstance(raw, (list, tuple)):
        return _prepare_text(", ".join(str(g) for g in raw))
    return _prepare_text(str(raw))


@lru_cache(maxsize=4096)
def _prepare_text(text: str) -> str | None:
    # A gold repeats once per generation of its prompt: solutions are reduced once.
    text = text.strip()
    if not text:
        return None
    if "\\boxed" in text or "\\fbox" in text:
        text = hooks.math_boxed({"solution": text})["gold"]
    elif _HASHES.search(text):
        text = hooks.gsm8k({"answer": text})["gold"]
    return text or None

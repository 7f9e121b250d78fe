"""Task definitions: one strict YAML file per task in tasks/, validated here.

Pydantic only at this boundary: unknown keys and wrong types are errors that name the file.
A task says where its data comes from (pinned upstream file + sha256, optional hub dataset),
how raw records map onto a Sample, and, per prompt style, which template, exemplars, stop
words and extractor to use.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from matheval.errors import UsageError, did_you_mean
from matheval.paths import tasks_dir

_M = TypeVar("_M", bound=BaseModel)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    """Upstream provenance of a file, as in the data dir's MANIFEST.md."""

    repo: str
    commit: str
    path: str
    # Where `matheval data pull` downloads it from; None: derived from repo/commit/path as a raw
    # file URL under the pull base (GitHub raw content by default).
    url: str | None = None


class HubDataset(_Strict):
    """The Hugging Face hub dataset with the same fields, used when no data dir has the file."""

    path: str
    name: str | None = None
    split: str = "test"
    revision: str | None = None


class DataFile(_Strict):
    file: str  # relative to the data dir, e.g. "gsm8k/test.jsonl"
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    source: Source
    format: Literal["jsonl", "json", "tsv"] = "jsonl"
    hub: HubDataset | None = None
    # Said out loud where a copy differs from what people usually call the benchmark.
    note: str | None = None
    # Set when the file is not a byte-exact copy of one upstream file (joined per-problem files,
    # a dict turned into JSONL): says how it was made. `matheval data pull` refuses such files
    # with this text instead of pretending the upstream bytes hash to the pinned sha256.
    conversion: str | None = None


class FieldMap(_Strict):
    """Which raw dataset field becomes which Sample attribute (a hook may derive them instead)."""

    problem: str
    gold: str
    id: str | None = None  # None: the 0-based row index
    solution: str | None = None


class PromptStyle(_Strict):
    template: str  # file name in prompts/
    # "completion": the rendered template is the whole prompt (base models);
    # "chat": it is the user turn, sent through the tokenizer's chat template.
    form: Literal["completion", "chat"] = "completion"
    exemplars: DataFile | None = None
    stop: tuple[str, ...] = ()
    extractor: str = "auto"
    # Options of the extraction style for this prompt style, over the task's `extract:` block
    # (e.g. a published protocol's last-number fallback on truncated responses).
    extract: dict[str, Any] = Field(default_factory=dict)
    # "cot": the text is the answer; "pot": a program whose result is the answer;
    # "tool": tool-integrated rounds of reasoning + executed code.
    mode: Literal["cot", "pot", "tool"] = "cot"
    max_tokens: int | None = None
    # A system turn for chat forms (None: whatever the tokenizer's chat template does by default).
    system: str | None = None
    # Our own worked solutions (e.g. programs) for the data-dir exemplars: a JSON file in prompts/
    # keyed by exemplar index; the template sees them as `solutions`, aligned with `exemplars`.
    solutions: str | None = None
    # "pot" mode: the expression whose value, evaluated after the program ran, is the answer.
    result_expr: str | None = None

    @model_validator(mode="after")
    def _pot_needs_result(self) -> PromptStyle:
        if self.mode == "pot" and not self.result_expr:
            raise ValueError("a 'pot' style needs result_expr (e.g. 'solution()' or 'answer')")
        if self.solutions and not self.exemplars:
            raise ValueError("'solutions' are zipped with 'exemplars'; give both")
        return self


class Lint(_Strict):
    """What the task lint test checks beyond "every gold parses", and the documented exceptions.

    A reference solution's final answer is extracted with `solution_extractor` and must be graded
    correct against the gold; a task whose dataset has a solution field that cannot be checked
    that way says why in `no_solution_check`. Exceptions are listed by sample id with a reason,
    never skipped silently: an id listed here that no longer fails is a lint error too. Problems in
    `gold_issues` and `prose_golds` are reported apart by a run, never scored as wrong.
    """

    solution_extractor: str | None = None
    no_solution_check: str | None = None
    # id -> why this gold does not parse with the grader.
    gold_issues: dict[str, str] = Field(default_factory=dict)
    # id -> why this gold, though it reads, can only be compared as normalised text (a property or a
    # case split in words: "all powers of 2"), so a right answer in other words would score wrong.
    prose_golds: dict[str, str] = Field(default_factory=dict)
    # id -> why the reference solution's own final answer is not graded equal to the gold.
    solution_issues: dict[str, str] = Field(default_factory=dict)


class Generation(_Strict):
    max_tokens: int = 1024
    temperature: float = 0.0
    top_p: float = 1.0


class Task(_Strict):
    name: str
    version: int
    description: str
    answer_type: Literal[
        "number", "integer", "expression", "choice", "multi_blank", "text", "mixed"
    ] = "mixed"
    data: DataFile
    fields: FieldMap
    # Name of a record hook in matheval.hooks for dataset quirks (never `if task == ...` in core).
    hook: str | None = None
    # Raw fields that are the dataset's own categories (subject, level, ...): reports break results down by them.
    categories: tuple[str, ...] = ()
    prompts: dict[str, PromptStyle]
    default_style: str | None = None
    grader: dict[str, Any] = Field(default_factory=dict)
    extract: dict[str, Any] = Field(default_factory=dict)
    generation: Generation = Generation()
    lint: Lint = Lint()
    notes: str | None = None

    def style(self, name: str) -> PromptStyle:
        if name not in self.prompts:
            raise UsageError(
                f"task '{self.name}' has no prompt style '{name}'{did_you_mean(name, list(self.prompts))}; "
                f"it has: {', '.join(self.prompts)}"
            )
        return self.prompts[name]


def task_names() -> list[str]:
    return sorted(p.stem for p in tasks_dir().glob("*.yaml"))


@cache
def load_task(name: str) -> Task:
    path = tasks_dir() / f"{name}.yaml"
    if not path.is_file():
        raise UsageError(f"unknown task '{name}'{did_you_mean(name, task_names())}; see `matheval --list-tasks`")
    return parse_task_file(path)


def load_yaml_model(path: Path, model: type[_M], kind: str, name: str) -> _M:
    """Read a strict YAML file (task or profile) into its pydantic model; any problem is one line."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: invalid YAML: {exc}".replace("\n", " ")) from exc
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: a {kind} file must be a mapping")
    raw.setdefault("name", name)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise UsageError(f"{path}: {loc}: {first['msg']}") from exc


def parse_task_file(path: Path) -> Task:
    task = load_yaml_model(path, Task, "task", path.stem)
    if task.name != path.stem:
        raise UsageError(f"{path}: name '{task.name}' must equal the file stem '{path.stem}'")
    return task

"""Render prompts: a task's jinja2 template + its few-shot exemplars (data) + the chat template.

Templates live in prompts/ as files (never strings in YAML). A template sees `problem`, `sample`
(every raw dataset field), `exemplars` (the list read from the data dir) and `solutions` (our own
worked solutions for those exemplars, e.g. programs, when the style names a file). For the "chat" form
the rendered text is the user turn and the tokenizer's own chat template makes the final string,
so what is logged is exactly what the model saw.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from matheval.data import load_exemplars
from matheval.errors import UsageError
from matheval.paths import prompts_dir
from matheval.record import Sample
from matheval.tasks import PromptStyle, Task


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(prompts_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,
    )


def template(name: str) -> jinja2.Template:
    try:
        return _env().get_template(name)
    except jinja2.TemplateNotFound:
        raise UsageError(f"prompt template '{name}' not found in {prompts_dir()}") from None
    except jinja2.TemplateSyntaxError as exc:
        raise UsageError(f"prompt template '{name}': line {exc.lineno}: {exc.message}") from None


def has_chat_template(tokenizer: Any) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def default_style(task: Task, tokenizer: Any) -> str:
    """`chat` when the model's tokenizer has a chat template, else the task's base-model style."""
    if has_chat_template(tokenizer) and "chat" in task.prompts:
        return "chat"
    if task.default_style:
        return task.default_style
    return "fewshot" if "fewshot" in task.prompts else next(iter(task.prompts))


def load_solutions(name: str, n_exemplars: int) -> list[str]:
    """Our own solutions for the data-dir exemplars, one per exemplar index (prompts/exemplars/*.json).

    The questions stay in the pinned data file; only what we wrote lives in the repo, keyed by index,
    so a missing or extra solution is an error rather than a silently shifted prompt."""
    path = prompts_dir() / name
    if not path.is_file():
        raise UsageError(f"exemplar solutions '{name}' not found in {prompts_dir()}")
    table = json.loads(path.read_text(encoding="utf-8"))["solutions"]
    if set(table) != {str(i) for i in range(n_exemplars)}:
        keys = ", ".join(table)
        raise UsageError(f"{path}: needs one solution per exemplar index 0..{n_exemplars - 1}; has {keys}")
    return [table[str(i)].rstrip("\n") for i in range(n_exemplars)]


class Renderer:
    """Renders every sample of one task × style; exemplars are read once."""

    def __init__(self, task: Task, style_name: str, style: PromptStyle, data_dir: Path, tokenizer: Any):
        self.task, self.style_name, self.style = task, style_name, style
        self.tmpl = template(style.template)
        self.exemplars = load_exemplars(style.exemplars, data_dir) if style.exemplars else []
        self.solutions = load_solutions(style.solutions, len(self.exemplars)) if style.solutions else []
        self.tokenizer = tokenizer
        if style.form == "chat" and not has_chat_template(tokenizer):
            raise UsageError(
                f"prompt style '{style_name}' of task '{task.name}' needs a chat template, "
                f"and this model's tokenizer has none; use --prompt-style with a completion style"
            )

    def user_text(self, sample: Sample) -> str:
        return self.tmpl.render(
            problem=sample.problem, sample=dict(sample.fields), exemplars=self.exemplars,
            solutions=self.solutions,
        )

    def __call__(self, sample: Sample) -> str:
        text = self.user_text(sample)
        if self.style.form == "completion":
            return text
        messages = []
        if self.style.system is not None:
            messages.append({"role": "system", "content": self.style.system})
        messages.append({"role": "user", "content": text})
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

"""Generation modes: how a completion is produced and how its answer is read off it.

"cot": one generation, the answer is extracted from the text. Program-aided ("pot") and
tool-integrated ("tool") modes run model-written code while generating (matheval.tools). A dict
from name to a pair of functions. Extraction is pure in every mode: it reads the completion's text
and its recorded rounds, and never runs model code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from matheval import grading, tools
from matheval.backends import generate_grouped
from matheval.grading import Extraction
from matheval.record import Completion, ProgramAnswer
from matheval.resolve import GradingSpec

Extracted = tuple[Extraction | None, ProgramAnswer | None]


@dataclass(frozen=True)
class Mode:
    # generate(backend, prompts, params_per_prompt, on_done(j, completions), task, seeds)
    generate: Callable[..., None]
    # extract(completion, spec) -> (the answer in the text, what executed code answered)
    extract: Callable[[Completion, GradingSpec], Extracted]


def extract_text(completion: Completion, spec: GradingSpec) -> Extraction | None:
    """The answer in a completion's text, by the spec's extraction style and options."""
    return grading.extract_answer(completion.text, spec.extractor, truncated=completion.truncated, **spec.extract)


def cot_generate(backend, prompts, params, on_done, task, seeds=None) -> None:
    generate_grouped(backend, prompts, params, on_done, seeds)


def cot_extract(completion: Completion, spec: GradingSpec) -> Extracted:
    return extract_text(completion, spec), None


def tool_extract(completion: Completion, spec: GradingSpec) -> Extracted:
    """The boxed answer (accuracy) and the last executed block's output (program accuracy)."""
    return extract_text(completion, spec), tools.program_output_answer(completion)


MODES: dict[str, Mode] = {
    "cot": Mode(generate=cot_generate, extract=cot_extract),
    "pot": Mode(generate=tools.pot_generate, extract=lambda c, spec: tools.pot_answer(c)),
    "tool": Mode(generate=tools.tool_generate, extract=tool_extract),
}

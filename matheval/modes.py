"""Generation modes: how a completion is produced and how its answer is extracted.

"cot": one generation, answer extracted from the text. Program-aided ("pot") and tool-integrated
("tool") modes register here too (see matheval.tools). A dict from name to a pair of functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from matheval import grading
from matheval.backends import GenParams
from matheval.record import Completion


@dataclass(frozen=True)
class Mode:
    # generate(backend, prompts, params_per_prompt, on_done(j, completions), plan)
    generate: Callable[..., None]
    # extract(completion, plan) -> Extraction dict or None
    extract: Callable[[Completion, Any], dict[str, Any] | None]


def batched_generate(backend, prompts: Sequence[str], params: Sequence[GenParams], on_done, plan) -> None:
    """Group requests by sampling parameters: one backend call per distinct parameter set."""
    groups: dict[GenParams, list[int]] = {}
    for j, prm in enumerate(params):
        groups.setdefault(prm, []).append(j)
    for prm, idx in groups.items():
        backend.generate([prompts[j] for j in idx], prm, lambda i, comps, idx=idx: on_done(idx[i], comps))


def cot_extract(completion: Completion, plan) -> dict[str, Any] | None:
    ext = grading.extract_answer(completion.text, style=plan.style.extractor, **plan.task.extract)
    return None if ext is None else ext.to_dict()


from matheval import tools  # noqa: E402 - tools imports batched_generate from here lazily

MODES: dict[str, Mode] = {
    "cot": Mode(generate=batched_generate, extract=cot_extract),
    "pot": Mode(generate=tools.pot_generate, extract=tools.pot_extract),
    "tool": Mode(generate=tools.tool_generate, extract=tools.tool_extract),
}

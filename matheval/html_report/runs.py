"""Find the run dirs a report covers and read each one: config, summary, results, page samples.

Records are streamed line by line and encoded for the page as they are read; the in-memory
results then keep only what summaries need, so a MATH x 64 run fits in memory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matheval.errors import UsageError
from matheval.html_report.samples import encode, lighten, strip_prefixes
from matheval.record import Result, iter_results
from matheval.report import aggregate
from matheval.resolve import RunConfig, load_run_config
from matheval.rundir import PENDING, SAMPLES


@dataclass(frozen=True)
class RunData:
    path: Path
    config: RunConfig
    summary: dict[str, Any]
    results: list[Result]  # graded records without texts (for breakdowns)
    samples: list[dict[str, Any]]  # the page's compact records (heads: what the sample list shows)
    details: list[dict[str, Any] | None]  # aligned with samples: every completion, where there are several
    prefixes: dict[str, str]  # per task, the prompt prefix all samples share
    complete: bool  # no pending journal left: the run finished

    @property
    def run_id(self) -> str:
        return self.config.run_id


def find_runs(paths: list[str | Path]) -> list[Path]:
    """Run dirs named directly, and the run dirs inside results dirs (sorted by name: date first)."""
    if not paths:
        raise UsageError("give at least one results dir or run dir")
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if not p.is_dir():
            raise UsageError(f"{p}: {'not a directory' if p.exists() else 'no such directory'} "
                             "(give a run dir or a results dir)")
        if (p / "config.json").is_file():
            if not (p / SAMPLES).is_file():
                raise UsageError(f"{p}: no {SAMPLES} (the run wrote no sample yet)")
            found = [p]
        else:
            found = sorted(d for d in p.iterdir() if (d / "config.json").is_file() and (d / SAMPLES).is_file())
            if not found:
                raise UsageError(f"{p}: neither a run dir (no config.json) nor a results dir holding run dirs")
        seen = {o.resolve() for o in out}
        out += [d for d in found if d.resolve() not in seen]
    return out


def load_run(path: Path, *, sample_texts: int, summary: dict[str, Any] | None = None) -> RunData:
    """One run dir, read once. `summary` (the run's own, at the end of a run) saves re-reading it;
    otherwise summary.json, or the same `aggregate` over the samples when the run never wrote one."""
    cfg = load_run_config(path)
    results, samples, details = [], [], []
    for r in iter_results(path / SAMPLES):
        head, detail = encode(r, sample_texts)
        samples.append(head)
        details.append(detail)
        results.append(lighten(r))
    prefixes = strip_prefixes(samples)
    if summary is None:
        sfile = path / "summary.json"
        summary = json.loads(sfile.read_text(encoding="utf-8")) if sfile.is_file() else aggregate(results, cfg)
    return RunData(path, cfg, summary, results, samples, details, prefixes, complete=not (path / PENDING).exists())


def labels(runs: list[RunData]) -> list[str]:
    """Row names: the model, plus the run id where two runs share a model."""
    models = [r.config.model for r in runs]
    return [m if models.count(m) == 1 else f"{m} · {r.run_id}" for m, r in zip(models, runs, strict=True)]

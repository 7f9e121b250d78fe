"""Per-problem scores of a run or a baseline, with the fingerprints that say what they measured.

A source is a run directory (samples.jsonl + config.json), a samples.jsonl, or a baseline file:
a header line `{"matheval_baseline": 1, "fingerprints": {task: {...}}, ...}` followed by one
`{"task", "id", "scores"}` line per problem (what `write_baseline` produces and CI commits).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from matheval.errors import UsageError

BASELINE_FORMAT = 1
COLUMNS = ["task", "id", "metric", "value"]


@dataclass(frozen=True)
class Scored:
    source: str
    scores: pd.DataFrame  # long: task, id, metric, value
    # Per task, the run's fingerprint (config.json `tasks.<task>.fingerprint`); a task that
    # records none is absent, so an old run or a bare scores file has {}.
    fingerprints: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def tasks(self) -> list[str]:
        return sorted(set(self.scores["task"]))

    def only(self, tasks: list[str]) -> Scored:
        keep = self.scores[self.scores["task"].isin(tasks)]
        fps = {t: fp for t, fp in self.fingerprints.items() if t in tasks}
        return Scored(self.source, keep.reset_index(drop=True), fps)


def _samples_path(path: str | Path) -> Path:
    p = Path(path)
    if p.is_dir():
        p = p / "samples.jsonl"
    if not p.is_file():
        raise UsageError(f"no samples file at {p} (give a run directory or a .jsonl file)")
    return p


def load(path: str | Path) -> Scored:
    """Scores and fingerprints from a run dir, a samples.jsonl or a baseline file."""
    p = _samples_path(path)
    header, records = _read_lines(p)
    rows: list[tuple[str, str, str, float]] = []
    seen: set[tuple[str, str]] = set()
    for lineno, rec in records:
        if "task" not in rec or "id" not in rec:
            raise UsageError(f"{p}:{lineno}: not a scores line (needs 'task' and 'id'); "
                             "give a run dir, its samples.jsonl or a baseline written by `check --update`")
        key = (str(rec["task"]), str(rec["id"]))
        if key in seen:
            raise UsageError(f"{p}: problem {key[0]}/{key[1]} appears twice")
        seen.add(key)
        scores = rec.get("scores") or {}
        if not isinstance(scores, dict):
            raise UsageError(f"{p}:{lineno}: 'scores' must be an object of metric: value")
        for metric, value in scores.items():
            try:
                rows.append((key[0], key[1], str(metric), float(value)))
            except (TypeError, ValueError):
                raise UsageError(f"{p}:{lineno}: score {metric}={value!r} is not a number") from None
    if not rows:
        raise UsageError(f"{p}: no per-problem scores found")
    if header is not None:
        fingerprints = header.get("fingerprints") or {}
        if not isinstance(fingerprints, dict):
            raise UsageError(f"{p}: the baseline header's 'fingerprints' must be an object")
    else:
        fingerprints = _config_fingerprints(p.parent / "config.json")
    return Scored(str(path), pd.DataFrame(rows, columns=COLUMNS), fingerprints)


def _read_lines(p: Path) -> tuple[dict[str, Any] | None, list[tuple[int, dict[str, Any]]]]:
    lines = p.read_text(encoding="utf-8").splitlines()
    header, records = None, []
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            if i == last:
                continue  # a torn last line from a crash mid-write, as in record.read_results
            raise UsageError(f"{p}:{i + 1}: not a JSON line") from None
        if not isinstance(rec, dict):
            raise UsageError(f"{p}:{i + 1}: not a JSON object")
        if "matheval_baseline" in rec:
            if header is not None or records:
                raise UsageError(f"{p}:{i + 1}: a baseline header must be the first line")
            if rec["matheval_baseline"] != BASELINE_FORMAT:
                raise UsageError(f"{p}: baseline format {rec['matheval_baseline']!r} is not "
                                 f"{BASELINE_FORMAT}; refresh it with `matheval check --update`")
            header = rec
            continue
        records.append((i + 1, rec))
    return header, records


def _config_fingerprints(config_path: Path) -> dict[str, dict[str, Any]]:
    if not config_path.is_file():
        return {}
    try:
        cfg = json.loads(config_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        raise UsageError(f"{config_path}: not valid JSON") from None
    tasks = cfg.get("tasks") if isinstance(cfg, dict) else None
    if not isinstance(tasks, dict):
        return {}
    return {name: dict(info["fingerprint"]) for name, info in tasks.items()
            if isinstance(info, dict) and isinstance(info.get("fingerprint"), dict)}


def metric_order(metric: str) -> tuple[int, int, str]:
    """top1 first, then maj@k and pass@k by k, then anything else by name."""
    if metric == "top1":
        return (0, 0, "")
    m = re.fullmatch(r"(maj|pass)@(\d+)", metric)
    if m:
        return (1 if m.group(1) == "maj" else 2, int(m.group(2)), "")
    return (3, 0, metric)


def write_scores(scores: pd.DataFrame, path: str | Path, header: dict[str, Any] | None = None) -> None:
    """One {"task", "id", "scores"} line per problem, sorted for readable diffs."""
    with open(path, "w", encoding="utf-8") as fh:
        if header is not None:
            fh.write(json.dumps(header, sort_keys=True) + "\n")
        for (task, pid), grp in scores.sort_values(["task", "id"]).groupby(["task", "id"], sort=False):
            values = {m: float(v) for m, v in zip(grp["metric"], grp["value"], strict=True)}
            ordered = {m: values[m] for m in sorted(values, key=metric_order)}
            fh.write(json.dumps({"task": task, "id": pid, "scores": ordered}) + "\n")


def write_baseline(run: Scored, path: str | Path, keep: Scored | None = None) -> int:
    """The committed baseline: a header with the run's fingerprints, then its scores. `keep`
    (the old baseline) contributes the tasks the run does not have: a partial refresh.
    Written to a temp file and renamed, so a failure leaves the old baseline intact."""
    scores, fps = run.scores, dict(run.fingerprints)
    if keep is not None:
        others = [t for t in keep.tasks if t not in run.tasks]
        scores = pd.concat([keep.scores[keep.scores["task"].isin(others)], scores], ignore_index=True)
        fps = {**{t: keep.fingerprints[t] for t in others if t in keep.fingerprints}, **fps}
    header = {
        "matheval_baseline": BASELINE_FORMAT,
        "source": str(run.source),
        "written": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "fingerprints": fps,
    }
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    write_scores(scores, tmp, header)
    tmp.replace(target)
    return scores[["task", "id"]].drop_duplicates().shape[0]

"""Load a task's data through `datasets`, from a data dir checked against pinned sha256s.

Order of precedence: the data dir (`--data-dir`, env MATHEVAL_DATA_DIR, else the user cache),
whose file must match the task's pinned sha256; else the task's Hugging Face hub dataset when
the hub is reachable; else one actionable error line (exit 2).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from matheval import hooks
from matheval.errors import UsageError
from matheval.record import Sample
from matheval.tasks import DataFile, Task

_HASHES: dict[tuple[str, float], str] = {}


def sha256_of(path: Path) -> str:
    # Memoised by (path, mtime): a run checks the same exemplar file once per task.
    key = (str(path), path.stat().st_mtime)
    if key not in _HASHES:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        _HASHES[key] = h.hexdigest()
    return _HASHES[key]


def origin(ref: DataFile) -> str:
    s = ref.source
    return f"{s.repo}@{s.commit[:12]}:{s.path}"


def resolve_file(ref: DataFile, data_dir: Path) -> Path | None:
    """The verified local copy of `ref`, None when absent; raises on a sha256 mismatch."""
    path = Path(data_dir) / ref.file
    if not path.is_file():
        return None
    actual = sha256_of(path)
    if actual != ref.sha256:
        raise UsageError(
            f"data file {path} has sha256 {actual[:12]}…, expected {ref.sha256[:12]}… "
            f"(from {origin(ref)}); re-fetch it with `matheval data pull`"
        )
    return path


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "") or os.environ.get(
        "HF_DATASETS_OFFLINE", "0"
    ) not in ("0", "")


def _missing(ref: DataFile, data_dir: Path) -> UsageError:
    return UsageError(
        f"missing data file {Path(data_dir) / ref.file} (sha256 {ref.sha256[:12]}…, from {origin(ref)}); "
        f"set --data-dir/MATHEVAL_DATA_DIR or run `matheval data pull`"
    )


def precheck_data(task: Task, data_dir: Path) -> None:
    """Raise the one-line error now if the task's data can come neither from the dir nor the hub."""
    if resolve_file(task.data, data_dir) is None and (task.data.hub is None or _hub_offline()):
        raise _missing(task.data, data_dir)


def read_records(ref: DataFile, data_dir: Path) -> list[dict[str, Any]]:
    """Raw records of a data file, local copy first, then the hub dataset."""
    path = resolve_file(ref, data_dir)
    if path is not None:
        return _load_local(path, ref.format)
    if ref.hub is not None and not _hub_offline():
        import datasets

        ds = datasets.load_dataset(
            ref.hub.path, ref.hub.name, split=ref.hub.split, revision=ref.hub.revision
        )
        return [dict(r) for r in ds]
    raise _missing(ref, data_dir)


def _load_local(path: Path, fmt: str) -> list[dict[str, Any]]:
    if fmt == "tsv":
        with open(path, encoding="utf-8", newline="") as fh:
            return [{"question": row[0], "answer": row[1]} for row in csv.reader(fh, delimiter="\t")]
    if fmt == "json":
        data = json.loads(path.read_text(encoding="utf-8"))
        return list(data) if isinstance(data, list) else list(data.values())
    import datasets

    # `datasets` gives the same record view as the hub path and caches the Arrow conversion.
    # Heterogeneous columns (a field that is a string in one row and a list in another) make the
    # Arrow schema inference fail; those files are read as plain JSON lines instead.
    try:
        ds = datasets.load_dataset("json", data_files=str(path), split="train")
        return [dict(r) for r in ds]
    except (datasets.exceptions.DatasetGenerationError, ValueError, TypeError):
        with open(path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]


def load_samples(task: Task, data_dir: Path, limit: int | None = None) -> list[Sample]:
    records = read_records(task.data, data_dir)
    hook = hooks.get(task.hook)
    fm = task.fields
    samples: list[Sample] = []
    for i, rec in enumerate(records):
        if limit is not None and len(samples) >= limit:
            break
        view = hook(dict(rec)) if hook else dict(rec)
        try:
            problem, gold = view[fm.problem], view[fm.gold]
        except KeyError as exc:
            raise UsageError(f"task '{task.name}': record {i} has no field {exc}; fix `fields:` in its YAML") from None
        sid = str(view[fm.id]) if fm.id else str(i)
        solution = view.get(fm.solution) if fm.solution else None
        samples.append(
            Sample(
                task=task.name,
                id=sid,
                problem=str(problem),
                gold=_gold_text(gold),
                solution=None if solution is None else str(solution),
                fields=view,
                categories={c: str(view[c]) for c in task.categories if view.get(c) not in (None, "")},
            )
        )
    return samples


def _gold_text(gold: Any) -> str:
    # Numeric golds (SVAMP's 145.0, AMC's 27.0) are compared as numbers by the grader anyway;
    # an integral float is written as an integer so the log reads naturally.
    if isinstance(gold, float) and gold.is_integer():
        return str(int(gold))
    if isinstance(gold, list):
        return ", ".join(str(g) for g in gold)
    return str(gold)


def load_exemplars(ref: DataFile, data_dir: Path) -> list[dict[str, Any]]:
    path = resolve_file(ref, data_dir)
    if path is None:
        raise _missing(ref, data_dir)
    return json.loads(path.read_text(encoding="utf-8"))

"""`--list-tasks` / `--list-profiles`: what can be run, how big it is and where it comes from."""

from __future__ import annotations

from pathlib import Path

from matheval.config import load_profile, profile_names
from matheval.data import resolve_file
from matheval.errors import UsageError
from matheval.paths import default_data_dir
from matheval.tasks import load_task, task_names


def _size(task, data_dir: Path) -> str:
    try:
        path = resolve_file(task.data, data_dir)
    except UsageError:
        return "sha256 mismatch"
    if path is None:
        return "not in data dir"
    with open(path, "rb") as fh:
        return str(sum(1 for line in fh if line.strip())) if task.data.format == "jsonl" else "-"


def print_tasks(data_dir: str | None) -> None:
    ddir = Path(data_dir) if data_dir else default_data_dir()
    rows = [("task", "size", "answer type", "prompt styles", "source")]
    for name in task_names():
        t = load_task(name)
        src = t.data.source
        rows.append((name, _size(t, ddir), t.answer_type, ",".join(t.prompts), f"{src.repo}@{src.commit[:7]}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    print(f"\ndata dir: {ddir}")


def print_profiles() -> None:
    for name in profile_names():
        p = load_profile(name)
        print(f"{name}: {p.description} [{p.source}]")

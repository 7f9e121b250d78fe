"""The offline HTML report: one self-contained page with the leaderboard, per-task breakdowns and
k-curves, every sample, and two runs side by side (`matheval report`, and report.html in each run dir).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

DEFAULT_SAMPLE_TEXTS = 8  # sampled completion texts embedded per problem (all greedy ones always are)


def build_report(paths: list[str | Path], out: str | Path, *, sample_texts: int = DEFAULT_SAMPLE_TEXTS,
                 title: str | None = None) -> Path:
    """The page for run dirs and results dirs (every run dir inside), written to `out`."""
    from matheval.html_report.page import render, write
    from matheval.html_report.runs import find_runs, load_run

    runs = [load_run(p, sample_texts=sample_texts) for p in find_runs(list(paths))]
    name = title or (f"matheval · {runs[0].config.model} · {runs[0].run_id}" if len(runs) == 1
                     else f"matheval · {len(runs)} runs")
    return write(render(runs, title=name), Path(out))


def write_run_report(summary: dict[str, Any], run_dir: str | Path,
                     sample_texts: int = DEFAULT_SAMPLE_TEXTS) -> Path:
    """report.html in a finished run's dir, from the summary the run just wrote."""
    from matheval.html_report.page import render, write
    from matheval.html_report.runs import load_run

    run = load_run(Path(run_dir), sample_texts=sample_texts, summary=summary)
    return write(render([run], title=f"matheval · {run.config.model} · {run.run_id}"), Path(run_dir) / "report.html")

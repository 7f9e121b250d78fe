"""Assemble the one HTML file: the page's data as JSON (samples gzipped, one blob per run) inside
the inline template, stylesheet and script shipped beside this module. Nothing is fetched.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from matheval import __version__
from matheval.html_report import breakdowns
from matheval.html_report.pairs import pairs
from matheval.html_report.runs import RunData, labels
from matheval.html_report.svg import k_curve_svg

DETAIL_CHUNK = 100  # problems per detail blob
# Summary keys the page shows per task (the per-problem lists and execution settings stay out).
TASK_FIELDS = ("version", "prompt_style", "greedy_top1", "n_problems", "n_scored", "n_samples", "metrics",
               "no_answer_rate", "unparsable_rate", "timeout_rate", "truncation_rate", "prompt_too_long",
               "mean_output_tokens", "unscorable", "rules", "statuses", "served_by")


def page_data(runs: list[RunData], *, compare_runs: bool = True) -> dict[str, Any]:
    fps = breakdowns.fingerprints(runs)
    names = labels(runs)
    out_runs = []
    for i, run in enumerate(runs):
        s = run.summary
        curves = breakdowns.curves(s)
        tasks = {}
        for task, t in s["tasks"].items():
            tasks[task] = {
                **{f: t.get(f) for f in TASK_FIELDS},
                "fingerprint": fps.get(task, {}).get(str(i)),
                "categories": breakdowns.categories(run, task),
                "curve_svg": k_curve_svg(curves.get(task, {}), task),
                "prefix": run.prefixes.get(task, ""),
            }
        out_runs.append({
            "id": run.run_id, "label": names[i], "model": run.config.model, "path": str(run.path),
            "profile": s.get("profile"), "date": s.get("date"), "matheval_version": s.get("matheval_version"),
            "grader_version": s.get("grader_version"), "backend": s.get("backend"),
            "warnings": s.get("warnings", []), "complete": run.complete, "rescore": _rescore_note(s),
            "n_records": len(run.samples), "tasks": tasks,
        })
    columns = list(dict.fromkeys(task for run in runs for task in run.summary["tasks"]))
    pair_list, notes = pairs(runs) if compare_runs and len(runs) > 1 else ([], [])
    return {
        "generated": dt.datetime.now().isoformat(timespec="seconds"),
        "matheval_version": __version__,
        "runs": out_runs,
        "columns": columns,
        "fp_diffs": {task: breakdowns.cell_differences(task, cells) for task, cells in fps.items()},
        "pairs": pair_list,
        "pair_notes": notes,
        "detail_chunk": DETAIL_CHUNK,
    }


def _rescore_note(summary: dict[str, Any]) -> dict[str, Any] | None:
    extra = summary.get("rescore")
    if not extra:
        return None
    labels_ = extra.get("labels") or {}
    return {"source": extra.get("source") or extra.get("format"), "labels_agree": labels_.get("agree"),
            "labels_total": labels_.get("total"), "coverage": extra.get("coverage")}


def _json_for_script(value: Any) -> str:
    # Inside <script> the only dangerous sequence is "</" (and "<!--"): escape every "<".
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def _blob(samples: list[dict[str, Any]]) -> str:
    raw = json.dumps(samples, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return base64.b64encode(gzip.compress(raw, compresslevel=6, mtime=0)).decode("ascii")


def _asset(name: str) -> str:
    return resources.files("matheval.html_report").joinpath(name).read_text(encoding="utf-8")


def render(runs: list[RunData], *, title: str, compare_runs: bool = True) -> str:
    data = page_data(runs, compare_runs=compare_runs)
    blobs = []
    for i, run in enumerate(runs):
        blobs.append(f'<script type="application/octet-stream" id="samples-{i}">{_blob(run.samples)}</script>')
        # Details in chunks of problems (in list order): opening one problem decodes one chunk.
        for c in range(0, len(run.details), DETAIL_CHUNK) if any(run.details) else ():
            blobs.append(f'<script type="application/octet-stream" id="detail-{i}-{c // DETAIL_CHUNK}">'
                         f'{_blob(run.details[c:c + DETAIL_CHUNK])}</script>')
    parts = {"TITLE": _escape(title), "CSS": _asset("report.css"), "DATA": _json_for_script(data),
             "SAMPLES": "\n".join(blobs), "JS": _asset("report.js")}
    # One pass over the template: text inserted for one placeholder is never searched for the next.
    return re.sub(r"\{\{(TITLE|CSS|DATA|SAMPLES|JS)\}\}", lambda m: parts[m.group(1)], _asset("template.html"))


def _escape(text: str) -> str:
    from html import escape

    return escape(text)


def write(html: str, out: Path) -> Path:
    """Written beside the target and renamed: a failure never leaves half a page."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    return out

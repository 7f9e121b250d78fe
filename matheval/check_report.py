"""`matheval check --format text|markdown|json`: one CheckResult, three renderings.

Markdown is for a pull-request comment or a CI job summary ($GITHUB_STEP_SUMMARY): a verdict
line, then per task × metric the baseline, the run, the difference with its interval, p, verdict.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from matheval.check import REGRESSION, CheckResult
from matheval.comparable import NOT_RECORDED


def _pts(x: float) -> str:
    return f"{100 * x:+.1f}"


def headline(r: CheckResult) -> str:
    if r.refused:
        return "REFUSED: not comparable with the baseline"
    if r.exit_code == 1:
        parts = []
        if r.regressions:
            parts.append(f"{len(r.regressions)} regressed cell(s)")
        if r.gaps:
            parts.append(f"{len(r.gaps)} missing item(s)")
        if r.too_many_changes:
            parts.append(f"{len(r.too_many_changes)} task(s) with more changed problems than allowed")
        return "FAIL: " + ", ".join(parts)
    return "PASS: no significant regression"


def _level(r: CheckResult) -> str:
    n_gating = sum(c.gating for c in r.cells)
    return (f"one-sided tests at α = {r.alpha:g} / {n_gating or len(r.cells)} cells = {r.alpha_cell:.3g} "
            f"(Bonferroni); intervals at {100 * (1 - 2 * r.alpha_cell):.1f}%")


def _notes(r: CheckResult) -> list[str]:
    lines = []
    if r.refused:
        lines.append(r.refusal())
    elif r.allow_mismatch and (r.unrecorded or any(d.blocking for d in r.differences)):
        waived = [d.describe() for d in r.differences if d.blocking]
        waived += [f"{u} records no fingerprint" for u in r.unrecorded]
        lines.append("--allow-mismatch: compared despite " + "; ".join(waived))
    info = [d for d in r.differences if not d.blocking]
    if by_design := [d.describe() for d in info if NOT_RECORDED not in (d.baseline, d.run)]:
        lines.append("differs by design (informational): " + "; ".join(by_design))
    if one_side := [d.describe() for d in info if NOT_RECORDED in (d.baseline, d.run)]:
        lines.append("recorded by one side only (not compared): " + "; ".join(one_side))
    lines += [f"MISSING {g.describe()}" for g in r.gaps]
    lines += [("CHANGED " if c.failing else "changed: ") + c.describe() for c in r.changed if c.count or c.failing]
    lines += [f"{t}: {n} problems only in the run (not tested)" for t, n in r.new_problems.items() if n]
    return lines


def render_text(r: CheckResult) -> str:
    lines = [headline(r), f"baseline {r.baseline}  run {r.run}"]
    if not r.refused:  # no figures for runs that do not measure the same thing
        lines.append(_level(r))
        lines.append(f"{'task':<12}{'metric':<9}{'n':>5}{'base':>7}{'run':>7}{'diff':>7}  {'interval':<16}"
                     f"{'p':>9}  verdict")
        for c in r.cells:
            lines.append(f"{c.task:<12}{c.metric:<9}{c.n:>5}{100 * c.baseline:>7.1f}{100 * c.run:>7.1f}"
                         f"{_pts(c.diff):>7}  {'[' + _pts(c.lo) + ', ' + _pts(c.hi) + ']':<16}{c.p_value:>9.3g}  "
                         f"{c.verdict}{'' if c.gating else ' (informational task)'}")
        for c in r.regressions:
            lines.append(f"REGRESSION {c.task} {c.metric}: {100 * c.baseline:.1f} -> {100 * c.run:.1f} "
                         f"({_pts(c.diff)} pts, one-sided p={c.p_value:.3g} < {r.alpha_cell:.2g}, {c.method}, "
                         f"n={c.n})")
    return "\n".join(lines + _notes(r))


def render_markdown(r: CheckResult) -> str:
    icon = {0: "✅", 1: "❌", 2: "⛔"}[r.exit_code]
    out = [f"### {icon} matheval regression check — {headline(r)}", "",
           f"Baseline `{r.baseline}` · run `{r.run}` · {_level(r)}.", ""]
    if r.cells and not r.refused:
        out += ["| task | metric | n | baseline | run | difference (interval) | p | verdict |",
                "|---|---|---:|---:|---:|---|---:|---|"]
        for c in r.cells:
            verdict = f"**{c.verdict}**" if c.verdict == REGRESSION else c.verdict
            if not c.gating:
                verdict += " · informational"
            out.append(f"| {c.task} | {c.metric} | {c.n} | {100 * c.baseline:.1f} | {100 * c.run:.1f} | "
                       f"{_pts(c.diff)} [{_pts(c.lo)}, {_pts(c.hi)}] | {c.p_value:.3g} | {verdict} |")
        out.append("")
    if notes := _notes(r):
        out += [f"- {line}" for line in notes] + [""]
    out += ["Exit codes: 0 pass · 1 regression, missing problems or more changed problems than the policy "
            "allows · 2 usage error or incomparable baseline."]
    return "\n".join(out).rstrip() + "\n"


def render_json(r: CheckResult) -> str:
    doc = {
        "verdict": {0: "pass", 1: "fail", 2: "refused"}[r.exit_code],
        "exit_code": r.exit_code,
        "baseline": r.baseline,
        "run": r.run,
        "alpha": r.alpha,
        "alpha_cell": r.alpha_cell,
        "cells": [asdict(c) for c in r.cells],
        "missing": [asdict(g) | {"message": g.describe()} for g in r.gaps],
        "differences": [asdict(d) for d in r.differences],
        "unrecorded": list(r.unrecorded),
        "allow_mismatch": r.allow_mismatch,
        "new_problems": r.new_problems,
        "changed": [asdict(c) | {"failing": c.failing, "message": c.describe()} for c in r.changed],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False, default=str)


RENDERERS = {"text": render_text, "markdown": render_markdown, "json": render_json}

"""The k-curve plot: maj@k and pass@k against k, one panel per task, with bootstrap CI bands.

Input is `compare.summarize(...)` (task, metric, n, mean, lo, hi), so the plot shows exactly the
figures and intervals of the leaderboard.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd


def k_curves(summary: pd.DataFrame) -> dict[str, dict[str, list[tuple[int, float, float, float]]]]:
    """{task: {"maj": [(k, mean, lo, hi), ...], "pass": [...], "top1": [(0, mean, lo, hi)]}}."""
    out: dict[str, dict[str, list[tuple[int, float, float, float]]]] = {}
    for r in summary.itertuples():
        curves = out.setdefault(r.task, {"maj": [], "pass": [], "top1": []})
        m = re.fullmatch(r"(maj|pass)@(\d+)", r.metric)
        if m:
            curves[m.group(1)].append((int(m.group(2)), r.mean, r.lo, r.hi))
        elif r.metric == "top1":
            curves["top1"].append((0, r.mean, r.lo, r.hi))
    for curves in out.values():
        for name in ("maj", "pass"):
            curves[name].sort()
    return out


def plot_k_curves(summary: pd.DataFrame, path: str | Path, title: str = "") -> Path | None:
    """Write the PNG; None (no file) when no task has maj@k or pass@k for two or more k."""
    curves = {t: c for t, c in k_curves(summary).items() if len(c["maj"]) > 1 or len(c["pass"]) > 1}
    if not curves:
        return None
    import matplotlib

    matplotlib.use("Agg")  # headless: CI and servers have no display
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(curves), figsize=(4.5 * len(curves), 3.6), squeeze=False)
    for ax, (task, c) in zip(axes[0], sorted(curves.items()), strict=True):
        for name, colour in (("pass", "tab:blue"), ("maj", "tab:orange")):
            if not c[name]:
                continue
            ks, mean, lo, hi = zip(*c[name], strict=True)
            ax.plot(ks, [100 * v for v in mean], marker="o", color=colour, label=f"{name}@k")
            ax.fill_between(ks, [100 * v for v in lo], [100 * v for v in hi], color=colour, alpha=0.2)
        if c["top1"]:
            _, mean, lo, hi = c["top1"][0]
            ax.axhline(100 * mean, color="grey", linestyle="--", label="top1 (greedy)")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("k (samples)")
        ax.set_ylabel("% of problems")
        ax.set_title(task)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path

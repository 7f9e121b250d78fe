"""maj@k and pass@k against k (log2 axis) with their 95% bands, as an inline SVG string.

Drawn here so the page needs nothing fetched; the points are `breakdowns.curves` (the same
figures as summary.json and the k-curve PNG).
"""

from __future__ import annotations

import math
from html import escape

W, H = 440, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 112, 14, 34
DASH = {"pass": "", "maj": ' stroke-dasharray="7 4"'}  # maj dashed: visible where the two coincide
COLOURS = {"pass": "#1f77b4", "maj": "#e07b00", "top1": "#666"}


def k_curve_svg(curve: dict[str, list[tuple[int, float, float, float]]], title: str = "") -> str | None:
    """None when neither maj@k nor pass@k has two k to draw a line through."""
    series = {name: curve[name] for name in ("pass", "maj") if len(curve.get(name, ())) > 1}
    if not series:
        return None
    ks = [p[0] for pts in series.values() for p in pts]
    k_lo, k_hi = min(ks), max(ks)
    values = [v for pts in [*series.values(), curve.get("top1", [])] for p in pts for v in p[1:]]
    y_lo = math.floor(100 * min(values) / 10) * 10
    y_hi = max(y_lo + 10, math.ceil(100 * max(values) / 10) * 10)

    def x(k: float) -> float:
        span = math.log2(k_hi) - math.log2(k_lo) or 1.0
        return LEFT + (W - LEFT - RIGHT) * (math.log2(k) - math.log2(k_lo)) / span

    def y(v: float) -> float:
        return TOP + (H - TOP - BOTTOM) * (1 - (100 * v - y_lo) / (y_hi - y_lo))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="kcurve" viewBox="0 0 {W} {H}" width="{W}" '
             f'height="{H}" role="img" aria-label="{escape(title)} k-curves">']
    for tick in range(y_lo, y_hi + 1, max(10, (y_hi - y_lo) // 5 // 10 * 10)):
        ty = y(tick / 100)
        parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#ddd"/>'
                     f'<text x="{LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end" font-size="11">{tick}</text>')
    for k in sorted(set(ks)):
        parts.append(f'<text x="{x(k):.1f}" y="{H - BOTTOM + 16}" text-anchor="middle" font-size="11">{k}</text>')
    parts.append(f'<text x="{(LEFT + W - RIGHT) / 2}" y="{H - 4}" text-anchor="middle" font-size="11">'
                 'k (samples)</text>')
    parts.append(f'<text x="12" y="{TOP + (H - TOP - BOTTOM) / 2}" font-size="11" text-anchor="middle" '
                 f'transform="rotate(-90 12 {TOP + (H - TOP - BOTTOM) / 2})">% of problems</text>')
    for name, pts in series.items():
        colour = COLOURS[name]
        band = [(x(k), y(hi)) for k, _, _, hi in pts] + [(x(k), y(lo)) for k, _, lo, _ in reversed(pts)]
        parts.append(f'<polygon points="{_pts(band)}" fill="{colour}" fill-opacity="0.18" stroke="none"/>')
        line = [(x(k), y(v)) for k, v, _, _ in pts]
        parts.append(f'<polyline points="{_pts(line)}" fill="none" stroke="{colour}" stroke-width="2"{DASH[name]}/>')
        for (k, v, lo, hi), (px, py) in zip(pts, line, strict=True):
            parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}"><title>{name}@{k}: '
                         f'{100 * v:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]</title></circle>')
    legend = [(n, f"{n}@k") for n in series]
    if curve.get("top1"):
        _, v, lo, hi = curve["top1"][0]
        parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="{COLOURS["top1"]}" '
                     f'stroke-dasharray="5 4"><title>top1 (greedy): {100 * v:.1f} [{100 * lo:.1f}, '
                     f'{100 * hi:.1f}]</title></line>')
        legend.append(("top1", "top1 (greedy)"))
    for i, (name, text) in enumerate(legend):
        ly = TOP + 10 + 18 * i
        parts.append(f'<rect x="{W - RIGHT + 10}" y="{ly - 8}" width="12" height="4" fill="{COLOURS[name]}"/>'
                     f'<text x="{W - RIGHT + 26}" y="{ly - 2}" font-size="11">{escape(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _pts(points: list[tuple[float, float]]) -> str:
    return " ".join(f"{px:.1f},{py:.1f}" for px, py in points)

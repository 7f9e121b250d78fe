"""Number notations rewritten into plain LaTeX arithmetic the evaluator reads.

Repeating decimals (``0.1\\overline{6}``, ``0.(3)``, ``0.333\\dots``), mixed numbers (``2 3/4``),
degrees and minutes (``35^\\circ 20'``), ``1.5 x 10^3``, and base subscripts (``1011_{2}``).
Each rewrite is exact: it never turns an approximation into something it is not.
"""

from __future__ import annotations

import re

_OVERLINE_RE = re.compile(r"(?<![\d.])(\d*)\.(\d*)\\(?:overline|bar|dot)\{(\d{1,12})\}")
_PAREN_PERIOD_RE = re.compile(r"(?<![\d.])(\d+)\.(\d*)\((\d{1,12})\)(?![\d(])")
_ELLIPSIS_RE = re.compile(r"(?<![\d.])(\d+)\.(\d+)\s*\\dots\s*$")
_MIXED_RE = re.compile(r"^(-?)(\d+)\s+(\d+)\s*/\s*(\d+)$")
_DEG_MIN_RE = re.compile(
    r"(\d+(?:\.\d+)?)\s*\^\\circ\s*(\d+(?:\.\d+)?)\s*'(?!')(?:\s*(\d+(?:\.\d+)?)\s*'')?"
)
_SCI_RE = re.compile(r"(?<=\d)\s*[xX]\s*10\s*\^")
_BASE_RE = re.compile(r"(?<![\w\\])(\d[0-9A-Fa-f]*)_\{\s*(\d{1,2})\s*\}")


def rewrite_number_notation(s: str) -> str:
    if "\\" in s or "(" in s:
        s = _OVERLINE_RE.sub(_repeating, s)
        s = _PAREN_PERIOD_RE.sub(_repeating, s)
    if "\\dots" in s:
        s = _ELLIPSIS_RE.sub(_ellipsis, s)
    if "'" in s and "\\circ" in s:
        s = _DEG_MIN_RE.sub(_degrees_minutes, s)
    m = _MIXED_RE.match(s.strip())
    if m:
        sign, whole, num, den = m.groups()
        s = f"{sign}{whole}\\frac{{{num}}}{{{den}}}"
    s = _SCI_RE.sub(r"\\times 10^", s)
    return _BASE_RE.sub(r"\1_\2", s)


def _fraction(whole: str, fixed: str, period: str) -> str:
    num = int(whole + fixed + period) - int(whole + fixed)
    den = (10 ** len(period) - 1) * 10 ** len(fixed)
    return f"\\frac{{{num}}}{{{den}}}"


def _repeating(m: re.Match[str]) -> str:
    """0.1\\overline{6} -> \\frac{1}{6}: a repeating decimal is an exact rational."""
    return _fraction(m.group(1) or "0", m.group(2), m.group(3))


def _ellipsis(m: re.Match[str]) -> str:
    """0.333... / 0.1666... / 0.142857142857...: a repeating decimal only when the digits show it.

    The period must appear at least twice in a row at the end (a single digit three times);
    otherwise "3.14159..." is a truncated decimal and stays one.
    """
    whole, digits = m.group(1), m.group(2)
    for size in range(1, min(6, len(digits) // 2) + 1):
        period = digits[-size:]
        repeats = 3 if size == 1 else 2
        if len(digits) >= size * repeats and digits.endswith(period * repeats):
            head = digits[: len(digits) - size * repeats]
            # Let the period start as early as the digits allow: 0.1666 is 0.1(6), not 0.16(6)...
            while head and head[-1] == period[-1]:
                head, period = head[:-1], period[-1] + period[:-1]
            return _fraction(whole, head, period)
    return m.group(0)


def _degrees_minutes(m: re.Match[str]) -> str:
    minutes = f"+\\frac{{{m.group(2)}}}{{60}}"
    seconds = f"+\\frac{{{m.group(3)}}}{{3600}}" if m.group(3) else ""
    return f"({m.group(1)}{minutes}{seconds})^\\circ"

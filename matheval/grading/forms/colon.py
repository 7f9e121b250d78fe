"""Answers with a colon: clock times (``7:15\\text{ p.m.}`` = ``19:15``) and ratios (``3:2`` = ``6:4``).

A gold like ``12:00`` or ``11:21`` (two-digit second part, hour up to 24) may be a time, so only
the same time matches it (``12:00`` vs ``1:00`` is wrong under both readings); a gold that cannot
be a time (``3:2``, ``1:\\sqrt{2}``) is a ratio and matches any proportional ratio.
"""

from __future__ import annotations

import re
from fractions import Fraction

from ..context import Context
from ..latex import split_top_level, unwrap_command
from ..normalize import TEXT_COMMANDS
from ..shape import Node, leaf
from . import value as value_form

_CLOCK_RE = re.compile(
    r"^(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?\s*(?P<ampm>[ap]\.?\s*m\.?|[AP]\.?\s*M\.?)?$"
)


def _parts(node: Node) -> list[str] | None:
    if node.kind != "expr" or ":" not in node.text:
        return None
    parts = split_top_level(node.text, (":",))
    return parts if len(parts) >= 2 and all(p.strip() for p in parts) else None


def _clock(node: Node) -> tuple[int, int, str] | None:
    """(hours, minutes since midnight, suffix) of a clock time, or None."""
    text = unwrap_command(node.text, TEXT_COMMANDS).strip().rstrip(".")
    m = _CLOCK_RE.match(text.replace(" ", ""))
    if not m:
        return None
    h, minutes = int(m.group("h")), int(m.group("m"))
    suffix = (m.group("ampm") or "").lower().replace(".", "").replace(" ", "")
    if minutes >= 60 or h > 24 or (suffix and not 1 <= h <= 12):
        return None
    if suffix:
        h = h % 12 + (12 if suffix == "pm" else 0)
    return int(m.group("h")), h * 60 + minutes, suffix


def applies(gold: Node) -> bool:
    return _clock(gold) is not None or (_parts(gold) is not None and not _is_text_ratio(gold))


def readable(node: Node) -> bool:
    """A clock time, or a ratio whose every part is a value (for the gold lint)."""
    if _clock(node) is not None:
        return True
    parts = _parts(node)
    return parts is not None and all(value_form.constant_value(leaf(x)) is not None or
                                     value_form.is_constant(leaf(x)) for x in parts)


def _is_text_ratio(node: Node) -> bool:
    return bool(re.search(r"[a-zA-Z]{3,}", unwrap_command(node.text, TEXT_COMMANDS)))


def equal(g: Node, p: Node, ctx: Context) -> bool:
    gc, pc = _clock(g), _clock(p)
    if gc is not None and pc is not None:
        # "4:30" for gold "4:30 p.m." is not the time asked: the half of the day is part of it.
        unambiguous = bool(pc[2]) or not gc[2] or pc[0] > 12 or pc[0] == 0
        return ctx.decide("clock", gc[1] == pc[1] and unambiguous)
    if gc is not None and (gc[2] or _two_digit_tail(g)):
        return ctx.decide("clock", False, "not the same time")
    gp, pp = _parts(g), _parts(p)
    if gp is None or pp is None or len(gp) != len(pp):
        return ctx.decide("ratio", False, "not a ratio of the same length")
    gv = [value_form.constant_value(leaf(x)) for x in gp]
    pv = [value_form.constant_value(leaf(x)) for x in pp]
    if all(isinstance(v, Fraction) for v in gv + pv) and all(v != 0 for v in gv):
        ok = all(pv[0] * a == gv[0] * b for a, b in zip(gv, pv, strict=True))
        return ctx.decide("ratio", ok)
    return ctx.decide("ratio", all(ctx.equal(leaf(a), leaf(b)) for a, b in zip(gp, pp, strict=True)))


def _two_digit_tail(node: Node) -> bool:
    parts = _parts(node)
    return parts is not None and len(parts) == 2 and bool(re.fullmatch(r"\d{2}", parts[1].strip()))


def key(node: Node) -> str:
    clock = _clock(node)
    if clock is not None:
        return f"clock:{clock[1]}" + (":12h" if not clock[2] and clock[0] <= 12 else "")
    return "ratio:" + node.text

"""Read the shape of a normalised answer: list, tuple, interval, set, matrix, equation, inequality.

The leaves stay strings (decorations stripped); `compare` decides how to compare them. Splitting
happens only at bracket depth 0, so ``(1, 2)`` is one tuple and ``\\{1, 2\\}`` one set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .latex import enclosed_by, split_top_level, split_with_separators
from .normalize import strip_decorations

_RELATIONS = ("\\le", "\\ge", "\\ne", "\\approx", "\\equiv", "=", "<", ">")
_CONNECTIVES = ("\\text{and}", "\\text{or}", " and ", " or ")
_MATRIX_RE = re.compile(
    r"^\\begin\{(?P<env>[pbvBV]?matrix|smallmatrix|array)\}(?:\{[^{}]*\})?(?P<body>.*)\\end\{(?P=env)\}$",
    re.DOTALL,
)
_PM_RE = re.compile(r"\\(pm|mp)(?![a-zA-Z])")


@dataclass(frozen=True)
class Node:
    """One piece of an answer's shape.

    kind: "expr" (a leaf, `text` holds it), "list" (bare comma/"and" list, unordered),
    "blanks" (``;``-separated, ordered), "tuple" / "interval" (`brackets` holds e.g. "(]"),
    "set", "matrix" (`items` are rows), "union", "eq" / "rel" (a chain; `ops` between items),
    "empty" (the empty set).
    """

    kind: str
    text: str = ""
    items: tuple[Node, ...] = ()
    brackets: str = ""
    ops: tuple[str, ...] = ()
    percent: bool = False

    def show(self) -> str:
        """Compact rendering for verdicts and canonical keys."""
        if self.kind == "expr":
            return self.text + ("%" if self.percent else "")
        inner = [i.show() for i in self.items]
        if self.kind in ("eq", "rel"):
            out = inner[0]
            for op, item in zip(self.ops, inner[1:], strict=True):
                out += op + item
            return out
        if self.kind == "matrix":
            return "[" + ";".join(inner) + "]"
        sep = {"blanks": "; ", "union": " U "}.get(self.kind, ",")
        body = sep.join(inner)
        if self.kind in ("tuple", "interval"):
            return self.brackets[0] + body + self.brackets[1]
        if self.kind == "set":
            return "{" + body + "}"
        if self.kind == "empty":
            return "{}"
        return body


def leaf(text: str) -> Node:
    d = strip_decorations(text)
    return Node("expr", text=d.text, percent=d.percent)


@lru_cache(maxsize=8192)
def parse_structure(text: str, answer_type: str = "auto") -> Node:
    """Shape of an already-normalised answer (see Node). Never raises on odd input."""
    if answer_type == "text":
        return Node("expr", text=text)
    whole = strip_decorations(text)
    s = whole.text
    if not s:
        return Node("expr", text="")
    if answer_type == "expression":
        return Node("expr", text=s, percent=whole.percent)
    node = _parse(s, answer_type, depth=0)
    if whole.percent and node.kind == "expr":
        node = Node("expr", text=node.text, percent=True)
    return node


def _parse(s: str, answer_type: str, depth: int) -> Node:
    s = s.strip()
    if depth > 8 or not s:
        return leaf(s)
    seps = (";", ",", *_CONNECTIVES) if answer_type == "multi_blank" else (";",)
    parts = [p for p in split_top_level(s, seps) if p.strip()]
    if len(parts) > 1:
        return Node("blanks", items=tuple(_parse(p, answer_type, depth + 1) for p in parts))
    parts = [p for p in split_top_level(s, _CONNECTIVES) if p.strip()]
    if len(parts) > 1:
        return Node("list", items=tuple(_parse(p, answer_type, depth + 1) for p in parts))
    parts = split_top_level(s, ("\\in",))
    if len(parts) == 2 and parts[1].strip():
        # "x \in [1, 2)": the answer is the set on the right.
        return _parse(parts[1], answer_type, depth + 1)
    parts = split_top_level(s, (",",))
    if len(parts) > 1:
        return _comma_list(parts, answer_type, depth)
    parts = split_top_level(s, ("\\cup",))
    if len(parts) > 1:
        return Node("union", items=tuple(_parse(p, answer_type, depth + 1) for p in parts))
    relation = _relation(s, answer_type, depth)
    if relation is not None:
        return relation
    return _bracketed(s, answer_type, depth)


def _comma_list(parts: list[str], answer_type: str, depth: int) -> Node:
    items = [_parse(p, answer_type, depth + 1) for p in parts]
    first = items[0]
    # "x = 1, 2" means x is 1 or 2: lift the list under the variable.
    if first.kind == "eq" and len(first.items) == 2 and all(i.kind not in ("eq", "rel") for i in items[1:]):
        values = Node("list", items=(first.items[1], *items[1:]))
        return Node("eq", items=(first.items[0], values), ops=("=",))
    return Node("list", items=tuple(items))


def _relation(s: str, answer_type: str, depth: int) -> Node | None:
    pieces, ops = split_with_separators(s, _RELATIONS)
    if not ops or any(not p.strip() for p in pieces):
        return None
    items = tuple(_parse(p, answer_type, depth + 1) for p in pieces)
    canon = tuple({"\\approx": "=", "\\equiv": "="}.get(op, op) for op in ops)
    kind = "eq" if all(op == "=" for op in canon) else "rel"
    return Node(kind, items=items, ops=canon)


def _bracketed(s: str, answer_type: str, depth: int) -> Node:
    m = _MATRIX_RE.match(s)
    if m:
        rows = [
            r for r in re.split(r"\\\\", m.group("body")) if r.strip() and not r.strip().startswith("\\hline")
        ]
        return Node(
            "matrix",
            items=tuple(
                Node("tuple", items=tuple(leaf(c) for c in r.split("&")), brackets="()") for r in rows
            ),
        )
    if s in ("\\emptyset", "\\{\\}"):
        return Node("empty")
    if enclosed_by(s, "\\{", "\\}"):
        inner = s[2:-2]
        return Node(
            "set", items=tuple(_parse(p, answer_type, depth + 1) for p in split_top_level(inner, (",",)))
        )
    if len(s) >= 2 and s[0] in "([" and s[-1] in ")]" and enclosed_by(s, s[0], s[-1]):
        inner = split_top_level(s[1:-1], (",",))
        if len(inner) == 1:
            return _parse(s[1:-1], answer_type, depth + 1)
        items = tuple(_parse(p, answer_type, depth + 1) for p in inner)
        brackets = s[0] + s[-1]
        is_interval = brackets in ("(]", "[)", "[]") or "\\infty" in s
        return Node(
            "interval" if is_interval and len(items) == 2 else "tuple", items=items, brackets=brackets
        )
    pm = _PM_RE.search(s)
    if pm:
        plus = "+" if pm.group(1) == "pm" else "-"
        minus = "-" if plus == "+" else "+"
        a = s[: pm.start()] + plus + s[pm.end() :]
        b = s[: pm.start()] + minus + s[pm.end() :]
        return Node("list", items=(leaf(_tidy_sign(a)), leaf(_tidy_sign(b))))
    return leaf(s)


def _tidy_sign(s: str) -> str:
    s = s.strip()
    return s[1:] if s.startswith("+") else s


def unwrap_single(node: Node) -> Node:
    """A one-element list is its element (so "\\{5\\}" and "5" compare alike where allowed)."""
    if node.kind in ("list", "set") and len(node.items) == 1:
        return node.items[0]
    return node

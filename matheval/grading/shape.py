"""Read the shape of a normalised answer: list, tuple, interval, set, matrix, equation, relation.

Only what the text itself says: ``[1, 2)`` is an interval, ``(1, 2)`` a tuple, ``x = 1, 2`` an
equation with two values. What a shape *means* against a given gold (is this tuple an interval?)
is decided once, from the gold, by the forms table (forms/__init__.py). Splitting happens only at
bracket depth 0; leaves keep their text with decorations (units, currency) stripped.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache

from .latex import enclosed_by, split_top_level, split_with_separators
from .limits import MAX_ITEMS, MAX_SHAPE_DEPTH
from .normalize import strip_decorations

_RELATIONS = ("\\le", "\\ge", "\\ne", "\\approx", "\\equiv", "\\sim", "=", "<", ">")
_CANON_OP = {"\\approx": "~", "\\sim": "~", "\\equiv": "="}
_CONNECTIVES = (
    "\\text{and}", "\\text{or}", " and ", " or ", "\\text{,and}", "\\text{,or}", "或者", "或", "且", "以及", "和", "及",
)
_GLUED_CONNECTIVE_RE = re.compile(r"(?<![a-zA-Z\\{])\s*(and|or)\s*(?=[^a-z\s}]|$)")
_MATRIX_RE = re.compile(
    r"^\\begin\{(?P<env>[pbvBV]?matrix|smallmatrix|array)\}(?:\{[^{}]*\})?(?P<body>.*)\\end\{(?P=env)\}$",
    re.DOTALL,
)
_SETBUILDER_RE = re.compile(
    r"^\\\{\s*(?P<var>[a-zA-Z](?:_\{?\w+\}?)?|\([a-zA-Z, ]+\))\s*(?:\\mid|\||:)(?P<cond>.+)\\\}$"
)
_PM_RE = re.compile(r"\\(pm|mp)(?![a-zA-Z])")
_QUALIFIER_RE = re.compile(
    r"(?<=\S)\s*,?\s*\\text\{\s*,?\s*(?:for|where|when|whenever|if|since|because|with|provided|assuming|given)\b.*$",
    re.DOTALL,
)


@dataclass(frozen=True)
class Node:
    """One piece of an answer's shape.

    kind: "expr" (a leaf, `text` holds it), "list" (bare comma/"and"/"or" list), "blanks"
    (``;``-separated), "tuple" (`brackets` "()" or "[]"), "interval" (mixed brackets or an
    infinite end, e.g. "(]"), "set", "matrix" (`items` are rows), "union", "difference" (a set
    minus points), "eq" / "rel" (a chain;
    `ops` between items, "~" for approximately), "setbuilder" (items: variable, condition),
    "empty" (the empty set). `alternatives` marks a list made by expanding ``\\pm``.
    """

    kind: str
    text: str = ""
    items: tuple[Node, ...] = ()
    brackets: str = ""
    ops: tuple[str, ...] = ()
    percent: bool = False
    degrees: bool = False

    def show(self) -> str:
        """Compact rendering for verdicts and canonical keys."""
        if self.kind == "expr":
            return self.text + ("%" if self.percent else "") + ("°" if self.degrees else "")
        inner = [i.show() for i in self.items]
        if self.kind in ("eq", "rel"):
            out = inner[0]
            for op, item in zip(self.ops, inner[1:], strict=True):
                out += op + item
            return out
        if self.kind == "matrix":
            return "[" + ";".join(inner) + "]"
        if self.kind == "setbuilder":
            return "{" + inner[0] + "|" + inner[1] + "}"
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
    return Node("expr", text=d.text, percent=d.percent, degrees=d.degrees)


@lru_cache(maxsize=8192)
def parse_shape(text: str, answer_type: str = "auto") -> Node:
    """Shape of an already-normalised answer (see Node). Never raises on odd input."""
    if answer_type == "text":
        return Node("expr", text=text)
    if "\\text{" in text and not any(w in text for w in ("otherwise", "else", "\\begin{")):
        # "x = 3, \\text{ for } x > 0": a condition after the answer is not part of the value
        # (a case split, "a if ..., otherwise b", is not a qualifier and stays whole).
        text = _QUALIFIER_RE.sub("", text) or text
    whole = strip_decorations(text)
    s = whole.text
    if not s:
        return Node("expr", text="")
    if answer_type == "expression":
        return Node("expr", text=s, percent=whole.percent, degrees=whole.degrees)
    node = _parse(s, answer_type, depth=0)
    if node.kind != "expr" and s != text.strip():
        # A decoration that ends the whole answer belongs to its last piece ("0.25, or 25%").
        node = _parse(text.strip(), answer_type, depth=0)
    if node.kind == "expr" and (whole.percent or whole.degrees):
        node = Node("expr", text=node.text, percent=whole.percent or node.percent,
                    degrees=whole.degrees or node.degrees)
    return node


def _parse(s: str, answer_type: str, depth: int) -> Node:
    s = s.strip()
    if depth > MAX_SHAPE_DEPTH or not s:
        return leaf(s)
    if "and" in s or "or" in s:
        s = _GLUED_CONNECTIVE_RE.sub(lambda m: f" {m.group(1)} ", s)
    seps = (";", ",", *_CONNECTIVES) if answer_type == "multi_blank" else (";",)
    parts = [p for p in split_top_level(s, seps) if p.strip()]
    if len(parts) > 1:
        return Node("blanks", items=tuple(_parse(p, answer_type, depth + 1) for p in parts[:MAX_ITEMS + 1]))
    parts = split_top_level(s, ("\\in",))
    if len(parts) == 2 and parts[1].strip() and not split_top_level(parts[0], (",",))[1:]:
        # "x \in [1, 2)": the answer is the set on the right, and (a, b) there is an interval.
        rhs = _parse(parts[1], answer_type, depth + 1)
        if rhs.kind == "tuple" and len(rhs.items) == 2 and rhs.brackets in ("()", "[]"):
            return Node("interval", items=rhs.items, brackets=rhs.brackets)
        return rhs
    parts = [p for p in (_drop_connective(p) for p in split_top_level(s, _CONNECTIVES)) if p]
    if len(parts) > 1:
        # Words join weaker than commas: "p = 5, q = 2 and p = 7, q = 2" is two solutions,
        # "19, 46, and 82" (scalars on both sides) one flat list.
        items: list[Node] = []
        for part in parts[: MAX_ITEMS + 1]:
            node = _parse(part, answer_type, depth + 1)
            items.extend(node.items if node.kind == "list" and not _is_record(node) else (node,))
        return Node("list", items=_flatten_alternatives(items))
    pieces = [p.strip() for p in split_top_level(s, (",",))]
    pieces = [p for p in pieces if p]
    if len(pieces) > 1:
        return _comma_list(pieces, answer_type, depth, True)
    parts = split_top_level(s, ("\\setminus", "\\backslash"))
    if len(parts) == 2 and all(p.strip() for p in parts):
        # "\\mathbb{R} \\setminus \\{0\\}": a set with points taken out.
        whole, removed = (_parse(p, answer_type, depth + 1) for p in parts)
        return Node("difference", items=(whole, removed))
    parts = split_top_level(s, ("\\cup",))
    if len(parts) > 1:
        return Node("union", items=tuple(_parse(p, answer_type, depth + 1) for p in parts[:MAX_ITEMS + 1]))
    relation = _relation(s, answer_type, depth)
    if relation is not None:
        return relation
    return _bracketed(s, answer_type, depth)


def _is_record(node: Node) -> bool:
    """k = 45, n = 2: values of several different unknowns, one solution."""
    labels = [i.items[0].show() for i in node.items if i.kind == "eq" and len(i.items) == 2]
    return len(labels) == len(node.items) > 1 and len(set(labels)) == len(labels)


def _drop_connective(p: str) -> str:
    p = p.strip()
    for word in ("and ", "or ", "\\text{and}", "\\text{or}", "either ", "both ", "\\text{either}", "\\text{both}"):
        if p.startswith(word):
            return p[len(word) :].strip()
    return p


def _comma_list(parts: list[str], answer_type: str, depth: int, commas: bool) -> Node:
    items = [_parse(p, answer_type, depth + 1) for p in parts[: MAX_ITEMS + 1]]
    first = items[0]
    # "x = 1, 2" means x is 1 or 2: lift the list under the variable.
    if (
        commas
        and first.kind == "eq"
        and len(first.items) == 2
        and all(i.kind not in ("eq", "rel") for i in items[1:])
    ):
        values = Node("list", items=(first.items[1], *items[1:]))
        return Node("eq", items=(first.items[0], values), ops=first.ops)
    return Node("list", items=_flatten_alternatives(items))


def _flatten_alternatives(items: list[Node]) -> tuple[Node, ...]:
    out: list[Node] = []
    for item in items:
        if item.kind == "list" and item.brackets == "pm":
            out.extend(item.items)
        else:
            out.append(item)
    return tuple(out)


def _relation(s: str, answer_type: str, depth: int) -> Node | None:
    pieces, ops = split_with_separators(s, _RELATIONS)
    if not ops or any(not p.strip() for p in pieces):
        return None
    items = tuple(_parse(p, answer_type, depth + 1) for p in pieces)
    canon = tuple(_CANON_OP.get(op, op) for op in ops)
    kind = "eq" if all(op in ("=", "~") for op in canon) else "rel"
    return Node(kind, items=items, ops=canon)


def _bracketed(s: str, answer_type: str, depth: int) -> Node:
    m = _MATRIX_RE.match(s)
    if m and "\\end{" + m.group("env") + "}" not in m.group("body"):
        return _matrix(m.group("env"), m.group("body"))
    if s in ("\\emptyset", "\\{\\}"):
        return Node("empty")
    m = _SETBUILDER_RE.match(s)
    if m and enclosed_by(s, "\\{", "\\}"):
        return Node("setbuilder", items=(leaf(m.group("var")), _parse(m.group("cond"), answer_type, depth + 1)))
    if enclosed_by(s, "\\{", "\\}"):
        inner = split_top_level(s[2:-2], (",",))
        items = [_parse(p, answer_type, depth + 1) for p in inner[: MAX_ITEMS + 1] if p.strip()]
        return Node("set", items=_flatten_alternatives(items)) if items else Node("empty")
    if len(s) >= 2 and s[0] in "([" and s[-1] in ")]" and enclosed_by(s, s[0], s[-1]):
        body = s[1:-1]
        inner = split_top_level(body, (",",))
        if len(inner) == 1 and ";" in body:
            inner = split_top_level(body, (";",))  # (0;-2;6): semicolons as coordinate separators
        if len(inner) == 1:
            return _parse(body, answer_type, depth + 1)
        items = [_parse(p, answer_type, depth + 1) for p in inner[: MAX_ITEMS + 1]]
        brackets = s[0] + s[-1]
        is_interval = len(items) == 2 and (brackets in ("(]", "[)") or "\\infty" in s)
        if is_interval:
            return Node("interval", items=tuple(items), brackets=brackets)
        return _tuple_alternatives(items, brackets)
    pm = _PM_RE.search(s)
    if pm:
        plus = "+" if pm.group(1) == "pm" else "-"
        minus = "-" if plus == "+" else "+"
        a = s[: pm.start()] + plus + s[pm.end() :]
        b = s[: pm.start()] + minus + s[pm.end() :]
        return Node("list", items=(_parse(_tidy_sign(a), answer_type, depth + 1),
                                   _parse(_tidy_sign(b), answer_type, depth + 1)), brackets="pm")
    return leaf(s)


def _tuple_alternatives(items: list[Node], brackets: str) -> Node:
    """(\\pm 1, 2) is the two points (1, 2) and (-1, 2)."""
    choices = [i.items if i.kind == "list" and i.brackets == "pm" else (i,) for i in items]
    if all(len(c) == 1 for c in choices):
        return Node("tuple", items=tuple(items), brackets=brackets)
    combos = list(itertools.islice(itertools.product(*choices), MAX_ITEMS + 1))
    return Node("list", items=tuple(Node("tuple", items=c, brackets=brackets) for c in combos), brackets="pm")


def _matrix(env: str, body: str) -> Node:
    rows = [r for r in re.split(r"\\\\", body) if r.strip() and not r.strip().startswith("\\hline")]
    cells = [[c.strip() for c in r.replace("\\hline", "").split("&")] for r in rows]
    if env in ("vmatrix", "Vmatrix") and cells and all(len(r) == len(cells) for r in cells) and len(cells) <= 4:
        return leaf(determinant(cells))  # a determinant is a number, not a matrix
    return Node(
        "matrix",
        items=tuple(Node("tuple", items=tuple(leaf(c) for c in r), brackets="()") for r in cells),
    )


def determinant(cells: list[list[str]]) -> str:
    """The Leibniz expansion of a small determinant, as LaTeX the evaluator reads."""
    n = len(cells)
    terms = []
    for perm in itertools.permutations(range(n)):
        inversions = sum(1 for i in range(n) for j in range(i + 1, n) if perm[i] > perm[j])
        product = "".join(f"({cells[i][perm[i]]})" for i in range(n))
        terms.append(("-" if inversions % 2 else "+") + product)
    return "".join(terms).lstrip("+")


def _tidy_sign(s: str) -> str:
    s = s.strip()
    return s[1:] if s.startswith("+") else s


def unwrap_single(node: Node) -> Node:
    """A one-element list is its element (so "\\{5\\}" and "5" compare alike where allowed)."""
    if node.kind in ("list", "set") and len(node.items) == 1:
        return node.items[0]
    return node

"""Matrices and vectors in any environment (pmatrix, bmatrix, array in brackets), and their sums/products.

A column vector and a tuple are the same vector when the gold is a vector. A prediction written
as an expression of matrix literals (``A + B``, ``A B``, ``2A``) is evaluated cell by cell into
LaTeX strings, which the value form then compares, so no matrix algebra engine is needed.
"""

from __future__ import annotations

import re

from ..context import Context
from ..limits import MAX_MATRIX_CELLS
from ..normalize import normalize
from ..shape import Node, leaf, parse_shape

Grid = list[list[Node]]
_ENV_RE = re.compile(r"\\begin\{([pbBvV]?matrix|smallmatrix|array)\}")


def applies(gold: Node) -> bool:
    return gold.kind == "matrix"


def rows(node: Node) -> Grid | None:
    """The cells of a matrix, a vector written as a tuple (a column), or a matrix expression."""
    if node.kind == "matrix":
        return [list(row.items) for row in node.items]
    if node.kind == "tuple" and node.brackets in ("()", "[]"):
        return [[item] for item in node.items]
    if node.kind == "expr" and "\\begin{" in node.text:
        return _evaluate_expression(node.text)
    return None


def equal(g: Node, p: Node, ctx: Context) -> bool:
    gr, pr = rows(g), rows(p)
    if gr is None or pr is None:
        return ctx.decide("matrix", False, "not a matrix")
    if len(gr) == 1 and len(pr) > 1 and all(len(r) == 1 for r in pr):
        gr = [[x] for x in gr[0]]  # a row vector against a column vector
    if len(pr) == 1 and len(gr) > 1 and all(len(r) == 1 for r in gr):
        pr = [[x] for x in pr[0]]
    shape_ok = len(gr) == len(pr) and all(len(a) == len(b) for a, b in zip(gr, pr, strict=True))
    if not shape_ok:
        return ctx.decide("matrix", False, "shapes differ")
    ok = all(ctx.equal(a, b) for ra, rb in zip(gr, pr, strict=True) for a, b in zip(ra, rb, strict=True))
    return ctx.decide("matrix", ok)


def key(node: Node) -> str:
    from . import key as form_key

    grid = rows(node)
    if grid is None:
        return "s:" + node.show()
    return "matrix[" + "|".join("row[" + "|".join(form_key(c) for c in r) + "]" for r in grid) + "]"


# --- matrix expressions ------------------------------------------------------------------------


def _evaluate_expression(text: str) -> Grid | None:
    """``\\begin{pmatrix}..\\end{pmatrix} + \\begin{pmatrix}..\\end{pmatrix}``, products, scalar multiples."""
    literals: list[list[list[str]]] = []
    masked = ""
    pos = 0
    for m in _ENV_RE.finditer(text):
        if m.start() < pos:
            return None  # nested environments
        end_tag = f"\\end{{{m.group(1)}}}"
        end = text.find(end_tag, m.end())
        if end < 0:
            return None
        literal = parse_shape(text[m.start() : end + len(end_tag)])
        if literal.kind != "matrix":
            return None
        masked += text[pos : m.start()] + f" @{len(literals)}@ "
        literals.append([[c.text for c in row.items] for row in literal.items])
        pos = end + len(end_tag)
    masked += text[pos:]
    total: list[list[str]] | None = None
    for sign, term in _terms(masked):
        product = _product(term, literals)
        if product is None:
            return None
        if sign == "-":
            product = [[f"-({c})" for c in r] for r in product]
        if total is None:
            total = product
        elif _dims(total) == _dims(product):
            total = [[f"({a})+({b})" for a, b in zip(ra, rb, strict=True)] for ra, rb in zip(total, product,
                                                                                            strict=True)]
        else:
            return None
    if total is None or sum(len(r) for r in total) > MAX_MATRIX_CELLS:
        return None
    return [[leaf(normalize(c)) for c in r] for r in total]


def _terms(masked: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    sign, start, depth = "+", 0, 0
    for i, c in enumerate(masked):
        if c in "({[":
            depth += 1
        elif c in ")}]":
            depth -= 1
        elif c in "+-" and depth == 0 and masked[start:i].strip():
            out.append((sign, masked[start:i]))
            sign, start = c, i + 1
        elif c in "+-" and depth == 0:
            sign, start = ("-" if (c == "-") != (sign == "-") else "+"), i + 1
    out.append((sign, masked[start:]))
    return out


def _product(term: str, literals: list[list[list[str]]]) -> list[list[str]] | None:
    """Matrix literals and scalar factors multiplied together, left to right."""
    pieces = re.split(r"@(\d+)@", term)
    factors = [literals[int(i)] for i in pieces[1::2]]
    scalar = re.sub(r"\\(?:cdot|times)|[()\[\]]", " ", "".join(pieces[0::2])).strip()
    if not factors:
        return None
    result = factors[0]
    for other in factors[1:]:
        if any(len(r) != len(other) for r in result):
            return None
        result = [
            ["+".join(f"({row[k]})({other[k][j]})" for k in range(len(other))) for j in range(len(other[0]))]
            for row in result
        ]
    if scalar:
        if not re.fullmatch(r"[-\w\\{}^/. ]+", scalar):
            return None
        result = [[f"({scalar})({c})" for c in r] for r in result]
    return result


def _dims(grid: list[list[str]]) -> tuple[int, ...]:
    return (len(grid), *(len(r) for r in grid))

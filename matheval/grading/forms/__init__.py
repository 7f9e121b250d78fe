"""The answer forms, and the one table that picks a form from the gold's shape.

Each form module holds `applies(gold)`, `equal(gold, pred, ctx)` and `key(node)`. To add a form,
write its module and put it in FORMS at the place where it should win over the ones after it.
Choice letters are decided on the raw text before any shape is read (see forms/choice.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..context import Context, Cues
from ..shape import Node
from . import colon, equation, interval, matrix, sequence, text, value


@dataclass(frozen=True)
class Form:
    name: str
    applies: Callable[[Node, Cues], bool]
    equal: Callable[[Node, Node, Context], bool]
    key: Callable[[Node], str]


FORMS: tuple[Form, ...] = (
    Form("matrix", lambda g, c: matrix.applies(g), matrix.equal, matrix.key),
    Form("interval", interval.applies, interval.equal, interval.key),
    Form("equation", lambda g, c: equation.applies(g), equation.equal, equation.key),
    Form("sequence", lambda g, c: sequence.applies(g), sequence.equal, sequence.key),
    Form("colon", lambda g, c: colon.applies(g), colon.equal, colon.key),
    Form("text", lambda g, c: text.applies(g), text.equal, text.key),
    Form("value", lambda g, c: True, value.equal, value.key),
)
_NO_CUES = Cues()


def form_of(gold: Node, cues: Cues = _NO_CUES) -> Form:
    """The form that decides a comparison against `gold` (the last one, value, always applies)."""
    for form in FORMS:
        if form.applies(gold, cues):
            return form
    return FORMS[-1]


def compare(g: Node, p: Node, ctx: Context) -> bool:
    return form_of(g, ctx.cues).equal(g, p, ctx)


def key(node: Node) -> str:
    """Canonical key of one answer shape: equal keys mean certainly-equivalent answers.

    Leaves are "n:<exact value>", "d:<decimal>", "s:<string>" or "t:<text>"; a composite shape is
    its kind, brackets and operators, then its pieces' keys as "[a|b|...]".
    """
    return form_of(node).key(node)


def composite_key(node: Node) -> str:
    """The key of a shape no form reads more closely: kind, brackets, operators, the pieces' keys."""
    if node.kind == "expr":
        return value.key(node)
    return f"{node.kind}{node.brackets}{''.join(node.ops)}[" + "|".join(key(i) for i in node.items) + "]"


__all__ = ["FORMS", "Form", "compare", "composite_key", "form_of", "key"]

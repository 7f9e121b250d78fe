"""A textual answer ("Evelyn", "odd", "infinitely many"): normalised words, a few fixed synonyms.

Synonyms are whole concepts a gold may name in words or symbols (``\\text{infinitely many}`` and
``\\infty``; "no solution" and ``\\emptyset``); they never connect a word to a number.
"""

from __future__ import annotations

import re

from ..context import Context
from ..latex import unwrap_command
from ..normalize import TEXT_COMMANDS
from ..shape import Node

_WORD_RE = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{3,}")
_WORDS3 = frozenset("odd yes all any not one two six ten and nor off".split())
_SYNONYMS = {
    "infinite": ("infinitelymany", "infinite", "infinity", "\\infty", "infty", "infinitelymanysolutions",
                 "infinitelymanyvalues", "thereareinfinitelymany", "unbounded"),
    "none": ("nosolution", "nosolutions", "norealsolution", "norealsolutions", "none", "nosuch", "noanswer",
             "\\emptyset", "emptyset", "theemptyset", "noneofthese", "thereisnosolution", "nointeger",
             "nointegers", "norealroots", "noroots", "nosuchnumber", "nosuchvalue"),
    "yes": ("yes", "true", "itispossible", "possible"),
    "no": ("no", "false", "itisnotpossible", "impossible", "notpossible"),
    "undefined": ("undefined", "doesnotexist", "dne", "notdefined", "isundefined"),
    "reals": ("allrealnumbers", "\\mathbb{r}", "mathbbr", "allreals", "r", "everyrealnumber", "allrealx",
              "(-\\infty,\\infty)"),
}
_CANON = {form: concept for concept, forms in _SYNONYMS.items() for form in forms}


def is_text(s: str) -> bool:
    """A textual answer: wrapped in \\text{} as a whole, or carrying a plain word.

    A word is 4+ letters or a common 3-letter one: "abc" stays a product of variables.
    """
    stripped = s.strip()
    if re.fullmatch(r"\\(?:text|textrm|textbf|mbox|mathrm|textnormal)\s*\{[^{}]*\}", stripped):
        inner = unwrap_command(stripped, TEXT_COMMANDS).strip()
        return not re.fullmatch(r"[-+]?\d+(?:\.\d+)?|[a-zA-Z]", inner)
    plain = unwrap_command(stripped, TEXT_COMMANDS)
    return any(len(w) >= 4 or w.lower() in _WORDS3 for w in _WORD_RE.findall(plain))


def text_key(s: str) -> str:
    """Case-, space- and punctuation-insensitive form of a textual answer."""
    s = unwrap_command(s, TEXT_COMMANDS).replace("$", "").lower()
    return re.sub(r"[\s.,;:!?'\"{}()\\]", "", s)


def concept(s: str) -> str | None:
    """The synonym class a text or symbol belongs to ("infinite", "none", ...), if any."""
    raw = unwrap_command(s, TEXT_COMMANDS).replace("$", "").lower()
    raw = re.sub(r"^(?:there (?:is|are) |it is |the answer is )", "", raw.strip())
    return _CANON.get(re.sub(r"[\s.,;:!?'\"]", "", raw)) or _CANON.get(text_key(s))


def applies(gold: Node) -> bool:
    return gold.kind == "expr" and is_text(gold.text)


def equal(g: Node, p: Node, ctx: Context) -> bool:
    if p.kind == "eq" and len(p.items) == 2 and p.items[1].kind == "expr":
        p = p.items[1]  # "x = \text{none}"
    if p.kind == "empty":
        return ctx.decide("text", concept(g.text) == "none")
    if p.kind != "expr":
        return ctx.decide("text", False, f"gold is text, prediction is {p.kind}")
    gk, pk = text_key(g.text), text_key(p.text)
    if gk == pk and gk:
        return ctx.decide("text", True)
    gc = concept(g.text)
    return ctx.decide("text", gc is not None and gc == concept(p.text))


def key(node: Node) -> str:
    c = concept(node.text)
    return "t:~" + c if c else "t:" + text_key(node.text)

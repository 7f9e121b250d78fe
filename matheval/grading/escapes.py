"""Undo broken escaping in answers that went through JSON or Python strings before reaching us.

Two real-world accidents: a string literal without the r-prefix eats ``\\f`` of ``\\frac`` (a form
feed is left), ``\\t`` of ``\\times`` (a tab), ``\\b`` of ``\\boxed``; and a double-escaped dump
leaves ``\\\\frac`` and a literal ``\\n`` where one backslash and a newline were meant. Both are
repaired only where the result is a known LaTeX command, so a real ``\\\\`` row break survives.
"""

from __future__ import annotations

import re

_COMMANDS = (
    "frac dfrac tfrac cfrac sqrt boxed fbox text textbf textrm mathrm mathbf operatorname left right "
    "le leq ge geq ne neq lt gt cdot times div pm mp pi infty begin end in cup cap emptyset varnothing "
    "sin cos tan cot sec csc log ln exp lfloor rfloor lceil rceil binom dbinom approx circ degree "
    "alpha beta gamma delta theta lambda mu sigma phi omega quad qquad mid overline dots ldots cdots "
    "mathbb angle triangle prime hline"
).split()
_COMMAND_ALT = "|".join(sorted(_COMMANDS, key=len, reverse=True))
# \\frac -> \frac, but not \\\frac (a row break then \frac) and not a \\ row break before a digit.
_OVER_ESCAPED_RE = re.compile(r"(?<!\\)\\\\(?=(?:" + _COMMAND_ALT + r")(?![a-zA-Z]))")
# A control character left where "\f", "\b", "\t", "\r", "\a", "\v" started a command.
_SWALLOWED = {"\x0c": "f", "\x08": "b", "\t": "t", "\r": "r", "\x07": "a", "\x0b": "v"}
_SWALLOWED_RE = re.compile(
    "([\x0c\x08\t\r\x07\x0b])(?=(" + "|".join(sorted({c[1:] for c in _COMMANDS if c[0] in "fbtrav"}, key=len,
                                                     reverse=True)) + r")(?![a-zA-Z]))"
)
_LITERAL_NEWLINE_RE = re.compile(r"\\n(?!(?:e|eq|u|ot|abla|eg|ewline|ormalsize|leq|geq|mid)(?![a-zA-Z]))")


def needs_repair(text: str) -> bool:
    return "\\\\" in text or any(c in text for c in _SWALLOWED) or "\\n" in text


def repair(text: str) -> str:
    """`text` with swallowed and doubled escapes restored (unchanged when there are none)."""
    if not needs_repair(text):
        return text
    s = _SWALLOWED_RE.sub(lambda m: "\\" + _SWALLOWED[m.group(1)], text)
    s = _OVER_ESCAPED_RE.sub(r"\\", s)
    if "\n" not in s and "\\n" in s:
        # A dump that kept "\n" as two characters: restore the line breaks it meant.
        s = _LITERAL_NEWLINE_RE.sub("\n", s)
    return s

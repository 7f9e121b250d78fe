"""Multiple-choice letters: the chosen option in a response, or the letter a short answer stands for.

In prose the chosen letter is the anchored one ("the answer is for sure D", "réponse est C",
"答案是B"), else a leading "D." / "B。", else the last letter mentioned that is not rejected: a
letter after "not", "can't be", "non", "不是" in its clause, or followed by "is wrong", is an
option the response rules out ("it can't be A or B", "Options A, B and C are wrong").
"""

from __future__ import annotations

import re

from .latex import find_boxes
from .records import Extraction

_ANCHOR = (
    r"(?:answer\s*(?:is|would be|should be|will be|:)|r[ée]ponse\s*(?:finale\s*)?(?:est|:)|respuesta\s*(?:es|:)|"
    r"antwort\s*(?:ist|:)|resposta\s*(?:é|e|:)|答案\s*(?:是|为|:)?|选项\s*(?:是|为)?|选择?|"
    r"(?:correct|right|best)\s+(?:option|choice|answer)\s*(?:is|:)?|(?:option|choice)\s*(?:is|:)?)"
)
_FILLER = (
    r"(?:\s|\*|:|\$|\((?=\\text)|for sure|definitely|clearly|certainly|probably|likely|indeed|obviously|option|choice"
    r"|\\text\{|\\textbf\{)*"
)
_CHOOSING = (
    r"(?:it'?s|it is|is|be|choose|chose|pick|select|go with|option|choice|answer|letter|to|c'est|est|是|选)"
)
_NEGATION_BEFORE = re.compile(
    r"(?:\b(?:not|no|never|neither|nor|except|eliminat\w*|exclud\w*|rul\w* out|rather than|instead of|"
    r"non|pas|nicht|kein\w*|wrong|incorrect)\b|n't|不是|不|非|排除)",
    re.IGNORECASE,
)
_NEGATION_AFTER = re.compile(
    r"^\)?\}?(?:\s*(?:,|or|and|nor|&|/)\s*\(?[A-J]\)?)*\s*(?:is|are|was|were|seems?|looks?|would be)?\s*"
    r"(?:not\b|n't|wrong|incorrect|false|invalid|impossible|eliminated|ruled out|excluded|不对|错)",
    re.IGNORECASE,
)
_CLAUSE_BREAK = re.compile(
    r"[.;!?。；，,\n]|\b(?:so|therefore|thus|hence|but|then|donc|mais|also|instead)\b|所以|因此|但是|而是",
    re.IGNORECASE,
)


def choice_letter(answer: str, choices: str = "ABCDE") -> str | None:
    """The option letter a short answer stands for: "B", "(B)", "\\text{(B)}", "B) 12", "B. 12".

    None when the answer is not clearly a letter (a bare "a" or "I" inside a sentence is not).
    """
    s = answer.strip().strip("$").strip()
    s = re.sub(r"\\(?:text|textbf|mathrm|mathbf|textrm)\s*\{([^{}]*)\}", r"\1", s).strip()
    s = s.strip("*").strip()
    letters = re.escape(choices)
    m = re.fullmatch(rf"\(?([{letters}])\)?\.?", s)
    if m:
        return m.group(1)
    m = re.match(rf"\(([{letters}])\)|([{letters}])[.):](?![A-Za-z])", s)
    if m:
        return m.group(1) or m.group(2)
    return None


def gold_letter(gold: str, choices: str = "ABCDEFGHIJ") -> str | None:
    """The letter of a choice gold: "C", "(C)", "(D) Alina", "C Cecile" (letter, then the option text)."""
    s = gold.strip()
    got = choice_letter(s, choices)
    if got:
        return got
    m = re.match(rf"^\\?(?:text\{{)?\(?([{re.escape(choices)}])\)?\}}?\s+[A-Z][a-z]", s)
    return m.group(1) if m else None


def find_choice(text: str, choices: str = "ABCDE") -> Extraction | None:
    """The chosen option letter of a response (see the module docstring)."""
    if len(text) <= 30:
        got = choice_letter(text, choices)  # a short answer: "$E$", "\\text{(C)}", "B."
        if got:
            return Extraction(got, (got,), "choice", (0, len(text)))
    letters = re.escape(choices)
    letter = rf"\(?([{letters}])\)?(?![A-Za-z])"
    best: tuple[int, int, str] | None = None
    for m in re.finditer(_ANCHOR + _FILLER + letter, text, re.IGNORECASE):
        if m.group(1).upper() != m.group(1) or _rejected(text, m.start(1)):
            continue  # "the answer is a bit", "the answer is not A"
        if best is None or m.start(1) > best[0]:
            best = (m.start(1), m.end(1), m.group(1))
    if best is not None:
        return Extraction(best[2], (best[2],), "choice", (best[0], best[1]))
    for start, end, content in reversed(find_boxes(text)):
        got = choice_letter(content, choices)
        if got:
            return Extraction(got, (got,), "choice", (start, end))
    m = re.match(rf"^\s*\**\(?([{letters}])\)?\**(?:[.):。，,]|(?=[^\x00-\x7f])|\s*$|\s+(?![a-z]))", text)
    if m:
        return Extraction(m.group(1), (m.group(1),), "choice", (m.start(1), m.end(1)))
    marked = rf"\(([{letters}])\)|(?m:^\s*([{letters}])[.):](?:\s|$))"
    # A bare letter in prose counts only after a choosing phrase ("I think it's B") or as the
    # response's last word: elsewhere "A" and "B" are points, events and sets.
    cued = rf"{_CHOOSING}\s*\**\(?([{letters}])\)?(?![A-Za-z])|(?<![A-Za-z])([{letters}])\)?[\s.!*]*$"
    for pattern in (marked, cued):
        found = [
            (m.start(g), m.end(g), m.group(g))
            for m in re.finditer(pattern, text)
            for g in range(1, (m.lastindex or 0) + 1)
            if m.group(g) and not _rejected(text, m.start(g)) and not _article(text, m.start(g))
        ]
        if found:
            start, end, got = found[-1]
            return Extraction(got, (got,), "choice", (start, end))
    return None


def _rejected(text: str, pos: int) -> bool:
    """Is the letter at `pos` an option the response rules out?"""
    window = text[max(0, pos - 80) : pos]
    breaks = list(_CLAUSE_BREAK.finditer(window))
    clause = window[breaks[-1].end() :] if breaks else window
    if _NEGATION_BEFORE.search(clause):
        return True
    return bool(_NEGATION_AFTER.match(text[pos + 1 : pos + 80]))


def _article(text: str, pos: int) -> bool:
    """"A car travels ...": the English article, not option A."""
    if text[pos] != "A":
        return False
    after = text[pos + 1 : pos + 3]
    before = text[max(0, pos - 14) : pos].lower()
    return bool(re.match(r" [a-z]", after)) and not re.search(r"(?:is|be|choose|pick|select|option|it's)\s*$", before)

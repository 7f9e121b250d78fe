"""Multiple-choice letters: find the chosen option in a response, or read it off a short answer."""

from __future__ import annotations

import re

from .latex import find_boxes
from .records import Extraction

_ANCHORS = (
    r"answer\s*(?:is|:)\s*:?\s*(?:option\s*|choice\s*)?",
    r"(?:答案|选项|选)\s*(?:是|为|:)?\s*",
    r"(?:the\s+)?(?:correct\s+)?(?:option|choice)\s*(?:is\s*)?",
)


def choice_letter(answer: str, choices: str = "ABCDE") -> str | None:
    """The option letter a short answer stands for: "B", "(B)", "\\text{(B)}", "B) 12", "B. 12".

    None when the answer is not clearly a letter (a bare "a" or "I" inside a sentence is not).
    """
    s = answer.strip().strip("$").strip()
    s = re.sub(r"\\(?:text|textbf|mathrm|mathbf)\s*\{([^{}]*)\}", r"\1", s).strip()
    s = s.strip("*").strip()
    letters = re.escape(choices)
    m = re.fullmatch(rf"\(?([{letters}])\)?\.?", s)
    if m:
        return m.group(1)
    m = re.match(rf"\(([{letters}])\)|([{letters}])[.):](?![A-Za-z])", s)
    if m:
        return m.group(1) or m.group(2)
    return None


def find_choice(text: str, choices: str = "ABCDE") -> Extraction | None:
    """Last clearly marked option letter in a response, anchored forms first."""
    letters = re.escape(choices)
    letter = rf"\(?\\?(?:text\{{)?([{letters}])\}}?\)?(?![A-Za-z])"
    best: tuple[int, int, str] | None = None
    for anchor in _ANCHORS:
        for m in re.finditer(anchor + r"\$?" + letter, text, re.IGNORECASE):
            if m.group(1).upper() != m.group(1):
                continue  # "the answer is a bit" must not read as option A
            if best is None or m.start(1) > best[0]:
                best = (m.start(1), m.end(1), m.group(1))
    if best is not None:
        return Extraction(best[2], (best[2],), "choice", (best[0], best[1]))
    for start, end, content in reversed(find_boxes(text)):
        got = choice_letter(content, choices)
        if got:
            return Extraction(got, (got,), "choice", (start, end))
    marked = list(re.finditer(rf"\(([{letters}])\)|(?m:^\s*([{letters}])[.):](?:\s|$))", text))
    if marked:
        m = marked[-1]
        group = 1 if m.group(1) else 2
        return Extraction(m.group(group), (m.group(group),), "choice", (m.start(group), m.end(group)))
    got = choice_letter(text, choices)
    if got:
        return Extraction(got, (got,), "choice", (0, len(text)))
    return None

"""Find the final answer in a model response: ``extract_answer(text, style)``.

Styles (each returns None when it finds nothing; every style first drops a closed
``<think>...</think>`` block and reports an unclosed one as status "unclosed_think"):

- "auto": the strong anchor that comes last in the text among Minerva's "The final answer is X",
  the last group of ``\\boxed{}``/``\\fbox{}`` and GSM8K's ``#### X``; failing those "The answer is
  X" / "Answer: X", then Chinese anchors, then a program's output block, then the last number.
- "boxed": only boxes. Several boxes ending the response in a row (``\\boxed{2}, \\boxed{5}``)
  are several answers.
- "minerva": "Final Answer: The final answer is $X$. I hope it is correct.", then boxes, then the
  last number.
- "gsm8k": ``#### N`` (gold format and GSM8K-tuned models), then "The answer is N", then the last
  number.
- "choice": an option letter (``choices="ABCD"`` keyword, default A-E) from "answer is (B)",
  ``答案是C``, a boxed letter, a final "(B)" or a line starting "B." / "B)".
- "zh": 答案是 / 答案为 / 答案：/ 最终答案 (full-width punctuation folded), then boxes, then the last
  number.
- "number": the last number in the text.
- "program_output": the last line of the last ```` ```output ```` block (ToRA / PoT style).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .latex import find_boxes, halfwidth, split_top_level
from .records import Extraction

MAX_ANSWER_CHARS = 2000

_THINK_OPEN = "<think>"
_THINK_CLOSE = "</think>"

_MINERVA_RE = re.compile(r"final answer is\s*:?\s*", re.IGNORECASE)
# "#### 72" ends a GSM8K solution; "#### Step 1" is a markdown heading.
_HASH_RE = re.compile(r"####\s*(?=[-+$\\\d.])")
_ANSWER_IS_RE = re.compile(r"(?:answer\s*(?:is|was|would be|should be)|answer\s*[:=])[\s*:]*", re.IGNORECASE)
_ZH_RE = re.compile(r"(?:最终答案|答案)\s*(?:是|为|应为|:)\s*:?\s*")
_NUMBER_RE = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?(?:/\d+)?|\.\d+)(?![\w])")
_OUTPUT_BLOCK_RE = re.compile(r"```output\s*\n(.*?)(?:```|$)", re.DOTALL)
_BOX_GAP_RE = re.compile(r"^[\s$,;.]*(?:\\text\{\s*(?:and|or)\s*\}|and|or|&|\\quad|\\qquad|\\\\)?[\s$,;.]*$")
_CJK_RE = re.compile(r"[\u4e00-\u9fff]")


def extract_answer(text: str, style: str = "auto", **kwargs: str) -> Extraction | None:
    """The answer span of `text` and how it was found; None when the style finds nothing."""
    if style not in STYLES:
        raise ValueError(f"unknown extraction style {style!r}; known: {', '.join(STYLES)}")
    # `choices` is accepted by every style (a task's extract options do not depend on the
    # style a CLI flag picks) but only the choice style reads it.
    unknown = set(kwargs) - {"choices"}
    if unknown:
        raise TypeError(f"extract_answer(style={style!r}) got unexpected option(s) {sorted(unknown)}")
    if not isinstance(text, str) or not text.strip():
        return None
    text = halfwidth(text)
    offset = 0
    close = text.rfind(_THINK_CLOSE)
    if close >= 0:
        offset = close + len(_THINK_CLOSE)
    elif _THINK_OPEN in text:
        end = len(text)
        return Extraction(answer="", answers=(), method="think", span=(end, end), status="unclosed_think")
    found = STYLES[style](text[offset:], **kwargs) if style == "choice" else STYLES[style](text[offset:])
    if found is None:
        return None
    return Extraction(
        answer=found.answer,
        answers=found.answers,
        method=found.method,
        span=(found.span[0] + offset, found.span[1] + offset),
        status=found.status,
    )


def _make(answer: str, method: str, start: int, end: int, answers: tuple[str, ...] = ()) -> Extraction | None:
    answer = answer.strip()
    if not answer:
        return None
    answer = answer[:MAX_ANSWER_CHARS]
    if not answers:
        # Blanks of one answer ("2; 5", "3 \text{and} 4") are listed apart for the report.
        pieces = [
            p.strip() for p in split_top_level(answer, (";", "\\text{and}", "\\text{ and }")) if p.strip()
        ]
        answers = tuple(pieces) if len(pieces) > 1 else (answer,)
    return Extraction(answer=answer, answers=answers, method=method, span=(start, end))


# --- anchors ---------------------------------------------------------------------------------


def _boxed(text: str) -> Extraction | None:
    boxes = [b for b in find_boxes(text) if b[2].strip()]
    if not boxes:
        return None
    group = [boxes[-1]]
    for prev in reversed(boxes[:-1]):
        gap = text[prev[1] : group[0][0]]
        if len(gap) > 40 or not _BOX_GAP_RE.match(gap):
            break
        group.insert(0, prev)
    contents = tuple(b[2].strip() for b in group)
    return _make(
        ", ".join(contents), "boxed", group[0][0], group[-1][1], contents if len(contents) > 1 else ()
    )


def _after_anchor(text: str, pattern: re.Pattern[str], method: str) -> Extraction | None:
    matches = list(pattern.finditer(text))
    for m in reversed(matches):
        found = _take_statement(text, m.end(), method)
        if found is not None:
            return found
    return None


def _take_statement(text: str, start: int, method: str) -> Extraction | None:
    """The answer that follows an anchor: a math span, a box, or the rest of the sentence."""
    rest = text[start : start + MAX_ANSWER_CHARS]
    lead = len(rest) - len(rest.lstrip(" \t*"))
    rest = rest[lead:]
    begin = start + lead
    spans = _math_spans(rest)
    if spans:
        parts = [_unbox(inner) for inner, _, _ in spans]
        joined = parts[0] + "".join(
            f"{sep} {part}" for (_, _, sep), part in zip(spans[1:], parts[1:], strict=True)
        )
        return _make(joined, method, begin, begin + spans[-1][1], tuple(parts) if len(parts) > 1 else ())
    boxes = find_boxes(rest[:200])
    if boxes and boxes[0][0] < 5:
        return _make(boxes[0][2], method, begin + boxes[0][0], begin + boxes[0][1])
    # A period ends the sentence only before whitespace, so "3.5" stays whole.
    m = re.search(r"\n|[.!?](?=\s|$)|I hope it is correct", rest)
    end = m.start() if m else len(rest)
    answer = rest[:end].strip().rstrip(",;:")
    if method == "zh_anchor":
        cjk = _CJK_RE.search(answer)
        if cjk:
            answer = answer[: cjk.start()].rstrip(" ,;:")
    answer = answer.strip("*").strip()
    if answer.startswith("$") and answer.endswith("$") and len(answer) > 1:
        answer = answer.strip("$")
    return _make(answer, method, begin, begin + end)


_CONNECTIVE_RE = re.compile(r"\s*(,|and|or|\\text\{\s*(?:and|or)\s*\})\s*(?=\$|\\\()")


def _math_spans(rest: str) -> list[tuple[str, int, str]]:
    """Math spans opening `rest`: "$x = 2$ or $x = 3$" gives both, with the word joining them.

    Returns (content, end offset, connective before it) per span; empty if `rest` opens no span.
    """
    spans: list[tuple[str, int, str]] = []
    pos = 0
    sep = ""
    while True:
        for opener, closer in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
            if rest.startswith(opener, pos):
                end = _find_unescaped(rest, closer, pos + len(opener))
                if end > pos + len(opener):
                    spans.append((rest[pos + len(opener) : end], end + len(closer), sep))
                    pos = end + len(closer)
                    break
                return spans
        else:
            return spans
        m = _CONNECTIVE_RE.match(rest, pos)
        if m is None:
            return spans
        word = m.group(1)
        sep = "," if word == "," else (" and" if "and" in word else " or")
        pos = m.end()


def _unbox(inner: str) -> str:
    boxes = find_boxes(inner)
    return boxes[0][2] if len(boxes) == 1 else inner


def _find_unescaped(text: str, token: str, start: int) -> int:
    """Index of `token` at or after `start` that is not escaped (``\\$`` is a dollar sign)."""
    pos = text.find(token, start)
    while pos > 0 and text[pos - 1] == "\\" and token == "$":
        pos = text.find(token, pos + 1)
    return pos


def _last_number(text: str) -> Extraction | None:
    last = None
    for last in _NUMBER_RE.finditer(text):  # noqa: B007 - we want the final match
        pass
    if last is None:
        return None
    return _make(last.group(0), "last_number", last.start(), last.end())


def _program_output(text: str) -> Extraction | None:
    blocks = list(_OUTPUT_BLOCK_RE.finditer(text))
    if not blocks:
        return None
    block = blocks[-1]
    lines = [ln for ln in block.group(1).splitlines() if ln.strip()]
    if not lines:
        return None
    last = lines[-1]
    start = block.start(1) + block.group(1).rfind(last)
    return _make(last, "program_output", start, start + len(last))


def _latest(*found: Extraction | None) -> Extraction | None:
    present = [f for f in found if f is not None]
    return max(present, key=lambda f: f.span[0]) if present else None


def _first(*steps: Callable[[], Extraction | None]) -> Extraction | None:
    for step in steps:
        found = step()
        if found is not None:
            return found
    return None


# --- styles ----------------------------------------------------------------------------------


def _style_auto(text: str) -> Extraction | None:
    return _first(
        lambda: _latest(
            _after_anchor(text, _MINERVA_RE, "minerva_final"),
            _boxed(text),
            _after_anchor(text, _HASH_RE, "gsm8k_hash"),
        ),
        lambda: _after_anchor(text, _ANSWER_IS_RE, "answer_is"),
        lambda: _after_anchor(text, _ZH_RE, "zh_anchor"),
        lambda: _program_output(text),
        lambda: _last_number(text),
    )


def _style_boxed(text: str) -> Extraction | None:
    return _boxed(text)


def _style_minerva(text: str) -> Extraction | None:
    return _first(
        lambda: _after_anchor(text, _MINERVA_RE, "minerva_final"),
        lambda: _boxed(text),
        lambda: _last_number(text),
    )


def _style_gsm8k(text: str) -> Extraction | None:
    found = _first(
        lambda: _after_anchor(text, _HASH_RE, "gsm8k_hash"),
        lambda: _after_anchor(text, _ANSWER_IS_RE, "answer_is"),
    )
    if found is not None:
        # GSM8K answers are numbers: keep the number inside "$1,200 per month." and the like.
        # After "####" (a one-number format) several numbers ("#### 125,96") are a hedge between
        # answers and stay whole, so the grader sees two answers given for one. After "The answer
        # is" a sentence usually follows ("Kylar needs to pay $64 for 16 glasses"): its first number.
        numbers = list(_NUMBER_RE.finditer(found.answer.replace("$", " ")))
        if len(numbers) == 1 or (numbers and found.method != "gsm8k_hash"):
            inner = numbers[0].group(0)
            return Extraction(inner, (inner,), found.method, found.span)
        return found
    return _last_number(text)


def _style_zh(text: str) -> Extraction | None:
    return _first(
        lambda: _after_anchor(text, _ZH_RE, "zh_anchor"),
        lambda: _boxed(text),
        lambda: _last_number(text),
    )


def _style_number(text: str) -> Extraction | None:
    return _last_number(text)


def _style_program_output(text: str) -> Extraction | None:
    return _program_output(text)


def _style_choice(text: str, choices: str = "ABCDE") -> Extraction | None:
    from .choice import find_choice  # local: the choice rules are only needed for this style

    return find_choice(text, choices)


STYLES: dict[str, Callable[..., Extraction | None]] = {
    "auto": _style_auto,
    "boxed": _style_boxed,
    "minerva": _style_minerva,
    "gsm8k": _style_gsm8k,
    "choice": _style_choice,
    "zh": _style_zh,
    "number": _style_number,
    "program_output": _style_program_output,
}

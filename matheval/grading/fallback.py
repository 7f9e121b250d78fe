"""When a response has no final-answer marker: its last value, and the signs that it has none at all.

`last_candidate` is the last math span (``$…$``, ``\\(…\\)``, ``\\[…\\]``) or the last run of math
in the prose ("so we get \\sqrt{5}", "3 + 10 = 13只"), never a digit inside a LaTeX expression, so
``\\frac{1}{12}`` is not read as 12. `looping` and the template-token cut recognise responses that
never reached an answer; the extractor turns those, and cut-off responses, into no answer.
"""

from __future__ import annotations

import re
import zlib

from .anchors import find_unescaped, is_currency_span, is_prose, make
from .records import Extraction

# Number for the last-number styles (number, zh, minerva): ASCII boundaries, so digits next to
# CJK text ("13只") count and digits inside an identifier ("AZYUK2A") do not.
NUMBER_RE = re.compile(
    r"(?<![A-Za-z0-9_.])-?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?(?:/\d+)?|\.\d+)(?![0-9]|\.\d|,\d{3})"
)
# matheval 1's number, kept by the "gsm8k" style whose published-figure reproductions it pins.
LEGACY_NUMBER_RE = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?(?:/\d+)?|\.\d+)(?![\w])")
_TOKEN_RE = re.compile(r"[\x21-\x7e]+")
_WORD_RE = re.compile(r"^[(\"'*]*[A-Za-z]{2,}(?:'[a-z]+)?[)\"'*.,;:!?]*$|^[A-Za-z]+'[A-Za-z]+")
_OPERATOR_RE = re.compile(r"^(?:[-+*/=<>^:]|\\(?:cdot|times|div|le|ge|ne|approx|pm)|\\?[<>]=?|=+)$")
_MATH_HINT_RE = re.compile(r"\d|\\(?!text\b|textbf\b|mathrm\b)[a-zA-Z]+")
_REFERENCE_SPAN_RE = re.compile(r"\d|\\(?:infty|pi|emptyset|varnothing|mathbb|sqrt|frac|begin|le|ge|ne|lt|gt)|[<>]")
_DECIMAL_COMMA_RE = re.compile(r"^(-?\d+),(\d{1,2}|\d{4,})(?=\s*(?:\$|%|[a-zA-Z]{1,4})?$)")
_CONNECTIVE_WORDS = {"and", "or"}
TEMPLATE_TOKEN_RE = re.compile(
    r"<\|(?:im_start|im_end|endoftext|eot_id|end_of_text|end|user|assistant|start_header_id)\|>"
    r"|<｜(?:end▁of▁sentence|User|Assistant)｜>"
)
FALLBACK_METHODS = ("last_number", "last_math")


def cut_template_tail(text: str) -> str:
    """A response that runs on into a chat-template token ("... = 6$. <|im_start|>user") ends there."""
    m = TEMPLATE_TOKEN_RE.search(text)
    return text[: m.start()] if m and text[: m.start()].strip() else text


def looping(text: str) -> bool:
    """Does the response end in a loop (the same passage over and over until the token limit)?"""
    tail = text[-3000:]
    if len(tail) < 600:
        return False
    probe = tail[-400:-280]
    if len(set(probe)) < 4:  # "........": padding, counts as a loop
        return True
    if tail.count(probe) >= 3:
        return True
    return len(zlib.compress(tail.encode())) < 0.08 * len(tail.encode())


_DANGLING_RE = re.compile(
    r"(?:\b(?:the|a|an|of|to|and|or|is|are|we|that|this|which|with|for|by|from|then|so|be|as|in|on|at|its|their|"
    r"gives|get|have|has|let|since|because|where|if)|[,:;=+\-*/^_({\[]|\\[a-zA-Z]+)\s*$",
    re.IGNORECASE,
)
CUT_OFF_MIN_CHARS = 1000


def cut_off(text: str) -> bool:
    """Does a long response stop mid-sentence or mid-formula (the generation ran out of tokens)?

    Used only without a final-answer marker, when the caller does not say whether the response was
    truncated: an open math span or brace, or a last word that cannot end a sentence.
    """
    body = text.rstrip()
    if len(body) < CUT_OFF_MIN_CHARS:
        return False
    tail = body[-400:]
    if body.replace("\\$", "").count("$") % 2 == 1 or tail.count("\\(") > tail.count("\\)"):
        return True
    if tail.count("{") > tail.count("}") + 1 or tail.count("\\[") > tail.count("\\]"):
        return True
    return bool(_DANGLING_RE.search(tail))


def last_number(text: str, pattern: re.Pattern[str] = NUMBER_RE) -> Extraction | None:
    last = None
    for last in pattern.finditer(text):  # noqa: B007 - we want the final match
        pass
    if last is None:
        return None
    return make(last.group(0), "last_number", last.start(), last.end())


def _spans(text: str) -> list[tuple[int, int, int, int]]:
    """(start, end, content start, content end) of every math span; currency dollars are skipped."""
    out = []
    pos = 0
    n = len(text)
    while pos < n:
        m = re.compile(r"\$\$|\$|\\\(|\\\[").search(text, pos)
        if m is None:
            break
        opener = m.group(0)
        if opener == "$" and m.start() > 0 and text[m.start() - 1] == "\\":
            pos = m.end()
            continue
        closer = {"$$": "$$", "$": "$", "\\(": "\\)", "\\[": "\\]"}[opener]
        end = find_unescaped(text, closer, m.end())
        if end < 0:
            break
        content = text[m.end() : end]
        if opener == "$" and (is_currency_span(content) or is_prose(content)):
            pos = m.end()  # "$18. She pays $2": money, the second "$" may open nothing
            continue
        out.append((m.start(), end + len(closer), m.end(), end))
        pos = end + len(closer)
    return out


def _runs(text: str) -> list[tuple[int, int]]:
    """Runs of math-looking tokens in prose (words break a run; "and"/"or" between math do not)."""
    tokens = [(m.start(), m.end(), m.group(0)) for m in _TOKEN_RE.finditer(text)]
    kinds = []
    for _, _, tok in tokens:
        core = tok.strip("*")
        core = core.rstrip(".,;:!?") or core
        if _WORD_RE.match(core) and not core.startswith("\\"):
            kinds.append("connective" if core.lower().rstrip(".,;:") in _CONNECTIVE_WORDS else "word")
        elif _OPERATOR_RE.match(core):
            kinds.append("op")
        elif re.fullmatch(r"[A-Za-z][.,;:]?", core):
            kinds.append("letter")
        else:
            kinds.append("math")
    # A single letter is math only next to an operator ("x = 5"); "a" alone is an article.
    for i, kind in enumerate(kinds):
        if kind == "letter":
            near = {kinds[j] for j in (i - 1, i + 1) if 0 <= j < len(kinds)}
            kinds[i] = "math" if "op" in near else "word"
    for i, kind in enumerate(kinds):
        if kind == "connective":
            ok = 0 < i < len(kinds) - 1 and kinds[i - 1] == "math" and kinds[i + 1] == "math"
            kinds[i] = "math" if ok else "word"
    runs: list[tuple[int, int]] = []
    current: list[int] = []
    for i, kind in enumerate(kinds):
        if current and text[tokens[current[-1]][1] : tokens[i][0]].strip():
            # Tokens apart by non-ASCII text ("3只鸟和4只") are not one expression.
            runs.append((tokens[current[0]][0], tokens[current[-1]][1]))
            current = []
        if kind in ("math", "op"):
            current.append(i)
            continue
        if current:
            runs.append((tokens[current[0]][0], tokens[current[-1]][1]))
        current = []
    if current:
        runs.append((tokens[current[0]][0], tokens[current[-1]][1]))
    return runs


def leading_run(text: str) -> str:
    """The math run that opens `text` ("12 and 13 because" -> "12 and 13"), or ""."""
    runs = _runs(text)
    if not runs or text[: runs[0][0]].strip():
        return ""
    value = _DECIMAL_COMMA_RE.sub(r"\1.\2", _tidy(text[runs[0][0] : runs[0][1]]))
    return value if _MATH_HINT_RE.search(value) or re.fullmatch(r"\(?[A-Z]\)?", value) else ""


def _tidy(run: str) -> str:
    run = run.strip().lstrip("*").rstrip("*.,;:!?").strip()
    return re.sub(r"^[=:]\s*", "", run)


def first_candidate(text: str) -> Extraction | None:
    """The first math span (with a digit) or math run of a short sentence."""
    spans = [s for s in _spans(text) if _REFERENCE_SPAN_RE.search(text[s[2] : s[3]])]
    masked = list(text)
    for start, end, _, _ in _spans(text):
        masked[start:end] = " " * (end - start)
    runs = [r for r in _runs("".join(masked)) if _MATH_HINT_RE.search(text[r[0] : r[1]])]
    if runs and (not spans or runs[0][0] < spans[0][0]):
        value = _tidy(text[runs[0][0] : runs[0][1]])
        offset = max(0, text.find(value, runs[0][0]))
        return make(value, "last_number", offset, offset + len(value))
    if spans:
        start, end, cstart, cend = spans[0]
        return make(text[cstart:cend], "last_math", start, end)
    return None


def last_candidate(text: str) -> Extraction | None:
    """The last math span or math run of a response (see the module docstring)."""
    spans = [s for s in _spans(text) if _REFERENCE_SPAN_RE.search(text[s[2] : s[3]])]
    masked = list(text)
    for start, end, _, _ in _spans(text):
        masked[start:end] = " " * (end - start)
    runs = [r for r in _runs("".join(masked)) if _MATH_HINT_RE.search(text[r[0] : r[1]])]
    best_span = spans[-1] if spans else None
    best_run = runs[-1] if runs else None
    if best_run is not None and (best_span is None or best_run[0] > best_span[1]):
        start, end = best_run
        value = _tidy(text[start:end])
        if text[end : end + 1] in "²³" and re.fullmatch(r"[\d.,]+[a-zA-Z]{1,2}", value):
            value = re.sub(r"[a-zA-Z]+$", "", value)  # "1,000.99m²": a unit glued to the number
        value = _DECIMAL_COMMA_RE.sub(r"\1.\2", value)  # "2,74" in running prose: a decimal comma
        offset = text.find(value, start)
        offset = start if offset < 0 else offset
        return make(value, "last_number", offset, offset + len(value))
    if best_span is not None:
        start, end, cstart, cend = best_span
        return make(text[cstart:cend], "last_math", start, end)
    return None

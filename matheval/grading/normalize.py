"""String normalisation of a LaTeX or plain answer, before any structure or value is read from it.

Two layers: `normalize` rewrites notation that never changes meaning (``\\dfrac``, ``\\left(``,
thin spaces, unicode symbols, an answer wrapped in ``$``/``\\boxed``), and `strip_decorations`
removes what sits around a value (units, degrees, ``\\%``, ``\\$``, ``\\pmod``). The second one is
also applied to each element of a list, so ``5\\text{ cm}, 7\\text{ cm}`` becomes ``5, 7``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .latex import enclosed_by, find_boxes, halfwidth, unwrap_command

_UNICODE = {
    "√": "\\sqrt",
    "π": "\\pi",
    "×": "\\times ",
    "·": "\\cdot ",
    "÷": "\\div ",
    "−": "-",
    "–": "-",
    "≤": "\\le ",
    "≥": "\\ge ",
    "≠": "\\ne ",
    "∪": "\\cup ",
    "∩": "\\cap ",
    "±": "\\pm ",
    "∞": "\\infty",
    "°": "^\\circ",
    "⁰": "^\\circ",
}

_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), r)
    for p, r in (
        (r"\\[dt]frac(?![a-zA-Z])", r"\\frac"),
        (r"\\[dt]binom(?![a-zA-Z])", r"\\binom"),
        (r"\\(?:displaystyle|textstyle|scriptstyle|limits|middle)(?![a-zA-Z])", ""),
        (r"\\(?:left|right|[bB]igg?[lr]?)(?![a-zA-Z])\.?", ""),
        (r"(?<!\\)\\!", ""),
        (r"\{,\}", ","),
        (r"(?<!\\)\\[,:;> ]|~|\\q?quad(?![a-zA-Z])|\\hspace\*?\{[^{}]*\}", " "),
        (r"\\(?:leq?slant|leqq|leq?)(?![a-zA-Z])", r"\\le "),
        (r"\\(?:geq?slant|geqq|geq?)(?![a-zA-Z])", r"\\ge "),
        (r"\\(?:neq?)(?![a-zA-Z])", r"\\ne "),
        (r"\\lt(?![a-zA-Z])", "<"),
        (r"\\gt(?![a-zA-Z])", ">"),
        (r"<=", r"\\le "),
        (r">=", r"\\ge "),
        (r"!=", r"\\ne "),
        (r"\\(?:varnothing|O)(?![a-zA-Z])|\\\{\s*\\\}", r"\\emptyset"),
        (r"\\lbrace(?![a-zA-Z])", r"\\{"),
        (r"\\rbrace(?![a-zA-Z])", r"\\}"),
        (r"\\(?:lvert|rvert|vert)(?![a-zA-Z])", "|"),
        (r"\\(?:infin|inf)(?![a-zA-Z])|\binfinity\b", r"\\infty"),
        (r"\+\s*\\infty", r"\\infty"),
        (r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\degree(?![a-zA-Z])|\^\s*\{\s*o\s*\}", r"^\\circ"),
        (r"\^\s*\{\s*\\prime\s*\}|\\prime", "'"),
        (r"\\(?:frac|binom)\s*(\d)\s*(\d)", r"\\frac{\1}{\2}"),
        (r"\\frac\s*(\d)\s*\{", r"\\frac{\1}{"),
        (r"\\frac\s*(\{[^{}]*\})\s*(\d)", r"\\frac\1{\2}"),
        (r"\\sqrt\s*([0-9a-zA-Z])", r"\\sqrt{\1}"),
        (r"\\(?:dots|ldots|cdots)(?![a-zA-Z])", r"\\dots"),
        (r"\\(?:mathbf|boldsymbol|bm|mathit|mathsf|mathbb|mathcal)\s*\{([^{}]*)\}", r"\1"),
    )
)

TEXT_COMMANDS = (
    "text",
    "textrm",
    "textnormal",
    "textbf",
    "textit",
    "mbox",
    "mathrm",
    "operatorname",
    "hbox",
)
_KEEP_WORDS = frozenset(
    """and or am pm a.m p.m sin cos tan cot sec csc log ln exp sqrt pi mod true false
    yes no none odd even neither undefined infty""".split()
)
_UNIT_GROUP_RE = re.compile(
    r"^(?P<core>.*?)\s*\\(?:text|textrm|mbox|mathrm|hbox)\s*\{(?P<unit>[^{}]*)\}\s*(?:\^\s*\{?\d\}?)?$"
)
_UNIT_POWER_RE = re.compile(r"\^\s*\{?\d\}?$")
_PMOD_RE = re.compile(r"\s*(?:\(\s*)?\\(?:pmod\s*\{[^{}]*\}|bmod\s*\S+|mod\s*\S+)(?:\s*\))?\s*$")
_THOUSANDS_RE = re.compile(r"^-?\d{1,3}(?:[, ]\d{3})+(?:\.\d+)?$")
_PERCENT_RE = re.compile(r"\s*(?:\\%|%|\\text\{\s*\\?%\s*\}|\s+percent|\\percent)\s*$")


def normalize(text: str) -> str:
    """Meaning-preserving rewrite of an answer string (see the module docstring)."""
    s = halfwidth(text).strip()
    for src, dst in _UNICODE.items():
        if src in s:
            s = s.replace(src, dst)
    s = _strip_wrappers(s)
    for pattern, repl in _REWRITES:
        s = pattern.sub(repl, s)
    s = _strip_wrappers(s)
    s = _REPEATING_RE.sub(_repeating_to_fraction, s)
    return _compact_spaces(s)


_REPEATING_RE = re.compile(r"(?<![\d.])(\d*)\.(\d*)\\overline\{(\d{1,12})\}")


def _repeating_to_fraction(m: re.Match[str]) -> str:
    """0.1\\overline{6} -> \\frac{1}{6}: a repeating decimal is an exact rational."""
    whole, fixed, period = m.group(1) or "0", m.group(2), m.group(3)
    num = int(whole + fixed + period) - int(whole + fixed)
    den = (10 ** len(period) - 1) * 10 ** len(fixed)
    return f"\\frac{{{num}}}{{{den}}}"


def _strip_wrappers(s: str) -> str:
    """Drop what encloses the whole answer: $...$, \\(...\\), \\[...\\], \\boxed{...}, {...}."""
    for _ in range(10):
        before = s
        s = s.strip().rstrip(".").strip()
        for opener, closer in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
            if len(s) > len(opener) + len(closer) - 1 and s.startswith(opener) and s.endswith(closer):
                inner = s[len(opener) : -len(closer)]
                if opener == "$" and "$" in inner:
                    continue
                s = inner.strip()
        boxes = find_boxes(s)
        if len(boxes) == 1 and boxes[0][0] == 0 and boxes[0][1] == len(s):
            s = boxes[0][2].strip()
        if enclosed_by(s, "{", "}"):
            s = s[1:-1].strip()
        if s == before:
            break
    return s


def _compact_spaces(s: str) -> str:
    s = re.sub(r"\s+", " ", s).strip()
    # Keep a space only between two letters/digits, where removing it could fuse tokens
    # ("\pi r", "2 3", "2 and 3"); "( 3 , 4 )" and "x = 2" lose theirs.
    return re.sub(
        r"(?<=(.)) (?=(.))", lambda m: " " if m.group(1).isalnum() and m.group(2).isalnum() else "", s
    )


@dataclass(frozen=True)
class Decorated:
    """A value with its surroundings removed, and what was removed that can change its meaning."""

    text: str
    percent: bool = False
    degrees: bool = False


def strip_decorations(text: str) -> Decorated:
    """Remove units, currency, degree signs, ``\\pmod`` and a trailing percent sign from one value."""
    s = text.strip()
    percent = degrees = False
    for _ in range(6):
        before = s
        s = _PMOD_RE.sub("", s).strip()
        m = _PERCENT_RE.search(s)
        if m and m.start() > 0:
            s = s[: m.start()].strip()
            percent = True
        s = re.sub(r"^\\?\$\s*|^(?:US)?\\text\{\s*\\?\$\s*\}\s*", "", s).strip()
        s = re.sub(r"^-\\?\$\s*", "-", s)
        m = _UNIT_GROUP_RE.match(s)
        if m and _has_value(m.group("core")) and _is_unit(m.group("unit")):
            s = m.group("core").strip()
        core, words = _trailing_words(s)
        if words and core[-1:] in "0123456789}).]" and _has_value(core) and all(map(_is_unit, words)):
            s = core.strip()
        if s.endswith("^\\circ") and _plain_number(s[: -len("^\\circ")]):
            s = s[: -len("^\\circ")].strip()
            degrees = True
        if s.endswith("\\%") and len(s) > 2:
            s = s[:-2].strip()
            percent = True
        s = s.rstrip(".,;: ").strip()
        if s == before:
            break
    s = unwrap_command(s, TEXT_COMMANDS) if _plain_number(_unwrap_text(s)) else s
    if _THOUSANDS_RE.match(s):
        s = s.replace(",", "").replace(" ", "")
    return Decorated(_compact_spaces(s), percent, degrees)


def _trailing_words(s: str) -> tuple[str, list[str]]:
    """Split "16 square feet" into ("16", ["square", "feet"]), "5 cm^2" into ("5", ["cm"]).

    A backwards scan rather than a regex: nested quantifiers over words backtrack exponentially
    on long letter runs, and this runs on untrusted text.
    """
    end = len(s)
    power = _UNIT_POWER_RE.search(s[-8:])
    if power:
        end -= len(power.group(0))
    start = end
    while start > 0 and (s[start - 1].isascii() and s[start - 1].isalpha() or s[start - 1] in " ./"):
        start -= 1
    tail = s[start:end]
    words = [w for w in re.split(r"[\s/]+", tail) if w]
    # Only words set off by a space, and only word-like ones: "4abc" and "2 xy" are products.
    if not tail.startswith(" ") or not words or not all(map(_is_unit_word, words)):
        return s, []
    return s[:start].rstrip(), words


_UNIT_ABBREVIATIONS = frozenset("cm mm km kg mg ml ft hr hrs sq mph kph lb lbs oz yd qt gal sec min".split())


def _is_unit_word(word: str) -> bool:
    w = word.strip(".").lower()
    return w in _UNIT_ABBREVIATIONS or (len(w) >= 3 and bool(re.search(r"[aeiouy]", w)))


def _unwrap_text(s: str) -> str:
    return unwrap_command(s, TEXT_COMMANDS).strip()


def _has_value(core: str) -> bool:
    core = core.strip()
    return bool(core) and (bool(re.search(r"\d", core)) or core.endswith(("}", ")", "\\pi")))


def _is_unit(word: str) -> bool:
    w = word.strip().strip(".").lower()
    if not w or w in _KEEP_WORDS or w.replace(".", "") in {"am", "pm"}:
        return False
    if re.fullmatch(r"d[a-z]", w):  # the dx of an integral
        return False
    if w in {"e", "i", "d"}:  # \mathrm{e}, \mathrm{i}: constants, not units
        return False
    return bool(re.fullmatch(r"[a-z][a-z .,/^{}0-9-]*", w))


def _plain_number(s: str) -> bool:
    return bool(re.fullmatch(r"-?\d+(?:\.\d+)?|-?\d{1,3}(?:,\d{3})+(?:\.\d+)?", s.strip()))


def clean(text: str) -> Decorated:
    """`normalize` then `strip_decorations`: the form shown in a verdict's gold_norm / pred_norm."""
    return strip_decorations(normalize(text))

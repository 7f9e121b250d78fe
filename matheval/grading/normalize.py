"""String normalisation of a LaTeX or plain answer, before any structure or value is read from it.

Two layers: `normalize` rewrites notation that never changes meaning (``\\dfrac``, ``\\left(``,
thin spaces, unicode symbols, broken escapes, an answer wrapped in ``$``/``\\boxed``), and
`strip_decorations` removes what sits around one value (units, degrees, ``\\%``, currency,
``\\pmod``, "only", "7th day"). The second one is applied to each leaf of the answer's shape, so
``5\\text{ cm}, 7\\text{ cm}`` becomes ``5, 7``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .escapes import repair
from .latex import enclosed_by, find_boxes, halfwidth, unwrap_command
from .notation import rewrite_number_notation

_UNICODE = {
    "√": "\\sqrt",
    "π": "\\pi",
    "×": "\\times ",
    "·": "\\cdot ",
    "⋅": "\\cdot ",
    "÷": "\\div ",
    "−": "-",
    "–": "-",
    "≤": "\\le ",
    "≥": "\\ge ",
    "≠": "\\ne ",
    "≈": "\\approx ",
    "∈": "\\in ",
    "∪": "\\cup ",
    "∩": "\\cap ",
    "±": "\\pm ",
    "∓": "\\mp ",
    "∞": "\\infty",
    "∅": "\\emptyset",
    "ℝ": "\\mathbb{R}",
    "°": "^\\circ",
    "⁰": "^\\circ",
    "½": "\\frac{1}{2}",
    "¼": "\\frac{1}{4}",
    "¾": "\\frac{3}{4}",
    "′": "'",
    "″": "''",
    "∣": "|",
    "€": "",
    "£": "",
    "¥": "",
}

_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), r)
    for p, r in (
        (r"\\[dtc]frac(?![a-zA-Z])", r"\\frac"),
        (r"\\[dt]binom(?![a-zA-Z])", r"\\binom"),
        (r"\\(?:displaystyle|textstyle|scriptstyle|limits|middle|nolimits)(?![a-zA-Z])", ""),
        (r"\\(?:left|right|[bB]igg?[lr]?)(?![a-zA-Z])\.?", ""),
        (r"(?<!\\)\\!", ""),
        (r"\{\s*,\s*\}", ","),
        (r"\\q?quad(?=[a-zA-Z])", " "),  # "\quadx_{2}": a spacing command glued to the next symbol
        (r"(?<!\\)\\[,:;> ]|~|\\q?quad(?![a-zA-Z])|\\hspace\*?\{[^{}]*\}|\\(?:thinspace|enspace)(?![a-zA-Z])", " "),
        (r"\\(?:leq?slant|leqq|leq?)(?![a-zA-Z])", r"\\le "),
        (r"\\(?:geq?slant|geqq|geq?)(?![a-zA-Z])", r"\\ge "),
        (r"\\(?:neq?)(?![a-zA-Z])", r"\\ne "),
        (r"\\lt(?![a-zA-Z])", "<"),
        (r"\\gt(?![a-zA-Z])", ">"),
        (r"(?<![\w)}\]])\+\s*/?\s*-(?=\s*[\d\\(a-zA-Z])", r"\\pm "),  # "+-2", "x = +/- 2" (not "2+-3")
        (r"<=", r"\\le "),
        (r">=", r"\\ge "),
        (r"!=", r"\\ne "),
        (r"=<", r"\\le "),
        (r"=>", r"\\ge "),
        (r"\\(?:varnothing|O)(?![a-zA-Z])|\\\{\s*\\\}", r"\\emptyset"),
        (r"\\langle(?![a-zA-Z])", "("),
        (r"\\rangle(?![a-zA-Z])", ")"),
        (r"\\(?:text|mathrm|operatorname)\s*\{\s*cis\s*\}", r"\\cis "),
        (r"\\lbrace(?![a-zA-Z])", r"\\{"),
        (r"\\rbrace(?![a-zA-Z])", r"\\}"),
        (r"\\(?:lvert|rvert|vert)(?![a-zA-Z])", "|"),
        (r"\\(?:lVert|rVert|Vert)(?![a-zA-Z])", "||"),
        (r"\\colon(?![a-zA-Z])", ":"),
        (r"\\(?:infin|inf)(?![a-zA-Z])|\binfinity\b", r"\\infty"),
        (r"\+\s*\\infty", r"\\infty"),
        (r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\degree(?![a-zA-Z])|\^\s*\{\s*o\s*\}", r"^\\circ"),
        (r"\^\s*\{\s*\\prime\s*\}|\\prime", "'"),
        (r"\\(?:frac|binom)\s*(\d)\s*(\d)", r"\\frac{\1}{\2}"),
        (r"\\frac\s*(\d)\s*\{", r"\\frac{\1}{"),
        (r"\\frac\s*(\{[^{}]*\})\s*(\d)", r"\\frac\1{\2}"),
        (r"\\sqrt\s*([0-9a-zA-Z])", r"\\sqrt{\1}"),
        (r"\\(?:dots|ldots|cdots|dotsc|dotsb)(?![a-zA-Z])|\.\.\.|…", r"\\dots "),
        (r"\\(?:mathbf|boldsymbol|bm|mathit|mathsf|mathcal|mathscr|pmb)\s*\{([^{}]*)\}", r"\1"),
        (r"\\mathbb\s*\{\s*R\s*\}|\\R(?![a-zA-Z])", r"\\mathbb{R}"),
        (r"\\mathbb\{R\}\s*(?:\^\s*\{?\+\}?|_\s*\{?\+\}?|_\s*\{\s*>\s*0\s*\})", r"(0,\\infty)"),
        (r"\\mathbb\{R\}\s*(?:\^\s*\{?-\}?|_\s*\{?-\}?|_\s*\{\s*<\s*0\s*\})", r"(-\\infty,0)"),
        (r"\\mathbb\{R\}\s*_\s*\{\s*(?:\\ge|\\geq|>=)\s*0\s*\}", r"[0,\\infty)"),
        (r"\\mathbb\s*\{\s*([^R{}\s][^{}]*)\}", r" \1"),
        (r"\\text\s*\{\s*\}", ""),
        (r"\\(?:bf|it|rm|em|sf|tt|sl|bfseries|itshape)(?![a-zA-Z])\s*", ""),  # {\bf 12}: old font switches
        (r"\\(?:mathrm|text|textrm|operatorname)\s*\{\s*([ei])\s*\}", r"\1"),
        (r"\\(?:a|arc)(sin|cos|tan|sec|csc|cot)(?![a-zA-Z])", r"\\arc\1"),
        (r"\\operatorname\s*\{\s*(arcsin|arccos|arctan|sinh|cosh|tanh|lcm|gcd|sgn)\s*\}", r"\\\1"),
    )
)

TEXT_COMMANDS = (
    "text",
    "textrm",
    "textnormal",
    "textbf",
    "textit",
    "textsf",
    "texttt",
    "mbox",
    "mathrm",
    "mathit",
    "operatorname",
    "hbox",
)
_TEXT_ALT = "|".join(TEXT_COMMANDS)
_KEEP_WORDS = frozenset(
    """and or am pm a.m p.m sin cos tan cot sec csc log ln exp sqrt pi mod true false
    yes no none odd even neither undefined infty""".split()
)
_UNIT_GROUP_RE = re.compile(
    r"^(?P<core>.*?)(?P<chain>(?:\s*(?:/|\\cdot|\\times)?\s*\\(?:" + _TEXT_ALT
    + r")\s*\{[^{}]*\}\s*(?:\^\s*\{?-?\d\}?)?)+)$"
)
_UNIT_WORD_RE = re.compile(r"\\(?:" + _TEXT_ALT + r")\s*\{([^{}]*)\}")
_LEADING_RELATION_RE = re.compile(r"^(?:\\approx|\\sim|\\simeq|=|:)\s*(?=\S)")
_TEXT_NUMBER_RE = re.compile(r"^\\(?:" + _TEXT_ALT + r")\s*\{\s*(-?[\d.,]+)\s+([a-zA-Z][a-zA-Z ./^0-9]*)\}$")
_CHOICE_LABEL_RE = re.compile(r"^(?:\\text(?:bf)?\{\s*)?\(([A-E])\)\s*\}?\s*(?=[-\d\\$])")
_LABEL_PREFIX_RE = re.compile(r"^[a-z][a-z ]{2,20}:\s*(?=[-\d\\(])")
_UNIT_POWER_RE = re.compile(r"\^\s*\{?\d\}?$")
_PMOD_RE = re.compile(r"\s*(?:\(\s*)?\\(?:pmod\s*\{[^{}]*\}|bmod\s*\S+|mod\s*\S+)(?:\s*\))?\s*$")
_THOUSANDS_RE = re.compile(r"^-?\d{1,3}(?:[, ]\d{3})+(?:\.\d+)?$")
_PERCENT_RE = re.compile(
    r"\s*(?:\\%|%|\\(?:text|mbox|mathrm)\{\s*\\?%\s*\}|\s*\\(?:text|mbox|mathrm)\{\s*(?:percent|pct)\s*\}"
    r"|\s+(?:percent(?:age)?|per\s*cent|pct)\.?|\\percent)\s*$"
)
_CURRENCY_WORDS_RE = re.compile(r"^(?:US|USD|Rs\.?|INR|EUR|GBP|CNY|RMB)\s*(?=[\d\\-])")
_ORDINAL_RE = re.compile(
    r"^(?P<n>-?\d+)\s*(?:\^\s*\{?\s*(?:\\text\s*\{\s*)?(?:st|nd|rd|th)\s*\}?\s*\}?|\\(?:" + _TEXT_ALT
    + r")\s*\{\s*(?:st|nd|rd|th)\b[^{}]*\}|(?:st|nd|rd|th)\b(?:\s+[a-zA-Z]+)?)$"
)
_LEADING_FILLER_RE = re.compile(
    r"^\\(?:" + _TEXT_ALT + r")\s*\{\s*(?:only|just|exactly|about|approximately|approx\.?|around|roughly|"
    r"total(?: of)?|the answer is|answer:?|final answer:?|so|thus|hence|therefore)\s*:?\s*\}\s*",
    re.IGNORECASE,
)


_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_SUBSCRIPTS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
_SUPERSCRIPT_RUN_RE = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺]+")
_SUBSCRIPT_RUN_RE = re.compile("[₀₁₂₃₄₅₆₇₈₉]+")


def normalize(text: str) -> str:
    """Meaning-preserving rewrite of an answer string (see the module docstring)."""
    s = repair(halfwidth(text)).strip()
    if any("\u2070" <= c <= "\u209f" or c in "²³¹" for c in s):
        # 10⁻³, m², 1011₂: unicode super- and subscripts as LaTeX exponents and subscripts.
        s = _SUPERSCRIPT_RUN_RE.sub(lambda m: "^{" + m.group(0).translate(_SUPERSCRIPTS) + "}", s)
        s = _SUBSCRIPT_RUN_RE.sub(lambda m: "_{" + m.group(0).translate(_SUBSCRIPTS) + "}", s)
    for src, dst in _UNICODE.items():
        if src in s:
            s = s.replace(src, dst)
    s = _strip_wrappers(s)
    if "$" in s.replace("\\$", ""):
        # "$21, 16$ or $11$", "$28$ percent": math delimiters inside the answer, not dollars.
        s = re.sub(r"(?<!\\)\$+", " ", s).strip()
    for pattern, repl in _REWRITES:
        s = pattern.sub(repl, s)
    s = _strip_wrappers(s)
    s = _LEADING_RELATION_RE.sub("", s)  # "\\approx 3.14", "= 5": the value after the sign
    s = rewrite_number_notation(s)
    return _compact_spaces(s)


def _strip_wrappers(s: str) -> str:
    """Drop what encloses the whole answer: $...$, \\(...\\), \\[...\\], \\boxed{...}, {...}, quotes."""
    for _ in range(10):
        before = s
        s = s.strip().rstrip(".").strip()
        if len(s) > 1 and s[0] == s[-1] and s[0] in "\"'`" or s.startswith("**") and s.endswith("**"):
            s = s.strip("\"'`*").strip()
        for opener, closer in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
            if len(s) > len(opener) + len(closer) - 1 and s.startswith(opener) and s.endswith(closer):
                inner = s[len(opener) : -len(closer)]
                if opener == "$" and "$" in inner.replace("\\$", ""):
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
    """Remove units, currency, degree signs, ``\\pmod``, a trailing percent sign, filler words."""
    s = text.strip()
    percent = degrees = False
    m = _TEXT_NUMBER_RE.match(s)
    if m:
        s = m.group(1) + " " + m.group(2)  # "\\text{5 cm}": a number and its unit inside one \\text{}
    for _ in range(6):
        before = s
        s = _LEADING_FILLER_RE.sub("", s).strip()
        m = _PMOD_RE.search(s)
        if m and _plain_number(s[: m.start()]):
            s = s[: m.start()].strip()  # "3 \pmod{7}": the residue is the answer
        m = _PERCENT_RE.search(s)
        if m and m.start() > 0:
            s = s[: m.start()].strip()
            percent = True
        s = re.sub(r"^\\?\$\s*|^(?:US)?\\(?:text|mbox)\{\s*\\?\$\s*\}\s*", "", s).strip()
        s = _CURRENCY_WORDS_RE.sub("", s)
        s = re.sub(r"^-\\?\$\s*", "-", s)
        s = re.sub(r"(?<=\d)\s*\\?\$$", "", s)  # "220 $": a trailing currency sign
        m = _UNIT_GROUP_RE.match(s)
        if m and _has_value(m.group("core")) and all(map(_is_unit, _UNIT_WORD_RE.findall(m.group("chain")))):
            s = m.group("core").strip()  # "5 \text{ cm}^2", "6 \mathrm{ft} / \mathrm{s}"
        s = _LABEL_PREFIX_RE.sub("", s)  # "length: 5/2": a word label before the value
        s = _CHOICE_LABEL_RE.sub("", s)  # "\\textbf{(C)}\\ 12": an AMC option label before the value
        m = _ORDINAL_RE.match(s)
        if m:
            s = m.group("n")
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
    """Split "16 square feet" into ("16", ["square", "feet"]), "5 cm^2" into ("5", ["cm"]), "12days".

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
    if not words or not all(map(_is_unit_word, words)):
        return s, []
    if not tail.startswith(" "):
        # Glued to the number ("12days", "5cm"): only a word-like unit of 2+ letters after digits,
        # so "4abc" and "2x" stay products.
        glued = words[0]
        if not (s[:start][-1:].isdigit() and (glued.lower() in _UNIT_ABBREVIATIONS or len(glued) >= 4)):
            return s, []
        if glued.lower().startswith(_FUNCTION_PREFIXES):
            return s, []  # "2sinx", "3sqrt": a product with a function, not a unit
    return s[:start].rstrip(), words


_UNIT_ABBREVIATIONS = frozenset(
    "cm mm km kg mg ml ft hr hrs sq mph kph lb lbs oz yd qt gal sec min m2 cm2 km2 in pct yrs mins secs".split()
)


_FUNCTION_PREFIXES = ("sin", "cos", "tan", "cot", "sec", "csc", "log", "ln", "exp", "sqrt", "pi", "arc")


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

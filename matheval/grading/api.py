"""The grader's entry points: equivalent, grade, verify, canonical_key, check_gold.

Order of work in `equivalent`, cheapest first: the gold is read (a gold given as a solution is
extracted like a response), normalised strings are compared, then the gold's shape picks an
answer form (forms/__init__.py) that compares in-process (exact fractions, sampled identities);
only single values that evaluation cannot decide go to sympy in a killable worker process under
the per-comparison time limit.
"""

from __future__ import annotations

import re
import time
import unicodedata
from functools import lru_cache
from typing import Any

from . import forms, worker
from .anchors import ANSWER_IS_RE, FINAL_RE, ZH_RE, all_boxes, box_group
from .choice import choice_letter, find_choice, gold_letter
from .context import Abort, Context, Cues
from .escapes import repair
from .evaluate import TooLarge, Undefined, Unsupported, evaluate, parse_expression
from .extract import extract_answer
from .fallback import FALLBACK_METHODS
from .forms import colon, equation, interval
from .forms import text as text_form
from .latex import find_boxes, nesting_depth
from .limits import MAX_ANSWER_CHARS, MAX_DEPTH
from .normalize import normalize
from .records import Extraction, GraderOptions, Verdict, resolve_options
from .shape import Node, parse_shape

_LETTERS = "ABCDEFGHIJ"
_PROSE_RE = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{2,}(?![a-zA-Z])")
_TEXT_GROUP_RE = re.compile(r"\\(?:text|textbf|textrm|mathrm|mbox|textnormal|operatorname)\s*\{[^{}]*\}")
_MATH_WORDS = frozenset("sin cos tan cot sec csc log ln exp lim max min gcd lcm mod pi and or".split())


@lru_cache(maxsize=16384)
def _norm(text: str) -> str:
    return normalize(text)


@lru_cache(maxsize=4096)
def read_gold(gold: str) -> str:
    """The answer a gold states. A gold given as a solution (it holds boxes, or "the answer is")
    is extracted the way a response is: every box counts (a solution states all its answers)."""
    s = repair(gold)
    if "\\boxed" in s or "\\fbox" in s:
        boxes = all_boxes(s)
        if boxes:
            return ", ".join(boxes)
    if not _is_bare(s) and (FINAL_RE.search(s) or ANSWER_IS_RE.search(s) or ZH_RE.search(s)):
        found = extract_answer(s, "auto")
        if found is not None and found.status == "ok" and found.method not in FALLBACK_METHODS:
            return found.answer
    return s


def equivalent(
    gold: str,
    pred: str | None,
    options: GraderOptions | None = None,
    *,
    question: str | None = None,
    **overrides: Any,
) -> Verdict:
    """Is `pred` a correct answer for reference `gold`? Gold first, and the order matters.

    The gold is trusted and decides the rules: its shape picks the answer form (a set is matched
    unordered, a tuple in order, a two-element tuple is a point unless the question speaks of
    intervals), an integer gold demands an exact value while a decimal gold allows `rel_tol` and
    a rounded decimal gold its printed precision. The prediction is untrusted: it is capped in
    size and nesting, guarded against runaway values, and must not win by containing the gold
    among other material (a list, an equation restating the question). Swapping the arguments
    can therefore change the verdict: gold 10000 / pred 9999.9 is incorrect (an integer gold is
    exact), gold 9999.9 / pred 10000 is correct (within the decimal gold's tolerance); gold 5 /
    pred "x = 5" is correct, gold "x + y = 5" / pred 5 is not.

    `question` (the problem text, optional) lets the question decide what the gold's shape
    leaves open: "in order" / "respectively" makes a list ordered, "interval" / "inequality"
    makes a pair (a, b) an open interval.
    """
    opts = resolve_options(options, **overrides)
    if not isinstance(gold, str):
        gold = str(gold)
    gold_norm = _norm(read_gold(gold))
    if pred is None:
        return Verdict(False, "no_answer", "none", gold_norm, None, "no answer extracted")
    if not isinstance(pred, str):
        pred = str(pred)
    if not pred.strip():
        return Verdict(False, "no_answer", "none", gold_norm, "", "empty answer")
    if pred.strip() == gold.strip():
        return Verdict(True, "correct", "string", gold_norm, gold_norm)
    if len(pred) > MAX_ANSWER_CHARS:
        why = f"longer than {MAX_ANSWER_CHARS} chars"
        return Verdict(False, "unparsable", "guard", gold_norm, pred[:80] + "...", why)
    pred = repair(pred)
    if _has_binary(pred):
        return Verdict(False, "unparsable", "guard", gold_norm, pred[:80], "control or unassigned characters")
    pred = _pred_answer(pred)
    pred_norm = _norm(pred)
    if gold_norm == pred_norm:
        return Verdict(True, "correct", "string", gold_norm, pred_norm)
    if opts.answer_type == "choice" or (opts.answer_type == "auto" and gold_letter(gold_norm, _LETTERS)):
        return _choice_verdict(gold_norm, pred_norm)
    depth = nesting_depth(pred_norm)
    if depth < 0 or depth > MAX_DEPTH:
        why = "unbalanced brackets" if depth < 0 else f"nested deeper than {MAX_DEPTH}"
        return Verdict(False, "unparsable", "guard", gold_norm, pred_norm, why)
    if nesting_depth(gold_norm) > MAX_DEPTH:
        # No real gold nests this deep; only the same string can match it.
        return Verdict(False, "incorrect", "string", gold_norm, pred_norm, f"gold nested deeper than {MAX_DEPTH}")
    if opts.answer_type == "text":
        ok = text_form.text_key(gold_norm) == text_form.text_key(pred_norm)
        return Verdict(ok, "correct" if ok else "incorrect", "text", gold_norm, pred_norm)

    ctx = Context(opts, time.monotonic() + opts.timeout, Cues.from_question(question), forms.compare)
    try:
        g = parse_shape(gold_norm, opts.answer_type)
        p = parse_shape(pred_norm, opts.answer_type)
    except RecursionError:
        return Verdict(False, "unparsable", "guard", gold_norm, pred_norm, "too deeply nested")
    shown_g, shown_p = g.show(), p.show()
    try:
        if opts.answer_type in ("number", "integer"):
            number_verdict = _check_number(p, opts.answer_type, shown_g, shown_p)
            if number_verdict is not None:
                return number_verdict
        ok = ctx.equal(g, p)
    except Abort as exc:
        return Verdict(False, exc.status, exc.rule, shown_g, shown_p, exc.detail)
    except RecursionError:
        return Verdict(False, "unparsable", "guard", shown_g, shown_p, "too deeply nested")
    rule = ctx.rules[-1] if ctx.rules else "structure"  # outer rules record after inner ones
    return Verdict(ok, "correct" if ok else "incorrect", rule, shown_g, shown_p, "; ".join(ctx.details)[:300])


def _pred_answer(pred: str) -> str:
    """A prediction that still holds boxes inside other text ("x \\in \\boxed{(1, 2)}") is its boxes."""
    if "\\boxed" not in pred and "\\fbox" not in pred:
        return pred
    boxes = find_boxes(pred)
    if len(boxes) == 1 and boxes[0][0] == 0 and boxes[0][1] == len(pred.rstrip()):
        return pred
    found = box_group(pred)
    return found.answer if found is not None else pred


def _has_binary(s: str) -> bool:
    return any(
        unicodedata.category(c) in ("Cc", "Cn", "Cs", "Co") and c not in "\n\t\r"
        for c in s[:MAX_ANSWER_CHARS]
    )


def _choice_verdict(gold_norm: str, pred_norm: str) -> Verdict:
    gl = gold_letter(gold_norm, _LETTERS) or gold_norm.strip()
    pl = choice_letter(pred_norm, _LETTERS)
    if pl is None and len(pred_norm) > 3:
        found = find_choice(pred_norm, _LETTERS[: max(5, _LETTERS.index(gl) + 1) if gl in _LETTERS else 5])
        pl = found.answer if found is not None else None
    if pl is None:
        return Verdict(False, "incorrect", "choice", gl, pred_norm, "no option letter in the prediction")
    ok = gl == pl
    return Verdict(ok, "correct" if ok else "incorrect", "choice", gl, pl)


def _check_number(p: Node, answer_type: str, shown_g: str, shown_p: str) -> Verdict | None:
    """answer_type number/integer: the prediction must be one numeric value (no shapes, no x)."""
    if p.kind == "eq":
        values = equation.pred_values(p)
        p = values[0] if values else p
    if p.kind != "expr":
        return Verdict(False, "incorrect", "numeric", shown_g, shown_p, "not a single number")
    try:
        expr = parse_expression(p.text)
        value = evaluate(expr) if not expr.symbols else None
    except TooLarge:
        return None  # a huge literal: the value form compares it as a decimal
    except (Unsupported, Undefined, RecursionError):
        value = None
    if value is None:
        return Verdict(False, "unparsable", "numeric", shown_g, shown_p, "not a number")
    if answer_type == "integer" and not (getattr(value, "denominator", None) == 1):
        return Verdict(False, "incorrect", "numeric", shown_g, shown_p, "not an integer")
    return None


def grade(
    gold: str,
    text: str,
    *,
    style: str = "auto",
    options: GraderOptions | None = None,
    question: str | None = None,
    **extract_options: Any,
) -> tuple[Extraction | None, Verdict]:
    """Extract from a full response, then compare: what the pipeline stores per sample.

    `extract_options` go to `extract_answer` (``choices``, ``truncated``, ``fallback_on_truncated``).
    """
    extraction = extract_answer(text, style, **extract_options)
    if extraction is None or extraction.status != "ok":
        why = "no answer found" if extraction is None else extraction.status
        return extraction, Verdict(False, "no_answer", "none", _norm(read_gold(gold)), None, why)
    return extraction, equivalent(gold, extraction.answer, options, question=question)


def verify(
    gold: str, response: str, *, question: str | None = None, truncated: bool = False, **options: Any
) -> bool:
    """True when `response` (a full model output, or a bare answer) answers `gold` correctly.

    Never raises on any input, works from any thread or process: the one-liner for RL rewards.
    A bare answer ("1/2", "\\frac{1}{12}", "(3, 4)") is compared whole; prose is extracted first,
    and without a marker its last math span or math run is the answer.
    """
    opts = resolve_options(None, **options)  # a wrong option name is the caller's bug: raise it
    try:
        return verify_verdict(gold, response, opts, question=question, truncated=truncated)[1].correct
    except Exception:  # noqa: BLE001 - a reward function must return a bool for any model text
        return False


def verify_verdict(
    gold: str,
    response: str,
    options: GraderOptions | None = None,
    *,
    question: str | None = None,
    truncated: bool = False,
) -> tuple[Extraction | None, Verdict]:
    """`verify`'s decision with the extraction and verdict it rests on (for reward logs)."""
    opts = resolve_options(options)
    if not isinstance(response, str) or not isinstance(gold, str):
        return None, Verdict(False, "no_answer", "none", str(gold), None, "not a string")
    gold_answer = read_gold(gold)
    whole = Extraction(response.strip(), (response.strip(),), "whole", (0, len(response)))
    if response.strip() == gold.strip():
        return whole, Verdict(True, "correct", "string", _norm(gold_answer), _norm(gold_answer))
    letter = gold_letter(_norm(gold_answer), _LETTERS) if opts.answer_type in ("auto", "choice") else None
    if letter is not None:
        choices = _LETTERS[: max(5, _LETTERS.index(letter) + 1)]
        found = extract_answer(response, "choice", choices=choices, truncated=truncated)
        if found is None or found.status != "ok":
            why = "no option letter found" if found is None else found.status
            return found, Verdict(False, "no_answer", "none", letter, None, why)
        ok = found.answer == letter
        return found, Verdict(ok, "correct" if ok else "incorrect", "choice", letter, found.answer)
    if _is_bare(response):
        # A bare answer is compared whole and decides: its digits are not answers on their own.
        return whole, equivalent(gold_answer, response, opts, question=question)
    extraction = extract_answer(response, "auto", truncated=truncated)
    if extraction is None or extraction.status != "ok":
        why = "no answer found" if extraction is None else extraction.status
        return extraction, Verdict(False, "no_answer", "none", _norm(gold_answer), None, why)
    return extraction, equivalent(gold_answer, extraction.answer, opts, question=question)


def _is_bare(response: str) -> bool:
    """An answer without prose around it: no words outside LaTeX commands and \\text{} groups,
    except one trailing unit ("28 percent", "5 apples")."""
    if len(response) > MAX_ANSWER_CHARS or re.search(r"[^\W\d_\x00-\x7f]{2,}", response):
        return False  # a word in any script (CJK, Arabic, Devanagari, accented Latin) is prose
    plain = _TEXT_GROUP_RE.sub(" ", response)
    words = [m for m in _PROSE_RE.finditer(plain) if m.group(0).lower() not in _MATH_WORDS]
    if not words:
        return True
    return len(words) == 1 and not plain[words[0].end() :].strip(" .$") and bool(plain[: words[0].start()].strip())


def canonical_key(answer: str) -> str:
    """Cheap canonical string: equal keys mean certainly-equivalent answers (no sympy involved).

    "1/2", "0.5", "\\frac{1}{2}" and "\\dfrac12" share the key "n:1/2". Different keys say
    nothing: those answers may still be equivalent and need `equivalent`.
    """
    try:
        if not isinstance(answer, str) or len(answer) > MAX_ANSWER_CHARS:
            return "raw:" + str(answer)[:MAX_ANSWER_CHARS]
        norm = _norm(_pred_answer(repair(answer)))
        letter = gold_letter(norm, _LETTERS)  # the same test `equivalent` applies to a gold
        if letter is not None:
            return "choice:" + letter
        if nesting_depth(norm) > MAX_DEPTH:
            return "s:" + norm
        return forms.key(parse_shape(norm))
    except (ValueError, ArithmeticError, RecursionError, LookupError, TypeError):
        return "raw:" + answer  # a key must exist for any string


def check_gold(gold: str, **options: Any) -> str | None:
    """None when the gold answer is usable, else why not: for the "every gold parses" lint test."""
    opts = resolve_options(None, **options)
    if not isinstance(gold, str) or not gold.strip():
        return "empty gold answer"
    if len(gold) > MAX_ANSWER_CHARS:
        return f"gold longer than {MAX_ANSWER_CHARS} characters"
    norm = _norm(read_gold(gold))
    if nesting_depth(norm) < 0:
        return "unbalanced brackets"
    if nesting_depth(norm) > MAX_DEPTH:
        return f"nested deeper than {MAX_DEPTH}"
    if opts.answer_type in ("choice", "text") or gold_letter(norm, _LETTERS):
        return None
    shape = parse_shape(norm, opts.answer_type)
    for node in _nodes(shape):
        if node.kind == "setbuilder" and interval.as_intervals(node, gold=True) is None:
            return f"set-builder notation that is not a set of reals ({node.show()[:60]}): compared as text only"
    for leaf in _leaves(shape):
        if not leaf.text:
            return "empty piece in gold"
        if text_form.is_text(leaf.text) or leaf.text in ("\\infty", "-\\infty") or colon.readable(leaf):
            continue
        try:
            parse_expression(leaf.text)
            continue
        except (Unsupported, TooLarge, RecursionError):
            pass
        reply = worker.call({"op": "parse", "text": leaf.text}, opts.timeout)
        if reply is None:
            return f"parsing {leaf.text!r} timed out"
        if not reply.get("ok"):
            return f"{leaf.text!r} does not parse: {reply.get('detail') or reply.get('error')}"
    return None


def _nodes(node: Node) -> list[Node]:
    return [node, *(n for item in node.items for n in _nodes(item))]


def _leaves(node: Node) -> list[Node]:
    if node.kind == "expr":
        return [node]
    return [leaf for item in node.items for leaf in _leaves(item)]

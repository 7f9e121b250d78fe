"""The grader's entry points: equivalent, grade, verify, canonical_key, check_gold.

Order of work in `equivalent`, cheapest first: normalised strings, then the answer's shape and
in-process evaluation (exact fractions, sampled identities), and only what that cannot decide goes
to sympy in a killable worker process under the per-comparison time limit.
"""

from __future__ import annotations

import time
import unicodedata
from functools import lru_cache
from typing import Any

from . import worker
from .choice import choice_letter
from .compare import compare
from .evaluate import TooLarge, Undefined, Unsupported, evaluate, parse_expression
from .extract import MAX_ANSWER_CHARS, extract_answer
from .latex import nesting_depth
from .normalize import normalize
from .records import Extraction, GraderOptions, Verdict, resolve_options
from .structure import Node, parse_structure
from .values import Abort, Context, is_text, text_key

MAX_DEPTH = 30
_LETTERS = "ABCDEFGHIJ"


@lru_cache(maxsize=16384)
def _norm(text: str) -> str:
    return normalize(text)


def equivalent(
    gold: str, pred: str | None, options: GraderOptions | None = None, **overrides: Any
) -> Verdict:
    """Is `pred` a correct answer for reference `gold`? Gold first, and the order matters.

    The gold is trusted and decides the rules: its shape picks the comparison (a set is matched
    unordered, a tuple in order), an integer gold demands an exact value while a decimal gold
    allows `rel_tol`, and the tolerance is relative to the gold's value. The prediction is
    untrusted: it is capped in size and nesting, guarded against runaway values, and must not win
    by containing the gold among other material (a list, an equation restating the question).
    Swapping the arguments can therefore change the verdict: gold 10000 / pred 9999.9 is
    incorrect (an integer gold is exact), gold 9999.9 / pred 10000 is correct (within the decimal
    gold's tolerance); gold 5 / pred "x = 5" is correct, gold "x + y = 5" / pred 5 is not.
    """
    opts = resolve_options(options, **overrides)
    gold_norm = _norm(gold) if isinstance(gold, str) else str(gold)
    if pred is None:
        return Verdict(False, "no_answer", "none", gold_norm, None, "no answer extracted")
    if not isinstance(pred, str):
        pred = str(pred)
    if not pred.strip():
        return Verdict(False, "no_answer", "none", gold_norm, "", "empty answer")
    if len(pred) > MAX_ANSWER_CHARS:
        return Verdict(
            False,
            "unparsable",
            "guard",
            gold_norm,
            pred[:80] + "...",
            f"longer than {MAX_ANSWER_CHARS} chars",
        )
    if _has_binary(pred):
        return Verdict(False, "unparsable", "guard", gold_norm, pred[:80], "control or unassigned characters")
    pred_norm = _norm(pred)
    if gold_norm == pred_norm:
        return Verdict(True, "correct", "string", gold_norm, pred_norm)
    if opts.answer_type == "choice" or (opts.answer_type == "auto" and _is_choice_gold(gold_norm)):
        return _choice_verdict(gold_norm, pred_norm)
    depth = nesting_depth(pred_norm)
    if depth < 0 or depth > MAX_DEPTH:
        why = "unbalanced brackets" if depth < 0 else f"nested deeper than {MAX_DEPTH}"
        return Verdict(False, "unparsable", "guard", gold_norm, pred_norm, why)
    if opts.answer_type == "text":
        ok = text_key(gold_norm) == text_key(pred_norm)
        return Verdict(ok, "correct" if ok else "incorrect", "text", gold_norm, pred_norm)

    ctx = Context(opts, time.monotonic() + opts.timeout)
    g = parse_structure(gold_norm, opts.answer_type)
    p = parse_structure(pred_norm, opts.answer_type)
    shown_g, shown_p = g.show(), p.show()
    try:
        if opts.answer_type in ("number", "integer"):
            number_verdict = _check_number(g, p, opts.answer_type, shown_g, shown_p)
            if number_verdict is not None:
                return number_verdict
        ok = compare(g, p, ctx)
    except Abort as exc:
        return Verdict(False, exc.status, exc.rule, shown_g, shown_p, exc.detail)
    except RecursionError:
        return Verdict(False, "unparsable", "guard", shown_g, shown_p, "too deeply nested")
    rule = ctx.rules[-1] if ctx.rules else "structure"  # outer rules record after inner ones
    return Verdict(ok, "correct" if ok else "incorrect", rule, shown_g, shown_p, "; ".join(ctx.details)[:300])


def _has_binary(s: str) -> bool:
    return any(
        unicodedata.category(c) in ("Cc", "Cn", "Cs", "Co") and c not in "\n\t\r"
        for c in s[:MAX_ANSWER_CHARS]
    )


def _is_choice_gold(gold_norm: str) -> bool:
    g = gold_norm.strip()
    return len(g) == 1 and g in _LETTERS or choice_letter(g, _LETTERS) is not None and g.startswith("(")


def _choice_verdict(gold_norm: str, pred_norm: str) -> Verdict:
    gl = choice_letter(gold_norm, _LETTERS) or gold_norm.strip()
    pl = choice_letter(pred_norm, _LETTERS)
    if pl is None:
        return Verdict(False, "incorrect", "choice", gl, pred_norm, "no option letter in the prediction")
    ok = gl == pl
    return Verdict(ok, "correct" if ok else "incorrect", "choice", gl, pl)


def _check_number(g: Node, p: Node, answer_type: str, shown_g: str, shown_p: str) -> Verdict | None:
    """answer_type number/integer: the prediction must be one numeric value (no shapes, no x)."""
    if p.kind != "expr":
        return Verdict(False, "incorrect", "numeric", shown_g, shown_p, "not a single number")
    try:
        expr = parse_expression(p.text)
        value = evaluate(expr) if not expr.symbols else None
    except (Unsupported, Undefined, TooLarge, RecursionError):
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
    **extract_kwargs: str,
) -> tuple[Extraction | None, Verdict]:
    """Extract from a full response, then compare: what the pipeline stores per sample."""
    extraction = extract_answer(text, style, **extract_kwargs)
    if extraction is None or extraction.status != "ok":
        why = "no answer found" if extraction is None else extraction.status
        return extraction, Verdict(False, "no_answer", "none", _norm(gold), None, why)
    return extraction, equivalent(gold, extraction.answer, options)


def verify(gold: str, response: str, **options: Any) -> bool:
    """True when `response` (a full model output, or a bare answer) answers `gold` correctly.

    Never raises on any input, works from any thread or process: the one-liner for RL rewards.
    """
    opts = resolve_options(None, **options)  # a wrong option name is the caller's bug: raise it
    try:
        if not isinstance(response, str) or not isinstance(gold, str):
            return False
        extraction = extract_answer(response, "auto")
        if extraction is not None and extraction.status != "ok":
            return False
        if extraction is not None and extraction.method != "last_number":
            return equivalent(gold, extraction.answer, opts).correct
        # A bare answer ("1/2", "(3, 4)"): compare it whole before falling back to the last number.
        if len(response) <= 200 and equivalent(gold, response, opts).correct:
            return True
        return extraction is not None and equivalent(gold, extraction.answer, opts).correct
    except Exception:  # noqa: BLE001 - a reward function must return a bool for any model text
        return False


def canonical_key(answer: str) -> str:
    """Cheap canonical string: equal keys mean certainly-equivalent answers (no sympy involved).

    "1/2", "0.5", "\\frac{1}{2}" and "\\dfrac12" share the key "n:1/2". Different keys say
    nothing: those answers may still be equivalent and need `equivalent`.
    """
    try:
        if not isinstance(answer, str) or len(answer) > MAX_ANSWER_CHARS:
            return "raw:" + str(answer)[:MAX_ANSWER_CHARS]
        return _key(parse_structure(_norm(answer)))
    except (ValueError, ArithmeticError, RecursionError, LookupError, TypeError):
        return "raw:" + answer  # a key must exist for any string


def _key(node: Node) -> str:
    if node.kind == "expr":
        try:
            expr = parse_expression(node.text)
            if not expr.symbols:
                value = evaluate(expr)
                if not isinstance(value, complex):
                    return f"n:{value}"
        except (Unsupported, Undefined, TooLarge, RecursionError):
            pass
        if is_text(node.text):
            return "t:" + text_key(node.text)
        return "s:" + node.text
    inner = [_key(i) for i in node.items]
    if node.kind in ("list", "set"):
        inner = sorted(set(inner) if node.kind == "set" else inner)
    return f"{node.kind}{node.brackets}{''.join(node.ops)}[" + "|".join(inner) + "]"


def check_gold(gold: str, **options: Any) -> str | None:
    """None when the gold answer is usable, else why not: for the "every gold parses" lint test."""
    opts = resolve_options(None, **options)
    if not isinstance(gold, str) or not gold.strip():
        return "empty gold answer"
    if len(gold) > MAX_ANSWER_CHARS:
        return f"gold longer than {MAX_ANSWER_CHARS} characters"
    norm = _norm(gold)
    if nesting_depth(norm) < 0:
        return "unbalanced brackets"
    if opts.answer_type in ("choice", "text"):
        return None
    for leaf in _leaves(parse_structure(norm, opts.answer_type)):
        if not leaf.text:
            return "empty piece in gold"
        if is_text(leaf.text) or leaf.text in ("\\infty", "-\\infty"):
            continue
        try:
            parse_expression(leaf.text)
            continue
        except (Unsupported, RecursionError):
            pass
        reply = worker.call({"op": "parse", "text": leaf.text}, opts.timeout)
        if reply is None:
            return f"parsing {leaf.text!r} timed out"
        if not reply.get("ok"):
            return f"{leaf.text!r} does not parse: {reply.get('detail') or reply.get('error')}"
    return None


def _leaves(node: Node) -> list[Node]:
    if node.kind == "expr":
        return [node]
    return [leaf for item in node.items for leaf in _leaves(item)]

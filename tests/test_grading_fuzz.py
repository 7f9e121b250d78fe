"""Fuzzing the grader: random and adversarial LaTeX (and huge golds) never raise; predictions never run
past the time limit."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matheval.grading import STATUSES, canonical_key, check_gold, equivalent, extract_answer, verify

LIMIT = 2.0
MARGIN = 1.5  # process kill, restart bookkeeping and a loaded 2-core machine

TOKENS = [
    "\\frac",
    "\\dfrac",
    "\\sqrt",
    "\\pi",
    "\\infty",
    "\\cdot",
    "\\times",
    "\\pm",
    "\\cup",
    "\\le",
    "\\ge",
    "\\left(",
    "\\right)",
    "\\{",
    "\\}",
    "\\text{",
    "\\boxed{",
    "\\begin{pmatrix}",
    "\\end{pmatrix}",
    "\\\\",
    "&",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "^",
    "_",
    "!",
    "=",
    "<",
    ">",
    ",",
    ";",
    ".",
    "+",
    "-",
    "/",
    "|",
    "$",
    "%",
    "\\%",
    "\\$",
    "x",
    "y",
    "i",
    "e",
    "0",
    "1",
    "2",
    "9",
    "10",
    "100",
    "1000",
    "^{",
    "2^{2^{",
    "!!",
    "\\sin",
    "\\log_",
    "\\binom",
    "\\overline{",
    " ",
    "\\,",
    "\\!",
    "答案是",
    "：",
]

latexish = st.lists(st.sampled_from(TOKENS), max_size=40).map("".join)
junk = st.text(max_size=200)
answers = st.one_of(latexish, junk)

FUZZ = settings(
    max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


@FUZZ
@given(
    gold=st.sampled_from(["3", r"\frac{1}{2}", "(1,2]", "x^2+1", r"\{1,2\}", "y=2x+1", r"\text{east}"]),
    pred=answers,
)
def test_equivalent_never_raises_or_hangs(gold, pred):
    start = time.monotonic()
    verdict = equivalent(gold, pred, timeout=LIMIT)
    assert time.monotonic() - start < LIMIT + MARGIN
    assert verdict.status in STATUSES
    assert verdict.correct == (verdict.status == "correct")


HUGE_GOLDS = st.one_of(
    st.integers(min_value=1000, max_value=9000).map(lambda n: "1" * n),
    st.integers(min_value=4000, max_value=6000).map(lambda n: "9" * n + "/7"),
    st.integers(min_value=1000, max_value=5000).map(lambda n: "0." + "3" * n),
    st.sampled_from(
        ["1e100000000", "-1e-999999", r"10^{10^{10}}", r"2^{99999}", r"(2^{20})!", "{" * 200 + "1" + "}" * 200]
    ),
    st.builds(lambda a, b: a + b, st.sampled_from(["1" * 4500, r"\frac{1}{2}" * 300, "x^" * 500]), latexish),
)


# Fewer examples: a gold only sympy can read costs a worker timeout each time.
@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(gold=HUGE_GOLDS, pred=st.one_of(answers, st.sampled_from(["1", "2", "1" * 5000, r"\frac{1}{3}"])))
def test_huge_golds_give_a_verdict(gold, pred):
    # Golds are trusted but may still be absurd (a 5000-digit number, a power tower): a verdict,
    # never an exception. (A gold only sympy reads may cost a worker restart, so no time bound here.)
    verdict = equivalent(gold, pred, timeout=LIMIT)
    assert verdict.status in STATUSES
    assert verdict.correct == (verdict.status == "correct")
    assert verify(gold, pred, timeout=LIMIT) in (True, False)
    assert isinstance(canonical_key(gold), str)
    assert check_gold(gold, timeout=LIMIT) is None or isinstance(check_gold(gold, timeout=LIMIT), str)


@FUZZ
@given(response=st.one_of(latexish, junk, st.builds(lambda a, b: a + "\\boxed{" + b, junk, latexish)))
def test_verify_and_extract_never_raise_or_hang(response):
    start = time.monotonic()
    assert verify(r"\frac{1}{2}", response, timeout=LIMIT) in (True, False)
    found = extract_answer(response)
    assert found is None or 0 <= found.span[0] <= found.span[1] <= len(response)
    assert isinstance(canonical_key(response), str)
    assert time.monotonic() - start < LIMIT + MARGIN

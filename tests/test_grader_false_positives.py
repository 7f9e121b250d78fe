"""One test per known false-positive class of the grader (issue 9), written before the fixes.

A policy under RL finds every way a wrong answer is called right; each class below was found on
real outputs or by construction, and each test also pins the nearby answers that must stay correct.
"""

from __future__ import annotations

import pytest

from matheval.grading import canonical_key, check_gold, equivalent, extract_answer, grade, verify

# --- a denominator (or any digit inside a LaTeX expression) read as the last number -----------


@pytest.mark.parametrize(
    ("gold", "response"),
    [
        ("12", r"\frac{1}{12}"),
        ("2", r"\frac{1+\sqrt{5}}{2}"),
        ("3", r"The probability is $\frac{2}{3}$"),
        ("5", r"so we get \sqrt{5}"),
        ("2", r"x^2"),
        ("4", r"The ratio is 3/4."),
        ("10", r"Hence the value is $2^{10}$."),
        ("7", r"It equals \dfrac{\pi}{7} radians"),
    ],
)
def test_a_digit_inside_an_expression_is_not_the_answer(gold, response):
    assert verify(gold, response) is False


@pytest.mark.parametrize(
    ("gold", "response"),
    [
        (r"\frac{1}{12}", r"\frac{1}{12}"),
        (r"\frac{1+\sqrt{5}}{2}", r"\frac{1+\sqrt{5}}{2}"),
        ("12", "So there are 12 of them."),
        (r"\frac{2}{3}", r"The probability is $\frac{2}{3}$"),
    ],
)
def test_the_whole_expression_still_counts(gold, response):
    assert verify(gold, response) is True


# --- a two-element tuple gold is a point, not an interval --------------------------------------


@pytest.mark.parametrize(
    "pred",
    [r"3 < r < \frac{\pi}{2}", r"3 \le r \le \frac{\pi}{2}", r"r > 3", r"(3, \frac{\pi}{2}]"],
)
def test_a_point_gold_is_not_matched_by_an_inequality(pred):
    assert not equivalent(r"(3, \frac{\pi}{2})", pred).correct


def test_a_point_gold_still_matches_the_point():
    assert equivalent(r"(3, \frac{\pi}{2})", r"\left( 3, \frac{\pi}{2} \right)").correct
    assert not equivalent("(1, 2)", "1 < x < 2").correct


def test_the_question_can_say_a_pair_is_an_interval():
    question = "Express the set of solutions in interval notation."
    assert equivalent("(1, 2)", "1 < x < 2", question=question).correct
    assert not equivalent("(1, 2)", "1 \\le x < 2", question=question).correct


# --- huge numbers give a verdict, never an exception ------------------------------------------


@pytest.mark.parametrize(
    ("gold", "pred", "expected"),
    [
        ("1" * 5000, "2", False),
        ("2", "1" * 1900, False),
        ("1" * 5000, "1" * 5000, True),
        ("1" * 5000 + "/3", "2", False),
        ("0." + "1" * 5000, "0.1", False),
        ("1e100000000", "2", False),
        ("2", "1e100000000", False),
        ("10^{100000000}", "2", False),
        ("9" * 1999, "9" * 1999, True),
    ],
)
def test_huge_numbers_give_a_verdict(gold, pred, expected):
    verdict = equivalent(gold, pred)
    assert verdict.correct is expected
    assert verify(gold, pred) is expected
    assert isinstance(canonical_key(gold), str) and isinstance(canonical_key(pred), str)


def test_huge_gold_is_reported_by_check_gold_not_raised():
    assert check_gold("1" * 5000) is None or isinstance(check_gold("1" * 5000), str)


# --- sampled identities: piecewise functions need points that cover their domain --------------


@pytest.mark.parametrize(
    ("gold", "pred"),
    [
        (r"\lfloor \log_2 n \rfloor", r"\lfloor n/2 \rfloor"),  # equal for n = 1..5
        (r"\lfloor x \rfloor", r"\lceil x \rceil - 1"),  # differ exactly at the integers
        (r"|x|", "x"),
        (r"\lfloor \sqrt{n} \rfloor", r"\lfloor \frac{n+2}{3} \rfloor"),  # equal for n = 1..4
        (r"\max(x, 1)", "x"),
        (r"n \bmod 3", r"n \bmod 4"),  # equal for n = 0..2
        (r"\lceil \frac{n}{2} \rceil", r"\lfloor \frac{n}{2} \rfloor + 1"),  # differ at even n
        (r"2^{\lfloor n/2 \rfloor}", r"\lfloor n/2 \rfloor + 1"),  # equal for n = 0..3
        (r"\binom{n}{2}", r"\frac{n(n-1)(n-2)}{6} + n - 1"),  # equal at n = 1, 2, 3
    ],
)
def test_functions_that_agree_only_on_small_integers_differ(gold, pred):
    assert not equivalent(gold, pred).correct


@pytest.mark.parametrize(
    ("gold", "pred"),
    [
        (r"\lfloor n/2 \rfloor", r"\lceil (n-1)/2 \rceil"),  # an identity on the integers
        (r"|x|", r"\sqrt{x^2}"),
        (r"\lfloor x \rfloor + 1", r"\lfloor x + 1 \rfloor"),
        (r"\frac{n(n+1)}{2}", r"\binom{n+1}{2}"),
        (r"(x+1)^2", "x^2+2x+1"),
    ],
)
def test_true_identities_still_hold(gold, pred):
    assert equivalent(gold, pred).correct


# --- none of the new leniency may let a wrong answer in ---------------------------------------


@pytest.mark.parametrize(
    ("gold", "pred"),
    [
        # an inequality restating the question is not its solution
        (r"(2, \infty)", "2x - 4 > 0"),
        ("x > 2", "2x > 4"),
        ("[-2, 7]", r"x^2 - 5x - 14 \le 0"),
        ("5", "x < 5"),
        ("(-3, 3)", "|x - 1| < 3"),
        # a list that contains the gold among other values
        ("5", "3, 5"),
        ("5", r"\{3, 5\}"),
        ("(1,2)", "(1,2), (3,4)"),
        ("5", r"5 \text{ or } 6"),
        ("5", r"\pm 5"),
        (r"\{1, 2\}", r"\{1, 2, 3\}"),
        # labels and equations that do not give the asked value
        ("7", "7 = 11a + c"),
        ("0", "a + 3z = 0, z = 1"),
        ("12:00", "1:00"),
        ("1", "-[0,1)"),
    ],
)
def test_stays_incorrect(gold, pred):
    assert not equivalent(gold, pred).correct


@pytest.mark.parametrize(
    ("gold", "response"),
    [
        ("5", r"First $x = \boxed{3}$, and then the other root is $\boxed{5}$."),
        ("A", "The answer is B, not A."),
        ("A", "It can't be A or C; it is B."),
        ("A", "réponse est C non A"),
        ("A", "B不是 A"),
        ("B", "It is not B. The answer is D."),
        ("C", "Options A, B and C are wrong, so D."),
    ],
)
def test_responses_that_stay_incorrect(gold, response):
    assert verify(gold, response) is False


# --- no final answer is not an answer --------------------------------------------------------


def test_truncated_response_without_marker_is_no_answer():
    text = "We compute 3 + 4 = 7 and then multiply by 6 to get 42, and then we need to subtract"
    found = extract_answer(text, "auto", truncated=True)
    assert found is not None and found.status == "truncated"
    _, verdict = grade("42", text, truncated=True)
    assert verdict.status == "no_answer"
    # The published few-shot protocol keeps its last-number fallback, as an explicit option.
    kept = extract_answer(text, "gsm8k", truncated=True, fallback_on_truncated=True)
    assert kept is not None and kept.status == "ok" and kept.answer == "42"


def test_truncated_response_with_a_marker_keeps_it():
    text = r"so the answer is $\boxed{7}$. Let me double check this by another method: 3 + 4 = 7, then 12"
    found = extract_answer(text, "auto", truncated=True)
    assert found is not None and found.status == "ok" and found.answer == "7"


def test_looping_response_without_marker_is_no_answer():
    text = "We have 12 apples. " + "Then we add 3 and subtract 3. " * 40
    found = extract_answer(text, "auto")
    assert found is not None and found.status == "looping"
    assert verify("3", text) is False

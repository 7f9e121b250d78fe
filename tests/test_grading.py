"""The grader's golden table, its extraction styles and its public contract."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from matheval.grading import (
    STATUSES,
    Extraction,
    GraderOptions,
    Verdict,
    canonical_key,
    check_gold,
    equivalent,
    extract_answer,
    grade,
    verify,
)

CASES_PATH = Path(__file__).parent / "data" / "grading_cases.jsonl"
CASES = [json.loads(line) for line in CASES_PATH.read_text(encoding="utf-8").splitlines() if line.strip()]


def _case_id(i: int, case: dict) -> str:
    return f"{i:03d}-{case.get('source', '')}"


def test_golden_table_is_big_and_well_formed():
    assert len(CASES) >= 300
    for case in CASES:
        assert set(case) <= {"gold", "pred", "expected", "why", "source", "options", "question"}, case
        assert isinstance(case["expected"], bool) and case["why"] is not None
    assert sum(c["expected"] for c in CASES) > 100 and sum(not c["expected"] for c in CASES) > 100


@pytest.mark.parametrize("case", CASES, ids=[_case_id(i, c) for i, c in enumerate(CASES)])
def test_golden_case(case):
    verdict = equivalent(case["gold"], case["pred"], question=case.get("question"), **case.get("options", {}))
    assert verdict.status in STATUSES
    assert verdict.correct is case["expected"], f"{case['why']} -> {verdict}"
    assert verdict.correct == (verdict.status == "correct")


def test_every_gold_of_the_table_parses():
    # A gold the grader cannot read is a task bug; check_gold says which and why.
    golds = {c["gold"]: c.get("options", {}) for c in CASES}
    problems = {g: check_gold(g, **opts) for g, opts in golds.items()}
    assert {g: why for g, why in problems.items() if why} == {}


@pytest.mark.parametrize("gold", ["", "   ", r"\frac{1}{", r"\undefinedmacro{3}"])
def test_check_gold_reports_broken_golds(gold):
    assert isinstance(check_gold(gold), str)


# --- extraction ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "style", "kwargs", "answer", "method"),
    [
        (r"So the answer is $\boxed{\frac{1}{2}}$.", "auto", {}, r"\frac{1}{2}", "boxed"),
        (r"\boxed{\left(3, \frac{\pi}{2}\right)}", "boxed", {}, r"\left(3, \frac{\pi}{2}\right)", "boxed"),
        (
            r"First \boxed{5}. After much more thought the result changes to \boxed{7}",
            "auto",
            {},
            "7",
            "boxed",
        ),
        (r"\fbox{12}", "boxed", {}, "12", "boxed"),
        (
            "Final Answer: The final answer is $\\$3.25$. I hope it is correct.",
            "minerva",
            {},
            r"\$3.25",
            "minerva_final",
        ),
        ("Final answer: The final answer is $2$.", "auto", {}, "2", "minerva_final"),
        (r"so $W=\boxed{16N}$ Final Answer: The final answer is (C).", "auto", {}, "(C)", "minerva_final"),
        ("Natalia sold 48 clips.\n#### 72", "gsm8k", {}, "72", "gsm8k_hash"),
        ("She has $1,200 left. The answer is $1,200.", "gsm8k", {}, "1,200", "answer_is"),
        ("There are 3 apples and 4 pears, so 7 fruits.", "gsm8k", {}, "7", "last_number"),
        ("#### Step 1: add\nThe total is 12.", "auto", {}, "12", "last_number"),
        ("The answer is: 3.5. Next we", "auto", {}, "3.5", "answer_is"),
        ("**Answer:** 42", "auto", {}, "42", "answer_is"),
        ("The answer is $x = 2$ or $x=3$.", "auto", {}, "x = 2 or x=3", "answer_is"),
        ("因此，答案是：５。", "auto", {}, "5", "zh_anchor"),
        (r"所以答案为\frac{1}{2}，这是", "zh", {}, r"\frac{1}{2}", "zh_anchor"),
        ("The answer is (B).", "choice", {}, "B", "choice"),
        ("答案是C", "choice", {}, "C", "choice"),
        ("Looking at the options...\nB. 12", "choice", {}, "B", "choice"),
        (r"Thus \boxed{D}", "choice", {"choices": "ABCD"}, "D", "choice"),
        ("```python\nprint(2+3)\n```\n```output\n5\n```", "program_output", {}, "5", "program_output"),
        ("```python\nprint(2+3)\n```\n```output\n5\n```\nSo \\boxed{5}.", "auto", {}, "5", "boxed"),
        ("<think>maybe 5? no, 6</think> The answer is 6.", "auto", {}, "6", "answer_is"),
        ("The value is 0.5 and then -3.", "number", {}, "-3", "last_number"),
    ],
)
def test_extraction_styles(text, style, kwargs, answer, method):
    found = extract_answer(text, style, **kwargs)
    assert found is not None and found.status == "ok"
    assert (found.answer, found.method) == (answer, method)
    start, end = found.span
    assert 0 <= start <= end <= len(text)


def test_several_boxes_are_several_answers():
    found = extract_answer(r"$\boxed{1}$, $\boxed{2}$, and $\boxed{3}$")
    assert found.answers == ("1", "2", "3") and found.answer == "1, 2, 3"
    assert extract_answer(r"\boxed{2; 5}").answers == ("2", "5")


def test_nested_braces_in_a_box():
    found = extract_answer(r"The answer is \boxed{\frac{\sqrt{3}}{2}} indeed.")
    assert found.answer == r"\frac{\sqrt{3}}{2}"
    assert found.span == (14, 14 + len(r"\boxed{\frac{\sqrt{3}}{2}}"))


def test_unclosed_think_block_is_its_own_status():
    found = extract_answer("<think>let me see... 5? or maybe \\boxed{6}")
    assert found is not None and found.status == "unclosed_think" and found.answer == ""
    extraction, verdict = grade("6", "<think>let me see... \\boxed{6}")
    assert verdict.status == "no_answer" and "unclosed_think" in verdict.detail


def test_nothing_to_extract():
    assert extract_answer("no numbers here") is None
    assert extract_answer("") is None
    assert extract_answer("text only", "boxed") is None


def test_unknown_style_and_option_are_errors():
    with pytest.raises(ValueError, match="unknown extraction style"):
        extract_answer("x", "latex")
    with pytest.raises(TypeError):
        extract_answer("x", "boxed", letters="AB")
    assert extract_answer(r"\boxed{2}", "boxed", choices="AB").answer == "2"  # ignored outside "choice"


# --- contract -------------------------------------------------------------------------------


def test_records_are_frozen_and_json_able():
    found = extract_answer(r"\boxed{2}")
    verdict = equivalent("2", "2")
    for record in (found, verdict):
        with pytest.raises(dataclasses.FrozenInstanceError):
            record.answer = "3" if isinstance(record, Extraction) else None  # type: ignore[misc]
        json.dumps(record.to_dict())
    assert isinstance(found, Extraction) and isinstance(verdict, Verdict)
    assert set(verdict.to_dict()) == {"correct", "status", "rule", "gold_norm", "pred_norm", "detail"}


def test_no_answer_and_empty_prediction():
    assert equivalent("2", None).status == "no_answer"
    assert equivalent("2", "   ").status == "no_answer"
    extraction, verdict = grade("2", "I do not know.")
    assert extraction is None and verdict.status == "no_answer"


def test_grade_returns_extraction_and_verdict():
    extraction, verdict = grade(r"\frac{1}{2}", r"Thus the probability is $\boxed{\dfrac{1}{2}}$.")
    assert extraction.method == "boxed" and verdict.correct and verdict.rule == "string"
    extraction, verdict = grade("B", "The answer is (B) because...", style="choice", choices="ABCD")
    assert extraction.method == "choice" and extraction.answer == "B" and verdict.correct


def test_options_are_strict():
    with pytest.raises((TypeError, ValueError), match="unknown grader option"):
        equivalent("1", "1", rel_tolerance=0.1)
    with pytest.raises(TypeError, match="must be float"):
        GraderOptions(rel_tol="0.1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be bool"):
        GraderOptions(percent_compat=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="answer_type"):
        GraderOptions(answer_type="fraction")
    with pytest.raises(ValueError, match="unknown grader option"):
        GraderOptions.from_dict({"rel_tol": 0.01, "strict": True})
    opts = GraderOptions.from_dict({"rel_tol": 0.01, "percent_compat": True, "timeout": 2})
    assert opts == GraderOptions(rel_tol=0.01, percent_compat=True, timeout=2.0)
    assert equivalent(r"\frac{1}{3}", "0.333", options=opts).correct


def test_verdict_names_the_rule():
    assert equivalent("(1,2]", "(1,2)").rule == "interval"
    assert equivalent(r"\{1,2\}", r"\{2,1\}").rule == "set"
    assert equivalent("y=2x+1", "2x-y+1=0").rule == "equation"
    assert equivalent("0.5", r"\frac{1}{2}").rule == "numeric"
    assert equivalent("x^2-1", "(x-1)(x+1)").rule == "symbolic"
    assert equivalent("B", "(B)").rule == "choice"
    assert equivalent(r"\text{east}", "East").rule == "text"


def test_gold_first_is_asymmetric():
    # Integer golds are exact, while a decimal gold grants its tolerance to the prediction.
    assert not equivalent("10000", "9999.9").correct
    assert equivalent("9999.9", "10000", rel_tol=1e-4).correct


@pytest.mark.parametrize(
    "response",
    [
        r"Adding them up gives $\boxed{\frac{1}{2}}$.",
        "Final Answer: The final answer is $0.5$. I hope it is correct.",
        "1/2",
        r"\dfrac12",
        "The answer is 0.5",
    ],
)
def test_verify_full_responses_and_bare_answers(response):
    assert verify(r"\frac{1}{2}", response) is True


@pytest.mark.parametrize("response", ["", "The answer is 2.", r"\boxed{}", None, 12, "(1,2)"])
def test_verify_wrong_or_odd_input_is_false(response):
    assert verify(r"\frac{1}{2}", response) is False


def test_canonical_key_clusters_cheaply():
    assert (
        len({canonical_key(a) for a in ["1/2", "0.5", r"\frac{1}{2}", r"\dfrac12", r"\boxed{\frac12}"]}) == 1
    )
    assert canonical_key("1,000") == canonical_key("1000")
    assert canonical_key("2, 1") == canonical_key("1,2")
    assert canonical_key("(1,2)") != canonical_key("(2,1)")
    assert canonical_key("1/2") != canonical_key("1/3")
    assert canonical_key("x+1") != canonical_key("x+2")
    assert isinstance(canonical_key("\x00" * 5000), str)


def test_canonical_key_equal_means_equivalent():
    answers = [
        "1/2",
        "0.5",
        "2/4",
        r"\frac{1}{2}",
        "1,000",
        "1000",
        "(1,2)",
        "1, 2",
        "2,1",
        "x+1",
        "25\\%",
        "25",
    ]
    for a in answers:
        for b in answers:
            if canonical_key(a) == canonical_key(b):
                assert equivalent(a, b).correct, (a, b)


def test_equal_keys_mean_equivalent_over_the_golden_table():
    # Majority voting merges answers by key without calling `equivalent`: a key shared by two
    # answers that are not equivalent would merge a wrong answer into a right one.
    groups: dict[str, list[str]] = {}
    for answer in sorted({c["gold"] for c in CASES} | {c["pred"] for c in CASES}):
        groups.setdefault(canonical_key(answer), []).append(answer)
    merged = [(a, b) for group in groups.values() for a in group for b in group if a != b]
    assert merged, "the table has answers that share a key"
    assert [(a, b) for a, b in merged if not equivalent(a, b).correct] == []

"""Voting, maj@k and pass@k: hand-computed cases, brute force over k-subsets, call counts.

A tiny fake grader (exact fractions) keeps these tests independent of matheval.grading; the
real grader is exercised on the Qwen 100x8 set in test_metrics_qwen.py.
"""

from __future__ import annotations

import itertools
import math
import random
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matheval.metrics import (
    cluster_answers,
    default_ks,
    maj_at_k,
    maj_at_ks,
    majority_vote,
    pass_at_k,
    score_problem,
    vote_winner,
)


def _value(s: str) -> Fraction | None:
    s = s.replace(" ", "").removeprefix("x=").replace("\\dfrac", "\\frac")
    if s.startswith("\\frac{") and s.endswith("}"):
        num, _, den = s[len("\\frac{") : -1].partition("}{")
        s = f"{num}/{den}"
    try:
        return Fraction(s)
    except (ValueError, ZeroDivisionError):
        return None


def fake_key(s: str) -> str:
    # Cheap and incomplete on purpose, like the real one: only spacing is normalised.
    return s.replace(" ", "")


class FakeGrader:
    """Exact-fraction equivalence that counts its calls (the real one costs milliseconds)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, gold: str, pred: str | None) -> bool:
        self.calls += 1
        if pred is None:
            return False
        g, p = _value(gold), _value(pred)
        if g is not None and p is not None:
            return g == p
        return fake_key(gold) == fake_key(pred)


def _score(answers, gold, ks=None):
    return score_problem(answers, gold, ks, equiv=FakeGrader(), key=fake_key)


# ------------------------------------------------------------------ pass@k


def test_pass_at_k_hand_computed():
    assert pass_at_k(5, 2, 2) == pytest.approx(1 - 3 / 10)  # 1 - C(3,2)/C(5,2)
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)  # pass@1 is the fraction correct
    assert pass_at_k(8, 0, 8) == 0.0
    assert pass_at_k(4, 3, 2) == 1.0  # n - c < k: every 2-subset holds a correct sample
    assert pass_at_k(1, 1, 1) == 1.0


def test_pass_at_k_matches_exact_binomials_for_large_n():
    for n, c, k in [(200, 7, 50), (1000, 3, 10), (64, 1, 64), (64, 1, 63)]:
        exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
        assert pass_at_k(n, c, k) == pytest.approx(float(exact), rel=1e-12)


@pytest.mark.parametrize("n,c,k", [(4, 5, 1), (4, 2, 0), (4, 2, 5), (0, 0, 1), (4, -1, 1)])
def test_pass_at_k_rejects_impossible_inputs(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_default_ks():
    assert default_ks(1) == [1]
    assert default_ks(8) == [1, 2, 4, 8]
    assert default_ks(6) == [1, 2, 4, 6]
    assert default_ks(64) == [1, 2, 4, 8, 16, 32, 64]


# ------------------------------------------------------------------ voting


def test_equivalent_spellings_vote_together():
    answers = ["1/2", "3", "0.5", "3", "\\frac{1}{2}"]
    assert majority_vote(answers, equiv=FakeGrader(), key=fake_key) == "1/2"
    assert cluster_answers(answers, FakeGrader(), fake_key) == [0, 1, 0, 1, 0]


def test_tie_goes_to_the_class_seen_first():
    assert majority_vote(["3", "1/2", "0.5", "3"], equiv=FakeGrader(), key=fake_key) == "3"
    assert majority_vote(["1/2", "3", "0.5", "3"], equiv=FakeGrader(), key=fake_key) == "1/2"
    assert vote_winner([2, 1, 1, 2, 0]) == 2  # ids need not follow first appearance


def test_none_abstains():
    assert majority_vote([None, None, "2"], equiv=FakeGrader(), key=fake_key) == "2"
    assert majority_vote([None, None], equiv=FakeGrader(), key=fake_key) is None
    scored = _score([None, None, None], "2")
    assert scored.vote is None and not scored.vote_correct
    assert scored.maj_at == {1: 0.0, 2: 0.0, 3: 0.0}
    assert scored.pass_at == {1: 0.0, 2: 0.0, 3: 0.0}


def test_clustering_grades_one_representative_per_key():
    grader = FakeGrader()
    answers = ["1/2"] * 30 + ["1 / 2"] * 10 + ["0.5"] * 20 + ["3"] * 4
    ids = cluster_answers(answers, grader, fake_key)
    # Keys: "1/2" (40 answers) and "0.5" and "3" -> 2 calls: 0.5 vs 1/2 (merge), 3 vs 1/2.
    assert grader.calls == 2
    assert ids == [0] * 60 + [1] * 4


def test_score_problem_grader_calls():
    grader = FakeGrader()
    answers = ["1/2"] * 20 + ["0.5"] * 20 + ["3", "3.0", "7"] * 6 + [None] * 6
    scored = score_problem(answers, "1/2", equiv=grader, key=fake_key)
    # 5 keys against the gold, then greedy merge of the 3 wrong ones (3.0 vs 3; 7 vs 3), 1 for None.
    assert grader.calls == scored.grader_calls == 5 + 2 + 1
    assert scored.cluster_sizes == (40, 12, 6)
    assert scored.cluster_correct == (True, False, False)
    assert scored.vote == "1/2" and scored.vote_correct
    assert scored.n_correct == 40


def test_all_wrong_still_names_the_merged_wrong_winner():
    answers = ["7", "3", "3.0", "7", "3.0"]
    scored = _score(answers, "100")
    assert scored.vote == "3" == majority_vote(answers, equiv=FakeGrader(), key=fake_key)
    assert scored.maj_at[5] == 0.0 and scored.pass_at[5] == 0.0


def test_split_wrong_answer_outvotes_when_merged():
    # "3" and "3.0" are one wrong answer: merged they beat the correct "5" (4 votes to 3).
    scored = _score(["5", "3", "5", "3.0", "5", "3", "3.0"], "5")
    assert scored.vote == "3" and not scored.vote_correct
    assert scored.maj_at[7] == 0.0


# ------------------------------------------------------------------ maj@k


def test_maj_at_k_hand_computed():
    # Positions 0..2 = 5, 7, 5. k=2: {0,1} tie -> 5 (first); {0,2} -> 5; {1,2} tie -> 7.
    assert maj_at_k(["5", "7", "5"], "5", 2, equiv=FakeGrader(), key=fake_key) == pytest.approx(2 / 3)
    # Order matters through the tie rule: 7, 5, 5 -> {0,1} 7; {0,2} 7; {1,2} 5.
    assert maj_at_k(["7", "5", "5"], "5", 2, equiv=FakeGrader(), key=fake_key) == pytest.approx(1 / 3)
    scored = _score(["5", None, "7"], "5")
    # k=1: 1/3. k=2: {0,1} 5; {0,2} tie -> 5; {1,2} 7 -> 2/3. k=3: tie -> 5.
    assert scored.maj_at == pytest.approx({1: 1 / 3, 2: 2 / 3, 3: 1.0})


def test_maj_at_1_is_the_fraction_correct_and_maj_at_n_is_the_vote():
    rng = random.Random(7)
    pool = ["1/2", "0.5", "3", "3.0", "7", None]
    for _ in range(50):
        answers = [rng.choice(pool) for _ in range(rng.randint(1, 12))]
        scored = _score(answers, "1/2")
        n = len(answers)
        assert scored.maj_at[1] == pytest.approx(scored.n_correct / n)
        assert scored.maj_at[n] == float(scored.vote_correct)


def _brute_force_maj(answers, gold, k):
    grader = FakeGrader()
    hits = []
    for subset in itertools.combinations(range(len(answers)), k):
        vote = majority_vote([answers[i] for i in subset], equiv=grader, key=fake_key)
        hits.append(vote is not None and grader(gold, vote))
    return sum(hits) / len(hits)


def test_maj_at_k_equals_brute_force_over_all_k_subsets():
    rng = random.Random(0)
    pool = ["1/2", "0.5", "\\frac{1}{2}", "3", "3.0", "7", "x=7", "9", None]
    for _ in range(60):
        answers = [rng.choice(pool) for _ in range(rng.randint(1, 9))]
        scored = _score(answers, "1/2", range(1, len(answers) + 1))
        for k in range(1, len(answers) + 1):
            assert scored.maj_at[k] == pytest.approx(_brute_force_maj(answers, "1/2", k), abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(
    ids=st.lists(st.one_of(st.none(), st.integers(0, 3)), min_size=1, max_size=10),
    correct=st.lists(st.booleans(), min_size=4, max_size=4),
)
def test_maj_at_ks_brute_force_property(ids, correct):
    n = len(ids)
    got = maj_at_ks(ids, correct, range(1, n + 1))
    for k in range(1, n + 1):
        wins = [vote_winner([ids[i] for i in s]) for s in itertools.combinations(range(n), k)]
        expected = sum(w is not None and correct[w] for w in wins) / len(wins)
        assert got[k] == pytest.approx(expected, abs=1e-12)


def test_maj_at_k_n64_sums_to_one_over_clusters():
    # Every k-subset with an answer has exactly one winner: the win probabilities of all
    # clusters add up to P(some answer chosen). Checks the exact DP where brute force cannot go.
    rng = random.Random(3)
    ids = [rng.choice([None, 0, 0, 0, 1, 1, 2, 3, 4]) for _ in range(64)]
    n_none = ids.count(None)
    ks = default_ks(64)
    total = {k: 0.0 for k in ks}
    for c in range(5):
        for k, v in maj_at_ks(ids, [i == c for i in range(5)], ks).items():
            total[k] += v
    for k in ks:
        expected = 1 - math.comb(n_none, k) / math.comb(64, k)
        assert total[k] == pytest.approx(expected, abs=1e-12)


def test_maj_at_k_rejects_k_above_n():
    with pytest.raises(ValueError):
        maj_at_k(["1", "2"], "1", 3, equiv=FakeGrader(), key=fake_key)


def test_scores_dict_for_the_sample_log():
    scored = _score(["2", "2", "3", None], "2")
    assert scored.scores == pytest.approx(
        {"maj@1": 0.5, "maj@2": scored.maj_at[2], "maj@4": 1.0,
         "pass@1": 0.5, "pass@2": 1 - 1 / 6, "pass@4": 1.0}
    )
    record = scored.vote_record
    assert record["answer"] == "2" and record["votes"] == 2 and record["abstained"] == 1
    assert [c["size"] for c in record["clusters"]] == [2, 1]


# ------------------------------------------------------------------ with the real grader


def _real_grading():
    from matheval import grading

    return grading


def test_public_api_with_the_real_grader():
    _real_grading()
    from matheval import maj_at_k as top_maj_at_k
    from matheval import majority_vote as top_majority_vote
    from matheval import pass_at_k as top_pass_at_k

    answers = ["0.5", "3", "\\frac{1}{2}", "3", "1/2", "\\dfrac{1}{2}", None]
    assert top_majority_vote(answers) == "0.5"
    assert top_maj_at_k(answers, "\\frac12", 7) == 1.0
    assert top_pass_at_k(7, 4, 4) == 1.0
    scored = score_problem(answers, "\\frac12")
    assert scored.cluster_sizes == (4, 2) and scored.vote_correct
    assert [v.status for v in scored.sample_verdicts][:2] == ["correct", "incorrect"]
    assert scored.sample_verdicts[-1].status == "no_answer"


def test_real_grader_maj_at_k_equals_brute_force():
    grading = _real_grading()
    rng = random.Random(11)
    pool = ["1/2", "0.5", "\\frac{1}{2}", "3", "3.0", "x = 7", "7", "\\sqrt{4}", None]
    gold = "\\frac12"
    for _ in range(12):
        answers = [rng.choice(pool) for _ in range(rng.randint(2, 7))]
        scored = score_problem(answers, gold, range(1, len(answers) + 1))
        for k in range(1, len(answers) + 1):
            hits = []
            for subset in itertools.combinations(range(len(answers)), k):
                vote = majority_vote([answers[i] for i in subset])
                hits.append(vote is not None and grading.equivalent(gold, vote).correct)
            assert scored.maj_at[k] == pytest.approx(sum(hits) / len(hits), abs=1e-12)

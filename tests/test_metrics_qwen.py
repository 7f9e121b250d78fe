"""Real case: Qwen2.5-Math's 100 MATH problems x 8 responses, re-extracted and re-graded by matheval.

The file's own labels (`score`, the Qwen harness's `math_equal`) give first-sample 90/100 and an
exact-string maj@8 of 93/100 (its README). matheval gives 91 and 94. Both differences come from
two items where the Qwen labels are grading false negatives, and nowhere else:
- idx 3: gold `\\text{4:30 p.m.}`; all 8 responses box `4:30 \\text{ p.m.}`. Qwen normalises the
  gold to `4:30p..` and the prediction to `4:30`, so all 8 are marked wrong; matheval accepts
  them (+1 first sample, +1 vote, +8 samples, +1 any-correct).
- idx 72: gold `10{,}000`; the 8th response answers `10000`, which Qwen marks wrong. The vote
  is still the wrong `9999` (3 votes), so only any-correct (+1) and the sample count (+1) move.
Equivalence voting merges spellings in one problem only (idx 72: `9999.857142857143` and
`9999 \\frac{6}{7}`, both wrong), so on this set it changes no vote outcome; the +1 in maj@8
is idx 3's grading fix.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from matheval import grading
from matheval.metrics import score_problem

DATA = Path(os.environ.get("MATHEVAL_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
QWEN = DATA / "outputs" / "qwen25math-example-math100x8" / "math_cot_100.jsonl"


@pytest.fixture(scope="module")
def records() -> list[dict]:
    assert QWEN.is_file(), f"shared data not found at {QWEN}; set MATHEVAL_DATA_DIR"
    with open(QWEN, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def test_labels_reproduce_the_readme(records):
    # The README's figures, recounted from the labels: a check that we read the file right.
    assert sum(r["score"][0] for r in records) == 90
    string_vote = 0
    for r in records:
        winner = Counter(r["pred"]).most_common(1)[0][0]
        string_vote += r["score"][r["pred"].index(winner)]
    assert string_vote == 93


def test_matheval_scores_and_explained_differences(records):
    first = maj8 = any_correct = samples = 0
    disagree = set()
    for r in records:
        answers = [None if (e := grading.extract_answer(t)) is None else e.answer for t in r["code"]]
        scored = score_problem(answers, r["answer"], [1, 8])
        ok = [cid is not None and scored.cluster_correct[cid] for cid in scored.cluster_ids]
        first += ok[0]
        maj8 += scored.maj_at[8]  # k = N = 8: the vote over all samples
        assert scored.maj_at[8] == float(scored.vote_correct)
        assert scored.maj_at[1] == pytest.approx(sum(ok) / 8)
        any_correct += scored.pass_at[8]
        samples += sum(ok)
        if ok != r["score"]:
            disagree.add(r["idx"])
    assert (first, maj8, any_correct, samples) == (91, 94, 98, 737)
    assert disagree == {3, 72}

"""Score one problem's N sampled answers in one pass: cluster, grade each cluster once, vote,
and derive pass@k and maj@k for every k. The pipeline calls `score_problem` once per problem."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from matheval.metrics.estimators import default_ks, maj_at_ks, pass_at_k
from matheval.metrics.voting import (
    Equiv,
    KeyFn,
    default_equiv,
    key_groups,
    merge_greedy,
    truth,
    vote_winner,
)


@dataclass(frozen=True)
class ProblemScores:
    n: int  # samples, None answers included
    n_correct: int  # samples whose answer the grader accepts
    cluster_ids: tuple[int | None, ...]  # per sample, numbered by first appearance
    cluster_correct: tuple[bool, ...]
    cluster_sizes: tuple[int, ...]
    representatives: tuple[str, ...]  # earliest answer of each cluster
    winner: int | None  # cluster id of the majority vote over all N samples
    vote: str | None  # the voted answer (representative of the winner)
    vote_correct: bool
    pass_at: Mapping[int, float]
    maj_at: Mapping[int, float]
    # Per sample: the grader's verdict for that sample's key group (its representative's
    # verdict: equal keys are certainly equivalent), or for None answers the no-answer verdict.
    sample_verdicts: tuple[Any, ...]
    grader_calls: int

    @property
    def scores(self) -> dict[str, float]:
        """The `scores` entries of a samples.jsonl line: maj@k and pass@k for every k."""
        out: dict[str, float] = {}
        for k, v in self.maj_at.items():
            out[f"maj@{k}"] = v
        for k, v in self.pass_at.items():
            out[f"pass@{k}"] = v
        return out

    @property
    def vote_record(self) -> dict[str, Any]:
        """The vote as a JSON-able dict for the sample log: what won, with how many votes, and
        the size and correctness of every cluster so the vote can be re-checked by eye."""
        return {
            "answer": self.vote,
            "correct": self.vote_correct,
            "votes": None if self.winner is None else self.cluster_sizes[self.winner],
            "abstained": sum(cid is None for cid in self.cluster_ids),
            "clusters": [
                {"answer": r, "size": s, "correct": c}
                for r, s, c in zip(
                    self.representatives, self.cluster_sizes, self.cluster_correct, strict=True
                )
            ],
            "cluster_ids": list(self.cluster_ids),
        }


def score_problem(
    answers: Sequence[str | None],
    gold: str,
    ks: Iterable[int] | None = None,
    *,
    equiv: Equiv | None = None,
    key: KeyFn | None = None,
    grader_options: Mapping[str, Any] | None = None,
) -> ProblemScores:
    """Grade and vote the N answers of one problem with as few grader calls as possible.

    1. Group answers by canonical key (no grader call).
    2. Grade one representative per key group against the gold: G calls for G distinct keys.
    3. All groups the grader accepts form one cluster: each is equivalent to the gold, so they
       are the same answer for scoring and must vote together; no pairwise call is needed.
    4. Wrong groups are clustered among themselves with `voting.merge_greedy`, because two
       spellings of one wrong answer that split the vote could otherwise hand it to the correct
       one, and so that `vote` is the answer `majority_vote` would return. (When no group is
       correct the merge cannot change any score, but it still names the right wrong winner.)

    `equiv(gold, pred)` defaults to matheval.grading.equivalent with `grader_options` bound.
    """
    equiv = equiv or default_equiv(grader_options)
    n = len(answers)
    if n == 0:
        raise ValueError("score_problem needs at least one answer")
    ks = default_ks(n) if ks is None else sorted(set(ks))
    groups = key_groups(answers, key)
    calls = 0
    verdicts = []
    for rep in groups.reps:
        verdicts.append(equiv(gold, rep))
        calls += 1
    group_ok = [truth(v) for v in verdicts]

    wrong = [g for g, ok in enumerate(group_ok) if not ok]
    if len(wrong) > 1:
        calls_box = [0]

        def same(a: str, b: str) -> bool:
            calls_box[0] += 1
            return truth(equiv(a, b))

        wrong_cluster = merge_greedy([groups.reps[g] for g in wrong], same)
        calls += calls_box[0]
    else:
        wrong_cluster = list(range(len(wrong)))

    # Provisional labels (correct -> "ok", wrong -> ("w", i)), then renumber by first appearance
    # so cluster ids, the tie rule and `representatives` all read in sample order.
    label_of_group: list[object] = ["ok" if ok else None for ok in group_ok]
    for g, w in zip(wrong, wrong_cluster, strict=True):
        label_of_group[g] = ("w", w)
    number: dict[object, int] = {}
    cluster_ids: list[int | None] = []
    reps: list[str] = []
    correct: list[bool] = []
    for answer, g in zip(answers, groups.group_of, strict=True):
        if g is None:
            cluster_ids.append(None)
            continue
        label = label_of_group[g]
        if label not in number:
            number[label] = len(reps)
            reps.append(answer)  # type: ignore[arg-type]
            correct.append(label == "ok")
        cluster_ids.append(number[label])
    sizes = [0] * len(reps)
    for cid in cluster_ids:
        if cid is not None:
            sizes[cid] += 1

    none_verdict = None
    if any(a is None for a in answers):
        none_verdict = equiv(gold, None)
        calls += 1
    sample_verdicts = tuple(none_verdict if g is None else verdicts[g] for g in groups.group_of)

    n_correct = sum(size for size, ok in zip(sizes, correct, strict=True) if ok)
    winner = vote_winner(cluster_ids)
    return ProblemScores(
        n=n,
        n_correct=n_correct,
        cluster_ids=tuple(cluster_ids),
        cluster_correct=tuple(correct),
        cluster_sizes=tuple(sizes),
        representatives=tuple(reps),
        winner=winner,
        vote=None if winner is None else reps[winner],
        vote_correct=winner is not None and correct[winner],
        pass_at={k: pass_at_k(n, n_correct, k) for k in ks},
        maj_at=maj_at_ks(cluster_ids, correct, ks),
        sample_verdicts=sample_verdicts,
        grader_calls=calls,
    )


def maj_at_k(
    answers: Sequence[str | None],
    gold: str,
    k: int,
    *,
    equiv: Equiv | None = None,
    key: KeyFn | None = None,
    grader_options: Mapping[str, Any] | None = None,
) -> float:
    """Exact expected correctness of the majority vote over a uniformly random k-subset of the
    N >= k answers (order preserved, None abstains, no answer counts as incorrect)."""
    scored = score_problem(answers, gold, [k], equiv=equiv, key=key, grader_options=grader_options)
    return scored.maj_at[k]

"""Majority voting over extracted answers by equivalence class.

Answers are grouped by the grader's cheap canonical key first (equal keys are certainly
equivalent), so the expensive `equivalent` call only runs between one representative per key.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# `equivalent(gold, pred)` from matheval.grading returns a Verdict; test fakes may return a bool.
Equiv = Callable[[str, "str | None"], Any]
KeyFn = Callable[[str], str]


def truth(verdict: Any) -> bool:
    """A Verdict's `.correct`, or the bool itself (fakes and plain predicates)."""
    return verdict if isinstance(verdict, bool) else bool(verdict.correct)


def default_equiv(grader_options: Mapping[str, Any] | None = None) -> Equiv:
    """matheval.grading.equivalent with the task's grader options bound."""
    # Imported late so the metrics stay usable (with an explicit `equiv`) without the grader.
    from matheval.grading import equivalent

    return functools.partial(equivalent, **grader_options) if grader_options else equivalent


def default_key() -> KeyFn:
    from matheval.grading import canonical_key

    return canonical_key


@dataclass(frozen=True)
class KeyGroups:
    """Answers grouped by canonical key, groups numbered in order of first appearance."""

    group_of: tuple[int | None, ...]  # per answer; None where the answer is None
    reps: tuple[str, ...]  # first answer of each group: the one the grader sees
    sizes: tuple[int, ...]


def key_groups(answers: Sequence[str | None], key: KeyFn | None = None) -> KeyGroups:
    key = key or default_key()
    index: dict[str, int] = {}
    reps: list[str] = []
    sizes: list[int] = []
    group_of: list[int | None] = []
    # Identical strings are common (the same boxed answer 40 times): key each distinct string once.
    seen: dict[str, int] = {}
    for answer in answers:
        if answer is None:
            group_of.append(None)
            continue
        g = seen.get(answer)
        if g is None:
            k = key(answer)
            g = index.get(k)
            if g is None:
                g = index[k] = len(reps)
                reps.append(answer)
                sizes.append(0)
            seen[answer] = g
        sizes[g] += 1
        group_of.append(g)
    return KeyGroups(tuple(group_of), tuple(reps), tuple(sizes))


def merge_greedy(reps: Sequence[str], same: Callable[[str, str], bool]) -> list[int]:
    """Cluster id for each representative: it joins the first earlier cluster that accepts it.

    `equivalent` is asymmetric (gold first) and need not be transitive, so the choice is fixed
    and written down: the cluster's representative (its earliest answer) plays gold, the new
    answer plays the prediction, clusters are tried in order of first appearance.
    """
    cluster_reps: list[str] = []
    out: list[int] = []
    for rep in reps:
        for cid, head in enumerate(cluster_reps):
            if same(head, rep):
                out.append(cid)
                break
        else:
            out.append(len(cluster_reps))
            cluster_reps.append(rep)
    return out


def cluster_answers(
    answers: Sequence[str | None],
    equiv: Equiv | None = None,
    key: KeyFn | None = None,
    *,
    grader_options: Mapping[str, Any] | None = None,
) -> list[int | None]:
    """Cluster id per answer (None for None), ids numbered by first appearance.

    Without a gold answer every pair of distinct keys may need one grader call; `score_problem`
    is cheaper when the gold is known (correct answers are merged through the gold).
    """
    equiv = equiv or default_equiv(grader_options)
    groups = key_groups(answers, key)
    cluster_of_group = merge_greedy(groups.reps, lambda a, b: truth(equiv(a, b)))
    return [None if g is None else cluster_of_group[g] for g in groups.group_of]


def vote_winner(cluster_ids: Sequence[int | None]) -> int | None:
    """The tie rule: the largest cluster wins; among equally large clusters, the one whose first
    member comes earliest in `cluster_ids`. None abstains; if every answer is None there is no
    winner. It depends only on the answers and their order, never on the gold or on chance."""
    counts: dict[int, int] = {}
    first: dict[int, int] = {}
    for pos, cid in enumerate(cluster_ids):
        if cid is None:
            continue
        counts[cid] = counts.get(cid, 0) + 1
        first.setdefault(cid, pos)
    if not counts:
        return None
    return min(counts, key=lambda c: (-counts[c], first[c]))


def majority_vote(
    answers: Sequence[str | None],
    *,
    equiv: Equiv | None = None,
    key: KeyFn | None = None,
    grader_options: Mapping[str, Any] | None = None,
) -> str | None:
    """The voted answer: the earliest member of the winning equivalence class (None if no
    sample gave an answer). The caller grades it against the gold."""
    ids = cluster_answers(answers, equiv, key, grader_options=grader_options)
    winner = vote_winner(ids)
    if winner is None:
        return None
    return answers[ids.index(winner)]

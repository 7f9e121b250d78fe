"""One problem's record in the compact form the page embeds (short keys, lists for verdicts).

Greedy completions are always embedded; sampled ones up to a cap per problem, the rest keep their
answer, verdict and length but not their text (samples.jsonl has it). Keys, read by report.js:
t task, i id, q problem text, g gold, p prompt (after the task's shared prefix), c categories, s scores,
u unscorable, j / ns primary completion's index / number of samples, vt vote, and per completion
k {x text | null, l length, n tokens, f finish, gr greedy, r rounds, b served_by},
e extraction [answer, method, start, end, status, candidates] | null,
v verdict [correct, status, rule, gold_norm, pred_norm, detail], pg program answer.
"""

from __future__ import annotations

import os
from typing import Any

from matheval.record import Result


def encode(r: Result, sample_texts: int) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(head, detail). The head is what the sample list shows and filters on: the problem, its
    primary completion (the greedy one, else the first sample) at index 0 (`j` is its index in the
    record) and the vote. The detail holds every completion, for a problem that has several; the
    page decodes it only when the problem is opened."""
    comps, kept = [], 0
    for c in r.completions:
        keep = c.greedy or kept < sample_texts
        kept += 0 if c.greedy else 1
        comp: dict[str, Any] = {"x": c.text if keep else None, "l": len(c.text), "n": c.n_tokens,
                                "f": c.finish_reason, "gr": int(c.greedy)}
        if c.rounds and keep:
            comp["r"] = c.rounds
        if c.served_by:
            comp["b"] = c.served_by
        comps.append(comp)
    full: dict[str, Any] = {
        "k": comps,
        "e": [None if e is None else [e.answer, e.method, e.span[0], e.span[1], e.status, list(e.answers)]
              for e in r.extractions],
        "v": [[int(v.correct), v.status, v.rule, v.gold_norm, v.pred_norm, v.detail] for v in r.verdicts],
    }
    if any(p is not None for p in r.programs):
        full["pg"] = [None if p is None else [p.answer, p.status, p.n_executed, p.error,
                                              None if p.verdict is None else [int(p.verdict.correct), p.verdict.status,
                                                                              p.verdict.rule, p.verdict.detail]]
                      for p in r.programs]
    j = next((i for i, c in enumerate(r.completions) if c.greedy), 0)
    head: dict[str, Any] = {"t": r.task, "i": r.id, "g": r.gold, "p": r.prompt, "s": r.scores, "j": j,
                            "ns": sum(not c.greedy for c in r.completions),
                            **{key: [arr[j]] if j < len(arr) else [] for key, arr in full.items()}}
    if r.problem:
        head["q"] = r.problem
    if r.categories:
        head["c"] = r.categories
    if r.unscorable:
        head["u"] = r.unscorable
    if r.vote is not None:
        head["vt"] = r.vote
    return head, (full if len(comps) > 1 else None)


def lighten(r: Result) -> Result:
    """Drop what only the page needed (texts, rounds, prompt) once encoded: summaries never read it."""
    for c in r.completions:
        c.text, c.rounds = "", None
    r.prompt = r.problem = ""
    return r


def strip_prefixes(samples: list[dict[str, Any]]) -> dict[str, str]:
    """Per task, the prompt prefix every problem shares (few-shot exemplars, the chat template's
    head): stored once, and each sample keeps only its own part."""
    by_task: dict[str, list[dict[str, Any]]] = {}
    for s in samples:
        by_task.setdefault(s["t"], []).append(s)
    prefixes = {}
    for task, group in by_task.items():
        prefix = os.path.commonprefix([s["p"] for s in group]) if len(group) > 1 else ""
        # Cut at a line break so no problem's first word is split across the two parts.
        prefix = prefix[: prefix.rfind("\n") + 1] if "\n" in prefix else ""
        prefixes[task] = prefix
        for s in group:
            s["p"] = s["p"][len(prefix):]
    return prefixes

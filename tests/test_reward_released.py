"""A reward is the evaluation's verdict: checked on released model outputs, both sides computed live.

For each released set the pipeline's own rescore (`matheval.rescore.regrade`, what `matheval
rescore` runs) grades the responses with the task's grader options and the importer's extraction
style; `reward_batch` with the same spec must reach the same verdicts. The default spec must agree
with `matheval.verify` on every pair.
"""

from __future__ import annotations

import pytest

from matheval.grading import check_gold, verify
from matheval.importers import IMPORTERS
from matheval.rescore import import_config, regrade
from matheval.resolve import GradingSpec
from matheval.reward import DEFAULT, reward_batch, spec_for
from matheval.reward.spec import from_grading
from matheval.tasks import PromptStyle, load_task

SETS = [
    ("qwen-maj", "qwen25math-example-math100x8/math_cot_100.jsonl", 800),
    ("minerva", "minerva-sample-explorer-math-mmlu/minerva_sample_explorer.jsonl", 205),
    ("abel", "abel-gairmath-abel-70b-gsm8k/70b.jsonl", 1319),
    ("tora", "tora-tora-70b-v1.0-gsm8k/test_tora_-1_seed0_t0.0_s0_e1319.jsonl", 1319),
]


def _released(data_dir, fmt: str, rel: str):
    importer, task_name = IMPORTERS[fmt]
    path = data_dir / "outputs" / rel
    imp = max(importer(path, task_name), key=lambda i: len(i.results))
    # Exactly what `matheval rescore PATH` does for an import (rescore.rescore_import).
    grading = GradingSpec.for_task(load_task(imp.task), PromptStyle(template="(imported)", extractor=imp.extractor))
    tc = import_config(imp, fmt, path, grading, "unused", "unused", {}).tasks[0]
    results = regrade(imp.results, tc)
    rows = [(r.gold, c.text, v) for r in results for c, v in zip(r.completions, r.verdicts, strict=True)]
    questions = [r.problem or None for r in results for _ in r.completions]  # the grader reads its cues
    return rows, from_grading(imp.task, grading), questions


@pytest.mark.parametrize(("fmt", "rel", "size"), SETS, ids=[s[0] for s in SETS])
def test_reward_equals_the_pipeline_verdict(data_dir, fmt, rel, size):
    rows, spec, questions = _released(data_dir, fmt, rel)
    assert len(rows) == size
    scores = reward_batch([g for g, _, _ in rows], [t for _, t, _ in rows], task=spec, workers=2, questions=questions)
    bad = 0
    for (gold, _text, verdict), s in zip(rows, scores, strict=True):
        if s.status == "bad_gold":  # a gold the grader cannot parse: no reward rather than a guess
            assert check_gold(gold, **spec.options.__dict__) is not None
            bad += 1
            continue
        assert (s.correct, s.status) == (verdict.correct, verdict.status), (gold, s, verdict)
    assert bad <= size // 100
    correct = sum(s.correct for s in scores)
    assert correct == sum(v.correct for g, _, v in rows if check_gold(g, **spec.options.__dict__) is None)


@pytest.mark.parametrize(("fmt", "rel", "size"), SETS[:3], ids=[s[0] for s in SETS[:3]])
def test_default_reward_equals_verify(data_dir, fmt, rel, size):
    rows, _, _ = _released(data_dir, fmt, rel)
    scores = reward_batch([g for g, _, _ in rows], [t for _, t, _ in rows], task=DEFAULT)
    checked = 0
    for (gold, text, _), s in zip(rows, scores, strict=True):
        if s.status != "bad_gold":
            assert s.correct == verify(gold, text), (gold, text[-200:], s)
            checked += 1
    assert checked >= size - size // 100


def test_task_spec_reward_equals_the_chat_style_grade(data_dir):
    # What a GRPO run on MATH gets from spec_for("lighteval/MATH"): the math task's chat extractor.
    rows, _, questions = _released(data_dir, "qwen-maj", SETS[0][1])
    scores = reward_batch([g for g, _, _ in rows], [t for _, t, _ in rows], task="lighteval/MATH", questions=questions)
    spec = spec_for("lighteval/MATH")
    assert spec.style == "auto"
    agree = sum(s.correct == v.correct for (_, _, v), s in zip(rows, scores, strict=True))
    assert agree == len(rows)  # the import's extractor is auto too

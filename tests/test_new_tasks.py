"""Today's competition sets (aime25, hmmt_feb25, imo_answerbench) on the real data dir.

Each task is loaded through `matheval.data.load_samples` and rendered in every style; then what the
generic lint (tests/test_tasks_lint.py) cannot know per task: AIME golds are integers 0-999, the shape
of HMMT's one multi-valued gold, IMO-AnswerBench's pinned conversion, repaired row, categories and
how many of its golds the grader parses, and right and wrong answers written from the problems.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from matheval import grading
from matheval.data import load_samples, read_records
from matheval.prompts import Renderer
from matheval.record import Sample
from matheval.tasks import load_task

SIZES = {"aime25": 30, "hmmt_feb25": 30, "imo_answerbench": 400}
STYLES = ("chat", "raw", "qwen-cot", "qwen-tir")
SUFFIX = "Please reason step by step, and put your final answer within \\boxed{}."
TIR_SYSTEM = ("Please integrate natural language reasoning with programs to solve the problem above, and put your "
              "final answer within \\boxed{}.")
# sha256 of the byte-exact upstream imobench/answerbench_v2.csv, from the data dir's MANIFEST.md.
IMO_CSV_SHA256 = "275877a9d988d85278fad3a5f8a41d7f83393a60bf259531ec0a5161e6b21cf9"

@cache
def _samples(name: str, data_dir: str) -> tuple[Sample, ...]:
    return tuple(load_samples(load_task(name), Path(data_dir)))


def samples(name: str, data_dir: Path) -> tuple[Sample, ...]:
    return _samples(name, str(data_dir))


def sample(name: str, sid: str, data_dir: Path) -> Sample:
    return next(s for s in samples(name, data_dir) if s.id == sid)


def grade(name: str, sid: str, response: str, data_dir: Path) -> grading.Verdict:
    """Grade a full response the way a run does: the style's extractor, then the task's grader options."""
    task = load_task(name)
    style = task.style(task.default_style or "raw")
    _, verdict = grading.grade(
        sample(name, sid, data_dir).gold,
        response,
        style=style.extractor,
        options=grading.GraderOptions.from_dict(task.grader),
    )
    return verdict


# ---------------------------------------------------------------- loading and prompts


@pytest.mark.parametrize(("name", "size"), SIZES.items())
def test_loads_through_the_data_path(name, size, data_dir):
    got = samples(name, data_dir)
    assert len(got) == size
    assert len({s.id for s in got}) == size
    assert all(s.task == name and s.problem.strip() and s.gold.strip() for s in got)
    # The same styles as aime24, the existing competition task.
    assert tuple(load_task(name).prompts) == STYLES == tuple(load_task("aime24").prompts)


# imo-bench-algebra-036 is the row the hook repairs: its prompt must not carry the answer.
FIRST = {"aime25": "aime25-0", "hmmt_feb25": "10", "imo_answerbench": "imo-bench-algebra-036"}


@pytest.mark.parametrize("style_name", STYLES)
@pytest.mark.parametrize("name", SIZES)
def test_one_prompt_of_each_style(name, style_name, data_dir, chat_tokenizer):
    task = load_task(name)
    s = sample(name, FIRST[name], data_dir)
    renderer = Renderer(task, style_name, task.style(style_name), data_dir, chat_tokenizer)
    user, prompt = renderer.user_text(s), renderer(s)
    # SmolLM2's chat template is ChatML; the last turns are the user's and the open assistant turn.
    chat_tail = f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
    if style_name == "raw":
        assert prompt == f"User: {s.problem}\n{SUFFIX}\n\nAssistant:"
    elif style_name == "chat":
        assert user == f"{s.problem}\n{SUFFIX}" and prompt.endswith(chat_tail)
    else:
        system = TIR_SYSTEM if style_name == "qwen-tir" else SUFFIX
        assert user == s.problem and prompt.endswith(chat_tail)
        assert f"<|im_start|>system\n{system}<|im_end|>\n" in prompt
    assert "Y(x)=A+" not in prompt


# ---------------------------------------------------------------- aime25


def test_aime25_golds_are_integers_0_to_999(data_dir):
    task = load_task("aime25")
    got = samples("aime25", data_dir)
    assert [s.id for s in got] == [f"aime25-{i}" for i in range(30)]  # I = 0..14, II = 15..29
    not_aime = {s.id: s.gold for s in got if not re.fullmatch(r"0|[1-9][0-9]{0,2}", s.gold)}
    assert not not_aime, f"AIME golds must be integers 0-999 without leading zeros: {not_aime}"
    assert task.answer_type == "integer" and task.grader == {"answer_type": "integer"}
    assert all(grading.check_gold(s.gold, **task.grader) is None for s in got)
    assert not task.lint.gold_issues


@pytest.mark.parametrize(
    ("sid", "response", "correct"),
    [
        # 17_b | 97_b for b = 21 and b = 49 only: the sum of the bases is 70.
        ("aime25-0", "So $b=21$ or $b=49$, and the sum is $\\boxed{70}$.", True),
        ("aime25-0", "The answer, in AIME form, is \\boxed{070}.", True),
        ("aime25-0", "Only the larger base counts: \\boxed{49}.", False),
        # N = 2304 of the 8! numbers are divisible by 22; asked for N - 2025.
        ("aime25-4", "N = 2304, so N - 2025 = \\boxed{279}.", True),
        ("aime25-4", "Hence N = \\boxed{2304}.", False),
        # The three values of k are 8, 32 and 200; asked for their sum.
        ("aime25-29", "$8 + 32 + 200 = \\boxed{240}$", True),
        ("aime25-29", "The values are \\boxed{8, 32, 200}.", False),
    ],
)
def test_aime25_answers_graded(sid, response, correct, data_dir):
    assert grade("aime25", sid, response, data_dir).correct is correct


# ---------------------------------------------------------------- hmmt_feb25


def test_hmmt_golds_parse_and_only_id_10_has_several_values(data_dir):
    task = load_task("hmmt_feb25")
    got = samples("hmmt_feb25", data_dir)
    assert [s.id for s in got] == [str(i) for i in range(1, 31)]
    assert all(grading.check_gold(s.gold, **task.grader) is None for s in got)
    assert not task.lint.gold_issues
    assert [s.id for s in got if "," in s.gold] == ["10"]
    assert sample("hmmt_feb25", "10", data_dir).gold == "\\frac{-1+\\sqrt{17}}{2}, \\frac{-1-\\sqrt{17}}{2}"


ROOTS = ("\\frac{-1+\\sqrt{17}}{2}", "\\frac{-1-\\sqrt{17}}{2}")


@pytest.mark.parametrize(
    ("sid", "response", "correct"),
    [
        # id 10 asks for "the two possible values of a+b+c": a set, so any order is right...
        ("10", f"\\boxed{{{ROOTS[1]}, {ROOTS[0]}}}", True),
        ("10", f"\\boxed{{{ROOTS[0]}, {ROOTS[1]}}}", True),
        ("10", "\\boxed{\\frac{-1\\pm\\sqrt{17}}{2}}", True),
        ("10", f"$a+b+c=\\boxed{{{ROOTS[0]}}}$ or $\\boxed{{{ROOTS[1]}}}$", True),
        # ...but both values are needed, and the excluded a = b = c = 3 (sum 9) must not be added.
        ("10", f"\\boxed{{{ROOTS[0]}}}", False),
        ("10", f"\\boxed{{{ROOTS[0]}, {ROOTS[1]}, 9}}", False),
        ("10", f"\\boxed{{{ROOTS[0]}, -3}}", False),
        # id 17: 26! orders of the first occurrences, 2^25 choices of spacing.
        ("17", "\\boxed{26! \\cdot 2^{25}}", True),
        ("17", "\\boxed{26! \\cdot 2^{26}}", False),
        # id 30: the distance sqrt(95/24) in another form.
        ("30", "\\boxed{\\frac{\\sqrt{570}}{12}}", True),
        ("30", "\\boxed{\\frac{\\sqrt{95}}{24}}", False),
        # id 8: 1 - 2/pi.
        ("8", "\\boxed{\\frac{\\pi-2}{\\pi}}", True),
        ("8", "\\boxed{\\frac{2}{\\pi}}", False),
        # id 4: a negative sum.
        ("4", "\\boxed{-984}", True),
        ("4", "\\boxed{984}", False),
    ],
)
def test_hmmt_answers_graded(sid, response, correct, data_dir):
    assert grade("hmmt_feb25", sid, response, data_dir).correct is correct


# ---------------------------------------------------------------- imo_answerbench


def test_imo_pinned_jsonl_is_the_upstream_csv(data_dir):
    # Why the JSONL can stand for the byte-exact CSV: same rows, keys renamed, problem/answer stripped.
    path = data_dir / "imo_answerbench" / "answerbench_v2.csv"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == IMO_CSV_SHA256
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    expected = [
        {"id": r["Problem ID"], "problem": r["Problem"].strip(), "answer": r["Short Answer"].strip(),
         "category": r["Category"], "subcategory": r["Subcategory"], "source": r["Source"]}
        for r in rows
    ]
    assert read_records(load_task("imo_answerbench").data, data_dir) == expected
    assert sum(r["Problem"] != r["Problem"].strip() for r in rows) == 283
    assert sum(r["Short Answer"] != r["Short Answer"].strip() for r in rows) == 29


def test_imo_shifted_row_is_repaired_and_no_other(data_dir):
    task = load_task("imo_answerbench")
    raw = {r["id"]: r for r in read_records(task.data, data_dir)}
    broken = raw["imo-bench-algebra-036"]
    assert (broken["answer"], broken["category"], broken["source"]) == ("Algebra", "Functional Equation", None)
    s = sample("imo_answerbench", "imo-bench-algebra-036", data_dir)
    assert s.gold == "$Y(x)=A+\\frac{B}{x}-x$"
    assert (s.fields["category"], s.fields["subcategory"], s.fields["source"]) == (
        "Algebra", "Functional Equation", "Iran 2002"
    )
    assert s.problem.endswith("+\\frac{b}{a}\n\\]") and "Y(x)" not in s.problem
    changed = [t.id for t in samples("imo_answerbench", data_dir) if dict(t.fields) != raw[t.id]]
    assert changed == ["imo-bench-algebra-036"]


def test_imo_categories_are_in_the_sample_fields(data_dir):
    got = samples("imo_answerbench", data_dir)
    cats = Counter(s.fields["category"] for s in got)
    assert cats == {"Algebra": 100, "Combinatorics": 100, "Geometry": 100, "Number theory": 100}
    # The id names the category too; after the repair they agree everywhere.
    assert all(s.id.startswith(f"imo-bench-{s.fields['category'].lower().replace(' ', '_')}-") for s in got)
    for key in ("subcategory", "source"):
        assert all(isinstance(s.fields[key], str) and s.fields[key].strip() for s in got), key
    assert len({(s.fields["category"], s.fields["subcategory"]) for s in got}) == 38
    assert "difficulty" not in got[0].fields  # the dataset has none; do not invent one


def _compared_as_text(gold: str) -> bool:
    # canonical_key marks a leaf the grader will compare as text with "t:" (after "[" or "|" in shapes).
    return re.search(r"(?:^|[\[|])t:", grading.canonical_key(gold)) is not None


def test_imo_gold_parse_count_and_lists(data_dir):
    task = load_task("imo_answerbench")
    got = samples("imo_answerbench", data_dir)
    unparsed = {s.id for s in got if grading.check_gold(s.gold, **task.grader) is not None}
    assert unparsed == set(task.lint.gold_issues), "update lint.gold_issues (and the counts in the docs)"
    assert all(reason.strip() for reason in task.lint.gold_issues.values())
    as_text = {s.id for s in got if s.id not in unparsed and _compared_as_text(s.gold)}
    assert as_text == set(task.lint.prose_golds), "update lint.prose_golds (and the counts in the docs)"
    assert all(reason.strip() for reason in task.lint.prose_golds.values())
    # The figures the YAML comment, README and docs/tasks.md state.
    assert (len(got) - len(unparsed), len(unparsed), len(as_text)) == (394, 6, 25)


@pytest.mark.parametrize(
    ("sid", "response", "correct"),
    [
        # The repaired row: the function family, in another order; not the shifted "Algebra".
        ("imo-bench-algebra-036", "\\boxed{Y(x)=\\frac{B}{x}-x+A}", True),
        ("imo-bench-algebra-036", "\\boxed{Y(x)=A+\\frac{B}{x}+x}", False),
        ("imo-bench-algebra-036", "\\boxed{Algebra}", False),
        # Two function families: both, in any order; one alone is not the answer.
        ("imo-bench-algebra-003", "\\boxed{g(x)=-2x^3+c,\\ g(x)=2x^3+c}", True),
        ("imo-bench-algebra-003", "\\boxed{g(x)=2x^3+c}", False),
        # All values of f(0): a half-line plus the point 1/2.
        ("imo-bench-algebra-017", "\\boxed{(-\\infty, 0) \\cup \\left\\{\\tfrac12\\right\\}}", True),
        ("imo-bench-algebra-017", "\\boxed{(-\\infty, 0]}", False),
        # The one triple with x <= y <= z: order matters.
        ("imo-bench-number_theory-004", "\\boxed{(1,2,3)}", True),
        ("imo-bench-number_theory-004", "\\boxed{(3,2,1)}", False),
        # All nonnegative n: a set of values, 0 included.
        ("imo-bench-number_theory-063", "\\boxed{\\{12, 4, 2, 1, 0\\}}", True),
        ("imo-bench-number_theory-063", "\\boxed{1, 2, 4, 12}", False),
        # Expressions in the problem's letters, equal as functions.
        ("imo-bench-geometry-007", "\\boxed{\\frac{R(R+r)}{\\sqrt{R(R-2r)}}}", True),
        ("imo-bench-geometry-007", "\\boxed{\\frac{R^2-Rr}{\\sqrt{R^2-2Rr}}}", False),
        ("imo-bench-combinatorics-012", "\\boxed{\\binom{2k}{k}^{2}}", True),
        ("imo-bench-combinatorics-012", "\\boxed{\\binom{2k}{k}}", False),
        ("imo-bench-algebra-008", "\\boxed{-\\frac{2023}{4096576}}", True),
        ("imo-bench-algebra-008", "\\boxed{\\frac{2023}{2024^2}}", False),
        # A prose gold: only its wording passes; 2^k, the same set, does not (why it is listed).
        ("imo-bench-number_theory-034", "\\boxed{\\text{all powers of } 2}", True),
        ("imo-bench-number_theory-034", "\\boxed{n = 2^k}", False),
    ],
)
def test_imo_answers_graded(sid, response, correct, data_dir):
    assert grade("imo_answerbench", sid, response, data_dir).correct is correct

"""Task lint: every task loads, renders, and its golds and reference solutions agree with the grader.

An unparsable or self-inconsistent gold is a task bug: it must be fixed (in a hook) or listed with
a reason in the task YAML's `lint:` section. Listed ids that no longer fail are errors too, so the
lists shrink as the grader learns. The few-shot prompts are rebuilt here, independently of the
templates, from the assembly rules written in the data MANIFEST.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from matheval import grading
from matheval.config import load_profile, profile_names
from matheval.data import load_samples, resolve_file
from matheval.prompts import Renderer
from matheval.tasks import load_task, task_names

TASKS = task_names()
STYLES = [(t, s) for t in TASKS for s in load_task(t).prompts]
DEEPSEEK_TASKS = ["gsm8k", "math", "ocw", "sat", "mmlu_stem", "cmath", "gaokao_mathcloze", "gaokao_mathqa", "mgsm_zh"]
TODAY_TASKS = ["math500", "aime24", "amc23", "olympiadbench", "college_math", "gaokao2023en", "cn_middle_school",
               "svamp", "asdiv", "mawps", "tabmwp"]
SUFFIX_EN = "Please reason step by step, and put your final answer within \\boxed{}."
SUFFIX_ZH = "请通过逐步推理来解答问题，并把最终答案放置于\\boxed{}中。"


@cache
def samples(name: str, data_dir: str):
    return load_samples(load_task(name), Path(data_dir))


def test_the_issue_suites_exist():
    missing = [t for t in DEEPSEEK_TASKS + TODAY_TASKS if t not in TASKS]
    assert not missing
    assert {"deepseekmath-base", "deepseekmath-instruct", "qwen25math-cot"} <= set(profile_names())


@pytest.mark.parametrize("name", TASKS)
def test_task_pins_resolve_and_ids_are_unique(name, data_dir):
    task = load_task(name)
    assert resolve_file(task.data, data_dir) is not None  # present and sha256-verified
    for style in task.prompts.values():
        if style.exemplars:
            assert resolve_file(style.exemplars, data_dir) is not None
    ids = [s.id for s in samples(name, str(data_dir))]
    assert len(ids) == len(set(ids)), "sample ids must be unique (results are keyed by them)"
    lint = task.lint
    # Exactly one of: a solution check, or the reason there is none.
    assert (lint.solution_extractor is None) != (lint.no_solution_check is None)
    unknown = (set(lint.gold_issues) | set(lint.solution_issues)) - set(ids)
    assert not unknown, f"lint lists ids that are not in the data: {sorted(unknown)[:5]}"


def _render(name, style_name, data_dir, tokenizer):
    task = load_task(name)
    sample = samples(name, str(data_dir))[0]
    renderer = Renderer(task, style_name, task.style(style_name), data_dir, tokenizer)
    return sample, renderer.user_text(sample), renderer(sample)


@pytest.mark.parametrize(("name", "style_name"), STYLES)
def test_every_style_renders(name, style_name, data_dir, chat_tokenizer):
    style = load_task(name).style(style_name)
    sample, user, prompt = _render(name, style_name, data_dir, chat_tokenizer)
    assert sample.problem.strip() and sample.problem in user and sample.problem in prompt
    if style.form == "completion":
        assert prompt == user
    else:
        assert prompt != user and user in prompt  # went through the chat template
        if style.system:
            assert style.system in prompt
    suffix = {"en": SUFFIX_EN, "zh": SUFFIX_ZH}.get(style.template.removesuffix(".jinja")[-2:])
    if style.template.startswith("raw_boxed"):
        # DeepSeek's raw form: no system prompt, the suffix on its own line inside the user text.
        assert prompt == f"User: {sample.problem}\n{suffix}\n\nAssistant:"
    if style.template.startswith("chat_boxed"):
        assert user == f"{sample.problem}\n{suffix}"


@pytest.mark.parametrize("profile_name", profile_names())
def test_every_profile_renders_its_suite(profile_name, data_dir, chat_tokenizer):
    profile = load_profile(profile_name)
    assert profile.tasks and profile.source and profile.max_tokens
    for name in profile.tasks:
        task = load_task(name)
        style_name = profile.style_for(name)
        assert style_name in task.prompts, f"{profile_name}: task {name} has no style {style_name}"
        grading.GraderOptions.from_dict({**task.grader, **profile.grader})
        _, _, prompt = _render(name, style_name, data_dir, chat_tokenizer)
        assert prompt


# ---------------------------------------------------------------- few-shot assembly rules


def _shots(data_dir, file):
    return json.loads((Path(data_dir) / file).read_text(encoding="utf-8"))


def _rule(name: str, shots: list[dict], test: str) -> str:
    """The MANIFEST's assembly rule for each DeepSeek-Math few-shot set, written out by hand."""
    if name in ("gsm8k", "mgsm_zh"):
        return "\n\n\n".join(f"Q: {e['question']}\nA: {e['answer']}" for e in shots) + f"\n\n\nQ: {test}\nA:"
    if name in ("math", "math500"):
        body = "\n\n".join(f"Problem:\n{e['question']}\n\nSolution:\n{e['solution']}" for e in shots)
        return body + f"\n\nProblem:\n{test}\n\nSolution:"
    if name in ("sat", "mmlu_stem", "ocw"):
        body = "\n\n".join(f"Problem:\n{e['question']}\nSolution:\n{e['solution']}" for e in shots)
        return body + f"\n\nProblem:\n{test}\nSolution:"
    if name == "cmath":
        body = "\n\n\n".join(f"问题：{e['question']}\n答案：{e['answer']}" for e in shots)
        return body + f"\n\n\n问题：{test}\n答案："
    gap = {"gaokao_mathcloze": "   ", "gaokao_mathqa": "    "}[name]
    body = "\n\n\n".join(
        f"问题 {i}.{gap}{e['question']}\n问题 {i}的解析:   {e['answer']}" for i, e in enumerate(shots, 1)
    )
    n = len(shots) + 1
    return body + f"\n\n\n问题 {n}.{gap}{test}\n问题 {n}的解析:"


STOPS = {"gsm8k": "\nQ:", "mgsm_zh": "\nQ:", "math": "\nProblem:", "math500": "\nProblem:", "sat": "\nProblem:",
         "mmlu_stem": "\nProblem:", "ocw": "\nProblem:", "cmath": "\n问题：", "gaokao_mathcloze": "\n问题 ",
         "gaokao_mathqa": "\n问题 "}
SHOT_COUNTS = {"gsm8k": 8, "mgsm_zh": 8, "math": 4, "math500": 4, "sat": 4, "mmlu_stem": 4, "ocw": 4, "cmath": 6,
               "gaokao_mathcloze": 5, "gaokao_mathqa": 5}


@pytest.mark.parametrize("name", sorted(STOPS))
def test_fewshot_prompt_follows_the_manifest_rule(name, data_dir):
    style = load_task(name).style("fewshot")
    assert style.stop == (STOPS[name],)
    shots = _shots(data_dir, style.exemplars.file)
    assert len(shots) == SHOT_COUNTS[name]
    for sample in samples(name, str(data_dir))[:3]:
        renderer = Renderer(load_task(name), "fewshot", style, data_dir, None)
        assert renderer(sample) == _rule(name, shots, sample.problem)


def test_choice_questions_are_laid_out_like_the_exemplars(data_dir):
    sat = samples("sat", str(data_dir))[0]
    assert sat.problem.endswith(
        "What of the following is the right choice? Explain your answer.\n"
        "(A) $f(-6)=0$, (B) $f(6)=-6$, (C) $f(-6)=6$, (D) $f(0)=-6$"
    )
    mmlu = samples("mmlu_stem", str(data_dir))[0]
    assert mmlu.problem.endswith("Explain your answer.\n(A) 0, (B) 4, (C) 2, (D) 6") and mmlu.gold == "B"
    qa = samples("gaokao_mathqa", str(data_dir))[0]
    assert "\n从以下选项中选择:    (A)$\\{x \\mid x>-1\\}$ (B)" in qa.problem and qa.gold == "D"


# ---------------------------------------------------------------- golds and reference solutions


def _gold_problem(task, gold: str) -> str | None:
    why = grading.check_gold(gold, **task.grader)
    choices = task.extract.get("choices")
    if why is None and choices and not (len(gold) == 1 and gold in choices):
        why = f"not one option letter of {choices}"
    return why


@pytest.mark.parametrize("name", TASKS)
def test_every_gold_parses_or_is_documented(name, data_dir):
    task = load_task(name)
    failing = {}
    for s in samples(name, str(data_dir)):
        why = _gold_problem(task, s.gold)
        if why is not None:
            failing[s.id] = f"{s.gold[:60]!r}: {why[:100]}"
    undocumented = {k: v for k, v in failing.items() if k not in task.lint.gold_issues}
    stale = sorted(set(task.lint.gold_issues) - set(failing))
    assert not undocumented, f"{name}: golds that do not parse, fix or list under lint.gold_issues: {undocumented}"
    assert not stale, f"{name}: listed under lint.gold_issues but parse now; remove them: {stale}"
    # Prose golds parse (as text) and are reported apart: each names a real problem, once.
    ids = {s.id for s in samples(name, str(data_dir))}
    prose = set(task.lint.prose_golds)
    assert prose <= ids - set(failing), f"{name}: lint.prose_golds must list parsing golds of the task: {prose - ids}"


def test_unscorable_problems_are_reported_apart_not_scored(data_dir):
    """The ids a task's lint lists (unparsable and prose golds) reach the run config, and `grade` keeps
    their verdicts for the record but gives them no scores, so no metric counts them as wrong."""
    from matheval.config import RunRequest
    from matheval.record import Completion, Result
    from matheval.resolve import resolve, resolve_backend
    from matheval.run import extract, grade

    req = RunRequest(model="x", backend="replay", tasks=("imo_answerbench",), prompt_style="chat")
    tc = resolve(req, resolve_backend(req), None).tasks[0]
    task = load_task("imo_answerbench")
    assert set(tc.unscorable) == set(task.lint.gold_issues) | set(task.lint.prose_golds)
    sid = next(iter(tc.unscorable))
    gold = next(s.gold for s in samples("imo_answerbench", str(data_dir)) if s.id == sid)
    r = Result("imo_answerbench", sid, gold, "", key="k", completions=[Completion("\\boxed{7}", 3, "stop")])
    r = grade(extract(r, tc.grading), tc.grading, tc.unscorable)
    assert r.unscorable == tc.unscorable[sid] and r.scores == {} and len(r.verdicts) == 1


def _solution_answer(task, solution: str | None) -> str | None:
    if not solution:
        return None
    if task.lint.solution_extractor == "verbatim":
        return solution
    found = grading.extract_answer(solution, style=task.lint.solution_extractor)
    return found.answer if found else None


@pytest.mark.parametrize("name", [t for t in TASKS if load_task(t).lint.solution_extractor])
def test_reference_solutions_are_graded_correct(name, data_dir):
    task = load_task(name)
    wrong = {}
    for s in samples(name, str(data_dir)):
        pred = _solution_answer(task, s.solution)
        verdict = grading.equivalent(s.gold, pred, **task.grader)
        if not verdict.correct:
            wrong[s.id] = f"gold {s.gold[:40]!r} vs solution {str(pred)[:40]!r} ({verdict.status})"
    undocumented = {k: v for k, v in wrong.items() if k not in task.lint.solution_issues}
    stale = sorted(set(task.lint.solution_issues) - set(wrong))
    assert not undocumented, f"{name}: reference solution disagrees with gold; fix or list: {undocumented}"
    assert not stale, f"{name}: listed under lint.solution_issues but agree now; remove them: {stale}"


def test_known_data_fixes(data_dir):
    # Quirks the hooks repair rather than document: say exactly what they produce.
    g = samples("gaokao2023en", str(data_dir))
    assert (g[167].gold, g[192].gold) == ("\\frac{3}{10}", "A")
    assert "answer" not in g[167].problem.lower() and "Answer: A" not in g[192].problem
    assert samples("aime24", str(data_dir))[7].gold == "25"  # "025"
    assert samples("asdiv", str(data_dir))[0].gold == "9"  # "9 (apples)"
    cloze = {s.id: s.gold for s in samples("gaokao_mathcloze", str(data_dir))}
    assert cloze["1"] == "5; 10"
    tab = {s.id: s for s in samples("tabmwp", str(data_dir))}
    assert tab["54"].gold == "shortage" and "Please select from the following options: ['shortage', 'surplus']" in tab[
        "54"].problem

"""Protocol profiles: one flag fixes the suite, prompt form, stop words, max tokens and grading.

Precedence per task: defaults < task YAML < profile < CLI. No model is loaded: `plan` is the
resolution step the pipeline runs before generation.
"""

from __future__ import annotations

import pytest

from matheval.cli import _run_parser, config_from_args, main
from matheval.config import RunConfig, load_profile
from matheval.run import plan


def _cfg(argv: list[str]) -> RunConfig:
    return config_from_args(_run_parser().parse_args(argv))


def test_profile_supplies_its_suite_and_tasks_narrow_it():
    cfg = _cfg(["--model", "x/y", "--profile", "deepseekmath-base"])
    assert cfg.tasks == ("gsm8k", "math", "ocw", "sat", "mmlu_stem", "cmath", "gaokao_mathcloze",
                         "gaokao_mathqa", "mgsm_zh")
    assert _cfg(["--model", "x/y", "--profile", "deepseekmath-base", "--tasks", "cmath"]).tasks == ("cmath",)


def test_unknown_profile_is_one_line(capsys):
    assert main(["--model", "x/y", "--profile", "deepseekmath-bse"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: unknown profile 'deepseekmath-bse' (did you mean 'deepseekmath-base'?)"


def _plans(data_dir, tokenizer, profile, tasks, **kw):
    cfg = RunConfig(model="x", tasks=tuple(tasks), profile=profile, limit=1, data_dir=str(data_dir), **kw)
    return {p.task.name: p for p in plan(cfg, tokenizer)}


def test_deepseekmath_base_resolves_fewshot_styles(data_dir):
    plans = _plans(data_dir, None, "deepseekmath-base", load_profile("deepseekmath-base").tasks)
    stops = {name: p.greedy.stop for name, p in plans.items()}
    assert stops == {"gsm8k": ("\nQ:",), "math": ("\nProblem:",), "ocw": ("\nProblem:",), "sat": ("\nProblem:",),
                     "mmlu_stem": ("\nProblem:",), "cmath": ("\n问题：",), "gaokao_mathcloze": ("\n问题 ",),
                     "gaokao_mathqa": ("\n问题 ",), "mgsm_zh": ("\nQ:",)}
    assert {p.style_name for p in plans.values()} == {"fewshot"}
    assert plans["ocw"].grader == {"rel_tol": 0.01, "integer_exact": False}
    assert all(p.greedy.greedy and p.sampled is None and p.greedy.max_tokens == 1024 for p in plans.values())


def test_deepseekmath_instruct_raw_form_and_cli_override(data_dir):
    plans = _plans(data_dir, None, "deepseekmath-instruct", ["gsm8k", "cmath"])
    assert {p.style.template for p in plans.values()} == {"raw_boxed_en.jinja", "raw_boxed_zh.jinja"}
    assert all(p.greedy.max_tokens == 1024 and p.greedy.stop == () for p in plans.values())
    over = _plans(data_dir, None, "deepseekmath-instruct", ["gsm8k"], max_tokens=77)
    assert over["gsm8k"].greedy.max_tokens == 77  # the CLI wins over the profile


@pytest.mark.parametrize("name", ["qwen25math-cot", "deepseekmath-instruct-chat"])
def test_chat_profiles_need_and_use_a_chat_template(name, data_dir, chat_tokenizer):
    profile = load_profile(name)
    plans = _plans(data_dir, chat_tokenizer, name, profile.tasks)
    assert all(p.style.form == "chat" for p in plans.values())
    if name == "qwen25math-cot":
        assert all(p.greedy.max_tokens == 2048 and p.grader["percent_compat"] for p in plans.values())
        assert plans["cmath_qwen"].task.data.file == "cmath/validation.qwen25math.jsonl"

"""The one resolution step: defaults < task YAML < profile < CLI, table-driven; every profile resolves.

No model is loaded: `resolve` decides every setting from the request, the task YAML and the profile.
"""

from __future__ import annotations

import pytest

from matheval.cli import _run_parser, main, request_from_args
from matheval.config import RunRequest, load_profile, profile_names
from matheval.errors import UsageError
from matheval.resolve import RunConfig, resolve, resolve_backend


def _request(argv: list[str]) -> RunRequest:
    return request_from_args(_run_parser().parse_args(argv))


def _resolve(tokenizer=None, **kw) -> RunConfig:
    req = RunRequest(**{"model": "x", "backend": "replay", **kw})
    return resolve(req, resolve_backend(req), tokenizer)


def _task(tokenizer=None, **kw):
    return _resolve(tokenizer, **kw).tasks[0]


def test_profile_supplies_its_suite_and_tasks_narrow_it():
    req = _request(["--model", "x/y", "--profile", "deepseekmath-base"])
    assert req.tasks == ()  # the suite is the profile's, decided in resolve
    cfg = _resolve(profile="deepseekmath-base")
    assert tuple(t.name for t in cfg.tasks) == ("gsm8k", "math", "ocw", "sat", "mmlu_stem", "cmath",
                                                "gaokao_mathcloze", "gaokao_mathqa", "mgsm_zh")
    assert [t.name for t in _resolve(profile="deepseekmath-base", tasks=("cmath",)).tasks] == ["cmath"]


def test_unknown_profile_is_one_line(capsys):
    assert main(["--model", "x/y", "--profile", "deepseekmath-bse", "--backend", "replay"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: unknown profile 'deepseekmath-bse' (did you mean 'deepseekmath-base'?)"


# (request settings, expected greedy temperature or None, expected sampled (n, temperature, top_p) or None)
PRECEDENCE = [
    # defaults
    ({}, 0.0, None),
    ({"n": 4}, 0.0, (4, 0.7, 1.0)),
    # explicit CLI values, 0 / 0.0 / 1 included
    ({"n": 4, "temperature": 0.3, "top_p": 0.9}, 0.0, (4, 0.3, 0.9)),
    ({"n": 1, "profile": "deepseekmath-sc"}, 0.0, None),  # --n 1 beats the profile's 64
    ({"temperature": 0.8}, None, (1, 0.8, 1.0)),  # one sampled completion: top1 is not greedy
    # profiles
    ({"profile": "deepseekmath-sc"}, 0.0, (64, 0.7, 1.0)),
    ({"profile": "deepseekmath-sc", "temperature": 0.5}, 0.0, (64, 0.5, 1.0)),
    ({"profile": "deepseekmath-sc", "top_p": 0.95, "n": 8}, 0.0, (8, 0.7, 0.95)),
    # the bug this table was written for: a greedy profile plus --n 64 samples at 0.7, not 0.0
    ({"profile": "deepseekmath-instruct", "n": 64}, 0.0, (64, 0.7, 1.0)),
    ({"profile": "qwen25math-cot", "n": 4}, 0.0, (4, 0.7, 1.0)),
    ({"profile": "reasoning-r1", "tasks": ("math500",)}, None, (4, 0.6, 0.95)),
    ({"profile": "reasoning-r1", "tasks": ("aime24",)}, None, (16, 0.6, 0.95)),
    ({"profile": "reasoning-r1", "tasks": ("aime24",), "n": 2}, None, (2, 0.6, 0.95)),
]


@pytest.mark.parametrize(("settings", "greedy_t", "sampled"), PRECEDENCE)
def test_sampling_precedence(settings, greedy_t, sampled):
    t = _task(**{"tasks": ("gsm8k",), **settings})
    assert (t.greedy.temperature if t.greedy else None) == greedy_t
    assert ((t.sampled.n, t.sampled.temperature, t.sampled.top_p) if t.sampled else None) == sampled


MAX_TOKENS = [
    ({}, 1024),  # built-in default
    ({"profile": "qwen25math-cot"}, 2048),  # profile over the task
    ({"profile": "qwen25math-cot", "max_tokens": 77}, 77),  # CLI over the profile
    ({"profile": "reasoning-r1", "tasks": ("aime24",)}, 32768),
]


@pytest.mark.parametrize(("settings", "expected"), MAX_TOKENS)
def test_max_tokens_precedence(settings, expected):
    t = _task(**{"tasks": ("gsm8k",), **settings})
    assert t.requests and all(p.max_tokens == expected for p in t.requests)


def test_seed_limit_and_grader_precedence():
    t = _task(tasks=("ocw",), profile="deepseekmath-base")
    assert (t.grading.grader.rel_tol, t.grading.grader.integer_exact) == (0.01, False)  # the task's own
    t = _task(tasks=("gsm8k",), profile="qwen25math-cot")
    assert t.grading.grader.percent_compat is True  # the profile's
    t = _task(tasks=("gsm8k",), grader={"percent_compat": False}, profile="qwen25math-cot")
    assert t.grading.grader.percent_compat is False  # an explicit False beats the profile's True
    assert _task(tasks=("gsm8k",), seed=0).greedy.seed == 0
    assert _task(tasks=("gsm8k",), seed=5).greedy.seed == 5
    assert _task(tasks=("gsm8k",), limit=3).limit == 3


def test_sampling_at_temperature_zero_needs_the_explicit_flag(tmp_path, monkeypatch):
    import matheval.config as config

    (tmp_path / "zero.yaml").write_text(
        "description: d\nsource: s\nstyles: {'*': chat}\nn: 8\ntemperature: 0.0\ntasks: [gsm8k]\n")
    monkeypatch.setattr(config, "profiles_dir", lambda: tmp_path)
    with pytest.raises(UsageError, match="8 samples at temperature 0"):
        _resolve(profile="zero")  # a profile's 0.0 with n > 1 is not the user asking for copies
    cfg = _resolve(profile="zero", temperature=0.0)  # the user's explicit --temperature 0 is
    assert cfg.tasks[0].sampled.temperature == 0.0
    assert any("temperature 0" in w for w in cfg.warnings)


@pytest.mark.parametrize("name", profile_names())
def test_every_profile_resolves(name, chat_tokenizer):
    profile = load_profile(name)
    cfg = _resolve(chat_tokenizer, profile=name)
    assert [t.name for t in cfg.tasks] == list(profile.tasks)
    for t in cfg.tasks:
        assert t.requests, t.name
        if profile.max_tokens:
            assert all(p.max_tokens == profile.max_tokens for p in t.requests)
        assert t.style == profile.style_for(t.name)
    assert RunConfig.from_dict(cfg.to_dict()) == cfg  # what config.json stores reads back identical


def test_deepseekmath_base_resolves_fewshot_styles():
    cfg = _resolve(profile="deepseekmath-base")
    stops = {t.name: t.stop for t in cfg.tasks}
    assert stops == {"gsm8k": ("\nQ:",), "math": ("\nProblem:",), "ocw": ("\nProblem:",), "sat": ("\nProblem:",),
                     "mmlu_stem": ("\nProblem:",), "cmath": ("\n问题：",), "gaokao_mathcloze": ("\n问题 ",),
                     "gaokao_mathqa": ("\n问题 ",), "mgsm_zh": ("\nQ:",)}
    assert {t.style for t in cfg.tasks} == {"fewshot"}
    assert all(t.greedy.greedy and t.sampled is None and t.greedy.max_tokens == 1024 for t in cfg.tasks)


def test_tool_profiles_fix_their_rounds(chat_tokenizer):
    assert {t.tool_rounds for t in _resolve(chat_tokenizer, profile="deepseekmath-tool").tasks} == {2}
    qwen = _resolve(chat_tokenizer, profile="qwen25math-tir")
    assert {t.tool_rounds for t in qwen.tasks} == {4} and {t.mode for t in qwen.tasks} == {"tool"}
    assert {t.system for t in qwen.tasks} == {
        "Please integrate natural language reasoning with programs to solve the problem above, and put your "
        "final answer within \\boxed{}."}
    assert _task(chat_tokenizer, tasks=("gsm8k",), profile="qwen25math-tir", tool_rounds=1).tool_rounds == 1


def test_deepseekmath_instruct_raw_form_and_cli_override():
    cfg = _resolve(profile="deepseekmath-instruct", tasks=("gsm8k", "cmath"))
    assert {t.template for t in cfg.tasks} == {"raw_boxed_en.jinja", "raw_boxed_zh.jinja"}
    assert all(t.greedy.max_tokens == 1024 and t.greedy.stop == () for t in cfg.tasks)


@pytest.mark.parametrize("name", ["qwen25math-cot", "deepseekmath-instruct-chat"])
def test_chat_profiles_use_a_chat_template(name, chat_tokenizer):
    cfg = _resolve(chat_tokenizer, profile=name)
    assert all(t.form == "chat" for t in cfg.tasks)
    if name == "qwen25math-cot":
        assert all(t.greedy.max_tokens == 2048 and t.grading.grader.percent_compat for t in cfg.tasks)
        assert cfg.task("cmath_qwen").data_file == "cmath/validation.qwen25math.jsonl"

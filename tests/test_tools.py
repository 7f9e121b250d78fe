"""Tool-integrated and program-aided modes with scripted completions: every branch, real sandbox."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest

import matheval.run as run_mod
from matheval import tools
from matheval.backends import GenParams
from matheval.backends.replay import ReplayBackend
from matheval.config import RunRequest
from matheval.errors import UsageError
from matheval.modes import tool_extract
from matheval.prompts import load_solutions
from matheval.record import Completion, read_results
from matheval.resolve import GradingSpec

GREEDY = GenParams(n=1, temperature=0.0, max_tokens=400)
FENCE = "```"


def code(src: str) -> str:
    """A round that writes `src` and asks for its output (the model would go on past ```output)."""
    return f"Let me compute.\n{FENCE}python\n{src}\n{FENCE}\n{FENCE}output\nhallucinated 999\n{FENCE}\n"


def plan(rounds: int = 2, stop: tuple[str, ...] = (), result_expr: str | None = None):
    """The few TaskConfig fields the tool and PoT generators read."""
    return SimpleNamespace(stop=stop, tool_rounds=rounds, result_expr=result_expr)


SPEC = GradingSpec(mode="tool", extractor="boxed")


def run_tool(script, params=(GREEDY,), prompts=None, **plan_kw):
    backend = ReplayBackend(script)
    prompts = prompts or ["PROMPT\n"] * len(params)
    got: dict[int, list[Completion]] = {}
    order: list[tuple[int, int]] = []

    def on_done(j, comps):
        assert j not in got, "a request is reported once"
        got[j] = comps
        order.append((j, len(backend.calls)))

    tools.tool_generate(backend, prompts, list(params), on_done, plan(**plan_kw))
    assert sorted(got) == list(range(len(prompts)))
    return got, backend, order


def by_round(*rounds: str):
    """Script answering round k (counted by appended output blocks) with rounds[k]."""

    def script(prompt: str, params: GenParams) -> str:
        return rounds[prompt.count(FENCE + "output\n")]

    return script


# ---------------------------------------------------------------- tool mode: generation


def test_code_runs_and_its_output_is_appended():
    got, backend, _ = run_tool(by_round(code("print(6 * 7)"), "So the answer is \\boxed{42}."))
    (c,) = got[0]
    assert c.text == (
        f"Let me compute.\n{FENCE}python\nprint(6 * 7)\n{FENCE}\n{FENCE}output\n42\n{FENCE}\n"
        "So the answer is \\boxed{42}."
    )
    assert "hallucinated" not in c.text  # generation stopped at ```output; the sandbox wrote the output
    assert [r["status"] for r in c.rounds] == ["ok"]
    assert c.rounds[0]["code"] == "print(6 * 7)" and c.rounds[0]["output"] == "42"
    assert c.rounds[0]["error"] is None and c.rounds[0]["wall_time"] > 0
    assert len(backend.calls) == 2
    for _, prm in backend.calls:
        assert prm.n == 1 and prm.include_stop_str and prm.stop == (tools.OUTPUT_STOP,)
    # The second round continues the trajectory: prompt + everything so far.
    assert backend.calls[1][0][0] == "PROMPT\n" + c.text[: c.text.index("So the")]
    assert c.finish_reason == "stop" and c.greedy


def test_error_appends_one_line_and_generation_continues():
    got, _, _ = run_tool(by_round(code("print('before')\n1 / 0"), "Oops. \\boxed{0}"))
    (c,) = got[0]
    r = c.rounds[0]
    assert r["status"] == "error" and r["error"] == "ZeroDivisionError: division by zero"
    assert f"{FENCE}output\nbefore\nZeroDivisionError: division by zero\n{FENCE}\nOops." in c.text
    assert "Traceback" not in c.text  # one line, not the whole traceback


def test_timeout_is_recorded_and_not_replayed(monkeypatch):
    monkeypatch.setattr(tools, "EXEC_TIMEOUT", 2.0)  # not less: the other round must not time out under load
    got, _, _ = run_tool(
        by_round(code("x = 5\nwhile True:\n    pass"), code("print(x)"), "\\boxed{5}"), rounds=2
    )
    (c,) = got[0]
    assert [r["status"] for r in c.rounds] == ["timeout", "error"]
    assert c.rounds[0]["error"] == "TimeoutError: exceeded the 2 s wall-clock limit"
    assert f"{FENCE}output\nTimeoutError: exceeded the 2 s wall-clock limit\n{FENCE}" in c.text
    # A block that timed out would only time out again: its state is not replayed.
    assert c.rounds[1]["error"] == "NameError: name 'x' is not defined"


def test_state_is_replayed_across_rounds_even_after_an_error():
    got, _, _ = run_tool(
        by_round(code("x = 40"), code("y = 2\nz = 1 / 0"), code("print(x + y)"), "\\boxed{42}"), rounds=3
    )
    (c,) = got[0]
    assert [r["status"] for r in c.rounds] == ["ok", "error", "ok"]
    # Earlier blocks' output is suppressed on replay: only the new block's print shows.
    assert c.rounds[0]["output"] == "" and c.rounds[2]["output"] == "42"


def test_no_code_block_finishes_in_one_round():
    got, backend, _ = run_tool(by_round("Plain reasoning: 3 + 4 = 7, so \\boxed{7}."))
    (c,) = got[0]
    assert c.rounds == [] and len(backend.calls) == 1 and c.text.endswith("\\boxed{7}.")


def test_output_request_without_code_finishes_without_running():
    got, backend, _ = run_tool(by_round(f"Let me see.\n{FENCE}output\n12\n{FENCE}\n\\boxed{{12}}"))
    (c,) = got[0]
    assert c.rounds == [] and len(backend.calls) == 1 and c.text.endswith(f"{FENCE}output")


def test_long_output_is_truncated_in_the_middle():
    got, _, _ = run_tool(by_round(code("for i in range(3000):\n    print(i)"), "\\boxed{2999}"))
    (c,) = got[0]
    r = c.rounds[0]
    assert r["status"] == "ok" and r["output_truncated"]
    assert len(r["output"]) <= tools.OUTPUT_LIMIT + 50
    lines = r["output"].splitlines()
    assert lines[0] == "0" and lines[-1] == "2999" and "characters cut" in r["output"]
    assert r["output"] in c.text  # the model saw exactly what was recorded


def test_round_limit_then_one_final_continuation_without_execution():
    always = code("print(1)")
    got, backend, _ = run_tool(lambda p, prm: always, rounds=2)
    (c,) = got[0]
    assert len(backend.calls) == 3  # two executed rounds + the final continuation
    assert [r["status"] for r in c.rounds] == ["ok", "ok", tools.NOT_RUN]
    assert c.rounds[2]["output"] is None and c.text.endswith(f"{FENCE}output")
    assert c.text.count(f"{FENCE}output\n1\n{FENCE}") == 2

    got, backend, _ = run_tool(lambda p, prm: always, rounds=0)
    assert len(backend.calls) == 1 and [r["status"] for r in got[0][0].rounds] == [tools.NOT_RUN]


def test_truncated_round_ends_the_trajectory():
    long_text = "word " * 50  # replay counts words as tokens
    got, backend, _ = run_tool(lambda p, prm: long_text, params=(GenParams(max_tokens=10),))
    (c,) = got[0]
    assert c.finish_reason == "length" and len(backend.calls) == 1


def test_task_stop_words_are_cut_as_in_cot():
    got, backend, _ = run_tool(by_round("So \\boxed{3}.\nQ: next question"), stop=("\nQ:",))
    (c,) = got[0]
    assert c.text == "So \\boxed{3}." and c.finish_reason == "stop"
    assert backend.calls[0][1].stop == ("\nQ:", tools.OUTPUT_STOP)


def test_n_samples_become_independent_trajectories_reported_together():
    sampled = GenParams(n=3, temperature=0.7, max_tokens=400)
    seen: dict[str, int] = {}

    def script(prompt: str, params: GenParams) -> str:
        if params.greedy:
            return "Greedy: \\boxed{1}"  # finishes at once, before any sampled trajectory
        if FENCE + "output\n" not in prompt:
            k = seen.setdefault("k", 0)
            seen["k"] = k + 1
            return "No code, \\boxed{0}" if k == 2 else code(f"v = {k}\nprint(v * 10)")
        return f"\\boxed{{{prompt.rsplit('output', 1)[1].split()[0]}}}"

    got, backend, order = run_tool(script, params=(GREEDY, sampled), prompts=["P0\n", "P1\n"])
    assert order[0] == (0, 2)  # the greedy request was written after round 0, not at the end
    assert len(got[1]) == 3 and not any(c.greedy for c in got[1])
    assert [c.rounds[0]["output"] for c in got[1] if c.rounds] == ["0", "10"]
    endings = [c.text.rsplit("\n", 1)[-1] for c in got[1]]
    assert endings == ["\\boxed{0}", "\\boxed{10}", "No code, \\boxed{0}"]
    # Round 0: one call per parameter set (greedy, sampled) with each sample its own prompt copy.
    assert [(len(ps), prm.temperature) for ps, prm in backend.calls[:2]] == [(1, 0.0), (3, 0.7)]
    assert len(backend.calls) == 3 and len(backend.calls[2][0]) == 2  # only the two with code go on


def test_prompt_that_no_longer_fits_the_context_ends_as_length():
    class Tok:
        def __call__(self, text, add_special_tokens=False):
            return {"input_ids": text.split()}

    backend = ReplayBackend(by_round(code("print(" + " + ".join(["1"] * 20) + ")"), "never"), tokenizer=Tok())
    backend.info.settings["max_model_len"] = 30
    got = {}
    tools.tool_generate(backend, ["P"], [GREEDY], lambda j, c: got.setdefault(j, c), plan())
    (c,) = got[0]
    assert len(backend.calls) == 1 and c.finish_reason == "length" and c.rounds[0]["output"] == "20"


# ---------------------------------------------------------------- tool mode: extraction + grading


def tool_ext(text: str, rounds: list[dict]):
    return tool_extract(Completion(text, 10, "stop", rounds=rounds), SPEC)


def test_extraction_carries_boxed_and_program_answers():
    got, _, _ = run_tool(by_round(code("print(17)"), "The program says 17 but I think \\boxed{18}."))
    ext, prog = tool_extract(got[0][0], SPEC)
    assert ext.answer == "18" and prog.answer == "17"
    assert prog.status == "ok" and prog.n_executed == 1


def test_program_answer_is_none_when_the_last_block_failed_or_none_ran():
    ok = {"code": "print(3)", "output": "3", "status": "ok", "error": None}
    bad = {"code": "1/0", "output": "", "status": "error", "error": "ZeroDivisionError: division by zero"}
    text = f"{FENCE}output\n3\n{FENCE}\n{FENCE}output\nZeroDivisionError: division by zero\n{FENCE}\n"
    ext, prog = tool_ext(text + "\\boxed{3}", [ok, bad])
    assert prog.answer is None and prog.status == "error" and ext.answer == "3"
    ext, prog = tool_ext("no code at all", [])
    assert ext is None and prog.answer is None and prog.status == "no_code"
    skipped = {**ok, "status": tools.NOT_RUN, "output": None}
    text = f"{FENCE}output\n3\n{FENCE}\nthen\n{FENCE}python\nprint(4)\n{FENCE}\n{FENCE}output"
    ext, prog = tool_ext(text, [ok, skipped])
    assert prog.answer == "3" and prog.n_executed == 1


@pytest.fixture
def tool_run(tmp_path, data_dir, chat_tokenizer, monkeypatch):
    def start(script, **cfg_kw):
        backend = ReplayBackend(script, tokenizer=chat_tokenizer)
        monkeypatch.setattr(run_mod, "make_backend", lambda *a, **k: backend)
        kw = dict(model="scripted", tasks=("gsm8k",), limit=2, backend="replay", data_dir=str(data_dir),
                  output_dir=str(tmp_path / "results"), run_id="tool", prompt_style="tool")
        return run_mod.run(RunRequest(**{**kw, **cfg_kw}))

    return start


def test_run_grades_boxed_and_program_answers_separately(tool_run, monkeypatch):
    # Problem 0 (gold 18): program right, boxed wrong. Problem 1 (gold 3): program wrong, boxed right.
    def script(prompt, params):
        first = "Janet" in prompt
        if FENCE + "output\n" not in prompt:
            return code("eggs = 16 - 3 - 4\nprint(eggs * 2)" if first else "print(2 / 2)")
        return f"Hmm. \\boxed{{{9 if first else 3}}}"

    path = tool_run(script)
    results = {r.id: r for r in read_results(str(path / "samples.jsonl"))}
    r0, r1 = results["0"], results["1"]
    assert r0.programs[0].answer == "18" and r0.extractions[0].answer == "9"
    assert r0.scores == {"top1": 0.0, "program_top1": 1.0}
    assert r0.verdicts[0].status == "incorrect"
    assert r0.programs[0].verdict.status == "correct"
    assert r1.programs[0].answer == "1.0" and r1.extractions[0].answer == "3"
    assert r1.scores == {"top1": 1.0, "program_top1": 0.0}
    assert r1.programs[0].verdict.status == "incorrect"
    assert r1.completions[0].rounds[0]["code"] == "print(2 / 2)"
    assert r1.prompt.endswith("<|im_start|>assistant\n")
    assert "Please integrate natural language reasoning with programs" in r1.prompt
    summary = json.loads((path / "summary.json").read_text())
    assert set(summary["tasks"]["gsm8k"]["metrics"]) == {"top1", "program_top1"}
    execution = summary["tasks"]["gsm8k"]["execution"]
    assert execution["rounds"] == 2 and execution["timeout_s"] == tools.EXEC_TIMEOUT
    assert json.loads((path / "config.json").read_text())["tasks"]["gsm8k"]["tool_rounds"] == 2
    board = (path.parent / "leaderboard.csv").read_text()
    assert ",program_top1," in board and ",top1," in board
    # Rescoring saved samples re-derives both answers from the recorded text and rounds, no sandbox.
    import matheval.sandbox as sandbox
    from matheval.rescore import regrade
    from matheval.resolve import load_run_config

    def no_sandbox(*a, **k):
        raise AssertionError("extraction must not run model code")

    monkeypatch.setattr(sandbox, "run_code", no_sandbox)
    saved = read_results(str(path / "samples.jsonl"))
    tc = load_run_config(path).task("gsm8k")
    again = regrade(read_results(str(path / "samples.jsonl")), tc)
    assert [r.scores for r in again] == [r.scores for r in saved]


# ---------------------------------------------------------------- program-aided mode


def run_pot(texts: list[str], result_expr: str = "solution()") -> list[dict]:
    """PoT completions generated (programs run in the sandbox), then their answers as flat dicts."""
    comps_by_prompt = {f"P{i}": t for i, t in enumerate(texts)}
    backend = ReplayBackend(lambda p, prm: comps_by_prompt[p])
    got: dict[int, list[Completion]] = {}
    p = plan(result_expr=result_expr)
    prompts = list(comps_by_prompt)
    tools.pot_generate(backend, prompts, [GREEDY] * len(texts), lambda j, c: got.setdefault(j, c), p)
    assert sorted(got) == list(range(len(texts)))
    return [_pot_dict(got[i][0]) for i in range(len(texts))]


def _pot_dict(c: Completion) -> dict:
    ext, prog = tools.pot_answer(c)
    return {"answer": ext.answer if ext else None, "method": ext.method if ext else None,
            "status": prog.status, "error": prog.error, "exec_status": c.rounds[-1]["status"] if c.rounds else None}


def test_pot_value_error_nothing():
    exts = run_pot([
        "def solution():\n    return 16 - 3 - 4\n",
        "def solution():\n    return 1 / 0\n",
        "def solution():\n    x = 5\n",
        "   \n",
        "def solution():\n    return 'forty two'\n```\nQ: the next question",
    ])
    assert exts[0]["answer"] == "9" and exts[0]["status"] == "ok" and exts[0]["method"] == "program"
    assert exts[1]["answer"] is None and exts[1]["status"] == "error"
    assert exts[1]["error"] == "in result_expr: ZeroDivisionError: division by zero"
    assert exts[2]["answer"] is None and exts[2]["status"] == "no_value" and exts[2]["exec_status"] == "ok"
    assert exts[3]["answer"] is None and exts[3]["status"] == "no_code"
    assert exts[4]["answer"] == "forty two"


def test_pot_timeout(monkeypatch):
    monkeypatch.setattr(tools, "EXEC_TIMEOUT", 1.0)
    (ext,) = run_pot(["def solution():\n    while True:\n        pass\n"])
    assert ext["answer"] is None and ext["status"] == "timeout" and "1 s" in ext["error"]


def test_pot_math_style_answer_variable_and_extraction_never_executes(monkeypatch):
    (ext,) = run_pot(["import sympy as sp\nanswer = sp.Rational(2, 3) - 1\n"], result_expr="answer")
    assert ext["answer"] == "-1/3"
    # A record saved without its execution is reported as such: extraction never runs model code.
    import matheval.sandbox as sandbox

    monkeypatch.setattr(sandbox, "run_code", lambda *a, **k: pytest.fail("extraction ran the sandbox"))
    ext, prog = tools.pot_answer(Completion("answer = [1, 2]\n", 5, "stop"))
    assert ext is None and prog.status == "not_executed"


@pytest.mark.parametrize(
    "value, expected",
    [(None, None), ("None", None), ("'  7 '", "7"), ("''", None), ("8.0", "8.0"), ("np.float64(2.5)", "2.5"),
     ("Fraction(3, 4)", "3/4"), ("Fraction(16, 1)", "16"), ("sqrt(2)/2", "sqrt(2)/2"), ("True", "True")],
)
def test_value_answer(value, expected):
    assert tools.value_answer(value) == expected


def test_program_text_takes_the_code_not_the_chatter():
    assert tools.program_text("x = 1\nanswer = x\n```\nProblem: more") == "x = 1\nanswer = x"
    assert tools.program_text("Sure!\n```python\na = 1\n```\nand\n```python\nanswer = 2\n```") == "answer = 2"
    assert tools.program_text("```\n") is None


def test_replayed_setup_is_a_literal_not_string_pasting():
    src = tools.replay_source(["s = '```'\nprint(\"\"\"x\"\"\")"])
    ns: dict = {}
    exec(compile(src, "<t>", "exec"), ns)  # the setup itself must be valid Python for any block text
    assert ns["s"] == "```"


# ---------------------------------------------------------------- prompts


def test_pot_solutions_line_up_with_exemplars(data_dir):
    from matheval.prompts import Renderer
    from matheval.tasks import load_task

    for task, n, tail in (("gsm8k", 8, "\n\n```python\n"), ("math", 4, "\n\nSolution:\n```python\n")):
        t = load_task(task)
        r = Renderer(t, "pot", t.style("pot"), data_dir, None)
        sample = SimpleNamespace(problem="What is 1+1?", fields={})
        prompt = r(sample)
        assert len(r.solutions) == n and prompt.endswith("What is 1+1?" + tail)
        assert prompt.count(FENCE + "python\n") == n + 1 and prompt.count(f"\n{FENCE}\n") == n


def test_pot_exemplar_programs_compute_the_exemplar_answers(data_dir):
    from matheval import grading
    from matheval.data import load_exemplars
    from matheval.tasks import load_task

    for task, key, extractor in (("gsm8k", "answer", "gsm8k"), ("math", "solution", "minerva")):
        style = load_task(task).style("pot")
        exemplars = load_exemplars(style.exemplars, data_dir)
        programs = load_solutions(style.solutions, len(exemplars))
        for ex, prog in zip(exemplars, programs, strict=True):
            gold = grading.extract_answer(ex[key], style=extractor).answer
            pred = tools.value_answer(tools.run_block(prog, (), style.result_expr)["value"])
            assert grading.equivalent(gold, pred).correct, (task, gold, pred)


def test_solutions_file_must_cover_every_exemplar():
    with pytest.raises(UsageError, match="one solution per exemplar index 0..8"):
        load_solutions("exemplars/pot_gsm8k_8shot.json", 9)


def test_tool_fewshot_exemplar_outputs_are_what_the_code_prints(data_dir):
    # The exemplars teach the model what an output block looks like: they must be real outputs.
    from matheval.data import load_exemplars
    from matheval.tasks import load_task

    style = load_task("gsm8k").style("tool_fewshot")
    solutions = load_solutions(style.solutions, len(load_exemplars(style.exemplars, data_dir)))
    pairs = 0
    for sol in solutions:
        blocks = re.findall(rf"{FENCE}python\n(.*?)\n{FENCE}\n{FENCE}output\n(.*?)\n{FENCE}", sol, re.DOTALL)
        assert blocks and "\\boxed{" in sol
        earlier: list[str] = []
        for src, shown in blocks:
            assert tools.run_block(src, earlier)["output"] == shown
            earlier.append(src)
            pairs += 1
    assert pairs == 9  # exemplar 6 has two rounds


@pytest.mark.parametrize("task", ["gsm8k", "math"])
@pytest.mark.parametrize("style, instruction", [
    ("tool", "Please integrate natural language reasoning with programs to solve the problem above, "
             "and put your final answer within \\boxed{}."),
    ("tool_zh", "请结合自然语言和Python程序语言来解答问题，并把最终答案放置于\\boxed{}中。"),
])
def test_tool_chat_styles_render_problem_then_instruction(task, style, instruction, data_dir, chat_tokenizer):
    from matheval.prompts import Renderer
    from matheval.tasks import load_task

    t = load_task(task)
    r = Renderer(t, style, t.style(style), data_dir, chat_tokenizer)
    sample = SimpleNamespace(problem="What is 1+1?", fields={})
    assert r.user_text(sample) == "What is 1+1?\n" + instruction
    assert r(sample).endswith(f"What is 1+1?\n{instruction}<|im_end|>\n<|im_start|>assistant\n")
    assert t.style(style).mode == "tool" and t.style(style).extractor == "boxed"


def test_tool_fewshot_renders_exemplars_then_the_question(data_dir):
    from matheval.prompts import Renderer
    from matheval.tasks import load_task

    t = load_task("gsm8k")
    prompt = Renderer(t, "tool_fewshot", t.style("tool_fewshot"), data_dir, None)(
        SimpleNamespace(problem="What is 1+1?", fields={})
    )
    assert prompt.startswith("Please integrate natural language reasoning with programs")
    assert prompt.count("\nQuestion: ") == 8 + 1  # the exemplars, then the problem
    assert prompt.endswith("\n\n\nQuestion: What is 1+1?\nSolution:\n")
    assert prompt.count(f"{FENCE}output\n") == 9

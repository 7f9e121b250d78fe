"""matheval.reward: TRL and verl signatures, gold handling, task specs, thread and asyncio callers."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import pickle
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from matheval.errors import UsageError
from matheval.grading import GraderOptions, grade, verify
from matheval.reward import (
    DEFAULT,
    RewardSpec,
    accuracy_reward,
    compute_score,
    compute_score_async,
    compute_score_batch,
    make_reward,
    prepare_gold,
    reward_batch,
    reward_batch_async,
    spec_for,
)
from matheval.reward.trl import completion_text

MATH_SOLUTION = r"Adding, we get $\frac{2}{4} = \boxed{\frac{1}{2}}$."
GSM8K_ANSWER = "She has 16 - 3 - 4 = 9 eggs, so 9 * 2 = 18.\n#### 18"


class Recorder:
    """Stands in for TRL's trainer-side log_extra / log_metric callbacks (what a test can reach)."""

    def __init__(self) -> None:
        self.extra: dict[str, list] = {}
        self.metrics: dict[str, list] = {}

    def log_extra(self, column: str, values: list) -> None:
        self.extra.setdefault(column, []).extend(values)

    def log_metric(self, name: str, value: float) -> None:
        self.metrics.setdefault(name, []).append(value)


def trl_kwargs(completions: list, rec: Recorder, **columns: list) -> dict:
    """The keyword arguments GRPOTrainer._calculate_rewards (trl 1.16.0) passes a reward function."""
    n = len(completions)
    return {
        "prompts": [f"problem {i}" for i in range(n)],
        "completions": completions,
        "completion_ids": [[1, 2, 3]] * n,
        **columns,
        "trainer_state": object(),
        "log_extra": rec.log_extra,
        "log_metric": rec.log_metric,
    }


def test_trl_string_completions_with_extra_columns():
    rec = Recorder()
    completions = [
        r"So the answer is $\boxed{0.5}$.",  # equal value, other form
        r"So the answer is $\boxed{\frac{1}{3}}$.",  # wrong
        "I do not know.",  # no answer at all
        r"It is $\boxed{\frac12}$.",  # the gold is empty: no reward
    ]
    kw = trl_kwargs(
        completions, rec,
        solution=[MATH_SOLUTION] * 3 + [""],
        level=["Level 2"] * 4, type=["Algebra"] * 4, problem=["p"] * 4,
    )
    assert accuracy_reward(**kw) == [1.0, 0.0, 0.0, None]
    assert rec.extra["matheval_accuracy_status"] == ["correct", "incorrect", "no_answer", "bad_gold"]
    assert rec.extra["matheval_accuracy_answer"][:2] == ["0.5", "\\frac{1}{3}"]
    assert rec.metrics["matheval_accuracy/bad_gold_frac"] == [0.25]


def test_trl_conversational_completions():
    rec = Recorder()
    completions = [
        [{"role": "assistant", "content": r"Thus $\boxed{18}$."}],
        [{"role": "assistant", "content": [{"type": "text", "text": "The answer is "}, {"type": "text", "text": "7"}]}],
        # Tool use: the last assistant message is the answer, not the earlier draft.
        [
            {"role": "assistant", "content": r"Maybe $\boxed{17}$; let me check.", "tool_calls": []},
            {"role": "tool", "content": "18"},
            {"role": "assistant", "content": r"So it is $\boxed{18}$."},
        ],
        [{"role": "assistant", "content": None}],
    ]
    kw = trl_kwargs(completions, rec, answer=[GSM8K_ANSWER] * 4, question=["q"] * 4)
    assert make_reward(task="gsm8k")(**kw) == [1.0, 0.0, 1.0, 0.0]
    assert completion_text(completions[1]) == "The answer is 7"


@pytest.mark.parametrize("gold", ["", "   ", None, r"\boxed{}", r"\frac{1}{", "((1, 2)"])
def test_bad_gold_is_none_never_one(gold):
    # The response would match a naive reading of the gold; it must still get no reward.
    kw = trl_kwargs([r"\boxed{\frac{1}{}", "", str(gold)], Recorder(), solution=[gold] * 3)
    assert accuracy_reward(**kw) == [None, None, None]


def test_factory_values_format_reward_and_gold_column():
    reward = make_reward(gold="final", correct=2.0, wrong=-1.0, no_answer=-0.5, format_reward=0.25)
    completions = [r"$\boxed{42}$", "It is 42.", r"$\boxed{41}$", "no idea", r"$\boxed{42}$"]
    kw = trl_kwargs(completions, Recorder(), final=["42"] * 4 + [""], solution=["not the gold"] * 5)
    assert reward(**kw) == [2.25, 2.0, -0.75, -0.5, None]
    assert reward.calls == 1 and reward.samples == 5


def test_missing_gold_column_is_one_clear_error():
    with pytest.raises(UsageError, match="no gold column"):
        accuracy_reward(**trl_kwargs(["1"], Recorder(), question=["q"]))


def test_trl_sees_the_functions_as_trl_expects():
    trl_utils = pytest.importorskip("trl.trainer.utils")
    import trl

    assert trl.__version__ == "1.16.0"  # the version whose calling convention this module follows
    sync, asynchronous = make_reward(name="acc"), make_reward(asynchronous=True, name="acc_async")
    assert not trl_utils.is_async_callable(sync) and trl_utils.is_async_callable(asynchronous)
    assert trl_utils.get_callable_name(asynchronous) == "acc_async"
    # TRL's async rollout worker pickles reward functions into a spawned process.
    clone = pickle.loads(pickle.dumps(asynchronous))
    kw = trl_kwargs([r"\boxed{18}", r"\boxed{1}"], Recorder(), answer=[GSM8K_ANSWER] * 2)
    assert asyncio.run(clone(**kw)) == [1.0, 0.0]


def test_async_rewards_gathered_concurrently_like_trl():
    acc = make_reward(asynchronous=True, name="acc")
    fmt = make_reward(asynchronous=True, name="fmt", correct=0.0, format_reward=1.0)
    kw = trl_kwargs([r"$\boxed{18}$", "18", r"$\boxed{7}$"], Recorder(), answer=[GSM8K_ANSWER] * 3)

    async def gather():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.001)

        tick = asyncio.create_task(ticker())
        out = await asyncio.gather(acc(**kw), fmt(**kw))
        tick.cancel()
        return out, ticks

    (a, f), ticks = asyncio.run(gather())
    assert a == [1.0, 1.0, 0.0] and f == [1.0, 0.0, 1.0]
    assert ticks > 0  # the event loop ran while the workers graded


def test_spec_for_data_sources():
    gsm = spec_for("openai/gsm8k")
    assert gsm.task == "gsm8k" and gsm.options.answer_type == "number" and gsm.style == "auto"
    for name in ("lighteval/MATH", "DigitalLearningGmbH/MATH-lighteval", "math", "hendrycks/competition_math"):
        assert spec_for(name).task == "math" and spec_for(name).style == "auto"
    assert spec_for("HuggingFaceH4/MATH-500").task == "math500"
    sat = spec_for("sat")
    assert sat.style == "choice" and sat.options.answer_type == "choice" and dict(sat.extract) == {"choices": "ABCD"}
    assert spec_for("ocw").options.rel_tol == 0.01  # the task's grader: options
    assert spec_for("aime_2025").task == "aime24"
    assert spec_for("some/unknown-set") is DEFAULT and spec_for(None) is DEFAULT
    assert spec_for("gsm8k", prompt_style="fewshot").style == "gsm8k"


def test_prepare_gold_reads_solutions_like_task_loading():
    assert prepare_gold(MATH_SOLUTION) == r"\frac{1}{2}"
    assert prepare_gold(GSM8K_ANSWER) == "18"
    assert prepare_gold("#### 1,234") == "1234"
    assert prepare_gold(18.0) == "18" and prepare_gold(2.5) == "2.5" and prepare_gold(7) == "7"
    assert prepare_gold(r" \frac{1}{2} ") == r"\frac{1}{2}"
    assert prepare_gold("") is None and prepare_gold(None) is None


def test_verl_signature_and_dict_return():
    extra = {"index": 3, "split": "train", "num_turns": None, "rollout_reward_scores": {}}
    out = compute_score(data_source="openai/gsm8k", solution_str="... #### 18", ground_truth="18", extra_info=extra)
    assert out == {"score": 1.0, "acc": 1.0, "status": "correct", "rule": "string", "pred": "18"}
    wrong = compute_score("lighteval/MATH", r"$\boxed{\frac{1}{3}}$", r"\frac{1}{2}", None, reward_router_address=None)
    assert wrong["score"] == 0.0 and wrong["status"] == "incorrect" and wrong["pred"] == r"\frac{1}{3}"
    bad = compute_score("math", r"\boxed{1}", "")
    assert bad["score"] == 0.0 and bad["status"] == "bad_gold" and bad["acc"] == 0.0
    # Every key present with one type, whatever the verdict (verl stacks them per key).
    for d in (out, wrong, bad):
        assert [type(d[k]) for k in ("score", "acc", "status", "rule", "pred")] == [float, float, str, str, str]
    assert compute_score("sat", "The answer is (C).", "C", return_dict=False) == 1.0
    assert compute_score("gsm8k", r"\boxed{17}", "18", correct=1.0, wrong=-1.0, return_dict=False) == -1.0


def test_verl_data_source_picks_the_grader():
    # GSM8K golds are numbers: an expression with a variable is not an answer there ...
    assert compute_score("openai/gsm8k", r"\boxed{18 + 0x}", "18")["status"] == "unparsable"
    # ... and a choice benchmark reads option letters.
    assert compute_score("sat", "Checking each option, the answer is (B) since 3 > 2.", "B")["score"] == 1.0
    assert compute_score("openai/gsm8k", "Checking each option, the answer is (B).", "B")["score"] == 0.0
    # An unknown source grades like verify(), bare answers included.
    for gold, text in [("(3, 4)", "(3,4)"), ("18", "so 18"), (r"\frac{1}{2}", r"$\boxed{0.5}$")]:
        assert compute_score("my/own-set", text, gold)["acc"] == float(verify(gold, text))


def test_verl_async_and_batch_signatures():
    assert inspect.iscoroutinefunction(compute_score_async)
    out = asyncio.run(compute_score_async(data_source="openai/gsm8k", solution_str="#### 18", ground_truth="18"))
    assert out["score"] == 1.0
    batch = compute_score_batch(
        data_sources=["openai/gsm8k", "sat", "lighteval/MATH"],
        solution_strs=["#### 18", "The answer is (A).", r"$\boxed{\dfrac12}$"],
        ground_truths=["18", "B", r"\frac{1}{2}"],
        extra_infos=[{}, {}, {}],
    )
    assert [b["score"] for b in batch] == [1.0, 0.0, 1.0]


def test_reward_equals_grade_with_the_task_options():
    cases = [("18", "so #### 18"), ("0.5", r"$\boxed{\frac{1}{2}}$"), ("B", "answer is (B)"), ("3", "x = 3")]
    for task in ("gsm8k", "math", "sat", "ocw"):
        spec = spec_for(task)
        scores = reward_batch([g for g, _ in cases], [t for _, t in cases], task=task)
        for (gold, text), s in zip(cases, scores, strict=True):
            _, verdict = grade(gold, text, style=spec.style, options=spec.options, **dict(spec.extract))
            assert (s.correct, s.status, s.rule) == (verdict.correct, verdict.status, verdict.rule), (task, gold)


def test_thread_pool_callers_get_the_serial_answers():
    golds = [str(i) for i in range(60)]
    texts = [rf"$\boxed{{{i if i % 3 else i + 1}}}$" for i in range(60)]
    serial = reward_batch(golds, texts)
    with ThreadPoolExecutor(6) as ex:
        parts = list(ex.map(lambda k: reward_batch(golds[k::6], texts[k::6]), range(6)))
    for k, part in enumerate(parts):
        assert part == serial[k::6]
    assert sum(s.correct for s in serial) == 40


def test_asyncio_callers():
    golds = [r"\frac{1}{2}"] * 20
    texts = [r"$\boxed{0.5}$", r"$\boxed{2}$"] * 10

    async def many():
        return await asyncio.gather(*(reward_batch_async(golds, texts) for _ in range(4)))

    for result in asyncio.run(many()):
        assert [s.correct for s in result] == [True, False] * 10


def test_called_from_a_non_main_thread_with_its_own_loop():
    # Where signal-based timeouts break (Ray/trainer worker threads), the deadline still holds.
    out: dict = {}

    def body():
        slow = r"$\boxed{\sum_{k=0}^{\infty} k^{k}}$"  # sympy cannot finish it
        out["scores"] = asyncio.run(reward_batch_async(["420"], [slow], timeout=2.0))

    t = threading.Thread(target=body)
    start = time.monotonic()
    t.start()
    t.join(60)
    assert not t.is_alive() and out["scores"][0].status == "timeout"
    assert time.monotonic() - start < 30


def test_spec_travels_to_the_workers_intact():
    spec = RewardSpec("x", "choice", GraderOptions(rel_tol=0.01, answer_type="choice"), (("choices", "ABC"),))
    assert RewardSpec.from_wire(json.loads(json.dumps(spec.to_wire()))) == spec
    assert dataclasses.replace(spec, format_style="auto").format_style == "auto"
    with pytest.raises(UsageError, match="unknown extraction style"):
        RewardSpec(style="boxd")


def test_truncated_completions_are_graded_like_evaluation():
    text = "Let me add: 3 + 4 = 7, and then multiply by"  # cut off by the token limit
    for flag in (False, True):
        _, verdict = grade("7", text, style="auto", truncated=flag)
        (score,) = reward_batch(["7"], [text], task="gsm8k", truncated=[flag])
        assert (score.correct, score.status) == (verdict.correct, verdict.status)
    assert reward_batch(["7"], [text], task="gsm8k", truncated=[True])[0].status == "no_answer"
    reward = make_reward(task="gsm8k", truncated_at=32, no_answer=-0.5)
    kw = trl_kwargs([text, text], Recorder(), answer=["#### 7"] * 2)
    kw["completion_ids"] = [[1] * 32, [1] * 12]  # the first hit max_completion_length
    assert reward(**kw) == [-0.5, 1.0]

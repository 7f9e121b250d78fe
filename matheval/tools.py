"""Modes that run model-written code in the sandbox: program-aided ("pot") and tool-integrated ("tool").

State across a trajectory's code blocks is kept by *replay*, not by a live interpreter: round k runs
in a fresh sandbox process whose (silenced) `setup_code` re-executes the blocks of rounds 1..k-1, each
under its own try/except, before the new block. Every execution is isolated, so a crash, timeout or
memory blow-up in one round cannot poison later ones, and nothing outlives a round. The cost is
re-running earlier (usually cheap) code, and code that draws random numbers or reads the clock may
see different values on replay than the model saw. Blocks that timed out or were killed are not
replayed (they would only fail again). See docs/tools.md.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from matheval import grading
from matheval.backends import GenParams, generate_grouped
from matheval.grading import Extraction
from matheval.record import Completion, ProgramAnswer

EXEC_TIMEOUT = 10.0  # seconds of wall time per execution (replayed setup included)
EXEC_WORKERS = 2  # parallel sandbox processes; the CPU machines this runs on have 2 cores
OUTPUT_LIMIT = 800  # characters of a block's output shown to the model; the rest is cut from the middle
OUTPUT_STOP = "```output"
NOT_RUN = "not_run"  # a block written after the last allowed round: recorded, never executed
# Statuses whose block is replayed as state for later rounds (see the module docstring).
REPLAYED = frozenset({"ok", "error", "output_limit"})

# The closing fence is optional: a model may go straight from code to "```output".
_PYTHON_BLOCK = re.compile(r"```python[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)
_WRAPPED_NUMBER = re.compile(r"^(?:np|numpy)\.\w+\((.*)\)$", re.DOTALL)
_FRACTION = re.compile(r"^Fraction\((-?\d+), (\d+)\)$")


# ---------------------------------------------------------------- execution


def settings(mode: str, rounds: int) -> dict[str, Any] | None:
    """The execution settings of a run, saved in its config.json beside the prompt settings."""
    if mode not in ("pot", "tool"):
        return None
    return {"rounds": rounds if mode == "tool" else 1, "timeout_s": EXEC_TIMEOUT, "workers": EXEC_WORKERS,
            "output_limit_chars": OUTPUT_LIMIT, "state": "replay of earlier blocks"}


def run_block(code: str, setup: Sequence[str] = (), result_expr: str | None = None) -> dict[str, Any]:
    """Run one block in a fresh sandbox after replaying `setup`; the round record it produced."""
    from matheval.sandbox import run_code  # lazy: rescoring saved samples never needs the sandbox

    res = run_code(code, timeout=EXEC_TIMEOUT, setup_code=replay_source(setup), result_expr=result_expr)
    output, cut = truncate(res.stdout)
    return {
        "code": code, "output": output, "output_truncated": cut, "error": res.error,
        "status": res.status, "value": res.value, "wall_time": round(res.wall_time, 3),
    }


def run_blocks(jobs: Sequence[tuple[str, Sequence[str], str | None]]) -> list[dict[str, Any]]:
    """Run (code, setup, result_expr) jobs in parallel; results in input order."""
    if not jobs:
        return []
    with ThreadPoolExecutor(max_workers=EXEC_WORKERS) as pool:
        return list(pool.map(lambda job: run_block(*job), jobs))


def replay_source(blocks: Sequence[str]) -> str:
    """Setup code re-creating the state of earlier blocks; one failing block does not stop the rest,
    as in a live interpreter where a raised exception keeps what ran before it."""
    if not blocks:
        return ""
    return (
        f"for _matheval_block in {list(blocks)!r}:\n"
        "    try:\n"
        "        exec(compile(_matheval_block, '<earlier round>', 'exec'), globals())\n"
        "    except BaseException:\n"
        "        pass\n"
        "del _matheval_block\n"
    )


def truncate(text: str, limit: int = OUTPUT_LIMIT) -> tuple[str, bool]:
    """Keep the head and the tail (where a printed answer usually is) of a long output."""
    text = text.rstrip("\n")
    if len(text) <= limit:
        return text, False
    head, tail = text[: limit // 2], text[-(limit - limit // 2) :]
    # Cut at line breaks where there are any, so no half-printed number reaches the model.
    if "\n" in head:
        head = head[: head.rfind("\n")]
    if "\n" in tail:
        tail = tail[tail.find("\n") + 1 :]
    cut = len(text) - len(head) - len(tail)
    return f"{head}\n... ({cut} characters cut) ...\n{tail}", True


def observation(rec: dict[str, Any]) -> str:
    """What the model sees in the ```output block: stdout, then the one-line error if there was one."""
    parts = [rec["output"]] if rec["output"] else []
    if rec["status"] != "ok":
        parts.append(rec["error"] or rec["status"])
    return "\n".join(parts)


def last_python_block(text: str) -> str | None:
    blocks = [m.group(1) for m in _PYTHON_BLOCK.finditer(text)]
    return blocks[-1].rstrip() if blocks and blocks[-1].strip() else None


# ---------------------------------------------------------------- tool-integrated mode


@dataclass
class _Trajectory:
    request: int
    prompt: str
    params: GenParams  # n=1, stops at "```output" (kept in the text)
    seed: int | None = None  # sampled trajectories: their own seed, so replicas and batches agree
    text: str = ""
    n_tokens: int = 0
    finish_reason: str = "stop"
    rounds: list[dict[str, Any]] = field(default_factory=list)
    code: str | None = None  # the block waiting to run after this round's generation
    done: bool = False
    served_by: str | None = None  # the engine or server of the last round


def tool_generate(backend, prompts: Sequence[str], params: Sequence[GenParams], on_done, task,
                  seeds: Sequence[int] | None = None) -> None:
    """Advance every trajectory round by round: one backend call per round and parameter set, then all
    of the round's code runs in parallel. A request with n > 1 becomes n independent trajectories, and
    is reported through `on_done(j, completions)` once all of them have finished."""
    stops = tuple(task.stop)
    trajs = [
        _Trajectory(j, prompts[j], replace(p, n=1, stop=(*stops, OUTPUT_STOP), include_stop_str=True),
                    None if seeds is None else seeds[j] * 1009 + k)
        for j, p in enumerate(params)
        for k in range(p.n)
    ]
    fits = _context_check(backend)
    reported: set[int] = set()
    for rnd in range(task.tool_rounds + 1):
        active = [t for t in trajs if not t.done]
        for t in active:
            if not fits(t.prompt + t.text):  # vLLM rejects a prompt as long as its context
                t.done, t.finish_reason = True, "length"
        active = [t for t in active if not t.done]
        groups: dict[GenParams, list[_Trajectory]] = {}
        for t in active:
            groups.setdefault(t.params, []).append(t)
        for prm, group in groups.items():
            seeds_now = None if prm.greedy or group[0].seed is None else [t.seed + 7919 * rnd for t in group]
            outs = backend.generate([t.prompt + t.text for t in group], prm, None, seeds_now)
            for t, comps in zip(group, outs, strict=True):
                _absorb(t, comps[0], stops)
        waiting = [t for t in active if t.code is not None]
        if rnd == task.tool_rounds:  # the final continuation: code written now is recorded, not run
            for t in waiting:
                t.rounds.append({"code": t.code, "output": None, "output_truncated": False,
                                 "error": "round limit reached", "status": NOT_RUN, "value": None,
                                 "wall_time": 0.0})
                t.code, t.done = None, True
        else:
            jobs = [(t.code, [r["code"] for r in t.rounds if r["status"] in REPLAYED], None) for t in waiting]
            for t, rec in zip(waiting, run_blocks(jobs), strict=True):
                t.rounds.append(rec)
                t.text += "\n" + observation(rec) + "\n```\n"
                t.code = None
        _report(trajs, reported, on_done)  # the final round leaves every trajectory done


def _absorb(t: _Trajectory, comp: Completion, stops: tuple[str, ...]) -> None:
    t.text += comp.text
    t.n_tokens += comp.n_tokens
    t.finish_reason = comp.finish_reason
    t.served_by = comp.served_by or t.served_by
    if comp.finish_reason == "stop" and comp.text.endswith(OUTPUT_STOP):
        t.code = last_python_block(comp.text)
        t.done = t.code is None  # asked for output without writing code: nothing to run
        return
    for s in stops:  # include_stop_str keeps every stop word; the task's own ones are cut as usual
        if comp.finish_reason == "stop" and s and t.text.endswith(s):
            t.text = t.text[: -len(s)]
            break
    t.done = True


def _report(trajs: list[_Trajectory], reported: set[int], on_done) -> None:
    by_request: dict[int, list[_Trajectory]] = {}
    for t in trajs:
        by_request.setdefault(t.request, []).append(t)
    for j, group in by_request.items():
        if j in reported or not all(t.done for t in group):
            continue
        reported.add(j)
        on_done(j, [
            Completion(text=t.text, n_tokens=t.n_tokens, finish_reason=t.finish_reason,
                       greedy=t.params.greedy, rounds=t.rounds, served_by=t.served_by)
            for t in group
        ])


def _context_check(backend) -> Callable[[str], bool]:
    """Whether a continuation prompt still leaves room to generate; always true without a tokenizer."""
    limit = getattr(backend, "info", None) and backend.info.settings.get("max_model_len")
    tok = backend.tokenizer() if limit else None
    if tok is None:
        return lambda text: True
    return lambda text: len(tok(text, add_special_tokens=False)["input_ids"]) < limit - 1


def program_output_answer(completion: Completion) -> ProgramAnswer:
    """What the last executed block of a tool-integrated completion printed (no code is run here)."""
    executed = [r for r in completion.rounds or [] if r["status"] != NOT_RUN]
    if not executed:
        return ProgramAnswer(None, "no_code", 0)
    last = executed[-1]
    if last["status"] != "ok":
        return ProgramAnswer(None, last["status"], len(executed), last.get("error"))
    out = grading.extract_answer(completion.text, style="program_output")
    return ProgramAnswer(out.answer if out else None, "ok" if out else "no_output", len(executed))


# ---------------------------------------------------------------- program-aided mode


def pot_generate(backend, prompts: Sequence[str], params: Sequence[GenParams], on_done, task,
                 seeds: Sequence[int] | None = None) -> None:
    """Ordinary batched generation; each program runs in the sandbox as soon as its completion arrives
    (in parallel with generation) and is stored as the completion's single round, so rescoring never
    re-executes model code."""
    pending: list[tuple[int, list[Completion], list[Future]]] = []

    def deliver(block: bool) -> None:
        for item in list(pending):
            j, comps, futures = item
            if block or all(f.done() for f in futures):
                for c, f in zip(comps, futures, strict=True):
                    c.rounds = [f.result()]
                pending.remove(item)
                on_done(j, comps)

    with ThreadPoolExecutor(max_workers=EXEC_WORKERS) as pool:

        def arrived(j: int, comps: list[Completion]) -> None:
            futures = [pool.submit(run_program, c.text, task.result_expr) for c in comps]
            pending.append((j, comps, futures))
            deliver(block=False)

        generate_grouped(backend, prompts, params, arrived, seeds)
        deliver(block=True)


def run_program(text: str, result_expr: str | None) -> dict[str, Any]:
    code = program_text(text)
    if code is None:
        return {"code": "", "output": "", "output_truncated": False, "error": "no program",
                "status": "no_code", "value": None, "wall_time": 0.0}
    return run_block(code, (), result_expr)


def program_text(text: str) -> str | None:
    """The program in a PoT completion: the last ```python block, else the whole text (the prompt
    already opened the fence and generation stopped at the closing one)."""
    if "```python" in text:
        return last_python_block(text)
    code = text.split("```", 1)[0].rstrip()
    return code if code.strip() else None


def pot_answer(completion: Completion) -> tuple[Extraction | None, ProgramAnswer]:
    """A PoT completion's answer is the value its program returned, read from the recorded round."""
    if not completion.rounds:
        return None, ProgramAnswer(None, "not_executed", 0, "no recorded execution")
    rec = completion.rounds[-1]
    executed = int(rec["status"] != "no_code")
    if rec["status"] != "ok":
        return None, ProgramAnswer(None, rec["status"], executed, rec.get("error"))
    answer = value_answer(rec.get("value"))
    if answer is None:
        return None, ProgramAnswer(None, "no_value", executed)
    return Extraction(answer, (answer,), "program", (0, 0)), ProgramAnswer(answer, "ok", executed)


def value_answer(value: str | None) -> str | None:
    """A result's repr() as answer text: strings unquoted, None is no answer, numpy/Fraction unwrapped."""
    if value is None:
        return None
    value = value.strip()
    m = _WRAPPED_NUMBER.match(value)
    if m:
        value = m.group(1)
    m = _FRACTION.match(value)
    if m:
        return m.group(1) if m.group(2) == "1" else f"{m.group(1)}/{m.group(2)}"
    try:
        obj = ast.literal_eval(value)  # literals only: never evaluates code
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return value or None
    if obj is None:
        return None
    if isinstance(obj, str):
        return obj.strip() or None
    return value

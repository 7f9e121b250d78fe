"""Per-task record hooks: small functions for dataset quirks, named from a task's `hook:` key.

Each takes one raw record and returns it with derived fields added; core code never branches on
the task name. A dict from name to function is the whole registry.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Record = dict[str, Any]


def gsm8k(rec: Record) -> Record:
    # The gold is the text after the last "####"; thousands separators are dropped (GSM8K writes
    # none in golds today, but its solutions do, and "1,000" must not read as a tuple).
    answer = rec["answer"]
    rec["gold"] = answer.split("####")[-1].strip().replace(",", "")
    rec["solution"] = answer
    return rec


def math_boxed(rec: Record) -> Record:
    # MATH's gold is the last \boxed{} of the reference solution.
    from matheval.grading import extract_answer

    found = extract_answer(rec["solution"], style="boxed")
    rec["gold"] = found.answer if found else ""
    return rec


def first_message(rec: Record) -> Record:
    # DeepSeek's mgsm_zh stores the question as the first chat message.
    rec["question"] = rec["messages"][0]["content"]
    return rec


def strip_dollars(rec: Record) -> Record:
    ans = str(rec["answer"]).strip()
    rec["gold"] = re.sub(r"^\$(.*)\$$", r"\1", ans, flags=re.S).strip()
    return rec


HOOKS: dict[str, Callable[[Record], Record]] = {
    "gsm8k": gsm8k,
    "math_boxed": math_boxed,
    "first_message": first_message,
    "strip_dollars": strip_dollars,
}


def get(name: str | None) -> Callable[[Record], Record] | None:
    if name is None:
        return None
    if name not in HOOKS:
        raise KeyError(f"unknown task hook '{name}'")
    return HOOKS[name]

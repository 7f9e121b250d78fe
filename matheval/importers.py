"""Read other harnesses' saved generations into matheval `Result` records, one function per format.

An importer takes the *full response text* as the completion and the file's gold as the gold; it
never uses the file's own extracted prediction. matheval's extraction and grader then run on them
exactly as on a matheval run (see `matheval.rescore`). Per-sample correctness labels that a file
carries are kept aside so the rescore can report where matheval agrees with them.

Formats (field read as the response → field read as the gold):

- tora:   ToRA / math-evaluation-harness JSONL: `code[0]` (tool-integrated trajectory) → `gt`.
- abel:   GAIR-NLP/abel outputs: `response` → `gold`; label `result`.
- gpt3:   openai/grade-school-math example_model_solutions.jsonl: each of the four systems'
          `solution` → the number after the last "A:" of `ground_truth`; label `is_correct`.
- pot:    Program-of-Thoughts outputs: `generated` program + its `executed` value as an output
          block → `answer`; header lines ({"prompt": …}) are skipped.
- plansolve: Plan-and-Solve generated_result (as JSONL): `chain-of-thought` → `answer`; label `ans`.
- zeroshotcot: Zero-shot-CoT log parsed to JSONL: `output` (reasoning + the answer-trigger
          sentence + its completion) → `GT`.
- minerva: Minerva sample-explorer JSONL, MATH items only: `output` → last \\boxed{} of `target`;
          label: human `type` in {Correct, False Positive} (the final answer is right).
- qwen-maj: Qwen2.5-Math rm_maj example: the 8 `code` responses → `answer`; labels `score`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matheval.errors import UsageError
from matheval.record import Completion, Result


@dataclass
class Import:
    """The records of one system read from a file, and how they are to be graded."""

    label: str  # names the system in the run dir / leaderboard ("abel-70b", "gpt3-6b_finetuning")
    task: str  # the matheval task whose grader options apply
    extractor: str  # extraction style for the responses
    results: list[Result]
    # Per-sample labels from the file, one per completion: (id -> (correct, …)).
    labels: dict[str, tuple[bool, ...]] = field(default_factory=dict)
    # Problems in the benchmark when the file holds fewer (a published denominator may use it).
    benchmark_size: int | None = None


GSM8K_SIZE = 1319


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")


def _gold_text(value: Any) -> str:
    # Golds stored as floats (18.0) read as integers; a number written with thousands separators
    # ("2,125", ToRA's gt) would read as a list.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text.replace(",", "") if _THOUSANDS.fullmatch(text) else text


def _result(task: str, sid: Any, gold: Any, texts: list[str], style: str, greedy: bool = True,
            question: str | None = None, categories: dict[str, Any] | None = None) -> Result:
    comps = [Completion(text=t, n_tokens=0, finish_reason="stop", greedy=greedy) for t in texts]
    cats = {k: str(v).strip() for k, v in (categories or {}).items() if v is not None and str(v).strip()}
    return Result(task=task, id=str(sid), gold=_gold_text(gold), prompt="", prompt_style=style,
                  problem=question or "", key=f"{style}:{task}:{sid}", completions=comps, categories=cats)


def tora(path: Path, task: str) -> list[Import]:
    rows = _jsonl(path)
    results = [_result(task, r["idx"], r["gt"], [r["code"][0]], "import:tora", question=r.get("question"))
               for r in rows]
    return [Import(_label(path), task, "auto", results)]


def abel(path: Path, task: str) -> list[Import]:
    rows = _jsonl(path)
    results = [_result(task, r["id"], r["gold"], [r["response"]], "import:abel") for r in rows]
    labels = {str(r["id"]): (bool(r["result"]),) for r in rows}
    return [Import(f"abel-{path.stem}", task, "gsm8k", results, labels)]


_FINAL_A = re.compile(r"(?:^|\n)A:\s*(.*)\s*$")


def gpt3(path: Path, task: str) -> list[Import]:
    rows = _jsonl(path)
    out = []
    for system in ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification"):
        results, labels = [], {}
        for i, r in enumerate(rows):
            m = _FINAL_A.search(r["ground_truth"])
            if m is None:
                raise UsageError(f"{path}: line {i + 1}: ground_truth has no final 'A:' line")
            results.append(_result(task, i, m.group(1), [r[system]["solution"]], "import:gpt3",
                                   question=r.get("question")))
            labels[str(i)] = (bool(r[system]["is_correct"]),)
        out.append(Import(f"gpt3-{system}", task, "gsm8k", results, labels, GSM8K_SIZE))
    return out


def pot(path: Path, task: str) -> list[Import]:
    rows = [r for r in _jsonl(path) if "question" in r]  # two runs appended, each with a header
    results = []
    for i, r in enumerate(rows):
        program = r["generated"][0] if isinstance(r["generated"], list) else r["generated"]
        # The executed value is the program's output: no value, no output block (no answer).
        text = program if r["executed"] is None else f"{program}\n```output\n{r['executed']}\n```"
        results.append(_result(task, i, r["answer"], [text], "import:pot", question=r.get("question")))
    return [Import(_label(path), task, "program_output", results, benchmark_size=GSM8K_SIZE)]


def plansolve(path: Path, task: str) -> list[Import]:
    rows = _jsonl(path)
    results = [
        _result(task, r["ID"].removeprefix("temp_"), r["answer"], [r["chain-of-thought"]], "import:plansolve",
                question=r.get("question"))
        for r in rows
    ]
    labels = {r["ID"].removeprefix("temp_"): (bool(r["ans"]),) for r in rows}
    return [Import("plansolve-psplus", task, "gsm8k", results, labels, GSM8K_SIZE)]


def zeroshotcot(path: Path, task: str) -> list[Import]:
    rows = _jsonl(path)
    results = [_result(task, r["data_no"], r["GT"], [r["output"]], "import:zeroshotcot",
                       question=r.get("question")) for r in rows]
    return [Import("zeroshotcot", task, "gsm8k", results)]


_MINERVA_OK = {"Correct": True, "False Positive": True, "Incorrect": False}


def minerva(path: Path, task: str) -> list[Import]:
    from matheval.grading import extract_answer

    out: dict[str, Import] = {}
    for i, r in enumerate(_jsonl(path)):
        if r["source"] != "MATH":
            continue
        imp = out.setdefault(r["model"], Import(f"minerva-{r['model']}", task, "minerva", []))
        gold = extract_answer(r["target"], style="boxed")
        # The id is the line number in the file, so a disagreement can be looked up directly.
        imp.results.append(_result(task, i, gold.answer if gold else "", [r["output"]], "import:minerva",
                                       question=r.get("question"),
                                       categories={"type": r.get("category"), "level": r.get("difficulty")}))
        imp.labels[str(i)] = (_MINERVA_OK[r["type"]],)
    return list(out.values())


def qwen_maj(path: Path, task: str) -> list[Import]:
    results, labels = [], {}
    for r in _jsonl(path):
        # All 8 are samples (maj@8, pass@8 over them); top1 is the first, as in Qwen's own count.
        results.append(_result(task, r["idx"], r["answer"], list(r["code"]), "import:qwen-maj", greedy=False,
                               question=r.get("question"), categories={"level": r.get("level")}))
        labels[str(r["idx"])] = tuple(bool(s) for s in r["score"])
    return [Import("qwen25math-math100x8", task, "auto", results, labels)]


def _label(path: Path) -> str:
    # The folder names the system: ToRA keeps outputs under <model>/<benchmark>/file.jsonl, other
    # releases under one folder per run.
    from matheval.tasks import task_names

    parent = path.resolve().parent
    return parent.parent.name if parent.name in task_names() else parent.name


# format -> (importer, default task)
IMPORTERS: dict[str, tuple[Callable[[Path, str], list[Import]], str]] = {
    "tora": (tora, "gsm8k"),
    "abel": (abel, "gsm8k"),
    "gpt3": (gpt3, "gsm8k"),
    "pot": (pot, "gsm8k"),
    "plansolve": (plansolve, "gsm8k"),
    "zeroshotcot": (zeroshotcot, "gsm8k"),
    "minerva": (minerva, "math"),
    "qwen-maj": (qwen_maj, "math"),
}


def sniff(path: Path) -> str:
    """Guess the format from the first record's keys (for `--format auto`)."""
    if path.is_dir() or path.name == "samples.jsonl":
        return "matheval"
    with open(path, encoding="utf-8") as fh:
        first = fh.readline()
    try:
        keys = set(json.loads(first))
    except json.JSONDecodeError:
        raise UsageError(f"{path}: not a JSONL file; pass --format (one of {', '.join(IMPORTERS)})") from None
    rules = [
        ({"6b_finetuning", "ground_truth"}, "gpt3"),
        ({"code", "gt", "idx", "pred_score"}, "qwen-maj"),
        ({"code", "gt", "idx"}, "tora"),
        ({"response", "gold", "result"}, "abel"),
        ({"chain-of-thought", "ID"}, "plansolve"),
        ({"pred_mode", "GT"}, "zeroshotcot"),
        ({"output", "target", "type"}, "minerva"),
        ({"prompt"}, "pot"),
        ({"executed", "generated"}, "pot"),
        ({"task", "completions", "verdicts"}, "matheval"),
    ]
    for needed, fmt in rules:
        if needed <= keys:
            return fmt
    raise UsageError(f"{path}: unknown output format (keys {sorted(keys)[:8]}); pass --format")

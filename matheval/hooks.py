"""Per-task record hooks: small functions for dataset quirks, named from a task's `hook:` key.

Each takes one raw record and returns it with derived fields added (`gold`, and where the prompt
needs more than one raw field, `question`); core code never branches on the task name. A dict from
name to function is the whole registry. Where a hook rebuilds a question the way a reference
harness did, the comment names that harness.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Record = dict[str, Any]

# The sentence DeepSeek-Math puts between a multiple-choice question and its options (it is in
# every SAT / MMLU-STEM exemplar of fewshot/deepseek_math_*_cot_4shot.json).
CHOICE_LEAD = "What of the following is the right choice? Explain your answer."
# AGIEval's Gaokao-MathQA lead-in, as in every DeepSeek-Math mathqa exemplar (4 spaces after ":").
GAOKAO_CHOICE_LEAD = "从以下选项中选择:    "


def _unwrap_math(text: str) -> str:
    """`$x$` -> `x`: golds written as a LaTeX span are compared on their content."""
    text = str(text).strip()
    m = re.fullmatch(r"\$+(.*?)\$+", text, flags=re.S)
    return m.group(1).strip() if m else text


def gsm8k(rec: Record) -> Record:
    # The gold is the text after the last "####"; thousands separators are dropped (GSM8K writes
    # none in golds today, but its solutions do, and "1,000" must not read as a tuple).
    answer = rec["answer"]
    rec["gold"] = answer.split("####")[-1].strip().replace(",", "")
    rec["solution"] = answer
    return rec


def math_boxed(rec: Record) -> Record:
    # MATH's gold is the last \boxed{} of the reference solution (also Qwen's OCW copy, which has
    # no answer field).
    from matheval.grading import extract_answer

    found = extract_answer(rec["solution"], style="boxed")
    rec["gold"] = found.answer if found else ""
    return rec


def first_message(rec: Record) -> Record:
    # DeepSeek's mgsm_zh stores the question as the first chat message.
    rec["question"] = rec["messages"][0]["content"]
    return rec


def strip_dollars(rec: Record) -> Record:
    rec["gold"] = _unwrap_math(rec["answer"])
    return rec


def answer_in_question(rec: Record) -> Record:
    # Gaokao2023en items 167 and 192 have an empty `answer`: the answer was pasted onto the end of
    # the question ("…saddle point.answers: $\\frac{3}{10}$", "…$435(100b)$Answer: A"). It is taken
    # from there, and cut from the question so the model is not shown it.
    rec = strip_dollars(rec)
    if not rec["gold"]:
        m = re.search(r"(?i)answers?\s*:\s*(.+?)\s*$", rec["question"], flags=re.S)
        if m:
            rec["gold"] = _unwrap_math(m.group(1))
            rec["question"] = rec["question"][: m.start()].rstrip()
    return rec


def integer_answer(rec: Record) -> Record:
    # AIME answers are integers 0-999 written with leading zeros ("025").
    rec["gold"] = str(int(str(rec["answer"]).strip()))
    return rec


def gaokao_cloze(rec: Record) -> Record:
    # AGIEval writes the blanks of one problem as "$5$;$10$": every blank must be right, in order.
    blanks = [_unwrap_math(b) for b in str(rec["answer"]).split(";")]
    rec["gold"] = "; ".join(b for b in blanks if b)
    return rec


def gaokao_choice(rec: Record) -> Record:
    # DeepSeek-Math's mathqa exemplars end the question with the lead-in line and the options as
    # AGIEval stores them ("(A)…"), space-separated. Seven items have several correct letters
    # ("A B D"): the gold is the letters without spaces.
    options = " ".join(str(o).strip() for o in rec["options"])
    rec["question_with_options"] = f"{rec['question'].strip()}\n{GAOKAO_CHOICE_LEAD}{options}"
    rec["gold"] = re.sub(r"[^A-Z]", "", rec["label"])
    return rec


def _english_choices(question: str, options: list[str]) -> str:
    listed = ", ".join(f"({letter}) {str(opt).strip()}" for letter, opt in zip("ABCDEFGH", options, strict=False))
    return f"{question.strip()}\n{CHOICE_LEAD}\n{listed}"


def mmlu_stem(rec: Record) -> Record:
    # The shape of the DeepSeek-Math MMLU-STEM exemplars: question, lead line, "(A) x, (B) y, …".
    rec["question_with_options"] = _english_choices(rec["question"], rec["options"])
    rec["gold"] = rec["answer"].strip()
    return rec


def sat(rec: Record) -> Record:
    # The SAT file stores its options as one string "A) … B) … C) … D) …"; it is split on the
    # letters and laid out like the (shared) MMLU-STEM/SAT exemplars.
    parts = re.split(r"(?:^|\s)([A-D])\)\s", " " + rec["options"].strip())
    options = [parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)]
    rec["question_with_options"] = _english_choices(rec["question"], options)
    rec["gold"] = rec["Answer"].strip()
    return rec


def olympiadbench(rec: Record) -> Record:
    # `final_answer` is a one-element list; multi-answer items hold "$69$,$84$" (any order).
    parts = [p for a in rec["final_answer"] for p in re.split(r"\$\s*,\s*\$", str(a))]
    rec["gold"] = ", ".join(_unwrap_math(p.strip().strip("$")) for p in parts)
    rec["solution_text"] = rec["solution"][0] if rec.get("solution") else None
    return rec


def body_question(rec: Record) -> Record:
    # SVAMP and ASDiv split the problem into a body and a question; ToRA and Qwen2.5-Math join
    # them with one space. ASDiv golds carry a unit in brackets: "9 (apples)" -> "9".
    body = rec.get("Body", rec.get("body", ""))
    question = rec.get("Question", rec.get("question", ""))
    rec["full_question"] = f"{str(body).strip()} {str(question).strip()}".strip()
    answer = rec.get("Answer", rec.get("answer"))
    if isinstance(answer, str):
        answer = re.sub(r"\s*\([^()]*\)\s*$", "", answer).strip()
    rec["gold"] = answer
    return rec


def tabmwp(rec: Record) -> Record:
    # The table-in-prompt layout of ToRA / Qwen2.5-Math: a lead line naming the table, the
    # pipe-separated table, the question, and for multiple-choice items the options as a list.
    title = f'regarding "{rec["table_title"]}" ' if rec.get("table_title") else ""
    text = f"Read the following table {title}and answer a question:\n{rec['table']}\n{rec['question']}"
    if rec.get("choices"):
        text += f" Please select from the following options: {rec['choices']}"
    rec["full_question"] = text
    answer = str(rec["answer"]).strip()
    # Numeric golds use thousands separators ("4,656"); a comma would read as a list.
    if rec.get("ans_type") in ("integer_number", "decimal_number"):
        answer = answer.replace(",", "")
    rec["gold"] = answer
    return rec


def imo_answerbench(rec: Record) -> Record:
    # IMO-AnswerBench v2, row imo-bench-algebra-036: the upstream CSV lacks the closing quote of the
    # Problem field, so the short answer is read into the problem text (after "\n,") and the other
    # columns shift left (answer "Algebra", category "Functional Equation", source empty). The row
    # is rebuilt; left as is, the prompt would show the answer and the gold would be "Algebra".
    if rec.get("source") is None and "\n," in rec["problem"]:
        problem, answer = rec["problem"].rsplit("\n,", 1)
        rec["source"], rec["subcategory"], rec["category"] = rec["subcategory"], rec["category"], rec["answer"]
        rec["problem"], rec["answer"] = problem.rstrip(), answer.strip().strip('"').strip()
    return rec


HOOKS: dict[str, Callable[[Record], Record]] = {
    "gsm8k": gsm8k,
    "math_boxed": math_boxed,
    "first_message": first_message,
    "strip_dollars": strip_dollars,
    "answer_in_question": answer_in_question,
    "integer_answer": integer_answer,
    "gaokao_cloze": gaokao_cloze,
    "gaokao_choice": gaokao_choice,
    "mmlu_stem": mmlu_stem,
    "sat": sat,
    "olympiadbench": olympiadbench,
    "body_question": body_question,
    "tabmwp": tabmwp,
    "imo_answerbench": imo_answerbench,
}


def get(name: str | None) -> Callable[[Record], Record] | None:
    if name is None:
        return None
    if name not in HOOKS:
        raise KeyError(f"unknown task hook '{name}'")
    return HOOKS[name]

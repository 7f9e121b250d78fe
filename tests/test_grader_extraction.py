"""Where the answer is in a response (issue 9, items 1, 3 and 8): golden responses, written from the semantics.

Each row is (gold, response, expected verdict of `verify`). Negative rows sit beside the positive
ones: the rule that finds an answer must not find a wrong one.
"""

from __future__ import annotations

import pytest

from matheval.grading import extract_answer, grade, verify

RESPONSES = [
    # 1. no marker: the last math span of the prose, not the last digit inside it
    ("5", r"Therefore $x \geq 5$ is the solution, so the least value is $5$.", True),
    (r"x \geq 5", r"Therefore $x \geq 5$ is the solution.", True),
    (r"x \geq 5", r"We find $x \le 5$ after the sign flip.", False),
    (r"\begin{pmatrix}1 & 0\\0 & 1\end{pmatrix}", r"It is $ \begin{pmatrix}1 & 0\\0 & 1\end{pmatrix} $.", True),
    ("(7, 6)", r"So the ordered pair $(x, y)$ that solves the system is $(7, 6)$.", True),
    ("12", r"There are 12 ways to choose $k$.", True),
    ("3", r"There are 12 ways to choose $k$.", False),
    ("2", r"The golden ratio is \frac{1+\sqrt{5}}{2}", False),
    # 1. a labelled last line
    ("34", "Final Answer: The largest $n$ is 34.", True),
    ("120", "Final Answer: The volume of $ABCDEFGH$ is 120. I hope it is correct.", True),
    ("3", "Final Answer: Jane started growing Sphere 3 hours ago. I hope it is correct.", True),
    ("8", "Final Answer: Jane started growing Sphere 3 hours ago. I hope it is correct.", False),
    ("42", "**Final Answer:** 42", True),
    ("42", "**Final Answer**\n\n$42$", True),
    # 1. Chinese, French, other languages
    ("13", "所以一共有3 + 10 = 13只鸟和鹳鸟。", True),
    ("10", "所以一共有3 + 10 = 13只鸟和鹳鸟。", False),
    ("858", "因此，弗兰克一共有**858颗**糖果。", True),
    ("2.5", "La réponse finale est 2,5 litres.", True),
    ("70", "La réduction est de 100 * 0,30 = 30 $. Le coût final est donc de 100 - 30 = 70", True),
    ("220", "Réponse: Janeth aura encore 220 $ à payer d'ici 12 mois.", True),
    ("7", "Die Antwort ist 7.", True),
    ("92", "ثم نطرح 66 من النتيجة السابقة: 158 - 66 = 92 لذا", True),
    # 1. a choice letter stated in prose
    ("D", "The answer is for sure D, it can't be A or B", True),
    ("B", "It's not A because it doesn't make sense, therefore I think it's B", True),
    ("A", "It's not A because it doesn't make sense, therefore I think it's B", False),
    ("C", "réponse est C non A", True),
    ("B", "B。 不是 A", True),
    ("D", "D. it can't be A or B", True),
    ("C", "Options A, B and D are wrong, so C.", True),
    ("C", r"The correct option is $\boxed{\text{(C)}}$.", True),
    ("(C) Cecile", "C", True),
    ("B", "Let A be the event of rain and B the event of wind; P(A) = 1/2 so we get 0.3", False),
    ("C", "Let A be the event of rain and C the event of wind, so the answer is C", True),
    ("(A) Cecile", "C", False),
    # 1. a gold given as a solution
    (r"So $x = \boxed{5}$ and we are done.", "5", True),
    ("The answer is 7.", "7", True),
    (r"$\boxed{1}$ and $\boxed{2}$", r"\boxed{2, 1}", True),
    # 3. several answers
    ("1, 2, 3", r"$\boxed{1}$, $\boxed{2}$, and $\boxed{3}$", True),
    ("5, 2", r"The maximum is $\boxed{5}$ ... and the minimum is $\boxed{2}$.", True),
    ("(3, 3), (1, 1)", r"$$\boxed{(3, 3)} \text{ for part (a) and } \boxed{(1, 1)}$$", True),
    ("45, 2", r"$$\boxed{k = 45} \quad \text{and} \quad \boxed{n = 2}$$", True),
    ("5", r"First we get $\boxed{3}$. Wait, that is wrong: the answer is $\boxed{5}$.", True),
    ("6", r"the number of matches is \(\boxed{6}\). \]\n\[\boxed{6}\]", True),
    ("5", r"so $x = \boxed{3}$, so the total is $\boxed{5}$", True),
    ("no", "The answer is no.", True),
    ("12", "We need the answer $n$ such that it works. So 12 works.", True),
    # 8. JSON answers, self-talk, currency
    ("28", '```json\n{"reasoning": "the answer is 27 at first, then 28", "answer": "28"}\n```', True),
    ("27", '```json\n{"reasoning": "the answer is 27 at first, then 28", "answer": "28"}\n```', False),
    ("12", '{"final_answer": 12}', True),
    ("5", "So the answer is 5. Let me check: the answer is correct, wait, yes.", True),
    ("18", "The answer is $18. She also pays $2.", True),
    ("18", "She pays $18 in total.", True),
    ("12", r"So $\boxed{AB = 12}$.", True),
    ("9", r"Therefore $|p-q| = 9$.", True),
    ("2025", "So x + y = 2025.", True),
    ("3", r"$\boxed{x = 3, \text{ for } x > 0}$", True),
    ("1011_2", r"The answer is $\boxed{1011_{2}}$.", True),
    # chat-template junk after the answer
    ("(7, 6)", r"the solution is $(7, 6)$. <|im_start|>user", True),
    ("2/3", "Therefore, the probability that Alice wins the game is 2/3. <|im_start|>user\nNext question", True),
    # long chain of thought
    ("189", "<think>maybe 180? The area is 189.</think>\nThus the area is $\\boxed{189}$ square centimeters.", True),
    ("180", "<think>maybe 180? The area is 189.</think>\nThus the area is $\\boxed{189}$ square centimeters.", False),
]


@pytest.mark.parametrize(("gold", "response", "expected"), RESPONSES, ids=[f"{i:02d}" for i in range(len(RESPONSES))])
def test_verify_reads_the_answer_where_people_write_it(gold, response, expected):
    assert verify(gold, response) is expected


def test_json_answer_is_extracted_not_the_fence_line():
    found = extract_answer('```json\n{"reasoning": "x", "answer": "28"}\n```')
    assert (found.answer, found.method) == ("28", "json")


def test_self_talk_anchor_is_skipped():
    found = extract_answer("The answer is 12. Hmm, is the answer correct? wait")
    assert found.answer == "12"


def test_non_adjacent_boxes_answer_together_but_a_revision_does_not():
    together = extract_answer(r"the maximum is \boxed{5} and the minimum is \boxed{2}")
    assert together.answers == ("5", "2")
    revised = extract_answer(r"so \boxed{3}. But wait, I made a mistake, it is \boxed{5}")
    assert revised.answer == "5"


def test_the_gsm8k_style_keeps_its_published_reading():
    # The "gsm8k" style reproduces published GSM8K figures (tests/test_fidelity.py): an
    # "Answer:" followed by a line break is no statement there, and "2600g" is no number.
    assert extract_answer("Answer:\nTotal = 3 bolts. The answer is 2.", "gsm8k").answer == "2"
    assert extract_answer("Joe's bag weighs 2600g. He ate 3", "gsm8k").answer == "3"


@pytest.mark.parametrize(
    ("style", "text"),
    [
        ("auto", "Let me compute 17 * 3 = 51 and then add the 12 we had before, which gives"),
        ("number", "Let me compute 17 * 3 = 51 and then add the 12 we had before, which gives"),
        ("gsm8k", "Let me compute 17 * 3 = 51 and then add the 12 we had before, which gives"),
        ("minerva", "Let me compute 17 * 3 = 51 and then add the 12 we had before, which gives"),
    ],
)
def test_a_cut_off_response_has_no_answer_in_every_style(style, text):
    found = extract_answer(text, style, truncated=True)
    assert found is not None and found.status == "truncated" and found.answer == ""
    assert extract_answer(text, style, truncated=True, fallback_on_truncated=True).status == "ok"
    assert extract_answer(text, style).status == "ok"  # not cut off: the fallback stands


def test_unclosed_thinking_is_no_answer_even_with_a_box_inside():
    _, verdict = grade("6", "<think>so the answer is \\boxed{6}, let me double check", truncated=True)
    assert verdict.status == "no_answer"


def test_a_loop_without_marker_is_no_answer_and_with_marker_keeps_it():
    loop = "We try again. " + "Adding 2 and 3 gives 5, which is not enough, so we add 2 and 3. " * 30
    assert extract_answer(loop).status == "looping"
    marked = r"So the answer is $\boxed{5}$. " + "Note: the solution assumes the inputs are positive. " * 30
    found = extract_answer(marked)
    assert found.status == "ok" and found.answer == "5"


def test_unknown_extract_option_is_an_error():
    with pytest.raises(TypeError):
        extract_answer("x", "auto", fallback=True)


def test_a_response_visibly_cut_mid_formula_has_no_answer():
    # The caller may not know finish_reason (released outputs): a long response that stops inside
    # a formula or on a word that cannot end a sentence was cut off, and its last number is a stray.
    body = " ".join(f"Step {i}: we add {i} apples to the basket of {i + 1} pears." for i in range(1, 40))
    assert extract_answer(body + r" So we get $x = 3").status == "truncated"
    assert extract_answer(body + " and then we multiply by").status == "truncated"
    assert extract_answer(body + " Therefore there are 12 ways.").status == "ok"
    assert extract_answer(body + r" so the answer is $\boxed{12}$ and then we").status == "ok"  # a marker


@pytest.mark.parametrize("response", [
    "The rule is simple: the answer is \\boxed{}.\n\nCounting the rest: 9 + 6 = 15\n\nSo there are 15 cups.",
    "Your final answer is $ $. We add 9 and 6, which gives 15 cups in all.",
])
def test_an_empty_answer_after_an_anchor_is_no_answer_there(response):
    # Regression (caught by the CI gate's max_changed: one completion changed its verdict with its
    # text unchanged): an empty box or math span after "answer is" is not an answer, and the reading
    # goes on as if that anchor were absent; the sentence around the box is not read as the answer.
    found = extract_answer(response)
    assert found is not None and found.answer == "15"
    assert verify("15", response)

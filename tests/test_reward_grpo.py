"""Two real GRPO steps of TRL's GRPOTrainer on the embedded SmolLM2-135M (CPU) with matheval's reward.

Run under the model lock: `flock /tmp/matheval-model.lock .venv/bin/python -m pytest tests/test_reward_grpo.py`.
"""

from __future__ import annotations

import math

import pytest

from matheval.data import load_samples
from matheval.reward.trl import MathevalReward
from matheval.tasks import load_task

pytestmark = pytest.mark.model

SUFFIX = "\nPlease reason step by step, and put your final answer within \\boxed{}."


class Recording(MathevalReward):
    """matheval's reward, keeping what it handed the trainer so the logged mean can be checked."""

    def __init__(self, **settings) -> None:
        super().__init__(**settings)
        self.returned: list[list[float | None]] = []
        self.columns: list[set[str]] = []

    def __call__(self, completions, **kwargs):
        out = super().__call__(completions, **kwargs)
        self.returned.append(out)
        self.columns.append({"completions", *kwargs})
        return out


def test_two_grpo_steps_train_on_matheval_rewards(data_dir, model_path, tmp_path):
    trl = pytest.importorskip("trl")
    from datasets import Dataset

    samples = load_samples(load_task("gsm8k"), data_dir, limit=4)
    rows = [
        {"prompt": [{"role": "user", "content": s.problem + SUFFIX}], "answer": s.fields["answer"], "id": s.id}
        for s in samples
    ]
    # Answers of the 32-token completions are mostly missing or wrong: distinct values make the
    # logged mean a real check of what the trainer received.
    reward = Recording(task="gsm8k", correct=1.0, wrong=-1.0, no_answer=-0.5, name="matheval_accuracy")
    config = trl.GRPOConfig(
        output_dir=str(tmp_path), use_cpu=True, per_device_train_batch_size=8, num_generations=2,
        max_completion_length=32, max_steps=2, logging_steps=1, report_to="none", save_strategy="no",
        learning_rate=1e-6, beta=0.0, seed=0, dataloader_num_workers=0,
    )
    dataset = Dataset.from_list(rows)
    trainer = trl.GRPOTrainer(model=model_path, reward_funcs=[reward], args=config, train_dataset=dataset)
    trainer.train()

    assert reward.calls == 2 and reward.samples == 16  # 2 steps x 4 prompts x 2 generations
    expected = {"prompts", "completions", "completion_ids", "answer", "id", "trainer_state"}
    assert all(expected <= c for c in reward.columns)  # the gold under its own column name
    logged = [h for h in trainer.state.log_history if "rewards/matheval_accuracy/mean" in h]
    assert len(logged) == 2
    for entry, values in zip(logged, reward.returned, strict=True):
        assert all(v in (1.0, -1.0, -0.5) for v in values)
        assert math.isclose(entry["rewards/matheval_accuracy/mean"], sum(values) / len(values), abs_tol=1e-6)

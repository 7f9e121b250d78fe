"""matheval: an evaluation harness for math-reasoning benchmarks whose numbers are right and explainable."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = [
    "__version__", "extract_answer", "equivalent", "verify", "majority_vote", "maj_at_k", "pass_at_k",
]


def __getattr__(name: str):
    # Lazy: `import matheval` stays cheap (the CLI checks flags before heavy imports).
    if name in ("extract_answer", "equivalent", "verify"):
        from matheval import grading

        return getattr(grading, name)
    if name in ("majority_vote", "maj_at_k", "pass_at_k"):
        from matheval import metrics

        return getattr(metrics, name)
    raise AttributeError(f"module 'matheval' has no attribute {name!r}")

"""Is a run comparable with its baseline? Fingerprint keys that define the measurement must match.

A fingerprint is the flat dict a run records per task (config.json `tasks.<task>.fingerprint`);
nested dicts (the sampling parameters) are compared key by key. The gate answers two questions —
"did my checkpoint regress" (the model differs by design) and "did my harness change regress"
(matheval, grader or engine versions differ by design) — so those keys are informational: shown,
never blocking. Every other key is protocol (task version, prompt, decoding, length, dtype…),
including keys this module does not know yet: an unknown difference is refused, not ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# What is measured and by which implementation: differences are expected and reported.
# `limit` too: the problem sets are compared problem by problem (a missing one fails the check).
INFORMATIONAL = frozenset({
    "model", "model_sha", "matheval_version", "grader_version", "backend", "engine_version",
    "batch_invariant", "limit",
})
# Leaf names that are informational wherever they appear (the seed of the sampling parameters:
# another seed is another draw of the same protocol, which the paired test treats as noise).
INFORMATIONAL_LEAVES = frozenset({"seed"})


@dataclass(frozen=True)
class Difference:
    task: str
    key: str  # dotted for nested values: "sampled.temperature"
    baseline: Any
    run: Any
    blocking: bool

    def describe(self) -> str:
        return f"{self.task}: {self.key} {_show(self.baseline)} (baseline) vs {_show(self.run)} (run)"


def _show(value: Any) -> str:
    if value == NOT_RECORDED:
        return value
    text = repr(value)
    return text if len(text) <= 40 else text[:16] + "…"


# A key one fingerprint has and the other does not (kept JSON-serialisable for --format json).
NOT_RECORDED = "(not recorded)"


def is_blocking(key: str) -> bool:
    top, leaf = key.split(".", 1)[0], key.rsplit(".", 1)[-1]
    return top not in INFORMATIONAL and leaf not in INFORMATIONAL_LEAVES


def differences(task: str, baseline: dict[str, Any], run: dict[str, Any], prefix: str = "") -> list[Difference]:
    """Every key whose value differs, nested dicts key by key. A key that only one side records
    is listed but not blocking (a fingerprint gained a field between versions); a block that is
    null on one side and set on the other (`sampled`) is a real change and compared as a value."""
    out = []
    for key in sorted(set(baseline) | set(run)):
        name = f"{prefix}{key}"
        va, vb = baseline.get(key, NOT_RECORDED), run.get(key, NOT_RECORDED)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += differences(task, va, vb, name + ".")
        elif _norm(va) != _norm(vb):
            one_sided = NOT_RECORDED in (va, vb)
            out.append(Difference(task, name, va, vb, is_blocking(name) and not one_sided))
    return out


def _norm(value: Any) -> Any:
    # JSON has no tuples: a stop list read back from config.json is a list either way.
    return tuple(_norm(v) for v in value) if isinstance(value, list | tuple) else value

"""Every size, depth and time bound of the grader, in one place (the sympy worker gets them at start-up).

Untrusted model text reaches the grader, so each stage is bounded before it runs; the numbers are
chosen so that no real final answer comes near them.
"""

from __future__ import annotations

MAX_ANSWER_CHARS = 2000  # an extracted prediction longer than this is not a final answer
MAX_RESPONSE_CHARS = 400_000  # a response is scanned up to this length (its end is kept)
MAX_DEPTH = 30  # bracket nesting of a prediction
MAX_ITEMS = 40  # pieces of a list/tuple/set/union: unordered matching is quadratic
MAX_MATRIX_CELLS = 144
MAX_LITERAL_DIGITS = 1000  # a longer number literal is compared as a decimal string, never as an int
MAX_EXPONENT = 400  # "1e400": larger decimal exponents are compared as decimals, never expanded
MAX_BITS = 13_000  # exact integers; below Python's 4300-digit int<->str limit
MAX_FACTORIAL = 2000
MAX_FUNCTION_ARG = 1e6  # |argument| of sin/exp/... evaluated in-process
MAX_SUM_TERMS = 10_000  # terms of a \sum or \prod evaluated in-process at one sample point
MAX_SHAPE_DEPTH = 8  # recursion of the shape reader

# Sampled identities: smooth expressions are decided at a few points; piecewise ones (floor, ceil,
# abs, mod, max, min) agree on small integers by accident, so they get many points over a wide range.
SMOOTH_POINTS = 5
PIECEWISE_POINTS = 24
EXACT_TOL = 1e-9  # float noise allowed between two exact forms (radicals, pi, trig values)

# The sympy worker process.
DEFAULT_TIMEOUT = 5.0  # seconds for one comparison's symbolic step
STARTUP_TIMEOUT = 60.0  # importing sympy on a loaded 2-core machine; not charged to a comparison
WORKER_MEMORY = 2 << 30
WORKER_MAX_NODES = 4000
WORKER_MAX_POW_BITS = 20_000

WORKER_LIMITS = {
    "memory": WORKER_MEMORY,
    "max_nodes": WORKER_MAX_NODES,
    "max_pow_bits": WORKER_MAX_POW_BITS,
    "max_factorial": MAX_FACTORIAL,
    "piecewise_points": PIECEWISE_POINTS,
}

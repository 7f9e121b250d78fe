"""User-facing errors: each carries one actionable line and becomes exit code 2 in the CLI."""

from __future__ import annotations

import difflib


class UsageError(Exception):
    """Bad input from the user (unknown task, missing data, bad flag). Printed as one line, exit 2."""


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""

"""Subcommands other than `run`: rescore, compare, check, data. Dispatch is a dict."""

from __future__ import annotations

from collections.abc import Callable

from matheval.errors import UsageError, did_you_mean


def dispatch(name: str, argv: list[str], parser_cls) -> int:
    handlers: dict[str, Callable[[list[str], type], int]] = {
        "rescore": _rescore,
        "compare": _compare,
        "check": _check,
        "data": _data,
    }
    if name not in handlers:
        raise UsageError(f"unknown command '{name}'{did_you_mean(name, list(handlers))}")
    return handlers[name](argv, parser_cls)


def _rescore(argv: list[str], parser_cls) -> int:
    from matheval.rescore import main as rescore_main

    return rescore_main(argv, parser_cls)


def _compare(argv: list[str], parser_cls) -> int:
    from matheval.compare import compare_main

    return compare_main(argv, parser_cls)


def _check(argv: list[str], parser_cls) -> int:
    from matheval.compare import check_main

    return check_main(argv, parser_cls)


def _data(argv: list[str], parser_cls) -> int:
    from matheval.datapull import main as data_main

    return data_main(argv, parser_cls)

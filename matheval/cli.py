"""Command line: `matheval --model X --tasks a,b` runs; subcommands rescore, compare, check, data.

Every input problem becomes one line `error: …` and exit code 2, before any model loads.
"""

from __future__ import annotations

import argparse
import logging
import sys

from matheval.errors import UsageError, did_you_mean

SUBCOMMANDS = ("run", "rescore", "compare", "check", "data")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, with a suggestion for mistyped flags
        hint = ""
        if message.startswith("unrecognized arguments:"):
            bad = message.split(":", 1)[1].split()[0]
            flags = [o for a in self._actions for o in a.option_strings]
            hint = did_you_mean(bad.split("=")[0], flags)
        raise UsageError(f"{message}{hint}")


def _run_parser() -> _Parser:
    p = _Parser(prog="matheval", description="Evaluate a model on math-reasoning benchmarks.", allow_abbrev=False)
    p.add_argument("--model", help="Hugging Face id, local folder, or 'smollm2-135m-instruct' (embedded)")
    p.add_argument("--tasks", help="comma-separated task names (see --list-tasks)")
    p.add_argument("--limit", type=int, help="first N problems of each task")
    p.add_argument("--backend", default="vllm", help="vllm (default), openai (an OpenAI-compatible server) or replay")
    p.add_argument("--base-url", help="openai backend: server URL, e.g. http://127.0.0.1:8000/v1 (env OPENAI_BASE_URL)")
    p.add_argument("--prompt-style", help="override the style (default: chat if the tokenizer has a chat template)")
    p.add_argument("--profile", help="a published protocol, e.g. deepseekmath-instruct (see --list-profiles)")
    p.add_argument("--max-tokens", type=int)
    p.add_argument("--temperature", type=float, help="sampling temperature (default 0.7 when --n > 1)")
    p.add_argument("--top-p", type=float)
    p.add_argument("--n", type=int, default=1, help="samples per problem for maj@k/pass@k (greedy top1 runs alongside)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", help="data dir laid out like shared/data (default: $MATHEVAL_DATA_DIR)")
    p.add_argument("--output-dir", default="results")
    p.add_argument("--run-id")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run; done samples are kept")
    p.add_argument("--dtype", default="auto", help="auto: bf16 on GPUs and on CPUs with native bf16, else fp32")
    p.add_argument("--max-model-len", type=int, default=4096)
    p.add_argument("--tool-rounds", type=int, help="tool-integrated mode: max code rounds (default 2)")
    p.add_argument("--percent-compat", action="store_true", help="ToRA/Qwen ×100 percent leniency (off by default)")
    p.add_argument("--list-tasks", action="store_true")
    p.add_argument("--list-profiles", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in SUBCOMMANDS and argv[0] != "run":
            from matheval import commands

            return commands.dispatch(argv[0], argv[1:], _Parser)
        if argv and argv[0] == "run":
            argv = argv[1:]
        return _run(argv)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished samples are saved; continue with --resume RUN_DIR", file=sys.stderr)
        return 130


def _run(argv: list[str]) -> int:
    args = _run_parser().parse_args(argv)
    if args.list_tasks:
        from matheval.catalog import print_tasks

        print_tasks(args.data_dir)
        return 0
    if args.list_profiles:
        from matheval.catalog import print_profiles

        print_profiles()
        return 0
    cfg = config_from_args(args)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    from matheval.run import evaluate

    evaluate(cfg)
    return 0


def config_from_args(args: argparse.Namespace):
    import json
    from pathlib import Path

    from matheval.config import RunConfig
    from matheval.paths import default_data_dir

    if args.resume:
        saved = Path(args.resume) / "config.json"
        if not saved.is_file():
            raise UsageError(f"--resume {args.resume}: no config.json there (not a matheval run dir)")
        raw = json.loads(saved.read_text(encoding="utf-8"))["config"]
        raw["resume"] = args.resume
        return RunConfig.from_dict(raw)
    if not args.model:
        raise UsageError("--model is required (e.g. --model smollm2-135m-instruct)")
    profile_tasks: tuple[str, ...] = ()
    if args.profile:
        from matheval.config import load_profile

        profile_tasks = load_profile(args.profile).tasks  # unknown profile names fail here
    if not args.tasks and not profile_tasks:
        raise UsageError("--tasks is required (e.g. --tasks gsm8k,math500; see --list-tasks)")
    if args.n < 1:
        raise UsageError("--n must be ≥ 1")
    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be ≥ 1")
    from matheval.backends import BACKENDS

    if args.backend not in BACKENDS:
        raise UsageError(f"unknown backend '{args.backend}'{did_you_mean(args.backend, BACKENDS)}")
    # A profile's task list is the default suite; --tasks narrows or replaces it.
    tasks = tuple(t.strip() for t in args.tasks.split(",") if t.strip()) if args.tasks else profile_tasks
    from matheval.tasks import load_task

    for t in tasks:  # unknown task names fail here, before any model loads
        load_task(t)
    return RunConfig(
        model=args.model, tasks=tasks, limit=args.limit, backend=args.backend,
        prompt_style=args.prompt_style, profile=args.profile, max_tokens=args.max_tokens,
        temperature=args.temperature, top_p=args.top_p, n=args.n, seed=args.seed,
        data_dir=args.data_dir or str(default_data_dir()), output_dir=args.output_dir,
        run_id=args.run_id, dtype=args.dtype, max_model_len=args.max_model_len,
        tool_rounds=args.tool_rounds, base_url=args.base_url,
        grader={"percent_compat": True} if args.percent_compat else {},
    )

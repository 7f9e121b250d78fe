"""Command line: `matheval --model X --tasks a,b` runs; subcommands rescore, compare, check, report, data.

Every input problem becomes one line `error: …` and exit code 2, before any model loads. Flags are
None unless given, so the one resolution step (`matheval.resolve`) can tell a value from a default.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from matheval.errors import UsageError, did_you_mean

SUBCOMMANDS = ("run", "rescore", "compare", "check", "report", "data")
_EPILOG = """subcommands:
  matheval [run] ...             evaluate a model (the flags above)
  matheval rescore PATH          re-grade saved generations (a run dir or another harness's file), no model
  matheval compare RUN_A RUN_B   paired differences per task and metric, with CIs and p-values
  matheval check --baseline B RUN   regression check: exit 1 on a significant drop, 2 if not comparable
  matheval report RUN... -o F    one offline HTML page: leaderboard, breakdowns, samples, two runs side by side
  matheval data pull TASKS       fetch pinned data files and check their sha256
Precedence of settings: built-in defaults < task YAML < --profile < flags; `matheval X --help` for each."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, with a suggestion for mistyped flags
        hint = ""
        if message.startswith("unrecognized arguments:"):
            bad = message.split(":", 1)[1].split()[0]
            flags = [o for a in self._actions for o in a.option_strings]
            hint = did_you_mean(bad.split("=")[0], flags)
        raise UsageError(f"{message}{hint}")


def _run_parser() -> _Parser:
    p = _Parser(prog="matheval", description="Evaluate a model on math-reasoning benchmarks.", allow_abbrev=False,
                epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    a = p.add_argument
    a("--model", help="Hugging Face id, local folder, or 'smollm2-135m-instruct' (the embedded default)")
    a("--tasks", help="comma-separated task names (see --list-tasks); default: the profile's suite")
    a("--profile", help="a published protocol, e.g. deepseekmath-instruct (see --list-profiles)")
    a("--limit", type=int, help="first N problems of each task (default: all)")
    a("--prompt-style", help="prompt style (default: chat if the tokenizer has a chat template, else the task's)")
    g = p.add_argument_group("generation (defaults: task YAML, then profile)")
    g.add_argument("--max-tokens", type=int, help="max new tokens (default 1024)")
    g.add_argument("--n", type=int, help="sampled completions per problem for maj@k/pass@k; the greedy top1 "
                                         "completion is drawn beside them (default 1: greedy only)")
    g.add_argument("--temperature", type=float, help="sampling temperature (default 0.7 when --n > 1)")
    g.add_argument("--top-p", type=float, help="nucleus sampling (default 1.0)")
    g.add_argument("--seed", type=int, help="run seed; each problem's samples get their own seed from it (default 0)")
    g.add_argument("--tool-rounds", type=int, help="tool-integrated mode: max code rounds (default 2)")
    g.add_argument("--percent-compat", action="store_true", help="ToRA/Qwen x100 percent leniency (default off)")
    e = p.add_argument_group("backend and engine")
    e.add_argument("--backend", help="vllm (default), openai (OpenAI-compatible servers) or replay")
    e.add_argument("--dtype", help="auto (default: float32 on CPU, batch-invariant; the model's dtype on GPU), "
                                   "float32, bfloat16, float16")
    e.add_argument("--max-model-len", type=int, help="context length of the engine (default 4096)")
    e.add_argument("--tensor-parallel-size", type=int, help="GPUs per engine replica (vLLM tensor parallel)")
    e.add_argument("--gpu-memory-utilization", type=float, help="vLLM's share of GPU memory (vLLM default 0.9)")
    e.add_argument("--engine-args", help="more vLLM engine arguments: key=value,... or a JSON object")
    e.add_argument("--data-parallel", type=int, help="engine replicas as Ray actors (default 1: no Ray)")
    e.add_argument("--ray-address", help="Ray cluster to join (default: start a local one)")
    e.add_argument("--base-url", action="append", help="openai backend: server URL(s), e.g. "
                                                       "http://127.0.0.1:8000/v1; repeat or comma-separate")
    e.add_argument("--served-model-name", help="openai backend: the model name the server expects (default: --model)")
    e.add_argument("--tokenizer", help="openai backend: local tokenizer for chat templates (default: --model)")
    e.add_argument("--grading-workers", type=int, help="threads grading beside generation (default 2; 0: inline)")
    o = p.add_argument_group("input and output")
    o.add_argument("--data-dir", help="data dir laid out like shared/data (default: $MATHEVAL_DATA_DIR)")
    o.add_argument("--output-dir", help="where run dirs and leaderboard.csv go (default: results)")
    o.add_argument("--run-id", help="run dir name (default: date-time-model)")
    o.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run as it was configured")
    o.add_argument("--tracker", help="also log the summary and per-task metrics to wandb or mlflow (if installed)")
    o.add_argument("--list-tasks", action="store_true", help="list tasks with their sizes and sources")
    o.add_argument("--list-profiles", action="store_true", help="list protocol profiles")
    o.add_argument("-q", "--quiet", action="store_true", help="warnings and the result path only")
    o.add_argument("-v", "--verbose", action="store_true", help="also the engine's own logs (on stderr)")
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
    from matheval.backends.vllm import configure_logging

    configure_logging(args.verbose)  # before anything imports vllm
    _log_to_stderr(logging.WARNING if args.quiet else logging.INFO, args.verbose)
    request = request_from_args(args)
    from matheval import run

    if args.resume:
        run.resume(args.resume, request)
    else:
        run.run(request)
    return 0


def _log_to_stderr(level: int, verbose: bool) -> None:
    """matheval's own messages on stderr (stdout is the results table); other libraries only with -v."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    ours = logging.getLogger("matheval")
    ours.handlers[:] = [handler]
    ours.setLevel(level)
    ours.propagate = False
    if not verbose:
        for name in ("vllm", "transformers", "datasets", "torch"):
            logging.getLogger(name).setLevel(logging.ERROR)


def request_from_args(args: argparse.Namespace):
    """The flags as given (None: not given); defaults are the resolution step's business."""
    from matheval.config import RunRequest
    from matheval.paths import default_data_dir

    engine_args = {}
    if args.engine_args:
        from matheval.backends.vllm import parse_engine_args

        engine_args = parse_engine_args(args.engine_args)
    for flag, key in (("tensor_parallel_size", "tensor_parallel_size"),
                      ("gpu_memory_utilization", "gpu_memory_utilization")):
        value = getattr(args, flag)
        if value is not None:
            if key in engine_args:
                raise UsageError(f"--{flag.replace('_', '-')} and --engine-args {key} both given; give it once")
            engine_args[key] = value
    tasks = tuple(t.strip() for t in args.tasks.split(",") if t.strip()) if args.tasks else ()
    urls = tuple(u.strip() for group in (args.base_url or []) for u in group.split(",") if u.strip())
    if args.resume and (args.model or args.run_id):
        raise UsageError("--resume RUN_DIR continues that run: --model and --run-id come from it")
    if not args.resume and not args.model:
        raise UsageError("--model is required (e.g. --model smollm2-135m-instruct)")
    if not args.resume and not tasks and not args.profile:
        raise UsageError("--tasks is required (e.g. --tasks gsm8k,math500; see --list-tasks)")
    return RunRequest(
        model=args.model, tasks=tasks, profile=args.profile, limit=args.limit, prompt_style=args.prompt_style,
        max_tokens=args.max_tokens, temperature=args.temperature, top_p=args.top_p, n=args.n, seed=args.seed,
        tool_rounds=args.tool_rounds, grader={"percent_compat": True} if args.percent_compat else {},
        backend=args.backend, dtype=args.dtype, max_model_len=args.max_model_len, engine_args=engine_args,
        data_parallel=args.data_parallel, ray_address=args.ray_address, base_urls=urls,
        served_model_name=args.served_model_name, tokenizer=args.tokenizer,
        data_dir=args.data_dir or (os.environ.get("MATHEVAL_DATA_DIR") if args.resume else str(default_data_dir())),
        output_dir=args.output_dir, run_id=args.run_id, grading_workers=args.grading_workers, tracker=args.tracker,
    )

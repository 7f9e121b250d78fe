"""The workflow users copy (examples/ci/matheval-regression.yml) and scripts/ci_regression.sh:
valid YAML, the steps a gate needs, and every `matheval …` they run accepted by the real parsers."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from matheval.ci_policy import load_policy
from matheval.cli import _Parser, _run_parser, main, request_from_args
from matheval.commands import check_parser
from matheval.config import load_profile
from matheval.scores import load
from matheval.tasks import load_task

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = REPO / "examples" / "ci" / "matheval-regression.yml"
SCRIPT = REPO / "scripts" / "ci_regression.sh"
_SHELL_STOP = {">", ">>", "|", "||", "&&", ";", "2>&1", "<"}


def _invocations(script: str) -> list[list[str]]:
    """Each `matheval …` command line of a shell script, as argv after the program name."""
    joined = re.sub(r"\\\n\s*", " ", script)
    out = []
    for line in joined.splitlines():
        line = line.split(" #", 1)[0]
        try:
            words = shlex.split(line)
        except ValueError:
            continue
        for i, w in enumerate(words):
            if w.endswith("/matheval") or w in ("matheval", "$MATHEVAL"):
                argv = []
                for a in words[i + 1:]:
                    if a in _SHELL_STOP or a.startswith(">"):
                        break
                    argv.append(a)
                out.append(argv)
                break
    return out


def _expand(argv: list[str], tmp_path: Path) -> list[str]:
    subst = {"$MATHEVAL_DATA_DIR": str(tmp_path / "data"), '"$MATHEVAL_DATA_DIR"': str(tmp_path / "data"),
             "$OUT/ci": str(tmp_path / "run"), "$OUT": str(tmp_path), "$BASELINE": _script_var("BASELINE"),
             "$POLICY": _script_var("POLICY")}
    return [subst.get(a, a) for a in argv]


def _script_var(name: str) -> str:
    m = re.search(rf"^{name}=(\S+)$", SCRIPT.read_text(), re.M)
    assert m, f"{SCRIPT} sets no {name}"
    return m.group(1)


def _validate(argv: list[str], tmp_path: Path) -> str:
    """Parse with the parser the command would use; return its kind."""
    if argv[:2] == ["data", "pull"]:
        assert main([*argv, "--dry-run"]) == 0  # the real parser and task names, no download
        return "data"
    if argv[:1] == ["check"]:
        args = check_parser(_Parser).parse_args(argv[1:])
        assert (REPO / args.baseline).is_file(), args.baseline
        load(REPO / args.baseline)
        if args.policy:
            load_policy(REPO / args.policy)
        return "update" if args.update else "check"
    request = request_from_args(_run_parser().parse_args(argv))
    assert request.profile, "the suite is run through its profile"
    for task in request.tasks or load_profile(request.profile).tasks:  # the profile resolves, tasks exist
        load_task(task)
    return "run"


def test_workflow_is_valid_yaml_with_the_gate_steps():
    doc = yaml.safe_load(WORKFLOW.read_text())
    assert doc["name"] and "jobs" in doc and True in doc  # `on:` parses as the YAML 1.1 boolean
    steps = doc["jobs"]["regression"]["steps"]
    uses = [s.get("uses", "").split("@")[0] for s in steps]
    assert {"actions/checkout", "actions/setup-python", "actions/cache", "actions/upload-artifact"} <= set(uses)
    cached = " ".join(str(s["with"]["path"]) for s in steps if s.get("uses", "").startswith("actions/cache"))
    assert ".venv" in cached and ".cache/matheval/models" in cached
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"] == "always()" and "samples.jsonl" in upload["with"]["path"]
    check_step = next(s for s in steps if "matheval check" in s.get("run", ""))
    assert '>> "$GITHUB_STEP_SUMMARY"' in check_step["run"] and "exit $rc" in check_step["run"]
    assert "--format markdown" in check_step["run"]


def test_every_matheval_command_of_the_workflow_exists(tmp_path, data_dir):
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["regression"]["steps"]
    kinds = []
    for step in steps:
        for argv in _invocations(step.get("run", "")):
            kinds.append(_validate(_expand(argv, tmp_path), tmp_path))
    assert kinds == ["data", "run", "check"]


def test_every_matheval_command_of_the_ci_script_exists(tmp_path, data_dir):
    kinds = [_validate(_expand(argv, tmp_path), tmp_path) for argv in _invocations(SCRIPT.read_text())]
    assert kinds == ["run", "update", "check"]
    assert "set -euo pipefail" in SCRIPT.read_text() and 'exit "$rc"' in SCRIPT.read_text()


@pytest.mark.parametrize("bad", [["check", "--baseline", "b.jsonl", "--formt", "markdown"],
                                 ["--model", "x", "--profle", "ci-smollm2"]])
def test_a_mistyped_flag_would_be_caught(bad, tmp_path):
    with pytest.raises(Exception, match="unrecognized arguments"):
        _validate(bad, tmp_path)

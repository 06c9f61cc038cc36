"""Render a dataset's items on Ray actors (``studio render SPEC -o DIR --ray [local|ADDRESS]``).

- One actor renders one group of items, a (medium, mode, engine, options) combination, so it loads that
  group's models once and keeps them (``studio.engines`` caches per process). At most ``workers`` actors live
  at a time; when the spec moves on to another group, an idle actor of an old group is retired to make room.
- Each actor asks for what its group needs (CPUs; a GPU for neural engines when the cluster has GPUs; memory).
- Backpressure: at most ``PER_ACTOR`` items are in flight per actor, pulled from the spec's lazy iterator only
  when there is room, so the driver's memory stays flat however long the spec is.
- Media come back as bytes through the object store; the driver (the single writer) checks each file's
  sha256 against the row the actor computed, writes it atomically, then appends the journal row. A lost
  actor or node only loses items that were never journalled: they are rendered again on another actor
  (``retried``), and nothing is written twice. docs/ray.md has the choice and its limits.

``ray`` is an optional extra: it is imported only here, and only when ``--ray`` is asked for.
"""
from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from studio.datasets.items import Item, render_item
from studio.errors import StudioError

log = logging.getLogger(__name__)

PER_ACTOR = 2      # items in flight per actor: one rendering, one queued so the actor never waits on the driver
MAX_ATTEMPTS = 4   # an item whose actor dies this many times is reported, not retried forever
NAMESPACE = "affect-studio"
MiB = 1024 * 1024
# memory each actor reserves, per (medium, engine): the models it loads plus one item's arrays
MEMORY = {("speech", "embedded"): 768 * MiB, ("face", "embedded"): 1024 * MiB, ("image", "embedded"): 384 * MiB,
          ("image", "diffusion"): 6144 * MiB, ("image", "auto"): 6144 * MiB}
NEURAL = {("image", "diffusion"), ("image", "auto")}  # engines that want a GPU when the cluster has one


def require_ray():
    try:
        import ray
    except ImportError:
        raise StudioError("--ray needs Ray: pip install 'affect-studio[ray]' (ray 2.60), or render without --ray") from None
    return ray


def render_bytes(item: Item) -> tuple[dict, bytes]:
    """Render one item into a private temporary folder; its manifest row and the file's bytes. Goes through
    ``render_item`` so the row (plan, media facts, sha256) is exactly what a local render writes."""
    with tempfile.TemporaryDirectory(prefix="studio-ray-") as d:
        row = render_item(item, Path(d))
        return row, (Path(d) / item.rel_path).read_bytes()


class RenderActor:
    """The actor's class (wrapped by ``ray.remote`` at run time, so importing this module needs no Ray)."""

    def __init__(self, threads: int):
        # Ray sets OMP_NUM_THREADS to the actor's CPUs; torch reads its own setting
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[var] = str(threads)
        with contextlib.suppress(ImportError):
            import torch

            torch.set_num_threads(threads)

    def render(self, item: Item) -> tuple[dict, bytes]:
        return render_bytes(item)

    def pid(self) -> int:
        return os.getpid()


def group_of(item: Item) -> tuple:
    return (item.medium, item.mode, item.opts.get("engine", "embedded"), item.options)


@dataclass
class _Slot:
    handle: Any
    group: tuple
    name: str
    inflight: int = 0
    ready: bool = False   # its constructor ran: an actor Ray cannot place yet (no free CPU) gets no items


@dataclass
class _Work:
    item: Item
    attempts: int = 0
    lost_on: list[str] = field(default_factory=list)


class RayBackend:
    """Connects to (or starts) Ray for one render and runs items on a pool of actors."""

    def __init__(self, address: str, workers: int | None):
        self.address = address.strip()
        self.workers_asked = workers
        self.retried = 0
        self._ray = require_ray()
        self._started = False
        self._run_id = uuid.uuid4().hex[:8]
        self._slots: dict[str, _Slot] = {}
        self._n_made = 0
        self._actor_cls: Any = None
        self._starting: dict[Any, _Slot] = {}  # readiness ref -> actor being placed and constructed
        self._start_failures = 0

    # ---- connection -------------------------------------------------------------------------------------
    def __enter__(self) -> "RayBackend":
        ray = self._ray
        if not ray.is_initialized():
            kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "namespace": NAMESPACE,
                                  "logging_level": logging.WARNING}
            try:
                if self.address == "local":
                    ray.init(num_cpus=os.cpu_count() or 1, **kw)
                else:
                    ray.init(address=self.address, **kw)
            except (ConnectionError, ValueError, RuntimeError) as e:
                where = "start Ray on this machine" if self.address == "local" else f"join the Ray cluster at {self.address}"
                raise StudioError(f"could not {where}: {str(e).splitlines()[0] if str(e) else type(e).__name__}; "
                                  "check the address (`ray status` on the head node) or use --ray local") from None
            self._started = True
        res = ray.cluster_resources()
        self.cpus = float(res.get("CPU", 0))
        self.gpus = float(res.get("GPU", 0))
        self.nodes = sum(1 for n in ray.nodes() if n.get("Alive"))
        self.workers = self.workers_asked or max(1, int(self.cpus))
        return self

    def __exit__(self, *exc) -> None:
        for s in list(self._slots.values()):
            self._retire(s)
        if self._started:
            self._ray.shutdown()

    def describe(self) -> str:
        return (f"ray: {self.nodes} node{'s' * (self.nodes != 1)}, {self.cpus:g} CPUs, {self.gpus:g} GPUs, "
                f"{self.workers} actor{'s' * (self.workers != 1)}")

    # ---- actors -----------------------------------------------------------------------------------------
    def _needs(self, group: tuple) -> dict[str, Any]:
        medium, _, engine, _ = group
        gpu = 1 if (medium, engine) in NEURAL and self.gpus >= 1 else 0
        return {"num_cpus": 1, "num_gpus": gpu, "memory": MEMORY.get((medium, engine), 2048 * MiB)}

    def _feasible(self, needs: dict[str, Any]) -> None:
        """Refuse a request no node can ever hold (Ray would leave the actor pending, and the render hung)."""
        for n in self._ray.nodes():
            r = n.get("Resources", {})
            if n.get("Alive") and r.get("CPU", 0) >= needs["num_cpus"] and r.get("GPU", 0) >= needs["num_gpus"] \
                    and r.get("memory", 0) >= needs["memory"]:
                return
        raise StudioError(f"no node of the Ray cluster has {needs['num_cpus']} CPU, {needs['num_gpus']} GPU and "
                          f"{needs['memory'] // MiB} MiB of memory free for an actor; add a bigger node or render without --ray")

    def _make(self, group: tuple) -> _Slot:
        needs = self._needs(group)
        self._feasible(needs)
        self._n_made += 1
        name = f"render-{self._run_id}-{self._n_made}"
        if self._actor_cls is None:
            self._actor_cls = self._ray.remote(RenderActor)
        handle = self._actor_cls.options(name=name, namespace=NAMESPACE, max_restarts=0, max_task_retries=0,
                             **needs).remote(needs["num_cpus"])
        slot = _Slot(handle, group, name)
        self._slots[name] = slot
        self._starting[handle.pid.remote()] = slot
        log.info("actor %s for %s (%s)", name, group[:3], needs)
        return slot

    def _retire(self, slot: _Slot) -> None:
        self._slots.pop(slot.name, None)
        for ref in [r for r, s in self._starting.items() if s is slot]:
            del self._starting[ref]
        with contextlib.suppress(Exception):
            self._ray.kill(slot.handle, no_restart=True)

    def _slot_for(self, group: tuple) -> _Slot | None:
        """The least-loaded ready actor of this group with room, or None (wait for a result or a start).
        Starts another actor of the group while the pool has room, retiring an idle actor of another group
        when it has none; a new actor gets items only once it is placed and built, so an actor Ray cannot
        place (a node was lost, the cluster is full) never holds items hostage."""
        mine = [s for s in self._slots.values() if s.group == group]
        best = min((s for s in mine if s.ready and s.inflight < PER_ACTOR), key=lambda s: s.inflight, default=None)
        if best is not None and best.inflight == 0:
            return best
        if not any(not s.ready for s in mine):
            if len(self._slots) < self.workers:
                self._make(group)
            elif best is None and not any(s.ready and s.inflight for s in mine):
                idle = next((s for s in self._slots.values() if s.group != group and s.inflight == 0), None)
                if idle is not None:
                    self._retire(idle)
                    self._make(group)
        return best

    def _started_or_lost(self, ref: Any, lost: tuple) -> None:
        slot = self._starting.pop(ref)
        try:
            self._ray.get(ref)
        except lost as e:
            self._retire(slot)
            self._start_failures += 1
            if self._start_failures >= MAX_ATTEMPTS:
                raise StudioError(f"{self._start_failures} Ray actors died while starting ({type(e).__name__}: "
                                  f"{str(e).splitlines()[0] if str(e) else ''}); check that every node has Affect Studio "
                                  "installed (`pip install 'affect-studio[ray]'`) and `ray status`") from None
            return
        except self._ray.exceptions.RayTaskError as e:  # the constructor raised
            raise StudioError(f"a Ray actor could not start: {str(e).splitlines()[-1]}") from None
        slot.ready = True
        self._start_failures = 0


    # ---- the run ----------------------------------------------------------------------------------------
    def run(self, todo: Iterator[Item], out: Path, guard) -> Iterator[tuple[Item, dict]]:
        from studio.media import atomic_path

        ray = self._ray
        lost = (ray.exceptions.RayActorError, ray.exceptions.ObjectLostError, ray.exceptions.OwnerDiedError,
                ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError, ray.exceptions.LocalRayletDiedError)
        pending: dict[Any, tuple[_Work, _Slot]] = {}
        retry: deque[_Work] = deque()
        held: _Work | None = None  # the next item, waiting for a free slot
        source_done = False
        while True:
            while True:  # fill every free slot, retries first
                if held is None:
                    if retry:
                        held = retry.popleft()
                    elif not source_done:
                        it = next(todo, None)
                        if it is None:
                            source_done = True
                        else:
                            held = _Work(it)
                if held is None:
                    break
                slot = self._slot_for(group_of(held.item))
                if slot is None:
                    break
                slot.inflight += 1
                pending[slot.handle.render.remote(held.item)] = (held, slot)
                held = None
            if not pending and held is None:
                return
            if not pending and not self._starting:  # cannot happen: an item waits only while an actor starts
                raise StudioError("the Ray pool has no actor to render on; rerun with --resume")
            ready, _ = ray.wait(list(pending) + list(self._starting), num_returns=1)
            ref = ready[0]
            if ref in self._starting:
                self._started_or_lost(ref, lost)
                continue
            work, slot = pending.pop(ref)
            slot.inflight -= 1
            try:
                row, data = ray.get(ref)
            except lost as e:
                self._lost(work, slot, e, retry)
                continue
            except ray.exceptions.RayTaskError as e:  # the pipeline raised: report it as a local render would
                cause = e.cause if isinstance(getattr(e, "cause", None), BaseException) else RuntimeError(str(e).splitlines()[0])
                guard(work.item, lambda: _raise(cause))
                raise
            _check(work.item, row, data)
            dest = Path(out) / row["file"]
            dest.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(dest) as tmp:
                tmp.write_bytes(data)
            del data
            yield work.item, row

    def _lost(self, work: _Work, slot: _Slot, err: Exception, retry: deque) -> None:
        """The actor (or its node, or the result's copy) is gone: drop the actor, render the item elsewhere."""
        if slot.name in self._slots:
            log.warning("actor %s lost (%s); its items are rendered again on another actor", slot.name, type(err).__name__)
            self._retire(slot)
        work.attempts += 1
        work.lost_on.append(slot.name)
        if work.attempts >= MAX_ATTEMPTS:
            raise StudioError(f"item {work.item.id} was lost with {work.attempts} actors in a row ({type(err).__name__}); "
                              "finished items are kept: check the cluster (`ray status`) and rerun with --resume")
        self.retried += 1
        retry.append(work)


def _raise(e: BaseException):
    raise e


def _check(item: Item, row: dict, data: bytes) -> None:
    """The bytes that arrived are the bytes the actor hashed (a damaged transfer must not enter the journal)."""
    import hashlib

    if row.get("id") != item.id or hashlib.sha256(data).hexdigest() != row.get("sha256") or len(data) != row.get("bytes"):
        raise StudioError(f"item {item.id}: the file that came back from its actor does not match the sha256 it reported; "
                          "rerun with --resume (the item is rendered again)")

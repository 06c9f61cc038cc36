"""``render``: expand a spec, render every item (in this process or in worker processes), keep the journal,
and write the Parquet manifest, the folders' metadata and the dataset card at the end.

Workers are separate processes started with ``spawn`` (no inherited model state or locks); each keeps its
engines loaded between items (``studio.engines.get`` caches per process). With ``ray=`` the workers are Ray
actors instead (studio/datasets/ray_backend.py). Either way only the coordinating process writes the journal,
so rows never interleave, and the spec is walked lazily: the coordinator holds the items in flight and an
id -> index map of the finished ones, never a list of the whole spec.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import sys
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from itertools import chain
from typing import Any, Iterator

from studio.datasets import manifest as mf
from studio.datasets.items import Item, render_item
from studio.datasets.provenance import provenance
from studio.datasets.spec import Spec, load_spec
from studio.errors import StudioError


@dataclass
class RenderSummary:
    out_dir: Path
    total: int           # items selected (after --limit)
    rendered: int        # rendered by this call
    skipped: int         # already finished (resume)
    counts: dict[str, int] = field(default_factory=dict)
    retried: int = 0     # items rendered again after their worker was lost (Ray: actor or node died)
    cluster: str = ""    # where it ran ("this process", "2 worker processes", "ray: 2 nodes, 4 CPUs ...")
    report: Path | None = None
    eval_summary: Any = None  # the evaluation's summary table when render(eval=True)

    @property
    def manifest(self) -> Path:
        return self.out_dir / mf.PARQUET

    @property
    def card(self) -> Path:
        return self.out_dir / "README.md"

    def load(self):
        return mf.load_manifest(self.out_dir)


def _prepare_out(out_dir: Any) -> Path:
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise StudioError(f"output {out} is a file; give a folder for the dataset (it is created if missing)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StudioError(f"cannot create output folder {out}: {e.strerror or e}; choose a writable location") from None
    if not os.access(out, os.W_OK):
        raise StudioError(f"output folder {out} is not writable; choose another folder with -o")
    return out


def _finished(out: Path, sp: Spec, resume: bool) -> dict[str, int]:
    """id -> spec index of this spec's items already complete on disk (file present with the journalled sha256).
    Complete rows of items the spec no longer lists stay in the journal (nothing rendered is forgotten)
    but are left out of this run's manifest. Each row's index is found from its request, without expanding."""
    from studio.weights import sha256_of

    rows = mf.read_journal(out)
    if rows and not resume:
        raise StudioError(f"{out} already holds a dataset ({len(rows)} items in {mf.JOURNAL}); pass --resume to continue it, or choose an empty folder")
    keep = []
    for r in rows:
        p = out / r.get("file", "")
        if p.is_file() and p.stat().st_size == r.get("bytes") and sha256_of(p) == r.get("sha256"):
            keep.append(r)
    if rows or (out / mf.JOURNAL).exists():
        mf.rewrite_journal(out, keep)  # drop torn lines and rows whose files are gone or damaged
    done: dict[str, int] = {}
    for r in keep:
        i = sp.index_of(r)
        if i is not None:
            done[r["id"]] = i
    return done


LOCK = ".render.lock"


@contextlib.contextmanager
def _locked(out: Path):
    """One render per folder at a time (two would interleave the journal); the OS drops the lock on kill -9."""
    import fcntl

    f = open(out / LOCK, "a")
    try:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise StudioError(f"another `studio render` is writing into {out}; wait for it to finish or choose another folder") from None
        yield
    finally:
        f.close()


def _clean_temporaries(out: Path) -> None:
    """Temporary files of writes a crash interrupted (atomic writes name them '.<stem>.*')."""
    for folder in ("speech", "face", "video", "image", "."):
        d = out / folder
        if d.is_dir():
            for p in d.glob(".*"):
                if p.is_file() and p.name not in (".gitignore", LOCK):
                    with contextlib.suppress(OSError):
                        p.unlink()


def _die_with_parent() -> None:
    """Linux: a worker gets SIGKILL when the coordinating process dies (even by kill -9), instead of
    rendering on as an orphan; its unfinished item is not in the journal and is rendered again on --resume."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGKILL))  # 1 = PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the parent died before prctl took effect
            os._exit(1)


def _init_worker(threads: int) -> None:
    _die_with_parent()
    # before any numeric library is imported in this fresh (spawned) process
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with contextlib.suppress(ImportError):
        import torch

        torch.set_num_threads(threads)


def _disk_error(e: OSError, out: Path, n_done: int) -> StudioError:
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return StudioError(f"disk full while writing into {out}: free some space and run again with --resume ({n_done} finished items are kept)")
    return StudioError(f"could not write into {out}: {e.strerror or e}; fix that and run again with --resume ({n_done} finished items are kept)")


def _describe(it: Item) -> str:
    return f"item {it.id} ({it.medium} {it.mode}, emotion {it.emotion!r}, intensity {it.intensity:g}, seed {it.seed})"


def _render_one(item: Item, out: str) -> dict:
    return render_item(item, Path(out))


MAX_UNCONFIRMED = 100_000  # a bigger spec needs --yes or --limit: a typo in `seeds` should not start a week of work


def iter_render(spec: Any, out_dir: Any, workers: int | None = None, resume: bool = False, limit: int | None = None,
                progress: bool = False, summary: RenderSummary | None = None, ray: str | None = None,
                yes: bool = False) -> Iterator[dict]:
    """Render and yield each new item's manifest row as it finishes (finished items are not re-yielded).

    ``workers``: processes here (default 1), or Ray actors with ``ray`` (default: one per CPU of the cluster).
    ``ray``: "local" starts Ray on this machine, an address ("auto", "HOST:PORT", "ray://...") joins a cluster.
    """
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise StudioError(f"workers must be a whole number >= 1, got {workers!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise StudioError(f"limit must be a whole number >= 0, got {limit!r}")
    if ray is not None:
        from studio.datasets.ray_backend import require_ray

        if not isinstance(ray, str) or not ray.strip():
            raise StudioError(f"ray must be 'local' or a cluster address (HOST:PORT, 'auto', ray://HOST:PORT), got {ray!r}")
        require_ray()
    sp: Spec = spec if isinstance(spec, Spec) else load_spec(spec)
    if limit is None and not yes and len(sp) > MAX_UNCONFIRMED:
        raise StudioError(f"{sp.source}: the spec expands to {len(sp):,} items (more than {MAX_UNCONFIRMED:,}); "
                          "pass --yes (yes=True) to render them all, or --limit K for the first K")
    out = _prepare_out(out_dir)
    with _locked(out):
        yield from _render_locked(sp, out, workers, resume, limit, progress, summary, ray)


def _render_locked(sp: Spec, out: Path, workers: int | None, resume: bool, limit: int | None, progress: bool,
                   summary: RenderSummary | None, ray: str | None) -> Iterator[dict]:
    total = len(sp) if limit is None else min(limit, len(sp))
    done = _finished(out, sp, resume)
    _clean_temporaries(out)
    _write_spec_copy(out, sp)
    n_done_sel = sum(1 for i in done.values() if i < total)
    todo = (it for it in sp.iter_items(limit) if it.id not in done)
    if summary is not None:
        summary.out_dir, summary.total, summary.skipped = out, total, n_done_sel
    journal = None
    bar = None
    ok = False
    try:
        with _backend(workers, ray, total - n_done_sel) as backend:
            if summary is not None:
                summary.cluster = backend.describe()
            bar = _progress(total, n_done_sel, progress, backend.describe())
            journal = mf.Journal(out)
            for it, row in backend.run(todo, out, _guard):
                try:
                    journal.append(row)
                except OSError as e:
                    raise _disk_error(e, out, len(done)) from None
                done[it.id] = it.index
                if summary is not None:
                    summary.rendered += 1
                    summary.retried = backend.retried
                bar.update(1)
                yield row
        ok = True
    except OSError as e:
        raise _disk_error(e, out, len(done)) from None
    finally:
        if bar is not None:
            bar.close()
        if journal is not None:
            with contextlib.suppress(OSError):
                journal.close()
        _finalize(out, sp, done, strict=ok)
    if summary is not None:
        summary.counts = sp.counts()


def _progress(total: int, initial: int, show: bool, where: str = ""):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="item", desc=f"render ({where})" if where else "render",
                file=sys.stderr, disable=not show, dynamic_ncols=True)


@contextlib.contextmanager
def _backend(workers: int | None, ray: str | None, n_todo: int):
    if ray is not None and n_todo > 0:  # a finished set (resume) verifies its files without starting Ray
        from studio.datasets.ray_backend import RayBackend

        with RayBackend(ray, workers) as b:
            yield b
    else:
        yield LocalBackend(workers or 1)


class LocalBackend:
    """This process (workers=1) or a pool of spawned worker processes."""

    retried = 0

    def __init__(self, workers: int):
        self.workers = workers

    def describe(self) -> str:
        return "this process" if self.workers == 1 else f"{self.workers} worker processes"

    def run(self, todo: Iterator[Item], out: Path, guard) -> Iterator[tuple[Item, dict]]:
        first, second = next(todo, None), next(todo, None)
        if first is None:
            return
        queue = chain([first], [second] if second is not None else [], todo)
        if self.workers == 1 or second is None:
            for it in queue:
                yield it, guard(it, lambda: render_item(it, out))
            return
        yield from self._pool(queue, out, guard)

    def _pool(self, queue: Iterator[Item], out: Path, guard) -> Iterator[tuple[Item, dict]]:
        workers = self.workers
        threads = max(1, (os.cpu_count() or 1) // workers)
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"), initializer=_init_worker,
                                   initargs=(threads,))
        pending: dict = {}
        try:
            while True:
                while len(pending) < 2 * workers:  # bounded: an early failure stops the run promptly
                    it = next(queue, None)
                    if it is None:
                        break
                    pending[pool.submit(_render_one, it, str(out))] = it
                if not pending:
                    return
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in sorted(finished, key=lambda f: pending[f].index):
                    it = pending.pop(fut)
                    yield it, guard(it, fut.result)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _guard(it: Item, fn) -> dict:
    try:
        return fn()
    except StudioError as e:
        raise StudioError(f"{_describe(it)}: {e}") from None
    except OSError:
        raise
    except BrokenProcessPool:
        raise StudioError(f"a worker process died while rendering {_describe(it)} (out of memory, or killed?); finished items are kept: "
                          "rerun with --resume, with fewer --workers") from None
    except Exception as e:  # a pipeline bug: say which item, keep the finished ones
        raise StudioError(f"{_describe(it)} failed: {type(e).__name__}: {e}; finished items are kept, rerun with --resume (use -v for a traceback)") from e


def _write_spec_copy(out: Path, sp: Spec) -> None:
    from studio.media import atomic_path

    try:
        with atomic_path(out / mf.SPEC_COPY) as tmp:
            tmp.write_text(json.dumps({"source": sp.source, "spec": sp.raw, "rendered_by": provenance()},
                                      indent=2, sort_keys=True, default=str))
    except OSError as e:
        raise _disk_error(e, out, 0) from None


def _finalize(out: Path, sp: Spec, done: dict[str, int], strict: bool) -> None:
    """Parquet manifest, folder metadata and card from the journal's rows of this spec's finished items (read
    back from disk, so the run itself kept only their ids); on an error path, best effort."""
    from studio.datasets.card import write_card

    try:
        rows = [{**r, "index": done[r["id"]]} for r in mf.read_journal(out) if r["id"] in done]  # the spec's order now
        mf.write_parquet(out, rows)
        mf.write_folder_metadata(out, rows)
        write_card(out, sp, rows)
    except OSError as e:
        if strict:
            raise _disk_error(e, out, len(done)) from None


def render(spec: Any, out_dir: Any, workers: int | None = None, resume: bool = False, limit: int | None = None,
           eval: bool = False, progress: bool = False, recognizers: list[str] | None = None, ray: str | None = None,
           yes: bool = False) -> RenderSummary:
    """Render a whole dataset; returns counts and where the manifest, card (and report) are.
    ``ray="local"`` or a cluster address renders on Ray actors (``workers`` of them); ``yes`` confirms a spec
    of more than 100,000 items."""
    summary = RenderSummary(out_dir=Path(out_dir), total=0, rendered=0, skipped=0)
    for _ in iter_render(spec, out_dir, workers=workers, resume=resume, limit=limit, progress=progress,
                         summary=summary, ray=ray, yes=yes):
        pass
    if eval:
        from studio.datasets.evaluate import evaluate

        ev = evaluate(summary.out_dir, progress=progress, recognizers=recognizers)
        summary.report, summary.eval_summary = ev.report, ev.summary
    return summary

"""``render``: expand a spec, render every item (in this process or in worker processes), keep the journal,
and write the Parquet manifest, the folders' metadata and the dataset card at the end.

Workers are separate processes started with ``spawn`` (no inherited model state or locks); each keeps its
engines loaded between items (``studio.engines.get`` caches per process). Only the coordinating process
appends to the journal, so rows never interleave.
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
from typing import Any, Iterator

from studio.datasets import manifest as mf
from studio.datasets.items import Item, render_item
from studio.datasets.spec import Spec, load_spec
from studio.errors import StudioError


@dataclass
class RenderSummary:
    out_dir: Path
    total: int           # items selected (after --limit)
    rendered: int        # rendered by this call
    skipped: int         # already finished (resume)
    counts: dict[str, int] = field(default_factory=dict)
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


def _finished(out: Path, items: dict[str, Item], resume: bool) -> dict[str, dict]:
    """Rows of this spec's items already complete on disk (file present with the journalled sha256).
    Complete rows of items the spec no longer lists stay in the journal (nothing rendered is forgotten)
    but are left out of this run's manifest."""
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
    return {r["id"]: {**r, "index": items[r["id"]].index} for r in keep if r["id"] in items}  # the spec's order now


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


def iter_render(spec: Any, out_dir: Any, workers: int = 1, resume: bool = False, limit: int | None = None,
                progress: bool = False, summary: RenderSummary | None = None) -> Iterator[dict]:
    """Render and yield each new item's manifest row as it finishes (finished items are not re-yielded)."""
    if not isinstance(workers, int) or workers < 1:
        raise StudioError(f"workers must be a whole number >= 1, got {workers!r}")
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise StudioError(f"limit must be a whole number >= 0, got {limit!r}")
    sp: Spec = spec if isinstance(spec, Spec) else load_spec(spec)
    out = _prepare_out(out_dir)
    with _locked(out):
        yield from _render_locked(sp, out, workers, resume, limit, progress, summary)


def _render_locked(sp: Spec, out: Path, workers: int, resume: bool, limit: int | None, progress: bool,
                   summary: RenderSummary | None) -> Iterator[dict]:
    selected = sp.items if limit is None else sp.items[:limit]
    by_id = {it.id: it for it in sp.items}
    done = _finished(out, by_id, resume)
    _clean_temporaries(out)
    _write_spec_copy(out, sp)
    todo = [it for it in selected if it.id not in done]
    n_done_sel = sum(1 for it in selected if it.id in done)
    if summary is not None:
        summary.out_dir, summary.total, summary.skipped = out, len(selected), n_done_sel
    bar = _progress(len(selected), n_done_sel, progress)
    journal = None
    ok = False
    try:
        journal = mf.Journal(out)
        for it, row in _run(todo, out, workers):
            try:
                journal.append(row)
            except OSError as e:
                raise _disk_error(e, out, len(done)) from None
            done[it.id] = row
            if summary is not None:
                summary.rendered += 1
            bar.update(1)
            yield row
        ok = True
    except OSError as e:
        raise _disk_error(e, out, len(done)) from None
    finally:
        bar.close()
        if journal is not None:
            with contextlib.suppress(OSError):
                journal.close()
        _finalize(out, sp, list(done.values()), strict=ok)
    if summary is not None:
        summary.counts = sp.counts()


def _progress(total: int, initial: int, show: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="item", desc="render", file=sys.stderr, disable=not show,
                dynamic_ncols=True)


def _run(todo: list[Item], out: Path, workers: int) -> Iterator[tuple[Item, dict]]:
    if workers == 1 or len(todo) <= 1:
        for it in todo:
            yield it, _guard(it, lambda: render_item(it, out))
        return
    threads = max(1, (os.cpu_count() or 1) // workers)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"), initializer=_init_worker,
                               initargs=(threads,))
    pending: dict = {}
    queue = list(todo)
    try:
        while queue or pending:
            while queue and len(pending) < 2 * workers:  # bounded: an early failure stops the run promptly
                it = queue.pop(0)
                pending[pool.submit(_render_one, it, str(out))] = it
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in sorted(finished, key=lambda f: pending[f].index):
                it = pending.pop(fut)
                yield it, _guard(it, fut.result)
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


def provenance() -> dict[str, str]:
    """The code that rendered: outputs are deterministic per item seed *for a given version* of the pipelines."""
    import subprocess
    from importlib import metadata

    from studio.weights import REPO_ROOT

    info = {"python": sys.version.split()[0]}
    with contextlib.suppress(metadata.PackageNotFoundError):
        info["affect_studio"] = metadata.version("affect-studio")
    if (REPO_ROOT / ".git").exists():
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            head = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5)
            dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
                                   capture_output=True, text=True, timeout=5)
            if head.returncode == 0:
                info["git"] = head.stdout.strip() + ("+modified" if dirty.stdout.strip() else "")
    return info


def _write_spec_copy(out: Path, sp: Spec) -> None:
    from studio.media import atomic_path

    try:
        with atomic_path(out / mf.SPEC_COPY) as tmp:
            tmp.write_text(json.dumps({"source": sp.source, "spec": sp.raw, "rendered_by": provenance()},
                                      indent=2, sort_keys=True, default=str))
    except OSError as e:
        raise _disk_error(e, out, 0) from None


def _finalize(out: Path, sp: Spec, rows: list[dict], strict: bool) -> None:
    """Parquet manifest, folder metadata and card from the journal rows; on an error path, best effort."""
    from studio.datasets.card import write_card

    try:
        mf.write_parquet(out, rows)
        mf.write_folder_metadata(out, rows)
        write_card(out, sp, rows)
    except OSError as e:
        if strict:
            raise _disk_error(e, out, len(rows)) from None


def render(spec: Any, out_dir: Any, workers: int = 1, resume: bool = False, limit: int | None = None,
           eval: bool = False, progress: bool = False, recognizers: list[str] | None = None) -> RenderSummary:
    """Render a whole dataset; returns counts and where the manifest, card (and report) are."""
    summary = RenderSummary(out_dir=Path(out_dir), total=0, rendered=0, skipped=0)
    for _ in iter_render(spec, out_dir, workers=workers, resume=resume, limit=limit, progress=progress, summary=summary):
        pass
    if eval:
        from studio.datasets.evaluate import evaluate

        ev = evaluate(summary.out_dir, progress=progress, recognizers=recognizers)
        summary.report, summary.eval_summary = ev.report, ev.summary
    return summary

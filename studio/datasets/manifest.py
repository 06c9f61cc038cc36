"""The manifest: an append-only, fsync'ed journal (``manifest.jsonl``) that is the source of truth, and the
``manifest.parquet`` / per-folder ``metadata.csv`` views written from it.

A row is appended only after its media file has been renamed into place, so a crash at any moment leaves
either a counted, complete file or nothing counted. A torn last line (killed mid-append) is ignored.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Iterable

from studio.errors import StudioError
from studio.media import atomic_path

log = logging.getLogger(__name__)

JOURNAL = "manifest.jsonl"
PARQUET = "manifest.parquet"
SPEC_COPY = "spec.json"
# columns written to each media folder's metadata.csv (the Hugging Face audiofolder/imagefolder convention)
META_COLUMNS = ["file_name", "id", "label", "emotion", "intensity", "valence", "arousal", "dominance", "seed",
                "text", "prompt", "portrait", "engine", "voice", "sha256"]


def inside(out_dir: Path, rel: Any, where: str = "manifest") -> Path:
    """The media file a row names, which must be ``<folder>/<file>`` resolving inside the dataset folder: a
    journal or manifest is a file anyone can edit, and the paths in it are read, hashed and written next to."""
    out = Path(out_dir)
    ok = isinstance(rel, str) and rel and "\\" not in rel and not rel.startswith("/") and "\0" not in rel
    parts = rel.split("/") if ok else []
    if ok and len(parts) == 2 and all(x not in ("", ".", "..") for x in parts):
        p = out / rel
        try:
            if p.resolve().is_relative_to(out.resolve()):
                return p
        except (OSError, RuntimeError):  # a symlink loop
            pass
    raise StudioError(f"{where}: file {rel!r} is not a file inside {out}; the row was edited or damaged and is ignored "
                      f"(its item is rendered again on --resume)")


def read_journal(out_dir: Path) -> list[dict[str, Any]]:
    """Complete rows in append order; later rows for the same id replace earlier ones. Rows that are not
    objects with an id, or that name a file outside the dataset folder, are refused with one warning each."""
    p = Path(out_dir) / JOURNAL
    if not p.exists():
        return []
    rows: dict[str, dict] = {}
    with open(p, "rb") as f:
        for n, line in enumerate(f, 1):
            if not line.endswith(b"\n"):
                break  # torn write from a crash: the item will be rendered again
            try:
                row = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if not isinstance(row, dict) or not isinstance(row.get("id"), str):
                log.warning("%s line %d is not a manifest row; ignored", JOURNAL, n)
                continue
            try:
                inside(out_dir, row.get("file"), f"{JOURNAL} line {n}")
            except StudioError as e:
                log.warning("%s", e)
                continue
            rows[row["id"]] = row
    return list(rows.values())


def rewrite_journal(out_dir: Path, rows: Iterable[dict]) -> None:
    """Replace the journal atomically with ``rows`` (drops torn lines before appending resumes)."""
    p = Path(out_dir) / JOURNAL
    with atomic_path(p) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())


class Journal:
    """Append-only writer; one process (the coordinator) owns it."""

    def __init__(self, out_dir: Path):
        self.path = Path(out_dir) / JOURNAL
        self._f = open(self.path, "a", encoding="utf-8")

    def append(self, row: dict) -> None:
        self._f.write(json.dumps(row, sort_keys=True) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        self._f.close()


# manifest column order: identity, request, requested affect, media facts, plan, file identity
COLUMNS = ["id", "index", "medium", "mode", "file", "emotion", "intensity", "label", "valence", "arousal", "dominance",
           "trajectory", "text", "prompt", "portrait", "portrait_sha256", "seed", "engine", "options", "affect",
           "duration_s", "width", "height", "frames", "voice", "voice_source", "voice_sha256", "speaker_id", "plan",
           "sha256", "bytes"]


def rows_frame(rows: list[dict]):
    """Rows in spec order with a fixed column order, however (and in whatever order) they were journalled."""
    import pandas as pd

    df = pd.DataFrame(rows)
    if len(df):
        df = df.sort_values("index", kind="stable").reset_index(drop=True)
        df = df[[c for c in COLUMNS if c in df.columns] + sorted(c for c in df.columns if c not in COLUMNS)]
    return df


def write_parquet(out_dir: Path, rows: list[dict]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = Path(out_dir) / PARQUET
    table = pa.Table.from_pandas(rows_frame(rows), preserve_index=False)
    with atomic_path(p) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return p


def write_folder_metadata(out_dir: Path, rows: list[dict]) -> list[Path]:
    """metadata.csv in each media folder, ``file_name`` relative to that folder, so
    ``datasets.load_dataset("audiofolder"/"imagefolder", data_dir=...)`` and pandas read them directly."""
    df = rows_frame(rows)
    written = []
    if not len(df):
        return written
    for folder, part in df.groupby(df["file"].str.split("/").str[0], sort=True):
        part = part.copy()
        part["file_name"] = part["file"].str.split("/", n=1).str[1]
        p = Path(out_dir) / folder / "metadata.csv"
        p.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(p) as tmp:
            part[[c for c in META_COLUMNS if c in part.columns]].to_csv(tmp, index=False)
        written.append(p)
    return written


def load_manifest(out_dir: Path):
    """The manifest as a DataFrame: the Parquet file, or the journal when a run never finished."""
    import pandas as pd

    p = Path(out_dir) / PARQUET
    if p.exists():
        return pd.read_parquet(p)
    return rows_frame(read_journal(Path(out_dir)))

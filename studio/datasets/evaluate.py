"""``studio eval DIR``: back-classify every rendered item with its medium's recognizers → ``eval.parquet``,
then write ``report.md`` with plots (see ``report.py``)."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from studio.datasets import manifest as mf
from studio.errors import StudioError

EVAL_PARQUET = "eval.parquet"


@dataclass
class EvalSummary:
    out_dir: Path
    items: int
    recognitions: int
    errors: dict[str, list[str]] = field(default_factory=dict)  # item id -> why a recognizer could not judge it
    report: Path | None = None
    summary: Any = None  # DataFrame: one row per (folder, recognizer) with the headline metrics

    @property
    def eval_path(self) -> Path:
        return self.out_dir / EVAL_PARQUET


def _manifest(out: Path):
    if not out.is_dir():
        raise StudioError(f"{out} is not a folder; give the folder `studio render` wrote")
    df = mf.load_manifest(out)
    if not len(df):
        why = "its manifest is empty" if (out / mf.PARQUET).exists() else f"no {mf.PARQUET} or {mf.JOURNAL}"
        raise StudioError(f"{out} holds no rendered items ({why}); run `studio render SPEC -o {out}` first")
    return df


def recognition_rows(item: dict, recs: list) -> list[dict]:
    rows = []
    for r in recs:
        row = {"id": item["id"], "folder": item["file"].split("/")[0], "recognizer": r.recognizer, "kind": r.kind,
               "top": r.top, "pred_valence": r.valence, "pred_arousal": r.arousal, "pred_dominance": r.dominance,
               "probs": json.dumps(r.probs, sort_keys=True), "measures": json.dumps(r.measures, sort_keys=True)}
        for k, v in r.probs.items():
            row[f"p_{k}"] = float(v)
        rows.append(row)
    return rows


def neutral_references(df) -> dict[str, str]:
    """Speech item id -> file of the neutral rendering of the same text, voice and seed (its speaker baseline).
    Speech recognizers customarily normalise per speaker; here the 'speaker' is the voice reading that text."""
    speech = df[df["medium"] == "speech"]
    key = ["text", "engine", "options", "seed"]
    neutral = speech[(speech["label"] == "neutral") & ~speech["trajectory"].astype(bool)].drop_duplicates(key)
    refs = {}
    for _, n in neutral.iterrows():
        same = speech[(speech[key] == n[key]).all(axis=1)]
        for i in same["id"]:
            refs[i] = n["file"]
    return refs


def iter_evaluate(out_dir: Any, progress: bool = False, recognizers: Sequence[str] | None = None) -> Iterator[dict]:
    """Yield ``{"id", "file", "recognitions": [Recognition], "errors": [str]}`` per item as it is judged."""
    from tqdm import tqdm

    from evals.dispatch import recognize_file

    from evals.dispatch import parse_names

    out = Path(out_dir)
    df = _manifest(out)
    if recognizers is not None:
        parse_names(recognizers)  # unknown names and missing paths fail before any item is judged
    refs = neutral_references(df)
    for item in tqdm(df.to_dict("records"), desc="eval", unit="item", file=sys.stderr, disable=not progress, dynamic_ncols=True):
        errors: list[str] = []
        path = out / item["file"]
        try:
            ref = refs.get(item["id"])
            recs = recognize_file(item["medium"], path, errors, reference=out / ref if ref else None,
                                  recognizers=recognizers)
        except StudioError as e:
            recs, errors = [], errors + [str(e)]
        yield {"id": item["id"], "file": item["file"], "item": item, "recognitions": recs, "errors": errors}


def evaluate(out_dir: Any, progress: bool = False, recognizers: Sequence[str] | None = None) -> EvalSummary:
    """Back-classify all items, write eval.parquet, report.md and plots; returns the summary."""
    import pandas as pd

    from studio.datasets.report import write_report
    from studio.media import atomic_path

    out = Path(out_dir)
    manifest = _manifest(out)
    rows: list[dict] = []
    errors: dict[str, list[str]] = {}
    n = 0
    for res in iter_evaluate(out, progress=progress, recognizers=recognizers):
        n += 1
        rows.extend(recognition_rows(res["item"], res["recognitions"]))
        if res["errors"]:
            errors[res["id"]] = res["errors"]
    ev = pd.DataFrame(rows)
    if not len(ev):
        ev = pd.DataFrame(columns=["id", "folder", "recognizer", "kind", "top", "pred_valence", "pred_arousal",
                                   "pred_dominance", "probs", "measures"])
    try:
        with atomic_path(out / EVAL_PARQUET) as tmp:
            ev.to_parquet(tmp, index=False)
        report, summary = write_report(out, manifest, ev, errors)
    except OSError as e:
        raise StudioError(f"could not write the evaluation into {out}: {e.strerror or e}; free space and run `studio eval {out}` again") from None
    return EvalSummary(out_dir=out, items=n, recognitions=len(rows), errors=errors, report=report, summary=summary)

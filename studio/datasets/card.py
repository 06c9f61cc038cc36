"""The dataset card (README.md): what is in the folder, which engines and model licenses made it, how to load it."""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from studio.datasets.spec import Spec
from studio.media import atomic_path

# registry models each (medium, mode, engine) runs; free-text emotions also use the sentence embedder
ENGINE_MODELS: dict[tuple[str, str, str], tuple[str, ...]] = {
    ("speech", "speak", "embedded"): ("piper-joe-medium",),
    ("face", "express", "embedded"): ("face-landmarker",),
    ("face", "talk", "embedded"): ("face-landmarker", "piper-joe-medium"),
    ("image", "generate", "embedded"): (),
}
RECOGNIZER_MODELS = ("fer2013-mini-xception", "face-landmarker")
DEFAULT_VOICE = "piper-joe-medium"  # stands in ENGINE_MODELS for whichever voice a row names
FOLDER_KIND = {"speech": "audiofolder", "image": "imagefolder", "face": "imagefolder", "video": "videofolder"}


def models_used(rows: list[dict], free_text: bool) -> list[tuple[str, str, str]]:
    """(model, role, license) for every registry model behind these rows."""
    from studio import weights

    names: list[str] = []
    for r in rows:
        for n in ENGINE_MODELS.get((r["medium"], r["mode"], r.get("engine") or "embedded"), ()):
            if n == DEFAULT_VOICE and r.get("voice"):  # the voice that spoke: a registry model, or a path (a speaker)
                n = r["voice"] if r.get("voice_source") == "registry" else None
            if n and n not in names:
                names.append(n)
    if free_text:
        names.append("minilm-l6-v2")
        from studio.affect import vad_head

        if vad_head.available():  # free text's VAD came from the head fitted on these (non-commercial) ratings
            names.append(vad_head.LEXICON)
    table = weights.models()
    return [(n, table[n].role, table[n].license) for n in names if n in table]


def _md_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def card_text(sp: Spec, rows: list[dict]) -> str:
    folders = sorted({r["file"].split("/")[0] for r in rows})
    per = Counter((r["file"].split("/")[0], r["label"]) for r in rows)
    labels = sorted({r["label"] for r in rows})
    engines = sorted({(r["medium"], r["mode"], r.get("engine") or "embedded") for r in rows})
    free_text = any(" " in r["emotion"] and ":" not in r["emotion"] and ">" not in r["emotion"] for r in rows)
    used = models_used(rows, free_text)
    from studio import weights

    weights_table = weights.models()
    other = sorted({f"{m} {mo} engine {e!r}" for m, mo, e in engines if (m, mo, e) not in ENGINE_MODELS})
    spdx = sp.license.strip().lower() if re.fullmatch(r"[A-Za-z0-9.\-]+", sp.license.strip()) else "other"
    front = ["---", f"pretty_name: {sp.name}", f"license: {spdx}", "tags:", "- synthetic", "- affective-computing",
             "- emotion", "configs:"]
    for f in folders:
        front += [f"- config_name: {f}", f"  data_dir: {f}"]
    front.append("---")
    count_rows = [[label] + [per.get((f, label), 0) for f in folders] + [sum(per.get((f, label), 0) for f in folders)]
                  for label in labels]
    count_rows.append(["**total**"] + [sum(per.get((f, l), 0) for l in labels) for f in folders] + [len(rows)])
    parts = [
        "\n".join(front), "",
        f"# {sp.name}", "",
        sp.description or "A synthetic affective dataset rendered by Affect Studio.", "",
        f"Rendered from `{Path(sp.source).name}` (a copy is in `spec.json`) by {_version()}. Every item is a deterministic "
        "function of its request: the item id is a hash of the canonical request, and rendering the same spec again with "
        "the same version gives the same files (sha256 in the manifest).", "",
        "## Contents", "",
        _listed(sp, rows),
        _md_table(["requested label"] + folders + ["all"], count_rows), "",
        "Folders: " + ", ".join(f"`{f}/` ({FOLDER_KIND.get(f, 'files')})" for f in folders) + ". "
        "The label is the requested affect's dominant core label; `emotion` keeps the request as written "
        "(a label, a mixture, a VAD point, free text or a trajectory), and `valence`/`arousal`/`dominance` are the "
        "requested point (a trajectory's time-average).", "",
        "## Engines and model licenses", "",
        _md_table(["medium", "mode", "engine"], [list(e) for e in engines]), "",
        _md_table(["model", "role", "license"], [list(u) for u in used]) if used else "No registry model was used.", "",
    ]
    nc = [n for n, _, _ in used if n in weights_table and weights_table[n].noncommercial]
    if nc:
        parts += ["**Non-commercial inputs:** " + ", ".join(f"`{n}` ({weights_table[n].license})" for n in nc)
                  + ". The requested valence/arousal/dominance of free-text items come from a head fitted on these "
                  "ratings; check their licence before any commercial use of this dataset.", ""]
    parts += _speakers(rows)
    portraits = sorted({r["portrait"] for r in rows if r.get("portrait")})
    if portraits:
        parts += ["Portraits: " + ", ".join("`default` (the scikit-image astronaut photo, NASA, public domain)" if p == "default"
                                            else f"`{p}` (supplied by the dataset's author)" for p in portraits) + ".", ""]
    rec = [(n, weights_table[n].license) for n in RECOGNIZER_MODELS if n in weights_table]
    if rec:
        parts += ["`studio eval` back-classifies with independent recognizers: " + "; ".join(f"{n} ({l})" for n, l in rec)
                  + "; speech and image statistics are measured without learned models.", ""]
    if other:
        parts += ["Other engines used weights supplied by the user: " + "; ".join(other)
                  + ". Their licenses are those of those weights.", ""]
    parts += [
        f"Dataset license: {sp.license}. Synthetic media: each item shows or voices a requested emotion; it is not a "
        "recording of a person feeling it. Do not present items as real people's expressions.", "",
        "## Loading", "",
        "```python",
        "import pandas as pd",
        "m = pd.read_parquet(\"manifest.parquet\")       # every request field, the plan (JSON) and the file's sha256",
        "m = m.merge(pd.read_parquet(\"eval.parquet\"), on=\"id\", how=\"left\")  # after `studio eval`",
        "",
        "import pyarrow.parquet as pq",
        "t = pq.read_table(\"manifest.parquet\")",
        "",
        "from datasets import load_dataset              # Hugging Face datasets",
    ]
    for f in folders:
        parts.append(f"ds_{f} = load_dataset(\"{FOLDER_KIND.get(f, 'imagefolder')}\", data_dir=\"{f}\")  # metadata.csv: file_name + request")
    parts += ["```", "",
              "`manifest.jsonl` is the append-only journal the render writes as items finish; `manifest.parquet` is "
              "written from it. `studio render SPEC -o DIR --resume` continues an interrupted run; "
              "`studio eval DIR` back-classifies every item into `eval.parquet` and `report.md`.", ""]
    return "\n".join(parts)


def _speakers(rows: list[dict]) -> list[str]:
    """The base voices that speak in the dataset: sex and licence from the registry, items per voice."""
    from studio import weights

    voiced = [r for r in rows if r.get("voice")]
    if not voiced:
        return []
    table = weights.models()
    per = Counter((r["voice"], r.get("voice_source"), r.get("speaker_id"), r.get("voice_sha256")) for r in voiced)
    lines = []
    for (name, source, spk, sha), n in sorted(per.items(), key=lambda kv: str(kv[0])):
        m = table.get(name) if source == "registry" else None
        sex = (m.speaker_sex if m else "") or "not recorded"
        lic = m.license if m else "supplied by the dataset's author (a local piper voice): see its own card"
        lines.append([f"`{name}`" + (f" #{spk}" if spk not in (None, 0) else ""), source or "", sex, lic,
                      f"`{(sha or '')[:12]}`", n])
    sexes = Counter(row[2] for row in lines)
    summary = ", ".join(f"{k} {v}" for k, v in sorted(sexes.items()))
    return ["## Speakers", "", f"{len(lines)} base voice(s) ({summary}); speech and talking-head items name theirs in "
            "the manifest's `voice`, `voice_sha256` and `speaker_id` columns.", "",
            _md_table(["voice", "source", "sex", "license", "sha256", "items"], lines), ""]


def _listed(sp: Spec, rows: list[dict]) -> str:
    """How much of the spec this folder holds (the spec is counted from its grids, never expanded)."""
    listed = len(sp)
    if len(rows) >= listed:
        return f"{len(rows):,} items, every item the spec lists.\n"
    return f"{len(rows):,} of the {listed:,} items the spec lists (a partial render: `--limit`, or a run still to `--resume`).\n"


def _version() -> str:
    from studio.datasets.provenance import provenance

    p = provenance()
    return "Affect Studio " + p.get("affect_studio", "(source checkout)") + (f" (git {p['git']})" if "git" in p else "")


def write_card(out: Path, sp: Spec, rows: list[dict]) -> Path:
    p = Path(out) / "README.md"
    text = card_text(sp, sorted(rows, key=lambda r: r["index"]))
    with atomic_path(p) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return p

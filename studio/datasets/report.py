"""``report.md`` + PNG plots from the manifest (what was requested) and eval.parquet (what was measured).

Per folder (speech, face stills, video clips, images) and recognizer:
- top-1 accuracy and macro-F1 of the recognized label against the requested dominant label, with a
  row-normalised confusion matrix (only labels the recognizer knows are scored);
- valence/arousal mean absolute error and Lin's CCC, requested point vs measured, with a scatter;
- intensity response: per emotion, Spearman's rho between requested intensity and the response
  (the probability of the requested label when the recognizer gives one, otherwise the measured
  valence-arousal point projected on the requested direction, on arousal alone for recognizers in
  ``AROUSAL_ONLY``); neutral items of the same folder
  are every emotion's intensity-0 point. No published system reports this rank correlation
  (REFERENCE.md section 5), so there is no external anchor for it.
Trajectory items are counted but not scored: one label does not describe a clip whose affect changes.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from evals import metrics
from studio.affect import CORE_LABELS
from studio.media import atomic_path

PLOTS = "plots"


def _fmt(x) -> str:
    return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.3f}"


# Recognizers whose valence estimate carries no information: their intensity response is read along the
# arousal axis alone. Prosody codes arousal well and valence barely (evals/speech.py; Schröder 2004): the
# acoustic estimate's valence CCC was 0.01-0.02 over 105 benchmark renders, so a projection that mixes it
# in ranks joy's intensities by noise (demo spec: joy's rho -0.63 with it, 0.95 on arousal alone).
AROUSAL_ONLY = {"acoustic-prosody"}


def _direction(recognizer: str, valence: float, arousal: float) -> tuple[float, float]:
    d = np.array([0.0 if recognizer in AROUSAL_ONLY else valence, arousal])
    return tuple(d / (np.linalg.norm(d) or 1.0))


def _response(row, label: str, dir_v: float, dir_a: float) -> float:
    p = row.get(f"p_{label}")
    if p is not None and not (isinstance(p, float) and math.isnan(p)):
        return float(p)
    v, a = row.get("pred_valence"), row.get("pred_arousal")
    if v is None or a is None or (isinstance(v, float) and math.isnan(v)):
        return float("nan")
    return float(v) * dir_v + float(a) * dir_a


def group_metrics(g) -> dict:
    """Headline metrics for one (folder, recognizer) group of merged manifest+eval rows."""
    scored = g[~g["trajectory"].astype(bool)]
    out: dict = {"n": len(g), "scored": len(scored)}
    prob_cols = [c for c in g.columns if c.startswith("p_") and g[c].notna().any()]
    known = [l for l in CORE_LABELS if f"p_{l}" in prob_cols]
    out["labels"] = known
    if known:
        cl = scored[scored["label"].isin(known)]
        out["accuracy"] = metrics.accuracy(cl["label"], cl["top"])
        out["macro_f1"] = metrics.macro_f1(cl["label"], cl["top"], known)
        out["confusion"] = metrics.confusion(cl["label"], cl["top"], known)
        out["classified"] = len(cl)
    va = scored.dropna(subset=["pred_valence", "pred_arousal"])
    if len(va):
        out["v_mae"] = metrics.mae(va["valence"], va["pred_valence"])
        out["a_mae"] = metrics.mae(va["arousal"], va["pred_arousal"])
        out["v_ccc"] = metrics.ccc(va["valence"], va["pred_valence"])
        out["a_ccc"] = metrics.ccc(va["arousal"], va["pred_arousal"])
        out["va"] = va
    if "plan" in g.columns and "measures" in g.columns and len(scored):
        rs = realisation(scored)
        if rs:
            out["realisation"] = rs
            finite = [v for v in rs.values() if math.isfinite(v)]
            out["plan_r"] = float(np.mean(finite)) if finite else float("nan")
    if known or len(va):
        out["curves"] = intensity_curves(scored)
        rhos = [c["rho"] for c in out["curves"].values() if math.isfinite(c["rho"])]
        out["rho"] = float(np.mean(rhos)) if rhos else float("nan")
    return out


def intensity_curves(scored) -> dict[str, dict]:
    """emotion -> {intensities, responses, rho, n}; neutral rows join every emotion at intensity 0."""
    neutral = scored[(scored["label"] == "neutral") | (scored["intensity"] == 0)]
    curves = {}
    for label, g in scored[(scored["label"] != "neutral") & (scored["intensity"] > 0)].groupby("label", sort=True):
        d = _direction(str(g["recognizer"].iloc[0]), g["valence"].mean(), g["arousal"].mean())
        rows = list(neutral.to_dict("records")) + list(g.to_dict("records"))
        x = [float(r["intensity"]) if r["label"] != "neutral" else 0.0 for r in rows]
        y = [_response(r, label, d[0], d[1]) for r in rows]
        keep = [i for i, v in enumerate(y) if math.isfinite(v)]
        x, y = [x[i] for i in keep], [y[i] for i in keep]
        kind = ("p(label)" if f"p_{label}" in g and g[f"p_{label}"].notna().any()
                else "arousal (signed)" if d[0] == 0.0 else "VA projection")
        curves[label] = {"x": x, "y": y, "rho": metrics.spearman(x, y), "n": len(x), "kind": kind}
    return curves


# ---- plan realisation: did the output carry out the plan's own numbers? ---------------------
# (plan field -> how to read it, recognizer measure) pairs; each cue's Pearson r over the folder's items.
SPEECH_CUES = (("f0_shift_st", lambda p: p.get("f0_shift_st"), "d_f0_median_st"),
               ("loudness_db", lambda p: p.get("loudness_db"), "d_rms_db"),
               ("tilt_db", lambda p: p.get("tilt_db"), "d_tilt_db"),
               ("log rate", lambda p: math.log(p["rate_scale"]) if p.get("rate_scale") else None, "d_log_rate"))


def realisation(g) -> dict[str, float]:
    """Per-cue Pearson r between a plan's value and the recognizer's measurement of it (items without the
    plan field or the measure are left out). Faces: each planned action unit vs its blendshape evidence."""
    import json

    rows = [(json.loads(r["plan"]) if isinstance(r.get("plan"), str) else None, json.loads(r["measures"]))
            for r in g.to_dict("records")]
    rows = [(p, m) for p, m in rows if isinstance(p, dict) and m]
    cues: dict[str, tuple[list, list]] = {}
    if g["recognizer"].iloc[0].startswith("acoustic"):
        for name, get, measure in SPEECH_CUES:
            for p, m in rows:
                x = get(p) if all(k in p for k in ("f0_shift_st", "rate_scale")) else None
                if x is not None and measure in m:
                    cues.setdefault(name, ([], []))[0].append(float(x))
                    cues[name][1].append(float(m[measure]))
    elif g["recognizer"].iloc[0].startswith("mediapipe"):
        aus = sorted({int(a) for p, _ in rows for a in (p.get("aus") or {})})
        for au in aus:
            for p, m in rows:
                if "aus" in p and f"AU{au}" in m:
                    cues.setdefault(f"AU{au}", ([], []))[0].append(float(p["aus"].get(str(au), 0.0)))
                    cues[f"AU{au}"][1].append(float(m[f"AU{au}"]))
    return {k: metrics.pearson(x, y) for k, (x, y) in cues.items() if len(x) >= 3}


# ---- plots ----------------------------------------------------------------------------------
def _figure(w: float, h: float):
    """A pyplot-free figure: no global backend state, safe in workers and beside a UI."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h))
    return fig, fig.subplots()


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    return path


def confusion_png(m: np.ndarray, labels: list[str], title: str, path: Path) -> Path:
    rows = m.sum(axis=1, keepdims=True)
    norm = np.divide(m, rows, out=np.zeros_like(m, dtype=float), where=rows > 0)
    fig, ax = _figure(1.0 + 0.6 * len(labels), 0.8 + 0.55 * len(labels))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if m[i, j]:
                ax.text(j, i, str(m[i, j]), ha="center", va="center", color="white" if norm[i, j] > 0.5 else "black", fontsize=8)
    ax.set_xlabel("recognized")
    ax.set_ylabel("requested")
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def _colors(labels) -> dict[str, tuple]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return {l: cmap(i % 10) for i, l in enumerate(CORE_LABELS + tuple(sorted(set(labels) - set(CORE_LABELS))))}


def va_scatter_png(va, title: str, path: Path) -> Path:
    col = _colors(va["label"])
    fig, ax = _figure(5, 5)
    for r in va.to_dict("records"):
        c = col[r["label"]]
        ax.plot([r["valence"], r["pred_valence"]], [r["arousal"], r["pred_arousal"]], color=c, alpha=0.35, lw=0.8)
        ax.scatter(r["valence"], r["arousal"], facecolors="none", edgecolors=[c], s=30)
        ax.scatter(r["pred_valence"], r["pred_arousal"], color=c, s=18)
    for l in sorted(set(va["label"])):
        ax.scatter([], [], color=col[l], label=l)
    ax.axhline(0, color="grey", lw=0.5)
    ax.axvline(0, color="grey", lw=0.5)
    ax.set(xlim=(-1.05, 1.05), ylim=(-1.05, 1.05), xlabel="valence", ylabel="arousal")
    ax.set_title(title + "\nrequested (ring) → measured (dot)", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)


def intensity_png(curves: dict, title: str, path: Path) -> Path:
    col = _colors(curves)
    fig, ax = _figure(5.5, 4)
    kinds = sorted({c["kind"] for c in curves.values()})
    for label, c in curves.items():
        xs = sorted(set(c["x"]))
        means = [np.mean([y for x, y in zip(c["x"], c["y"]) if x == v]) for v in xs]
        tag = f" ({c['kind']})" if len(kinds) > 1 and c["kind"] != "p(label)" else ""
        ax.plot(xs, means, marker="o", color=col[label], label=f"{label}{tag} ρ={_fmt(c['rho'])}")
    ax.set(xlabel="requested intensity", ylabel=" / ".join(kinds))
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, path)


# ---- markdown -------------------------------------------------------------------------------
def write_report(out: Path, manifest, ev, errors: dict[str, list[str]]):
    import pandas as pd

    merged = ev.merge(manifest, on="id", how="left", suffixes=("", "_m"))
    merged["kind"] = [k if isinstance(k, str) and k else _kind(r) for k, r in
                      zip(merged.get("kind", [None] * len(merged)), merged["recognizer"])]
    plots = out / PLOTS
    lines = ["# Back-classification report", "",
             f"{len(manifest)} items, {len(ev)} recognitions. Requested = the manifest's dominant label and VAD point; "
             "measured = independent recognizers (`evals.dispatch`). See the notes at the end for what each number means.", ""]
    summary_rows, details = [], {"perception": [], "realisation": []}
    for (folder, recognizer), g in merged.groupby(["folder", "recognizer"], sort=True):
        kind = g["kind"].iloc[0]
        m = group_metrics(g.reset_index(drop=True))
        slug = f"{folder}_{recognizer}".replace(" ", "-").replace("/", "-")
        summary_rows.append({"folder": folder, "recognizer": recognizer, "kind": kind, "n": m["n"], "accuracy": m.get("accuracy"),
                             "macro_f1": m.get("macro_f1"), "v_mae": m.get("v_mae"), "a_mae": m.get("a_mae"),
                             "v_ccc": m.get("v_ccc"), "a_ccc": m.get("a_ccc"), "rho": m.get("rho"),
                             "plan_r": m.get("plan_r")})
        sec = [f"### {folder} — {recognizer} ({kind})", ""]
        if m["n"] != m["scored"]:
            sec += [f"{m['n'] - m['scored']} trajectory item(s) are listed in eval.parquet but not scored.", ""]
        if "confusion" in m:
            p = confusion_png(m["confusion"], m["labels"], f"{folder} · {recognizer}: confusion (rows = requested)", plots / f"confusion_{slug}.png")
            sec += [f"Accuracy {_fmt(m['accuracy'])}, macro-F1 {_fmt(m['macro_f1'])} over {m['classified']} items "
                    f"whose requested label this recognizer knows ({', '.join(m['labels'])}).", "",
                    f"![confusion]({PLOTS}/{p.name})", ""]
        if "va" in m:
            p = va_scatter_png(m["va"], f"{folder} · {recognizer}: valence-arousal", plots / f"va_{slug}.png")
            sec += [f"Valence MAE {_fmt(m['v_mae'])} (CCC {_fmt(m['v_ccc'])}), arousal MAE {_fmt(m['a_mae'])} "
                    f"(CCC {_fmt(m['a_ccc'])}), on the studio's [-1, 1] scale.", "", f"![va]({PLOTS}/{p.name})", ""]
        if m.get("curves"):
            p = intensity_png(m["curves"], f"{folder} · {recognizer}: intensity response", plots / f"intensity_{slug}.png")
            sec += ["| emotion | response | n | Spearman ρ |", "|---|---|---|---|"]
            sec += [f"| {l} | {c['kind']} | {c['n']} | {_fmt(c['rho'])} |" for l, c in m["curves"].items()]
            sec += ["", f"![intensity]({PLOTS}/{p.name})", ""]
        if m.get("realisation"):
            sec += ["Plan realisation (Pearson r between the plan's value and the measured cue, over items):", "",
                    "| cue | r |", "|---|---|"] + [f"| {k} | {_fmt(v)} |" for k, v in m["realisation"].items()] + [""]
        if len(sec) == 2:
            sec += ["This recognizer gives measurements only (see `measures` in eval.parquet).", ""]
        details.setdefault(kind, []).extend(sec)
    summary = pd.DataFrame(summary_rows)
    for c in ("accuracy", "macro_f1", "v_mae", "a_mae", "v_ccc", "a_ccc", "rho", "plan_r"):
        if c in summary.columns:
            summary[c] = pd.to_numeric(summary[c], errors="coerce").astype(float)  # None → NaN: numeric columns
    lines += judged_by(summary_rows)
    lines += ["## Summary", "", "| folder | recognizer | kind | n | accuracy | macro-F1 | V MAE | A MAE | V CCC | A CCC | mean ρ | plan r |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in summary_rows:
        lines.append(f"| {r['folder']} | {r['recognizer']} | {r['kind']} | {r['n']} | " + " | ".join(
            _fmt(r[k]) for k in ("accuracy", "macro_f1", "v_mae", "a_mae", "v_ccc", "a_ccc", "rho", "plan_r")) + " |")
    lines += [""] + agreement_lines(merged)
    for kind, title in (("perception", "Perception: recognizers trained on human labels"),
                        ("realisation", "Realisation: estimators that read the cues the renderer sets")):
        if details.get(kind):
            lines += [f"## {title}", ""] + details[kind]
    if errors:
        lines += ["## Items a recognizer could not judge", ""]
        lines += [f"- `{i}`: {'; '.join(e)}" for i, e in sorted(errors.items())[:50]]
        if len(errors) > 50:
            lines.append(f"- … and {len(errors) - 50} more")
        lines.append("")
    lines += ["## Notes", "",
              "- accuracy / macro-F1: recognized top label vs the requested dominant label; labels a recognizer does not know "
              "(e.g. contempt for FER2013) are left out of its score.",
              "- V/A MAE and CCC (Lin's concordance): requested VAD point (direction × intensity) vs the recognizer's estimate.",
              "- ρ: Spearman rank correlation between requested intensity and the response, per emotion, neutral items as "
              "intensity 0; mean ρ averages the emotions where it is defined. The response is the probability of the "
              "requested label, else the measured point projected on the requested valence-arousal direction; for speech "
              "the arousal axis alone, since prosody carries little valence and its valence estimate is not informative.",
              "- plan r: how closely the output carried out its own plan — per cue, Pearson r between the plan's number "
              "(e.g. F0 shift in semitones, an action unit's intensity) and the recognizer's measurement of that cue; "
              "the mean over cues is in the summary.",
              "- Speech is measured relative to the neutral rendering of the same text and seed (a speaker baseline) when "
              "the dataset has one.",
              "- The image-stats recognizer shares its colour reference with the embedded image engine, so its agreement with "
              "that engine is an upper bound, not an independent judgement.", ""]
    report = out / "report.md"
    with atomic_path(report) as tmp:
        tmp.write_text("\n".join(lines), encoding="utf-8")
    with atomic_path(out / "summary.csv") as tmp:
        summary.to_csv(tmp, index=False)
    return report, summary


def _kind(recognizer: str) -> str:
    from evals import registry

    e = registry.RECOGNIZERS.get(recognizer)
    return e.kind if e is not None else "realisation"


def judged_by(summary_rows: list[dict]) -> list[str]:
    """The plain statement of which media had a perception verdict in this run, and how to get one."""
    folders = sorted({r["folder"] for r in summary_rows})
    only = [f for f in folders if not any(r["folder"] == f and r["kind"] == "perception" for r in summary_rows)]
    if not only:
        return ["Every medium in this run was judged by at least one perception model (trained on human labels).", ""]
    from evals import registry

    hints = sorted({f"`studio eval DIR --recognizer {e.name}=PATH`" for e in registry.entries()
                    if e.kind == "perception" and e.medium in {"speech" if f == "speech" else "face" if f in ("face", "video") else "image" for f in only}})
    return [f"**Judged only by realisation estimators in this run: {', '.join(only)}.** Their numbers say whether "
            "the plan was carried out, not whether people would perceive the emotion. For a perception verdict pull a "
            "model (`studio weights list`, `studio weights pull NAME`) or point to one in its published layout: "
            + (", ".join(hints) if hints else "see `studio recognizers`") + ".", ""]


def agreement_lines(merged) -> list[str]:
    """Recognizers of one folder against each other: Cohen's κ on top labels, Pearson r on valence and arousal."""
    rows = []
    for folder, g in merged.groupby("folder", sort=True):
        names = sorted(g["recognizer"].unique())
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                x = g[g["recognizer"] == a].set_index("id")
                y = g[g["recognizer"] == b].set_index("id")
                both = x.index.intersection(y.index)
                if not len(both):
                    continue
                x, y = x.loc[both], y.loc[both]
                top = x["top"].notna() & y["top"].notna()
                kappa = metrics.cohen_kappa(list(x["top"][top]), list(y["top"][top])) if top.sum() >= 2 else float("nan")
                rv = _pair_r(x["pred_valence"], y["pred_valence"])
                ra = _pair_r(x["pred_arousal"], y["pred_arousal"])
                if all(isinstance(v, float) and not math.isfinite(v) for v in (kappa, rv, ra)):
                    continue
                rows.append(f"| {folder} | {a} | {b} | {len(both)} | {_fmt(kappa)} | {_fmt(rv)} | {_fmt(ra)} |")
    if not rows:
        return ["## Agreement between recognizers", "",
                "No folder had two recognizers giving comparable outputs (labels or valence-arousal) in this run.", ""]
    return ["## Agreement between recognizers", "",
            "Recognizers disagree; this is how much, on the same items (κ on top labels, Pearson r on valence and arousal).", "",
            "| folder | recognizer A | recognizer B | items | Cohen's κ | r valence | r arousal |",
            "|---|---|---|---|---|---|---|"] + rows + [""]


def _pair_r(a, b) -> float:
    import pandas as pd

    a, b = pd.to_numeric(a, errors="coerce"), pd.to_numeric(b, errors="coerce")
    ok = a.notna() & b.notna()
    return metrics.pearson(a[ok].to_numpy(float), b[ok].to_numpy(float)) if ok.sum() >= 3 else float("nan")

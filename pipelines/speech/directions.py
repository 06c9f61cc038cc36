"""Emotion directions in a neural voice's speaker-embedding space, and how they are fitted.

EmoKnob (Chen et al. 2024) moves a speaker embedding along ``α · direction``, the direction being the mean
embedding of emotional clips minus that of neutral clips of the same speakers. Daisy-TTS (Chevi & Aji 2024)
treats such directions as an algebra: scale = intensity, negation = polarity, sums = secondary emotions.
Here one direction per core emotion (studio.affect.CORE_LABELS; neutral is the origin) is stored, and the
offset for an affect is ``Σ wᵢ · intensity · dᵢ`` over its mixture, so negation and mixtures come from the
shared affect algebra (a negated label is its taxonomy opposite; a mixture's weights are its parts').

Fitting (``fit_directions``) makes rendered speech move the way the ProsodyPlan of each emotion asks: F0
level and range, rate, loudness and spectral tilt, measured from the audio with the small NumPy/WORLD proxy
below (``measure``; pipelines may not import evals). It starts from difference-of-means when reference
x-vectors are given, else from zero; it linearises the renderer around the neutral voice by finite
differences along a random orthonormal subspace, solves a ridge problem per emotion, then refines with a
(1+λ) evolution strategy on the measured objective (derivative-free: the vocoder and the stop decision are
not differentiable in any useful way).
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from studio.affect import CORE_LABELS, Affect, ProsodyPlan, prosody_plan
from studio.errors import StudioError

log = logging.getLogger(__name__)

FORMAT = "affect-studio/speech-directions"
VERSION = "1"
FEATURES = ("f0_shift_st", "f0_range", "rate", "loudness_db", "tilt_db")
# what one unit of error is worth per feature (the size of a clearly audible change)
SCALES = {"f0_shift_st": 2.0, "f0_range": 0.2, "rate": 0.1, "loudness_db": 3.0, "tilt_db": 3.0}
LABELS = tuple(x for x in CORE_LABELS if x != "neutral")
DEFAULT_FILE = "emotion_directions.safetensors"   # looked for in the model folder when no file is given
VAD_RIDGE = 0.05
PLAN_RIDGE = 0.05
DEFAULT_TEXTS = ("I really did not expect to see you here today.", "We need to talk about what happened last night.",
                 "The results came in this morning.", "Please put the box on the table by the door.")


# ---- measuring ------------------------------------------------------------------------------
def measure(audio: np.ndarray, sr: int) -> dict[str, float]:
    """Absolute prosody of one clip: F0 median and 5-95 % spread (semitones re 100 Hz, WORLD DIO + StoneMask),
    active-speech seconds (frames within 35 dB of the loudest), active level (dB) and tilt (dB above vs below 1 kHz)."""
    import pyworld

    from pipelines.speech import level

    x = np.asarray(audio, np.float64).reshape(-1)
    if not np.any(x):
        return {"f0_med": math.nan, "f0_spread": math.nan, "active_s": 0.0, "level_db": -200.0, "tilt_db": 0.0}
    db = level.frame_db(x, sr)
    act = db > db.max() - level.GATE_DB
    f0, t = pyworld.dio(x, sr, f0_floor=60.0, f0_ceil=500.0, frame_period=10.0)
    f0 = pyworld.stonemask(x, f0, t, sr)
    st = 12 * np.log2(f0[f0 > 0] / 100.0)
    n = max(1, int(level.FRAME_S * sr))
    frames = x[: (len(x) // n) * n].reshape(-1, n)[act[: len(x) // n]] if len(x) >= n else x[None, :]
    spec = np.mean(np.abs(np.fft.rfft(frames * np.hanning(frames.shape[1]), axis=1)) ** 2, axis=0)
    freqs = np.fft.rfftfreq(frames.shape[1], 1 / sr)
    hi, lo = spec[freqs >= 1000].sum(), spec[(freqs > 50) & (freqs < 1000)].sum()
    return {"f0_med": float(np.median(st)) if len(st) >= 5 else math.nan,
            "f0_spread": float(np.percentile(st, 95) - np.percentile(st, 5)) if len(st) >= 5 else math.nan,
            "active_s": float(act.sum() * level.FRAME_S), "level_db": level.active_level_db(x, sr),
            "tilt_db": float(10 * np.log10((hi + 1e-20) / (lo + 1e-20)))}


def deviation(m: Mapping[str, float], ref: Mapping[str, float]) -> dict[str, float]:
    """Feature deviations of ``m`` from the neutral reference, in ProsodyPlan.deviations() units (NaN: unmeasurable)."""
    spread = m["f0_spread"] / ref["f0_spread"] if ref["f0_spread"] and ref["f0_spread"] > 0 else math.nan
    return {"f0_shift_st": m["f0_med"] - ref["f0_med"],
            "f0_range": math.log(spread) if spread and spread > 0 else math.nan,
            "rate": math.log(ref["active_s"] / m["active_s"]) if m["active_s"] > 0 and ref["active_s"] > 0 else math.nan,
            "loudness_db": m["level_db"] - ref["level_db"], "tilt_db": m["tilt_db"] - ref["tilt_db"]}


def plan_target(plan: ProsodyPlan) -> dict[str, float]:
    dev = plan.deviations()
    return {k: float(dev[k]) for k in FEATURES}


def objective(devs: Sequence[Mapping[str, float]], target: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """Mean over clips of Σ w·((measured − target) / scale)²; unmeasurable features count as not moved (0)."""
    total = 0.0
    for d in devs:
        for k, w in weights.items():
            v = d.get(k, math.nan)
            total += w * (((0.0 if not math.isfinite(v) else v) - target.get(k, 0.0)) / SCALES[k]) ** 2
    return total / max(1, len(devs))


# ---- the directions -------------------------------------------------------------------------
@dataclass
class Directions:
    labels: tuple[str, ...]
    vectors: np.ndarray                       # (L, D): one direction per label
    neutral: np.ndarray | None = None         # (D,): the voice they were fitted for
    response: np.ndarray | None = None        # (F, L): measured FEATURES deviation of neutral + dᵢ
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.vectors = np.asarray(self.vectors, np.float32)
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.labels):
            raise StudioError(f"directions need one vector per label ({len(self.labels)}), got shape {self.vectors.shape}")
        unknown = [x for x in self.labels if x not in LABELS]
        if unknown:
            raise StudioError(f"direction labels {unknown} are not core emotions; use {', '.join(LABELS)}")
        from studio.affect.taxonomy import anchor

        # an affect without a mixture (a raw VAD point) uses the ridge map from the labels' anchors to their
        # directions: linear in VAD, so a mirrored point gets exactly the opposite offset
        x = np.array([anchor(lab) for lab in self.labels], np.float64)
        self.vad_map = np.linalg.solve(x.T @ x + VAD_RIDGE * np.eye(3), x.T @ self.vectors.astype(np.float64))

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def vector(self, label: str) -> np.ndarray:
        if label == "neutral":
            return np.zeros(self.dim)
        if label not in self.labels:
            raise StudioError(f"no direction for {label!r} in this file (it has {', '.join(self.labels)}); "
                              "fit it with `studio train speech-directions`")
        return self.vectors[self.labels.index(label)].astype(np.float64)

    def offset(self, affect: Affect) -> np.ndarray:
        """Σ wᵢ · intensity · dᵢ over the affect's mixture (a raw VAD point: intensity · VAD · vad_map)."""
        out = np.zeros(self.dim)
        if affect.intensity == 0 or affect.is_neutral:
            return out
        if affect.mixture:
            for label, w in affect.mixture:
                out += w * affect.intensity * self.vector(label)
        else:
            out = affect.intensity * (np.asarray(affect.vad, np.float64) @ self.vad_map)
        return out

    def offset_for_plan(self, plan: ProsodyPlan) -> np.ndarray:
        """A hand-edited plan: the direction mix whose measured response best realises its deviations (ridge)."""
        if self.response is None:
            raise StudioError("these directions carry no measured response, so a hand-edited plan cannot be mapped onto "
                              "them; refit with `studio train speech-directions`, or render from an emotion")
        t = np.array([plan_target(plan)[k] for k in FEATURES])
        if not np.any(t):
            return np.zeros(self.dim)
        s = np.array([SCALES[k] for k in FEATURES])
        r = np.nan_to_num(self.response) / s[:, None]
        c = np.linalg.solve(r.T @ r + PLAN_RIDGE * np.eye(r.shape[1]), r.T @ (t / s))
        return c @ self.vectors.astype(np.float64)

    # ---- files ----------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        from safetensors.numpy import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {f"direction.{lab}": self.vectors[i].copy() for i, lab in enumerate(self.labels)}
        if self.neutral is not None:
            tensors["neutral"] = np.asarray(self.neutral, np.float32)
        if self.response is not None:
            tensors["response"] = np.asarray(self.response, np.float32)
        meta = {"format": FORMAT, "version": VERSION, "labels": json.dumps(list(self.labels)),
                "features": json.dumps(list(FEATURES)), "dim": str(self.dim),
                **{k: v if isinstance(v, str) else json.dumps(v) for k, v in self.meta.items()}}
        tmp = path.with_name(path.name + ".tmp")
        save_file(tensors, str(tmp), metadata=meta)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Directions":
        from safetensors import SafetensorError, safe_open

        p = Path(path)
        if not p.is_file():
            raise StudioError(f"directions file {p} does not exist; fit one with `studio train speech-directions --weights ... --out {p}`")
        try:
            with safe_open(str(p), "np") as f:
                meta = f.metadata() or {}
                tensors = {k: f.get_tensor(k) for k in f.keys()}
        except (SafetensorError, OSError, ValueError) as e:
            raise StudioError(f"{p} is not a safetensors file ({str(e)[:120]}); fit one with `studio train speech-directions`") from None
        if meta.get("format") != FORMAT:
            raise StudioError(f"{p} is not a speech-directions file (format {meta.get('format')!r}); fit one with "
                              "`studio train speech-directions`")
        labels = tuple(json.loads(meta["labels"]))
        extra = {k: v for k, v in meta.items() if k not in ("format", "version", "labels", "features", "dim")}
        if json.loads(meta.get("features", "[]")) != list(FEATURES) and "response" in tensors:
            tensors.pop("response")
        return cls(labels, np.stack([tensors[f"direction.{lab}"] for lab in labels]), tensors.get("neutral"),
                   tensors.get("response"), extra)


def load_reference(path: str | Path) -> dict[str, np.ndarray]:
    """Reference speaker embeddings (e.g. x-vectors of emotional and neutral clips): a safetensors file with one
    (N, D) tensor per label, 'neutral' among them."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    p = Path(path)
    if p.is_dir() or p.suffix.lower() in (".wav", ".flac", ".mp3"):
        raise StudioError(f"{p}: reference audio needs a speaker encoder (x-vectors) that the studio does not ship; "
                          "give a safetensors file of embeddings per label instead ('neutral': (N, D), 'anger': (M, D) …)")
    try:
        ref = {k: np.asarray(v, np.float64).reshape(-1, v.shape[-1]) for k, v in load_file(str(p)).items()}
    except (SafetensorError, OSError, ValueError) as e:
        raise StudioError(f"cannot read reference embeddings {p} ({str(e)[:120]}); give a safetensors file") from None
    if "neutral" not in ref:
        raise StudioError(f"reference embeddings {p} have no 'neutral' tensor: difference-of-means needs neutral clips")
    return ref


def difference_of_means(ref: Mapping[str, np.ndarray], labels: Sequence[str]) -> dict[str, np.ndarray]:
    """EmoKnob's direction: mean emotional embedding minus mean neutral embedding."""
    mu0 = ref["neutral"].mean(0)
    return {lab: ref[lab].mean(0) - mu0 for lab in labels if lab in ref}


# ---- fitting --------------------------------------------------------------------------------
Renderer = Callable[[list[np.ndarray]], list[list[dict[str, float]]]]   # embeddings -> per embedding, per text: measure()


@dataclass
class FitReport:
    label: str
    objective_start: float   # at the starting direction (zero, or difference-of-means)
    objective_linear: float  # after the ridge step
    objective_end: float     # after the evolution strategy
    deviation: dict          # measured feature deviation at the fitted direction (mean over texts)
    norm: float


def fit(render: Renderer, neutral: np.ndarray, targets: Mapping[str, Mapping[str, float]], *,
        weights: Mapping[str, float] | None = None, init: Mapping[str, np.ndarray] | None = None, basis: int = 16,
        step: float = 0.3, iters: int = 8, population: int = 4, max_norm: float = 1.5, seed: int = 0
        ) -> tuple[dict[str, np.ndarray], dict[str, FitReport], np.ndarray]:
    """Directions for each label in ``targets`` ({label: {feature: deviation}}); returns (directions, reports,
    response (F, L)). ``render`` speaks every text with each embedding and returns the measures."""
    weights = dict(weights or {k: 1.0 for k in FEATURES})
    rng = np.random.default_rng(seed)
    neutral = np.asarray(neutral, np.float64)
    dim = neutral.shape[0]
    scale = float(np.linalg.norm(neutral)) or 1.0
    init = {k: np.asarray(v, np.float64) for k, v in (init or {}).items()}
    # the subspace: reference directions first (so difference-of-means is reachable exactly), then random ones
    cols = [v / np.linalg.norm(v) for v in init.values() if np.linalg.norm(v) > 0]
    cols += list(rng.standard_normal((max(0, basis - len(cols)), dim)))
    q, _ = np.linalg.qr(np.stack(cols, axis=1))
    eps = step * scale
    ref_m = render([neutral])[0]

    def evaluate(cs: list[np.ndarray]) -> list[list[dict[str, float]]]:
        ms = render([neutral + q @ c for c in cs])
        return [[deviation(m, r) for m, r in zip(per, ref_m)] for per in ms]

    # finite differences along each basis vector: J (F, k), in feature units per unit coefficient
    probes = evaluate([eps * e for e in np.eye(q.shape[1])])
    jac = np.zeros((len(FEATURES), q.shape[1]))
    for j, per in enumerate(probes):
        for f, k in enumerate(FEATURES):
            vals = [d[k] for d in per if math.isfinite(d[k])]
            jac[f, j] = (np.mean(vals) if vals else 0.0) / eps
    w = np.array([math.sqrt(weights.get(k, 0.0)) / SCALES[k] for k in FEATURES])
    a = jac * w[:, None]
    lam = 1e-3 * (np.trace(a.T @ a) / a.shape[1] + 1e-12)
    out, reports, resp = {}, {}, np.zeros((len(FEATURES), len(targets)))
    max_c = max_norm * scale
    for li, (label, target) in enumerate(targets.items()):
        t = np.array([target.get(k, 0.0) for k in FEATURES])
        c0 = q.T @ init[label] if label in init else np.zeros(q.shape[1])
        start = objective(evaluate([c0])[0], target, weights)
        c_lin = c0 + np.linalg.solve(a.T @ a + lam * np.eye(a.shape[1]), a.T @ (w * t - a @ c0))
        if np.linalg.norm(c_lin) > max_c:
            c_lin *= max_c / np.linalg.norm(c_lin)
        (lin_devs,) = evaluate([c_lin])
        lin = objective(lin_devs, target, weights)
        best_c, best, best_devs = (c_lin, lin, lin_devs) if lin < start else (c0, start, None)
        sigma = 0.25 * eps
        for _ in range(iters):
            cands = [best_c + sigma * rng.standard_normal(q.shape[1]) for _ in range(population)]
            cands = [c * min(1.0, max_c / (np.linalg.norm(c) + 1e-12)) for c in cands]
            results = evaluate(cands)
            scores = [objective(r, target, weights) for r in results]
            i = int(np.argmin(scores))
            if scores[i] < best:
                best_c, best, best_devs = cands[i], scores[i], results[i]
                sigma *= 1.3
            else:
                sigma *= 0.6
        if best_devs is None:
            (best_devs,) = evaluate([best_c])
        mean_dev = {k: float(np.nanmean([d[k] for d in best_devs])) if any(math.isfinite(d[k]) for d in best_devs)
                    else math.nan for k in FEATURES}
        resp[:, li] = [mean_dev[k] for k in FEATURES]
        out[label] = q @ best_c
        reports[label] = FitReport(label, start, lin, best, mean_dev, float(np.linalg.norm(out[label])))
        log.info("%s: objective %.3f -> %.3f (linear) -> %.3f", label, start, lin, best)
    return out, reports, resp


def fit_directions(weights: str, out: str, *, vocoder: str | None = None, speaker: str | None = None,
                   reference: str | None = None, texts: Sequence[str] | None = None, labels: Sequence[str] | None = None,
                   targets: Mapping[str, Mapping[str, float]] | None = None,
                   feature_weights: Mapping[str, float] | None = None, basis: int = 16, iters: int = 8,
                   population: int = 4, step: float = 0.3, seed: int = 0, device: str | None = None,
                   dtype: str | None = None, options: Mapping[str, float] | None = None) -> dict[str, FitReport]:
    """Fit and save one direction per core emotion for the voice in ``weights`` (the trainer behind
    `studio train speech-directions`). ``targets`` replaces the ProsodyPlan targets (tests, custom styles);
    ``options`` are render options (threshold, minlenratio, maxlenratio)."""
    from pipelines.speech.neural import NeuralSpeechEngine

    eng = NeuralSpeechEngine(weights, vocoder=vocoder, device=device, dtype=dtype, speaker=speaker, directions="none")
    labels = list(labels or (list(targets) if targets else LABELS))
    bad = [x for x in labels if x not in LABELS]
    if bad:
        raise StudioError(f"cannot fit directions for {bad}: use core emotions {', '.join(LABELS)}")
    if targets is None:
        targets = {lab: plan_target(prosody_plan(Affect.of(lab, 1.0))) for lab in labels}
    texts = list(texts or DEFAULT_TEXTS)
    init = difference_of_means(load_reference(reference), labels) if reference else {}
    for lab, v in init.items():
        if v.shape[0] != eng.voice.embedding_dim:
            raise StudioError(f"reference embeddings are {v.shape[0]}-d; this model's speaker embedding is {eng.voice.embedding_dim}-d")
    sr = eng.voice.sample_rate

    def render(embs: list[np.ndarray]) -> list[list[dict[str, float]]]:
        jobs = [(t, e) for e in embs for t in texts]
        audio = eng.speak_embeddings([t for t, _ in jobs], [e for _, e in jobs], seed, options=options)
        ms = [measure(a, sr) for a in audio]
        return [ms[i * len(texts):(i + 1) * len(texts)] for i in range(len(embs))]

    dirs, reports, resp = fit(render, eng.neutral, {lab: targets[lab] for lab in labels}, weights=feature_weights,
                              init=init, basis=basis, step=step, iters=iters, population=population, seed=seed)
    d = Directions(tuple(labels), np.stack([dirs[lab] for lab in labels]), eng.neutral.astype(np.float32), resp,
                   {"model": str(eng.voice.path), "speaker": eng.speaker_source, "texts": list(texts), "seed": seed,
                    "start": "difference-of-means" if init else "zero",
                    "objective": {lab: [r.objective_start, r.objective_linear, r.objective_end] for lab, r in reports.items()}})
    d.save(out)
    return reports

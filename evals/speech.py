"""Acoustic speech recognizer: measures prosody from rendered audio only and maps it to arousal/valence.

It never sees a plan. Measures: median F0 and its 5th-95th percentile range in semitones, from its
own YIN-based tracker (de Cheveigné & Kawahara 2002) with Viterbi continuity over candidate periods
(``track_f0``; the renderer analyses with WORLD Harvest, a different method); gated RMS level (dBFS);
spectral balance, energy above 1 kHz vs below (dB); speaking and articulation rate from syllable nuclei
(after de Jong & Wempe 2009: voiced intensity peaks that stand out >= 2 dB from their dips) and the
active speaking time. Because it reads the same cues the renderer sets, it checks that a plan was
*realised*; it says nothing about what a listener would perceive. Known weakness: creaky stretches
(irregular pulses, which this voice has and which a widened F0 range pushes towards the 55 Hz floor)
are often left unvoiced or read at a formant-ringing period, so the low tail of wide contours is
under-counted.

Mapping to arousal (documented, fixed constants): each cue's deviation from a speaker baseline is
divided by its size at full arousal under Schröder's (2004) rules as used by MaryTTS — F0 level
+30 % (4.5 semitones), loudness +8 dB (the studio's mapping of Schröder's 0.33A loudness points),
vocal effort (energy above 1 kHz vs below) +6 dB, speaking rate +50 % — and the median of the four
ratios, clipped to [-1, 1], is the arousal estimate (the median, so that one misread cue — typically
an F0 harmonic pick — cannot carry the estimate). Valence is weakly coded in prosody; the
estimate uses contour direction and F0 range (rising, wide contours for pleasant states, Schröder's
accent-shape rule and emofilt's joy profile), and should be read as a rough cue only.

Without a baseline the deviations are taken from generic adult reference values (below); give a
neutral recording of the same voice (``calibrate``) for speaker-normalised estimates, as
speech-emotion recognizers customarily normalise per speaker.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from evals.base import BaseRecognizer, Recognition, as_media
from studio.errors import StudioError

FULL_AROUSAL = {"f0_median_st": 12 * math.log2(1.3), "rms_db": 8.0, "tilt_db": 6.0, "log_rate": math.log(1.5)}
# generic references when no speaker baseline is given: a mid adult F0 of 150 Hz, the studio's
# -26 dBFS speech level, a modal-voice tilt of -12 dB and 4.5 syllables/s articulation rate
GENERIC_BASELINE = {"f0_median_st": 12 * math.log2(150 / 100), "rms_db": -26.0, "tilt_db": -12.0,
                    "articulation_rate": 4.5, "f0_range_st": 8.0, "f0_slope_st": 0.0}
F0_METHOD = "yin"  # "harvest" (WORLD) is kept for comparison; it misses many frames of this voice


def _st(f0: np.ndarray) -> np.ndarray:
    return 12 * np.log2(f0 / 100.0)  # semitones re 100 Hz


@dataclass
class AcousticRecognizer(BaseRecognizer):
    name: str = "acoustic-prosody"
    medium: str = "speech"
    kind: str = "realisation"
    accepts = ("audio",)
    baseline: dict[str, float] = field(default_factory=lambda: dict(GENERIC_BASELINE))
    same_text: bool = False  # the baseline speaks the same words: rate from the ratio of speaking time

    def calibrate(self, audio: np.ndarray, sample_rate: int, same_text: bool = False) -> "AcousticRecognizer":
        """A recognizer normalised to the speaker of ``audio`` (a neutral recording). With
        ``same_text`` the baseline says the same words as what will be recognised, and the rate change
        is the ratio of active speaking time — continuous and far steadier than a syllable count."""
        return AcousticRecognizer(baseline=measure(audio, sample_rate), same_text=same_text)

    def recognize(self, media) -> Recognition:
        """``media``: audio Media (with ``reference``: a neutral rendering of the same text and voice, the
        speaker baseline), a SpeechResult, or a WAV/FLAC path."""
        media = self.check(as_media(media))
        if media.reference is not None:
            return _calibrated(media.reference).measure_audio(media.audio, media.sample_rate)
        return self.measure_audio(media.audio, media.sample_rate)

    def measure_audio(self, audio: np.ndarray, sample_rate: int) -> Recognition:
        m = measure(audio, sample_rate)
        b = self.baseline
        dev = {
            "f0_median_st": m["f0_median_st"] - b["f0_median_st"],
            "rms_db": m["rms_db"] - b["rms_db"],
            "tilt_db": m["tilt_db"] - b["tilt_db"],
            "log_rate": (math.log(b["speech_s"] / max(m["speech_s"], 1e-3)) if self.same_text and "speech_s" in b
                         else math.log(max(m["articulation_rate"], 1e-3) / max(b["articulation_rate"], 1e-3))),
            "log_f0_range": math.log(max(m["f0_range_st"], 0.1) / max(b["f0_range_st"], 0.1)),
        }
        arousal = float(np.clip(np.median([dev[k] / FULL_AROUSAL[k] for k in FULL_AROUSAL]), -1, 1))
        d_range = dev["log_f0_range"]
        d_slope = m["f0_slope_st"] - b["f0_slope_st"]
        valence = float(np.clip(0.5 * d_range / math.log(2.0) + 0.5 * d_slope / 1.0, -1, 1))
        return self.recognition(valence=valence, arousal=arousal, measures={**m, **{f"d_{k}": v for k, v in dev.items()}})

    def recognize_file(self, path: str | Path) -> Recognition:
        audio, sr = read_audio(path)
        return self.measure_audio(audio, sr)


_CALIBRATED: dict = {}


def _calibrated(reference) -> AcousticRecognizer:
    """The recognizer normalised to a reference rendering, once per reference (by path and mtime, or content)."""
    import hashlib

    p = reference.path
    key = (str(p), p.stat().st_mtime_ns) if p is not None and p.exists() else hashlib.sha256(reference.audio.tobytes()).hexdigest()
    if key not in _CALIBRATED:
        if len(_CALIBRATED) > 64:
            _CALIBRATED.clear()
        _CALIBRATED[key] = AcousticRecognizer().calibrate(reference.audio, reference.sample_rate)
    return _CALIBRATED[key]


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    p = Path(path)
    if not p.exists():
        raise StudioError(f"audio file {p} does not exist")
    try:
        a, sr = sf.read(p, dtype="float32", always_2d=True)
    except RuntimeError as e:
        raise StudioError(f"cannot read {p} as WAV/FLAC audio ({e}); give a WAV or FLAC file") from None
    return a.mean(axis=1), int(sr)


def _frames_db(x: np.ndarray, sr: int, win_s: float, hop_s: float) -> tuple[np.ndarray, np.ndarray]:
    w, h = max(1, int(win_s * sr)), max(1, int(hop_s * sr))
    n = max(1, 1 + (len(x) - w) // h)
    idx = np.arange(w)[None, :] + h * np.arange(n)[:, None]
    xx = np.pad(x, (0, max(0, idx.max() + 1 - len(x))))[idx].astype(np.float64)
    p = np.mean(xx ** 2, axis=1)
    return 10 * np.log10(p + 1e-20), (np.arange(n) * h + w / 2) / sr


def _yin_candidates(ypad, s0, s1, hop, w, span, nfft, lag, tmin, tmax, n_cand):
    """For frames s0..s1: the ``n_cand`` deepest dips of YIN's d'(tau), as (lag, d' at the parabola's
    vertex; inf where there are fewer dips) and each frame's window energy."""
    n = s1 - s0
    idx = np.arange(span)[None, :] + hop * np.arange(s0, s1)[:, None]
    fr = ypad[idx]
    fr = fr - fr[:, :w].mean(axis=1, keepdims=True)
    # difference function d(tau) = e(0) + e(tau) - 2 r(tau) over a window of w samples
    r = np.fft.irfft(np.conj(np.fft.rfft(fr[:, :w], nfft, axis=1)) * np.fft.rfft(fr, nfft, axis=1), nfft, axis=1)[:, :tmax + 2]
    c = np.concatenate([np.zeros((n, 1)), np.cumsum(fr ** 2, axis=1)], axis=1)
    e0 = c[:, w]
    d = np.maximum(e0[:, None] + (c[:, lag + w] - c[:, lag]) - 2 * r, 0.0)
    dn = np.ones_like(d)                     # cumulative mean normalised difference d'(tau)
    dn[:, 1:] = d[:, 1:] * lag[1:] / np.maximum(np.cumsum(d[:, 1:], axis=1), 1e-20)
    mid = dn[:, tmin:tmax + 1]
    dip = (mid < dn[:, tmin - 1:tmax]) & (mid <= dn[:, tmin + 1:tmax + 2])
    order = np.argsort(np.where(dip, mid, np.inf), axis=1)[:, :n_cand]
    rows = np.arange(n)[:, None]
    t0 = order + tmin
    a, b, cc = dn[rows, t0 - 1], dn[rows, t0], dn[rows, t0 + 1]
    den = a - 2 * b + cc
    off = np.clip(np.where(np.abs(den) > 1e-12, 0.5 * (a - cc) / np.where(den == 0, 1, den), 0.0), -0.5, 0.5)
    dmin = np.where(dip[rows, order], b - 0.25 * (a - cc) * off, np.inf)   # value at the parabola's vertex
    return t0 + off, dmin, e0


def track_f0(x: np.ndarray, sr: int, floor: float = 55.0, ceil: float = 500.0, hop_s: float = 0.01,
             unvoiced_d: float = 0.5, n_cand: int = 6, win_s: float = 0.02, jump: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """F0 track (Hz, 0 = unvoiced) and frame times (s), independent of the renderer's WORLD analysis.

    Candidates come from YIN's cumulative-mean-normalised difference function d'(tau) (de Cheveigné &
    Kawahara 2002, JASA 111(4): steps 2-5 - difference function, cumulative mean normalisation, and
    parabolic interpolation of each dip), computed for all frames at once with FFTs on the band below
    1.5 kHz resampled to 16 kHz, 20 ms integration window, 10 ms hop. (The window is short because the
    wide emotional contours move F0 by up to an octave in 60 ms; with 30 ms windows such frames lost
    their dip and read unvoiced or at a harmonic - chosen on the benchmark renders against the F0 the
    synthesiser was given, see benchmarks/README.md.) Instead of YIN's "first dip below
    an absolute threshold" per frame, the ``n_cand`` deepest dips of every frame and an unvoiced state
    enter a Viterbi search (as pYIN does with an HMM; the costs here are our own, simple choices):

    - a voiced candidate costs ``10 * d'(tau)`` (+0.1 per octave of lag, a slight preference for the
      shorter of two equally good periods, against sub-harmonic picks);
    - the unvoiced state costs ``10 * unvoiced_d``, so a frame is voiced when some dip is clearly
      periodic; frames 35 dB below the loudest are always unvoiced, and frames more than 25 dB below it
      pay up to one extra nat to be voiced (weak onsets and offsets ring at a formant);
    - moving between frames costs ``jump`` (0.3) per semitone of F0 change (an octave jump: 3.6),
      entering or leaving voicing 2;
    - a candidate more than an octave from the median of the clearly periodic frames (d' < 0.15) pays
      3 per further octave: on weak, creaky stretches this voice's formant ringing (300-450 Hz) forms
      dips as deep as the true period's.

    Voiced runs shorter than 30 ms are dropped."""
    from scipy.signal import butter, resample_poly, sosfiltfilt

    fs = 16000
    xx = np.asarray(x, dtype=np.float64)
    y = resample_poly(xx, fs, sr) if sr != fs else xx
    y = sosfiltfilt(butter(4, 1500, fs=fs, output="sos"), y)
    w = int(win_s * fs)                      # integration window
    tmin, tmax = max(2, int(fs / ceil)), int(math.ceil(fs / floor)) + 1
    span = w + tmax + 1
    hop = int(round(hop_s * fs))
    n = max(1, 1 + (len(y) - w) // hop)
    ypad = np.pad(y, (0, n * hop + span))
    nfft = 1 << int(math.ceil(math.log2(span + w)))
    lag = np.arange(tmax + 2)
    parts = [_yin_candidates(ypad, s0, min(n, s0 + 2000), hop, w, span, nfft, lag, tmin, tmax, n_cand)
             for s0 in range(0, n, 2000)]  # blocks of 20 s keep the frame matrices small on long files
    tau, dmin, e0 = (np.concatenate([q[i] for q in parts]) for i in range(3))
    st = 12 * np.log2(fs / tau / 100.0)
    edb = 10 * np.log10(e0 / w + 1e-20)
    loud = edb > edb.max() - 35.0
    cost = 10.0 * dmin + 0.1 * np.log2(tau / tmin)
    cost = cost + np.clip((edb.max() - 25.0 - edb) / 10.0, 0, 1)[:, None]
    good = loud & (dmin[:, 0] < 0.15)
    if good.sum() >= 5:
        cost = cost + 3.0 * np.maximum(np.abs(st - np.median(st[good, 0])) - 12.0, 0) / 12.0
    cost[~loud] = np.inf
    em = np.concatenate([np.where(np.isfinite(cost), cost, 1e6), np.where(loud, 10.0 * unvoiced_d + 0.1, 0.0)[:, None]], axis=1)
    k = n_cand
    trans = np.zeros((n, k + 1, k + 1))
    trans[1:, :k, :k] = jump * np.abs(st[:-1, :, None] - st[1:, None, :])
    trans[:, :k, k] = trans[:, k, :k] = 2.0
    acc = em[0].copy()
    back = np.zeros((n, k + 1), dtype=np.intp)
    for i in range(1, n):
        tot = acc[:, None] + trans[i]
        back[i] = np.argmin(tot, axis=0)
        acc = tot[back[i], np.arange(k + 1)] + em[i]
    path = np.empty(n, dtype=np.intp)
    path[-1] = int(np.argmin(acc))
    for i in range(n - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    voiced = path < k
    f0 = np.where(voiced, 100 * 2 ** (st[np.arange(n), np.minimum(path, k - 1)] / 12), 0.0)
    edges = np.diff(np.concatenate([[0], voiced.astype(int), [0]]))
    for s0, s1 in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
        if s1 - s0 < 3:
            f0[s0:s1] = 0.0
    return f0, (np.arange(n) * hop + w / 2) / fs


def _clean(f0: np.ndarray, span: int = 11, tol_st: float = 5.0) -> np.ndarray:
    """Octave-error repair against a local (110 ms) median of voiced frames: a frame more than
    ``tol_st`` away is moved by an octave if that lands near the median, else it is unvoiced;
    isolated voiced frames are dropped and a 3-frame median smooths the rest."""
    v = f0 > 0
    if v.sum() < 3:
        return f0
    st = np.where(v, 12 * np.log2(np.maximum(f0, 1e-3) / 100), np.nan)
    pad = span // 2
    padded = np.pad(st, pad, constant_values=np.nan)
    win = np.lib.stride_tricks.sliding_window_view(padded, span)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        local = np.nanmedian(win, axis=1)
    out = st.copy()
    d = st - local
    far = v & (np.abs(d) > tol_st)
    moved = st - 12 * np.round(d / 12)
    ok = far & (np.abs(moved - local) <= tol_st)
    out[ok] = moved[ok]
    out[far & ~ok] = np.nan
    keep = ~np.isnan(out)
    # drop voiced runs shorter than 3 frames (30 ms): too short to be a syllable's voicing
    edges = np.diff(np.concatenate([[0], keep.astype(int), [0]]))
    for a, b in zip(np.where(edges == 1)[0], np.where(edges == -1)[0]):
        if b - a < 3:
            out[a:b] = np.nan
    padded = np.pad(out, 1, constant_values=np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sm = np.nanmedian(np.lib.stride_tricks.sliding_window_view(padded, 3), axis=1)
    sm[np.isnan(out)] = np.nan
    return np.where(np.isnan(sm), 0.0, 100 * 2 ** (sm / 12))


def measure(audio: np.ndarray, sample_rate: int) -> dict[str, float]:
    from scipy.signal import butter, find_peaks, sosfiltfilt

    x = np.asarray(audio, dtype=np.float64).reshape(-1)
    sr = int(sample_rate)
    if x.size < sr * 0.2 or not np.all(np.isfinite(x)) or np.max(np.abs(x)) < 1e-5:
        raise StudioError("audio is shorter than 0.2 s, silent or non-finite: nothing to measure")
    dur = len(x) / sr

    # level: 20 ms frames, gated 35 dB below the loudest
    db, _ = _frames_db(x, sr, 0.02, 0.02)
    active = db > db.max() - 35.0
    rms_db = float(10 * np.log10(np.mean(10 ** (db[active] / 10))))

    if F0_METHOD == "harvest":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            import pyworld as pw

        f0, t = pw.harvest(x, sr, f0_floor=55.0, f0_ceil=600.0, frame_period=10.0)
        f0 = _clean(f0)
    else:
        f0, t = track_f0(x, sr)
    v = f0 > 0
    if v.sum() < 5:
        raise StudioError("no voiced speech found in the audio: cannot measure F0")
    st = _st(f0[v])
    slope = float(np.polyfit(t[v], st, 1)[0]) if np.ptp(t[v]) > 0.2 else 0.0

    # spectral balance over active 20 ms frames
    n = int(0.02 * sr)
    m = len(x) // n
    frames = x[: m * n].reshape(m, n)[active[:m]] * np.hanning(n)
    spec = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    freqs = np.fft.rfftfreq(n, 1 / sr)
    lo = spec[:, (freqs >= 50) & (freqs < 1000)].sum()
    hi = spec[:, freqs >= 1000].sum()
    tilt_db = float(10 * np.log10((hi + 1e-20) / (lo + 1e-20)))

    # syllable nuclei: peaks of the 300-3300 Hz intensity that rise >= 2 dB over their dips, voiced,
    # and within 25 dB of the loudest frame
    sos = butter(4, [300, min(3300, sr / 2 - 100)], btype="band", fs=sr, output="sos")
    edb, et = _frames_db(sosfiltfilt(sos, x), sr, 0.025, 0.01)
    edb = np.convolve(edb, np.ones(2) / 2, mode="same")
    peaks, _ = find_peaks(edb, prominence=2.0, distance=5)
    peaks = peaks[edb[peaks] > edb.max() - 25.0]
    vt = t[v]
    near = np.searchsorted(vt, et[peaks])
    gap = np.minimum(np.abs(vt[np.clip(near, 0, len(vt) - 1)] - et[peaks]), np.abs(vt[np.clip(near - 1, 0, len(vt) - 1)] - et[peaks]))
    nuclei = int(np.sum(gap < 0.03))  # a nucleus is voiced within 30 ms of its intensity peak
    speech_s = float(np.sum(edb > np.percentile(edb, 95) - 30.0) * 0.01)
    return {
        "duration_s": dur,
        "f0_median_hz": float(np.median(f0[v])),
        "f0_median_st": float(np.median(st)),
        "f0_range_st": float(np.percentile(st, 95) - np.percentile(st, 5)),
        "f0_slope_st": slope,
        "voiced_fraction": float(v.mean()),
        "rms_db": rms_db,
        "tilt_db": tilt_db,
        "nuclei": float(nuclei),
        "speech_rate": nuclei / dur,
        "articulation_rate": nuclei / max(speech_s, 1e-3),
        "speech_s": speech_s,
        "peak_db": float(20 * np.log10(np.max(np.abs(x)))),
    }

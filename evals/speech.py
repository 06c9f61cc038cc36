"""Acoustic speech recognizer: measures prosody from rendered audio only and maps it to arousal/valence.

It never sees a plan. Measures: median F0 and its 5th-95th percentile range in semitones, from its
own normalised-autocorrelation tracker on the band below 1 kHz (the renderer analyses with WORLD
Harvest); gated RMS level (dBFS); spectral balance, energy above 1 kHz vs below (dB); speaking and
articulation rate from syllable nuclei (after de Jong & Wempe 2009: voiced intensity peaks that
stand out >= 2 dB from their dips) and the active speaking time. Because it reads the same cues the
renderer sets, it checks that a plan was *realised*; it says nothing about what a listener would
perceive. Known weakness: on wide-range, high-pitched renders (anger, joy at full intensity) the
tracker picks some harmonics and overstates the F0 level by a few semitones.

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

from evals.base import Recognition
from studio.errors import StudioError

FULL_AROUSAL = {"f0_median_st": 12 * math.log2(1.3), "rms_db": 8.0, "tilt_db": 6.0, "log_rate": math.log(1.5)}
# generic references when no speaker baseline is given: a mid adult F0 of 150 Hz, the studio's
# -26 dBFS speech level, a modal-voice tilt of -12 dB and 4.5 syllables/s articulation rate
GENERIC_BASELINE = {"f0_median_st": 12 * math.log2(150 / 100), "rms_db": -26.0, "tilt_db": -12.0,
                    "articulation_rate": 4.5, "f0_range_st": 8.0, "f0_slope_st": 0.0}
F0_METHOD = "acf"  # "harvest" (WORLD) is kept for comparison; it misses many frames of this voice


def _st(f0: np.ndarray) -> np.ndarray:
    return 12 * np.log2(f0 / 100.0)  # semitones re 100 Hz


@dataclass
class AcousticRecognizer:
    name: str = "acoustic-prosody"
    medium: str = "speech"
    baseline: dict[str, float] = field(default_factory=lambda: dict(GENERIC_BASELINE))
    same_text: bool = False  # the baseline speaks the same words: rate from the ratio of speaking time

    def calibrate(self, audio: np.ndarray, sample_rate: int, same_text: bool = False) -> "AcousticRecognizer":
        """A recognizer normalised to the speaker of ``audio`` (a neutral recording). With
        ``same_text`` the baseline says the same words as what will be recognised, and the rate change
        is the ratio of active speaking time — continuous and far steadier than a syllable count."""
        return AcousticRecognizer(self.name, self.medium, measure(audio, sample_rate), same_text)

    def recognize(self, audio, sample_rate: int | None = None) -> Recognition:
        """``audio``: a float array with its ``sample_rate``, a SpeechResult, or a WAV/FLAC path."""
        if isinstance(audio, (str, Path)):
            return self.recognize_file(audio)
        if hasattr(audio, "audio") and hasattr(audio, "sample_rate"):
            audio, sample_rate = audio.audio, audio.sample_rate
        if sample_rate is None:
            raise StudioError("recognize() needs the sample rate with a raw audio array")
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
        return Recognition(self.name, valence=valence, arousal=arousal, measures={**m, **{f"d_{k}": v for k, v in dev.items()}})

    def recognize_file(self, path: str | Path) -> Recognition:
        audio, sr = read_audio(path)
        return self.recognize(audio, sr)


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


def track_f0(x: np.ndarray, sr: int, floor: float = 55.0, ceil: float = 500.0, hop_s: float = 0.01,
             threshold: float = 0.5, ratio: float = 0.97) -> tuple[np.ndarray, np.ndarray]:
    """Normalised autocorrelation pitch tracker on the band below 1 kHz (a separate method from the
    renderer's WORLD Harvest). A lag scores the mean of its correlation and its double's, since a true
    period repeats at twice the lag while a harmonic (T/2, T/3) does not; the shortest lag scoring within
    97 % of the best wins, which avoids sub-harmonic (octave-low) picks. A frame is voiced when its
    correlation at the chosen lag is >= threshold."""
    from scipy.signal import butter, resample_poly, sosfiltfilt

    fs = 8000
    y = resample_poly(sosfiltfilt(butter(6, 1000, fs=sr, output="sos"), x), fs, sr)
    win, hop = int(0.05 * fs), int(hop_s * fs)
    n = max(1, 1 + (len(y) - win) // hop)
    idx = np.arange(win)[None, :] + hop * np.arange(n)[:, None]
    fr = np.pad(y, (0, max(0, idx.max() + 1 - len(y))))[idx]
    fr = fr - fr.mean(axis=1, keepdims=True)
    nfft = 2 * win
    spec = np.fft.rfft(fr, nfft, axis=1)
    ac = np.fft.irfft(np.abs(spec) ** 2, nfft, axis=1)[:, :win]
    # energy of the overlapping parts for a normalised (not biased) correlation
    c = np.cumsum(fr ** 2, axis=1)
    lags = np.arange(win)
    e_head = c[:, -1:] - np.concatenate([np.zeros((n, 1)), c[:, :-1]], axis=1)[:, lags]  # sum x[l:]^2
    e_tail = c[:, (win - 1 - lags)]                                                      # sum x[:win-l]^2
    r = ac / np.sqrt(np.maximum(e_head * e_tail, 1e-20))
    lo, hi = int(fs / ceil), int(fs / floor)
    lag_idx = np.arange(lo, hi + 1)
    r1 = r[:, lag_idx]
    rr = 0.5 * (r1 + r[:, np.minimum(2 * lag_idx, win - 1)])
    best = rr.max(axis=1)
    ok = rr >= ratio * best[:, None]
    # first local maximum of the score that clears ``ratio`` of the best
    peak = np.zeros_like(ok)
    peak[:, 1:-1] = (rr[:, 1:-1] >= rr[:, :-2]) & (rr[:, 1:-1] >= rr[:, 2:])
    cand = ok & peak
    first = np.where(cand.any(axis=1), cand.argmax(axis=1), rr.argmax(axis=1))
    # parabolic refinement of the lag
    i = np.clip(first, 1, rr.shape[1] - 2)
    a, b, cc = rr[np.arange(n), i - 1], rr[np.arange(n), i], rr[np.arange(n), i + 1]
    d = np.where(np.abs(a - 2 * b + cc) > 1e-9, 0.5 * (a - cc) / (a - 2 * b + cc), 0.0)
    lag = lo + i + np.clip(d, -1, 1)
    edb = 10 * np.log10(np.mean(fr ** 2, axis=1) + 1e-20)
    voiced = (r1[np.arange(n), i] >= threshold) & (edb > edb.max() - 35.0)
    f0 = np.where(voiced, fs / lag, 0.0)
    t = (np.arange(n) * hop + win / 2) / fs
    return _clean(f0), t


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

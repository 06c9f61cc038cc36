"""Apply a ProsodyPlan to speech by WORLD analysis / re-synthesis (pyworld).

Every plan field becomes a per-frame track, so a trajectory changes prosody inside an utterance.
F0 is edited in the log domain (semitones), the spectral envelope carries tilt and loudness, the
aperiodicity carries breathiness, and rate / pauses re-time the frame sequence before synthesis.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from studio.affect import ProsodyPlan

FRAME_MS = 5.0
F0_FLOOR, F0_CEIL = 55.0, 600.0          # limits of the re-synthesised F0
ANALYSIS_F0 = (60.0, 400.0)              # search range for the base voice (an adult male voice): narrower is faster and voices more frames
TILT_LO_HZ, TILT_HI_HZ = 900.0, 1100.0  # vocal-effort emphasis reaches full size just above 1 kHz
ST = math.log(2) / 12                   # one semitone in natural-log F0
TILT_NORM_S = 0.25                      # half-width of the window over which tilt keeps the power
GLOBAL_TOL_ST = 9.0                     # analysis F0 further than this from the chunk median is an octave error


@dataclass
class PlanTrack:
    """Plan fields sampled over source time (seconds); linear interpolation in between."""
    times: np.ndarray
    f0_shift_st: np.ndarray
    log_range: np.ndarray
    f0_slope_st: np.ndarray
    log_rate: np.ndarray
    log_pause: np.ndarray
    loudness_db: np.ndarray
    tilt_db: np.ndarray
    breathiness: np.ndarray
    jitter: np.ndarray

    @classmethod
    def from_plans(cls, times: list[float], plans: list[ProsodyPlan]) -> "PlanTrack":
        col = lambda f: np.array([f(p) for p in plans], dtype=np.float64)  # noqa: E731
        return cls(np.asarray(times, np.float64), col(lambda p: p.f0_shift_st), col(lambda p: math.log(p.f0_range_scale)),
                   col(lambda p: p.f0_slope_st), col(lambda p: math.log(p.rate_scale)), col(lambda p: math.log(p.pause_scale)),
                   col(lambda p: p.loudness_db), col(lambda p: p.tilt_db), col(lambda p: p.breathiness), col(lambda p: p.jitter))

    def is_identity(self) -> bool:
        return all(not np.any(getattr(self, f.name)) for f in fields(self) if f.name != "times")

    def at(self, t: np.ndarray) -> dict[str, np.ndarray]:
        out = {}
        for f in fields(self):
            if f.name != "times":
                v = getattr(self, f.name)
                out[f.name] = np.interp(t, self.times, v) if len(v) > 1 else np.full(len(t), v[0])
        return out


@dataclass
class Rendered:
    audio: np.ndarray
    src_frame_t: np.ndarray   # source frame times (s)
    out_frame_t: np.ndarray   # where each source frame lands in the output (s)
    loudness_db_mean: float   # planned loudness over the active output frames
    f0: np.ndarray            # the F0 handed to the synthesiser, one value per output frame (0 = unvoiced)

    def map_time(self, t_src: np.ndarray | float) -> np.ndarray:
        return np.interp(t_src, self.src_frame_t, self.out_frame_t)


def _tilt_curve(n_bins: int, sr: int) -> np.ndarray:
    f = np.linspace(0, sr / 2, n_bins)
    r = (np.log(np.maximum(f, 1.0)) - math.log(TILT_LO_HZ)) / (math.log(TILT_HI_HZ) - math.log(TILT_LO_HZ))
    return np.clip(r, 0.0, 1.0)


VOICED_IPA = set("aeiouyæɑɒɔəɚɛɜɝɪʊʌᵻɐɨøœɯɤɘɵɞɶɾmnŋɲɱlɹrɫɭjwbdgɡvðzʒʁɣβ")


def _mask(spans: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Frames whose time falls inside one of the sorted, non-overlapping (start, end) spans."""
    if len(spans) == 0:
        return np.zeros(len(t), bool)
    i = np.searchsorted(spans[:, 0], t, side="right") - 1
    return (i >= 0) & (t < spans[np.maximum(i, 0), 1])


def _acf_f0(x: np.ndarray, sr: int, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best-lag normalised autocorrelation of the band below 1 kHz in 40 ms windows at times ``t``."""
    from scipy.signal import butter, resample_poly, sosfiltfilt

    fs = 8000
    y = resample_poly(sosfiltfilt(butter(6, 1000, fs=sr, output="sos"), x), fs, sr)
    win = int(0.04 * fs)
    start = np.clip(np.rint(t * fs).astype(int) - win // 2, 0, max(0, len(y) - win))
    fr = np.pad(y, (0, win))[start[:, None] + np.arange(win)[None, :]]
    fr = fr - fr.mean(axis=1, keepdims=True)
    ac = np.fft.irfft(np.abs(np.fft.rfft(fr, 2 * win, axis=1)) ** 2, 2 * win, axis=1)[:, :win]
    c = np.cumsum(fr ** 2, axis=1)
    lags = np.arange(win)
    head = c[:, -1:] - np.concatenate([np.zeros((len(t), 1)), c[:, :-1]], axis=1)[:, lags]
    r = ac / np.sqrt(np.maximum(head * c[:, win - 1 - lags], 1e-20))
    lo, hi = int(fs / F0_CEIL), int(fs / F0_FLOOR)
    best = lo + np.argmax(r[:, lo:hi], axis=1)
    return fs / best, r[np.arange(len(t)), best]


def _fill_voicing(f0: np.ndarray, voiced_phone: np.ndarray, energetic: np.ndarray, acf: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Harvest leaves many of this voice's vowel frames unvoiced (its VITS output is often creaky or
    period-doubled), and WORLD would re-synthesise those as whisper. The alignment says which frames
    lie in vowels and voiced consonants: give those their autocorrelation F0 where it is clearly
    periodic (so creaky, low stretches keep their low pitch), else the log-interpolated F0 around them."""
    v = f0 > 0
    need = voiced_phone & energetic & ~v
    if not v.any() or not need.any():
        return f0
    idx = np.arange(len(f0))
    out = f0.copy()
    interp = np.exp(np.interp(idx, idx[v], np.log(f0[v])))
    f_acf, r = acf
    near = np.abs(12 * np.log2(f_acf / interp)) <= 6.0  # an octave away is an ACF octave error, not creak
    out[need] = np.where((r[need] >= 0.6) & near[need], f_acf[need], interp[need])
    return out


def pyworld():
    """pyworld 0.3 imports pkg_resources, which warns on every import; the warning is not ours to fix."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        import pyworld as pw
    return pw


def _repair_octaves(f0: np.ndarray, span: int = 15, tol_st: float = 6.0) -> np.ndarray:
    """Octave jumps in the analysis F0 would be doubled by a wider range: compare each voiced frame
    with the median of its voiced neighbours (75 ms); a frame off by more than ``tol_st`` moves by
    whole octaves towards it, or takes the median if that does not bring it within tolerance."""
    v = np.flatnonzero(f0 > 0)
    if len(v) < 3:
        return f0
    st = 12 * np.log2(f0[v])
    # first against the whole chunk: a neutral reading voice stays within about +-9 st of its median,
    # so a longer stretch beyond that is a tracker octave error the local pass cannot see
    med = np.median(st)
    d0 = st - med
    st = np.where(np.abs(d0) > GLOBAL_TOL_ST, st - 12 * np.round(d0 / 12), st)
    st = np.clip(st, med - GLOBAL_TOL_ST, med + GLOBAL_TOL_ST)
    half = span // 2
    padded = np.pad(st, half, mode="edge")
    local = np.median(np.lib.stride_tricks.sliding_window_view(padded, span), axis=1)
    d = st - local
    moved = st - 12 * np.round(d / 12)
    fixed = np.where(np.abs(d) <= tol_st, st, np.where(np.abs(moved - local) <= tol_st, moved, local))
    out = f0.copy()
    out[v] = 2 ** (fixed / 12)
    return out


def _spread(v: np.ndarray) -> float:
    lo, hi = np.percentile(v, [5, 95])
    return float(hi - lo)


def _keep_spread(excursion: np.ndarray, slope: np.ndarray, voiced: np.ndarray, iters: int = 30) -> float:
    """The factor k on the excursions that gives k * excursion + slope the 5-95 % spread of the
    excursions alone. The plan's F0 range is that spread (Schröder's range rule; what a listener or a
    recognizer measures over the utterance), and a declination of ~1 st/s over a 5 s sentence widens it
    (it adds to the voice's own fall: sadness' x0.8 range with its -1 st/s came out at x0.88) or, rising,
    narrows it. Bisection within [1/4, 1] or [1, 2]: there the spread grows with k unless the slope
    dwarfs the excursions, and then the bound is the answer."""
    e, s = excursion[voiced], slope[voiced]
    target = _spread(e)
    if not np.any(s) or target <= 0:
        return 1.0
    now = _spread(e + s)
    if abs(now - target) < 1e-9:
        return 1.0
    lo, hi = (0.25, 1.0) if now > target else (1.0, 2.0)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if _spread(mid * e + s) < target else (lo, mid)
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class Analysis:
    """WORLD analysis of one base chunk: everything ``render`` needs that does not depend on the plan.
    A pure function of the chunk's audio and alignment, so it can be computed once and rendered with
    many plans (the arrays are read-only)."""
    t: np.ndarray            # frame times (s)
    f0: np.ndarray           # repaired analysis F0 (0 = unvoiced)
    sp: np.ndarray           # CheapTrick spectral envelope
    ap: np.ndarray           # D4C aperiodicity
    pauses: np.ndarray       # frames inside a "sil" phone

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.t, self.f0, self.sp, self.ap, self.pauses))


def analyse(x: np.ndarray, sr: int, phones: list[tuple[str, float, float]]) -> Analysis:
    """phones: the chunk's (symbol, start_s, end_s) alignment, which marks pauses and voiced phones."""
    pw = pyworld()
    xd = x.astype(np.float64)
    # Harvest, not DIO: on this voice DIO drops or octave-jumps many voiced frames, and an F0 of 0
    # re-synthesises a vowel as noise
    f0, t = pw.harvest(xd, sr, f0_floor=ANALYSIS_F0[0], f0_ceil=ANALYSIS_F0[1], frame_period=FRAME_MS)
    pauses = _mask(np.array([(a, b) for s_, a, b in phones if s_ == "sil"]).reshape(-1, 2), t)
    voiced_ph = _mask(np.array([(a, b) for s_, a, b in phones if s_[0] in VOICED_IPA]).reshape(-1, 2), t)
    half = int(0.01 * sr)
    c = np.concatenate([[0.0], np.cumsum(xd ** 2)])
    centre = np.clip(np.rint(t * sr).astype(int), 0, len(xd))
    lo_, hi_ = np.clip(centre - half, 0, len(xd)), np.clip(centre + half, 0, len(xd))
    fdb = 10 * np.log10((c[hi_] - c[lo_]) / np.maximum(hi_ - lo_, 1) + 1e-20)
    f0 = _repair_octaves(_fill_voicing(f0, voiced_ph, fdb > fdb.max() - 40.0, _acf_f0(xd, sr, t)))
    fft = pw.get_cheaptrick_fft_size(sr, F0_FLOOR)
    # not split into frame blocks on threads: CheapTrick and D4C reseed their random generator per call,
    # so blocks would differ from one call (measured: relative 7e-4 and 0.15 from the second block on)
    sp = pw.cheaptrick(xd, f0, t, sr, f0_floor=F0_FLOOR, fft_size=fft)
    ap = pw.d4c(xd, f0, t, sr, fft_size=fft)
    for a in (t, f0, sp, ap, pauses):
        a.flags.writeable = False
    return Analysis(t, f0, sp, ap, pauses)


def render(an: Analysis, sr: int, track: PlanTrack, t_offset: float, rng: np.random.Generator) -> Rendered:
    """an: one chunk's ``analyse`` result; t_offset: the chunk's start in utterance source time."""
    pw = pyworld()
    fp = FRAME_MS / 1000
    t, f0, sp, ap, pauses = an.t, an.f0, an.sp, an.ap, an.pauses
    p = track.at(t + t_offset)
    n = len(t)
    power0 = sp.sum(axis=1)

    voiced = f0 > 0
    lf0 = np.log(np.where(voiced, f0, 1.0))
    if voiced.any():
        # range scales excursions around the chunk's median log F0: an affine map in the log domain
        # keeps the median where it was (shift and slope then move it as planned) and scales every
        # percentile distance, so the realised 5-95 % range is the planned multiple. (A moving mean
        # over +-0.75 s as the centre left the slow phrase contour unscaled and, being a mean, moved
        # the median: -0.7 st of level for a range x2.) Trade-off: within one chunk of several
        # sentences, a wider range now also spreads the sentences' own levels apart.
        tv = t[voiced]
        centre = np.median(lf0[voiced])
        # the slope turns around the time that keeps the median where it was: turning around the mean
        # voiced time moved the level of an asymmetric contour by up to 0.3 st against the plan's shift
        excursion = np.exp(p["log_range"]) * (lf0 - centre)
        slope = ST * p["f0_slope_st"] * (t - tv.mean())
        shape = _keep_spread(excursion, slope, voiced) * excursion + slope
        new = centre + shape - np.median(shape[voiced]) + ST * p["f0_shift_st"]
        jit = p["jitter"] * rng.standard_normal(n)
        new = new + np.log1p(np.clip(jit, -0.5, 0.5))
        f0 = np.where(voiced, np.clip(np.exp(new), F0_FLOOR, F0_CEIL), 0.0)

    # tilt redistributes energy between bands; loudness then sets the power. The power is restored
    # over +-TILT_NORM_S, not frame by frame: per frame, a fricative (all its energy above 1 kHz) kept
    # its power and so lost its low band instead, and only 0.75-0.8 of the planned tilt was realised
    sp = sp * 10 ** (np.outer(p["tilt_db"], _tilt_curve(sp.shape[1], sr)) / 10)
    half_w = max(1, int(round(TILT_NORM_S / fp)))
    c0 = np.concatenate([[0.0], np.cumsum(power0)])
    c1 = np.concatenate([[0.0], np.cumsum(sp.sum(axis=1))])
    lo_w, hi_w = np.maximum(np.arange(n) - half_w, 0), np.minimum(np.arange(n) + half_w + 1, n)
    gain = (c0[hi_w] - c0[lo_w]) / np.maximum(c1[hi_w] - c1[lo_w], 1e-30)
    sp = sp * (gain * 10 ** (p["loudness_db"] / 10))[:, None]
    b = np.clip(p["breathiness"], 0.0, 0.95)[:, None]
    ap = 1.0 - (1.0 - ap) * (1.0 - b)

    # re-time: each source frame lasts 1/rate, pauses pause/rate, then resample the frame sequence
    dur = np.exp(-p["log_rate"]) * np.where(pauses, np.exp(p["log_pause"]), 1.0)
    out_pos = np.concatenate([[0.0], np.cumsum(dur)])[:-1]
    n_out = max(1, int(round(dur.sum())))
    src = np.interp(np.arange(n_out), out_pos, np.arange(n))
    i0 = np.floor(src).astype(int)
    i1 = np.minimum(i0 + 1, n - 1)
    w = (src - i0)[:, None]
    sp2 = np.exp((1 - w) * np.log(sp[i0] + 1e-30) + w * np.log(sp[i1] + 1e-30))
    ap2 = (1 - w) * ap[i0] + w * ap[i1]
    near = np.rint(src).astype(int)
    both = (f0[i0] > 0) & (f0[i1] > 0)
    f02 = np.where(both, np.exp((1 - w[:, 0]) * np.log(np.maximum(f0[i0], 1)) + w[:, 0] * np.log(np.maximum(f0[i1], 1))), f0[near])
    y = pw.synthesize(np.ascontiguousarray(f02), np.ascontiguousarray(sp2), np.ascontiguousarray(np.clip(ap2, 0, 1)),
                      sr, FRAME_MS)

    # loudness the plan asked for, averaged over the frames that carry speech
    loud = p["loudness_db"]
    act = 10 * np.log10(power0 + 1e-30)
    act = act > act.max() - 35.0
    mean_loud = float(10 * np.log10(np.sum(power0[act] * 10 ** (loud[act] / 10)) / np.sum(power0[act]))) if act.any() else 0.0
    return Rendered(y.astype(np.float32), t, out_pos * fp, mean_loud, f02)

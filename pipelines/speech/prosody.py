"""Apply a ProsodyPlan to speech by WORLD analysis / re-synthesis (pyworld).

Every plan field becomes a per-frame track, so a trajectory changes prosody inside an utterance.
F0 is edited in the log domain (semitones), the spectral envelope carries tilt and loudness, the
aperiodicity carries breathiness, and rate / pauses re-time the frame sequence before synthesis.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from pipelines.speech import pitch
from studio.affect import ProsodyPlan

FRAME_MS = 5.0
F0_FLOOR, F0_CEIL = 40.0, 600.0          # limits of the re-synthesised modal F0 (creaky frames go an octave below)
ANALYSIS_F0 = (40.0, 400.0)              # search range for the base voice, creaky (period-doubled) frames included
SP_F0_FLOOR = 36.0                       # CheapTrick treats F0 under its floor as unvoiced; the same 2048-point FFT as 55 Hz
SP_STEP, AP_STEP = 2, 4                  # CheapTrick every 10 ms, D4C every 20 ms
EQ_EDGES = np.array([0.0, 90.0, 180.0] + [250.0 * 2 ** (k / 3) for k in range(17)] + [1e5])  # third octaves from 250 Hz
EQ_FFT = 1024
EQ_MAX_DB = 6.0
TILT_LO_HZ, TILT_HI_HZ = 900.0, 1100.0  # vocal-effort emphasis reaches full size just above 1 kHz
ST = math.log(2) / 12                   # one semitone in natural-log F0
TILT_NORM_S = 0.25                      # half-width of the window over which tilt keeps the power
GLOBAL_TOL_ST = 9.0                     # analysis F0 further than this from the chunk median is an octave away from modal


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


def pyworld():
    """pyworld 0.3 imports pkg_resources, which warns on every import; the warning is not ours to fix."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        import pyworld as pw
    return pw


def _range_excursion(d: np.ndarray, k: np.ndarray, voiced: np.ndarray, octave: np.ndarray) -> np.ndarray:
    """Excursions d (log F0 minus the chunk median) for a range factor k per frame. A narrower range
    scales them all by k. A wider one scales only those above the median, by the factor that gives the
    planned 5-95 % spread, and leaves the ones below where they are: range is expanded above a speaker's
    baseline, which stays put (Liberman & Pierrehumbert 1984; Ladd 1996, ch. 7). Scaling the low tail
    too pushed this voice's creaky dips far under its floor, where neither Praat nor the recognizer
    finds a period any more, so the lost frames read as a higher median and a narrower range. The
    spread is the one a listener hears, creaky frames at their doubled period included."""
    heard = d + math.log(2) * octave
    lo, hi = np.percentile(heard[voiced], [5, 95])
    med = np.median(d[voiced])
    up = (hi - lo) / max(hi - med, 1e-6)
    above = np.where(k > 1, 1.0 + (k - 1.0) * up, k)
    return np.where(d > 0, above, np.minimum(k, 1.0)) * d


def _spread(v: np.ndarray) -> float:
    lo, hi = np.percentile(v, [5, 95])
    return float(hi - lo)


def _keep_spread(excursion: np.ndarray, slope: np.ndarray, voiced: np.ndarray, iters: int = 30,
                 offset: np.ndarray | None = None) -> float:
    """The factor k on the excursions that gives k * excursion + slope the 5-95 % spread of the
    excursions alone. The plan's F0 range is that spread (Schröder's range rule; what a listener or a
    recognizer measures over the utterance), and a declination of ~1 st/s over a 5 s sentence widens it
    (it adds to the voice's own fall: sadness' x0.8 range with its -1 st/s came out at x0.88) or, rising,
    narrows it. Bisection within [1/4, 1] or [1, 2]: there the spread grows with k unless the slope
    dwarfs the excursions, and then the bound is the answer. ``offset`` (not scaled) is added to every
    contour: the creaky frames' octave, so that the spread is the one heard."""
    e, s = excursion[voiced], slope[voiced]
    o = 0.0 if offset is None else offset[voiced]
    target = _spread(e + o)
    if not np.any(s) or target <= 0:
        return 1.0
    now = _spread(e + s + o)
    if abs(now - target) < 1e-9:
        return 1.0
    lo, hi = (0.25, 1.0) if now > target else (1.0, 2.0)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if _spread(mid * e + s + o) < target else (lo, mid)
    return 0.5 * (lo + hi)


def _modal_octaves(f0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split the analysis F0 into what the synthesiser must reproduce and the intonation the plan edits.
    A neutral reading voice stays within about +-9 st of its median, so a frame further below is a
    period-doubled (creaky) one: its F0 is kept, and its octave offset recorded so that the plan moves
    its modal pitch with the rest and the creak stays creak. A frame further above is a tracker
    half-period error and moves down by whole octaves."""
    octave = np.zeros(len(f0), np.int8)
    v = f0 > 0
    if v.sum() < 3:
        return f0, octave
    st = 12 * np.log2(f0[v])
    d = st - np.median(st)
    k = np.where(np.abs(d) > GLOBAL_TOL_ST, np.round(d / 12), 0.0)
    out = f0.copy()
    out[v] = np.where(k > 0, f0[v] * 2.0 ** -k, f0[v])
    octave[v] = np.minimum(k, 0).astype(np.int8)
    return out, octave


def _fill_voicing(f0: np.ndarray, need: np.ndarray) -> np.ndarray:
    """Frames of vowels and voiced consonants that the tracker left unvoiced (irregular creak) get the
    log-interpolated F0 around them: WORLD would re-synthesise them as whisper."""
    v = f0 > 0
    need = need & ~v
    if not v.any() or not need.any():
        return f0
    idx = np.arange(len(f0))
    out = f0.copy()
    out[need] = np.exp(np.interp(idx[need], idx[v], np.log(f0[v])))
    return out


def synthesize(f0: np.ndarray, sp: np.ndarray, ap: np.ndarray, sr: int) -> np.ndarray:
    """WORLD synthesis, with unvoiced frames excited at one noise pulse per frame. WORLD excites them at
    500 pulses/s, each costing an FFT of the envelope's size, which was most of the synthesis time on
    this voice (pauses and fricatives are a third of its frames); noise is noise, and the pulse rate only
    sets how often the envelope is re-applied, which the frame period already limits."""
    pw = pyworld()
    unv = f0 <= 0
    f = np.where(unv, 1000.0 / FRAME_MS, f0)
    a = np.where(unv[:, None], 1.0, np.clip(ap, 0.0, 1.0))
    return pw.synthesize(np.ascontiguousarray(f), np.ascontiguousarray(sp), np.ascontiguousarray(a), sr, FRAME_MS)


def _upsample(a: np.ndarray, step: int, n: int) -> np.ndarray:
    """Frames analysed every ``step`` frames, linearly interpolated onto all ``n`` frames."""
    pos = np.arange(n) / step
    i0 = np.minimum(np.floor(pos).astype(int), len(a) - 1)
    i1 = np.minimum(i0 + 1, len(a) - 1)
    w = (pos - i0)[:, None]
    return (1 - w) * a[i0] + w * a[i1]


def _band_power(x: np.ndarray, sr: int, frames: np.ndarray) -> np.ndarray:
    n = EQ_FFT
    seg = np.pad(x, (n // 2, n))[frames[:, None] + np.arange(n)[None, :]] * np.hanning(n)
    spec = (np.abs(np.fft.rfft(seg, axis=1)) ** 2).sum(axis=0)
    f = np.fft.rfftfreq(n, 1 / sr)
    idx = np.clip(np.searchsorted(EQ_EDGES, f, side="right") - 1, 0, len(EQ_EDGES) - 2)
    return np.bincount(idx, spec, minlength=len(EQ_EDGES) - 1)


def _ltas(x: np.ndarray, sr: int) -> np.ndarray:
    """Band powers of the frames that carry speech (within 35 dB of the loudest)."""
    hop = EQ_FFT // 2
    starts = np.arange(0, max(1, len(x) - hop), hop)
    c = np.concatenate([[0.0], np.cumsum(x ** 2)])
    e = 10 * np.log10((c[np.minimum(starts + EQ_FFT, len(x))] - c[starts]) / EQ_FFT + 1e-20)
    return _band_power(x, sr, starts[e > e.max() - 35.0])


def _envelope_bands(sp: np.ndarray, sr: int) -> np.ndarray:
    """The same band powers as the envelope hands them to the synthesiser, over its speech frames."""
    power = sp.sum(axis=1)
    act = power > power.max() * 10 ** -3.5
    f = np.linspace(0, sr / 2, sp.shape[1])
    idx = np.clip(np.searchsorted(EQ_EDGES, f, side="right") - 1, 0, len(EQ_EDGES) - 2)
    return np.bincount(idx, sp[act].sum(axis=0), minlength=len(EQ_EDGES) - 1)


def _band_gain(g: np.ndarray, sr: int, n_bins: int) -> np.ndarray:
    """Per-band power ratios, limited to +-EQ_MAX_DB, as a smooth per-bin gain (log-frequency interpolation)."""
    lim = EQ_MAX_DB * math.log(10) / 10
    lg = np.clip(np.log(np.where(np.isfinite(g) & (g > 0), g, 1.0)), -lim, lim)
    centre = np.sqrt(np.maximum(EQ_EDGES[:-1], 45.0) * np.minimum(EQ_EDGES[1:], sr / 2))
    f = np.linspace(0, sr / 2, n_bins)
    return np.exp(np.interp(np.log(np.maximum(f, EQ_EDGES[1])), np.log(centre), lg))


@dataclass(frozen=True)
class Analysis:
    """WORLD analysis of one base chunk: everything ``render`` needs that does not depend on the plan.
    A pure function of the chunk's audio and alignment, so it can be computed once and rendered with
    many plans (the arrays are read-only)."""
    t: np.ndarray            # frame times (s)
    f0: np.ndarray           # F0 the round trip reproduces: the period the waveform repeats at (0 = unvoiced)
    octave: np.ndarray       # period doubling: the modal pitch is f0 * 2**-octave (0, or -1 on creaky frames)
    sp: np.ndarray           # CheapTrick spectral envelope
    ap: np.ndarray           # D4C aperiodicity
    pauses: np.ndarray       # frames inside a "sil" phone
    band_out: np.ndarray     # output band power per envelope band power at the analysed F0 (see render)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.t, self.f0, self.octave, self.sp, self.ap, self.pauses, self.band_out))


def analyse(x: np.ndarray, sr: int, phones: list[tuple[str, float, float]]) -> Analysis:
    """phones: the chunk's (symbol, start_s, end_s) alignment, which marks pauses and voiced phones."""
    pw = pyworld()
    xd = x.astype(np.float64)
    n = int(len(xd) / sr * 1000 / FRAME_MS) + 1
    t = np.arange(n) * (FRAME_MS / 1000)
    pauses = _mask(np.array([(a, b) for s_, a, b in phones if s_ == "sil"]).reshape(-1, 2), t)
    voiced_ph = _mask(np.array([(a, b) for s_, a, b in phones if s_[0] in VOICED_IPA]).reshape(-1, 2), t)
    half = int(0.01 * sr)
    c = np.concatenate([[0.0], np.cumsum(xd ** 2)])
    centre = np.clip(np.rint(t * sr).astype(int), 0, len(xd))
    lo_, hi_ = np.clip(centre - half, 0, len(xd)), np.clip(centre + half, 0, len(xd))
    fdb = 10 * np.log10((c[hi_] - c[lo_]) / np.maximum(hi_ - lo_, 1) + 1e-20)
    f0 = pitch.track(xd, sr, t, voiced_ph, *ANALYSIS_F0)
    f0, octave = _modal_octaves(_fill_voicing(f0, voiced_ph & (fdb > fdb.max() - 40.0)))
    fft = pw.get_cheaptrick_fft_size(sr, SP_F0_FLOOR)
    # the envelope and aperiodicity change more slowly than F0: analysed every SP_STEP / AP_STEP frames
    # and interpolated (CheapTrick and D4C cost in proportion to their frames; see benchmarks/README.md)
    ts, ta = np.ascontiguousarray(t[::SP_STEP]), np.ascontiguousarray(t[::AP_STEP])
    sp = _upsample(pw.cheaptrick(xd, np.ascontiguousarray(f0[::SP_STEP]), ts, sr, f0_floor=SP_F0_FLOOR, fft_size=fft), SP_STEP, n)
    ap = _upsample(pw.d4c(xd, np.ascontiguousarray(f0[::AP_STEP]), ta, sr, fft_size=fft), AP_STEP, n)
    # what the round trip must give per band: the input's long-term spectrum per envelope band power
    # (render measures WORLD's output against it and corrects the envelope)
    with np.errstate(divide="ignore", invalid="ignore"):
        band_out = _ltas(xd, sr) / _envelope_bands(sp, sr)
    for a in (t, f0, octave, sp, ap, pauses, band_out):
        a.flags.writeable = False
    return Analysis(t, f0, octave, sp, ap, pauses, band_out)


def render(an: Analysis, sr: int, track: PlanTrack, t_offset: float, rng: np.random.Generator) -> Rendered:
    """an: one chunk's ``analyse`` result; t_offset: the chunk's start in utterance source time."""
    fp = FRAME_MS / 1000
    t, f0, sp, ap, pauses = an.t, an.f0, an.sp, an.ap, an.pauses
    p = track.at(t + t_offset)
    n = len(t)
    power0 = sp.sum(axis=1)

    voiced = f0 > 0
    # the plan edits the modal pitch; creaky frames keep their period doubling on top of it
    octave = an.octave.astype(np.float64)
    lf0 = np.log(np.where(voiced, f0, 1.0)) - math.log(2) * octave
    if voiced.any():
        # range scales excursions around the chunk's median log F0 (a wider one only above it, see
        # _range_excursion): the median stays where it was (shift and slope then move it as planned)
        # and the realised 5-95 % range is the planned multiple. (A moving mean over +-0.75 s as the
        # centre left the slow phrase contour unscaled and, being a mean, moved the median: -0.7 st of
        # level for a range x2.) Trade-off: within one chunk of several sentences, a wider range now
        # also spreads the sentences' own levels apart.
        tv = t[voiced]
        centre = np.median(lf0[voiced])
        # the slope turns around the time that keeps the median where it was: turning around the mean
        # voiced time moved the level of an asymmetric contour by up to 0.3 st against the plan's shift
        excursion = _range_excursion(lf0 - centre, np.exp(p["log_range"]), voiced, octave)
        slope = ST * p["f0_slope_st"] * (t - tv.mean())
        shape = _keep_spread(excursion, slope, voiced, offset=math.log(2) * octave) * excursion + slope
        new = centre + shape - np.median(shape[voiced]) + ST * p["f0_shift_st"]
        jit = p["jitter"] * rng.standard_normal(n)
        new = new + np.log1p(np.clip(jit, -0.5, 0.5))
        f0 = np.where(voiced, np.clip(np.exp(new), F0_FLOOR, F0_CEIL) * 2.0 ** octave, 0.0)

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
    sp2 = (1 - w) * sp[i0] + w * sp[i1]
    ap2 = (1 - w) * ap[i0] + w * ap[i1]
    near = np.rint(src).astype(int)
    both = (f0[i0] > 0) & (f0[i1] > 0)
    f02 = np.where(both, np.exp((1 - w[:, 0]) * np.log(np.maximum(f0[i0], 1)) + w[:, 0] * np.log(np.maximum(f0[i1], 1))), f0[near])
    # WORLD does not give back the band balance of its envelope. Its pulses sample the smooth envelope
    # at every harmonic, where this voice's weak first harmonics and creaky sub-harmonics sit below it
    # (the identity round trip had 1.4-2.2 dB more energy below 250 Hz and read 1.1 dB lower in tilt),
    # and a new F0 samples it elsewhere (F0 +12 st alone read -1.4 dB of tilt, a range x2 +0.7 dB). So
    # a first synthesis measures the output's third-octave band powers per envelope band power, the
    # envelope is corrected to the ratio the input had, and the second synthesis is the output:
    # WORLD is linear in the envelope's power, so one correction suffices (identity: within 0.1 dB)
    y = synthesize(f02, sp2, ap2, sr)
    with np.errstate(divide="ignore", invalid="ignore"):
        now = _ltas(y.astype(np.float64), sr) / _envelope_bands(sp2, sr)
        sp2 = sp2 * _band_gain(an.band_out / now, sr, sp2.shape[1])[None, :]
    y = synthesize(f02, sp2, ap2, sr)

    # loudness the plan asked for, averaged over the frames that carry speech
    loud = p["loudness_db"]
    act = 10 * np.log10(power0 + 1e-30)
    act = act > act.max() - 35.0
    mean_loud = float(10 * np.log10(np.sum(power0[act] * 10 ** (loud[act] / 10)) / np.sum(power0[act]))) if act.any() else 0.0
    return Rendered(y.astype(np.float32), t, out_pos * fp, mean_loud, f02)

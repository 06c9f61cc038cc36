"""The acoustic recognizer's own F0 tracker (YIN-based, evals.speech.track_f0) on synthetic signals
with a known F0: fast, no voice model needed."""
import numpy as np
import pytest

from evals.speech import measure, track_f0

SR = 22050
KW = {}


def _glide(f_a: float, f_b: float, dur: float) -> tuple[np.ndarray, callable]:
    t = np.arange(int(dur * SR)) / SR
    return t, (lambda tt: f_a * (f_b / f_a) ** (np.asarray(tt) / dur))


def pulse_train(f_a=100.0, f_b=300.0, dur=1.0, seed=0, noise=0.0):
    """Glottal-like pulse train on an exponential F0 glide: one pulse per period, shaped by a decaying
    formant at 700 Hz and high-passed so the fundamental is weak (harmonic-rich, fundamental -20 dB and
    more below the strongest harmonic at the low end)."""
    from scipy.signal import butter, lfilter, sosfilt

    t, f = _glide(f_a, f_b, dur)
    phase = np.cumsum(f(t)) / SR
    x = np.zeros(len(t))
    x[np.flatnonzero(np.diff(np.floor(phase)) > 0) + 1] = 1.0
    r, fc = 0.97, 700.0  # two-pole resonator (formant)
    x = lfilter([1.0], [1.0, -2 * r * np.cos(2 * np.pi * fc / SR), r * r], x)
    x = sosfilt(butter(4, 350, "high", fs=SR, output="sos"), x)
    x = x + noise * np.std(x) * np.random.default_rng(seed).standard_normal(len(x))
    return 0.3 * x / np.abs(x).max(), f


def weak_fundamental_harmonics(f_a=100.0, f_b=300.0, dur=1.0):
    t, f = _glide(f_a, f_b, dur)
    ph = 2 * np.pi * np.cumsum(f(t)) / SR
    x = sum((0.03 if h == 1 else 1.0 / h) * np.sin(h * ph) * (h * f(t) < 0.45 * SR) for h in range(1, 40))
    return 0.3 * x / np.abs(x).max(), f


def _errors(x, f):
    f0, t = track_f0(x, SR, **KW)
    inner = (t > 0.04) & (t < t[-1] - 0.04)
    v = f0 > 0
    err = 12 * np.log2(f0[v & inner] / f(t[v & inner]))
    return v[inner].mean(), np.abs(err)


@pytest.mark.parametrize("make,args", [
    (pulse_train, (100.0, 300.0)),
    (pulse_train, (300.0, 100.0)),
    (pulse_train, (80.0, 450.0)),
    (weak_fundamental_harmonics, (100.0, 300.0)),
])
def test_tracker_reports_the_fundamental_on_a_glide(make, args):
    x, f = make(*args)
    voiced, err = _errors(x, f)
    assert voiced > 0.95
    assert err.max() < 0.5  # semitones: no octave (12 st) or fifth (7 st) errors anywhere


def test_tracker_survives_noise():
    x, f = pulse_train(120.0, 240.0, noise=0.1)
    voiced, err = _errors(x, f)
    assert voiced > 0.9 and np.percentile(err, 95) < 0.5 and err.max() < 1.0


def test_noise_and_silence_are_unvoiced():
    rng = np.random.default_rng(1)
    x, _ = pulse_train(150.0, 150.0, dur=0.6)
    sig = np.concatenate([np.zeros(int(0.3 * SR)), x, 0.05 * rng.standard_normal(int(0.5 * SR))])
    f0, t = track_f0(sig, SR)
    assert np.all(f0[t < 0.25] == 0)
    assert (f0[(t > 0.35) & (t < 0.85)] > 0).mean() > 0.95
    assert (f0[t > 0.95] > 0).mean() < 0.1


def test_measure_reads_level_and_range_of_a_known_contour():
    x, f = pulse_train(100.0, 200.0, dur=1.0)
    m = measure(x, SR)
    assert m["f0_median_st"] == pytest.approx(12 * np.log2(f(0.5) / 100), abs=0.3)
    assert m["f0_range_st"] == pytest.approx(0.9 * 12, abs=0.5)  # 5th to 95th percentile of a 12 st glide

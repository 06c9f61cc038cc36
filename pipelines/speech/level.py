"""Level: gated RMS, the studio's reference speech level and a look-ahead peak limiter."""
from __future__ import annotations

import numpy as np

REF_DB = -26.0        # neutral speech level, gated RMS in dBFS; leaves headroom for loud plans
PEAK_DB = -1.0        # peak ceiling of every output
GATE_DB = 35.0        # frames this far below the loudest frame are pauses, not speech
FRAME_S = 0.02


def frame_db(x: np.ndarray, sr: int) -> np.ndarray:
    n = max(1, int(FRAME_S * sr))
    m = len(x) // n
    if m == 0:
        return np.array([10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-20)])
    p = np.mean(np.square(x[: m * n].astype(np.float64)).reshape(m, n), axis=1)
    return 10 * np.log10(p + 1e-20)


def active_level_db(x: np.ndarray, sr: int) -> float:
    """Mean power of the frames within GATE_DB of the loudest one (a simple speech-activity gate)."""
    db = frame_db(x, sr)
    act = db > db.max() - GATE_DB
    return float(10 * np.log10(np.mean(10 ** (db[act] / 10)) + 1e-20))


def limit(x: np.ndarray, sr: int, peak_db: float = PEAK_DB) -> np.ndarray:
    """Gain that dips smoothly (5 ms look-ahead and release) under each peak above the ceiling."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    thr = 10 ** (peak_db / 20)
    mag = np.abs(x)
    if mag.max() <= thr:
        return x.astype(np.float32)
    g = np.minimum(1.0, thr / np.maximum(mag, 1e-12))
    w = max(3, int(0.005 * sr) | 1)
    g = uniform_filter1d(minimum_filter1d(g, w, mode="nearest"), w, mode="nearest")
    # a centred box average of a centred minimum of the same width never exceeds the needed gain
    return np.clip(x * g, -thr, thr).astype(np.float32)


def normalise(x: np.ndarray, sr: int, gain_rel_db: float = 0.0) -> np.ndarray:
    """Bring active speech to REF_DB + gain_rel_db, then keep peaks under the ceiling."""
    if not np.any(x):
        return x.astype(np.float32)
    g = REF_DB + gain_rel_db - active_level_db(x, sr)
    return limit(x.astype(np.float64) * 10 ** (g / 20), sr)

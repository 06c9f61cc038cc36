"""Non-verbal motion from the seed: spontaneous blinks and small head movements.

Blinks follow a Poisson process whose rate is the plan's blink_rate_per_min (which may change
along a trajectory); each blink closes in ~80 ms, holds ~40 ms and reopens in ~150 ms (blink
kinematics after VanderWerf et al. 2003: the down phase is about twice as fast as the up phase).
Head motion is smooth band-limited noise (0.1–0.5 Hz) in yaw, pitch and roll of about 1.5° at
head_motion = 1, with a small nod that follows speech loudness, applied to the 3-D mesh about the
head's centre and projected back. The rotation is weighted by ``sway_weight``: full on the face's
front, fading smoothly to zero at the face outline. A roughly round head turning about its centre
keeps its silhouette where it is while the features on its front move (yaw and pitch), so the
outline, and with it the hair, ears and neck beyond it, stays still instead of sliding with the face.
"""
from __future__ import annotations

import numpy as np

CLOSE_S, HOLD_S, OPEN_S = 0.08, 0.04, 0.15
HEAD_DEG = 1.5
NOD_DEG = 1.2


def blink_track(rng: np.random.Generator, rate_per_min: np.ndarray, fps: float) -> np.ndarray:
    """Per-frame eyelid closure 0..1 for per-frame blink rates."""
    n = len(rate_per_min)
    hazard = np.cumsum(np.asarray(rate_per_min, dtype=np.float64) / 60.0 / fps)
    starts = []
    level = rng.exponential() * 0.6  # the first blink comes a little sooner than average
    while True:
        i = int(np.searchsorted(hazard, level))
        if i >= n:
            break
        starts.append(i / fps)
        level += rng.exponential()
    t = np.arange(n) / fps
    out = np.zeros(n)
    for s in starts:
        dt = t - s
        c = np.where(dt < 0, 0.0, np.where(dt < CLOSE_S, dt / CLOSE_S, np.where(
            dt < CLOSE_S + HOLD_S, 1.0, np.clip(1 - (dt - CLOSE_S - HOLD_S) / OPEN_S, 0.0, 1.0))))
        out = np.maximum(out, c)
    return out


def _smooth_noise(rng: np.random.Generator, n: int, fps: float) -> np.ndarray:
    """Unit-RMS noise with energy between ~0.1 and ~0.5 Hz (a sum of random-phase sinusoids)."""
    t = np.arange(n) / fps
    freqs = rng.uniform(0.1, 0.5, 5)
    phases = rng.uniform(0, 2 * np.pi, 5)
    amps = rng.uniform(0.5, 1.0, 5)
    x = (amps[:, None] * np.sin(2 * np.pi * freqs[:, None] * t + phases[:, None])).sum(0)
    return x / np.sqrt((amps ** 2).sum() / 2)


def head_angles(rng: np.random.Generator, energy: np.ndarray, fps: float, loudness: np.ndarray | None = None) -> np.ndarray:
    """(T, 3) yaw, pitch, roll in radians."""
    n = len(energy)
    ang = np.stack([_smooth_noise(rng, n, fps) for _ in range(3)], -1) * np.deg2rad(HEAD_DEG)
    ang[:, 2] *= 0.5  # roll is the smallest of the three in conversation
    if loudness is not None and len(loudness) == n and loudness.max() > 0:
        from scipy.ndimage import gaussian_filter1d

        # a nod lasts a syllable or two, not a phone; the filter keeps the length even for clips shorter than it
        nod = gaussian_filter1d(loudness / loudness.max(), sigma=4.0, mode="nearest")
        ang[:, 1] += np.deg2rad(NOD_DEG) * (nod - nod.mean())
    # head motion starts from rest so the first frame is the still portrait's pose
    ramp = np.clip(np.arange(n) / max(1.0, 0.3 * fps), 0, 1)[:, None]
    return ang * np.asarray(energy)[:, None] * ramp


def rotation_disp(points: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """(478, 2) pixel displacement of rotating the 3-D mesh by yaw, pitch, roll about its centre."""
    yaw, pitch, roll = angles
    cy, sy, cp, spi, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    Ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    Rx = np.array([[1, 0, 0], [0, cp, -spi], [0, spi, cp]])
    Rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    c = points.mean(0)
    c[2] += 0.5 * (points[:, 0].max() - points[:, 0].min())  # rotate about a centre inside the head
    q = (points - c) @ (Rz @ Rx @ Ry).T + c
    return q[:, :2] - points[:, :2]


SWAY_INNER = 0.45  # fraction of the way from the face centre to its outline where the fade begins


def sway_weight(points: np.ndarray, oval: tuple[int, ...]) -> np.ndarray:
    """(N,) weight for the head rotation: 1 on the face's front, smoothly 0 at the outline ``oval``."""
    xy = np.asarray(points)[:, :2]
    ring = xy[list(oval)]
    c = ring.mean(0)
    d = xy - c
    ang = np.arctan2(d[:, 1], d[:, 0])
    rd = ring - c
    ra, rr = np.arctan2(rd[:, 1], rd[:, 0]), np.linalg.norm(rd, axis=1)
    order = np.argsort(ra)
    ra, rr = ra[order], rr[order]
    # outline radius in every point's direction (periodic interpolation over the angle)
    R = np.interp(ang, np.concatenate([ra - 2 * np.pi, ra, ra + 2 * np.pi]), np.tile(rr, 3))
    x = np.clip((np.linalg.norm(d, axis=1) / np.maximum(R, 1e-6) - SWAY_INNER) / (1 - SWAY_INNER), 0, 1)
    w = 1 - x * x * (3 - 2 * x)
    w[list(oval)] = 0.0
    return w

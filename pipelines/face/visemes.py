"""Phones → visemes → a per-frame mouth track, smoothed for coarticulation.

Phones (IPA from espeak via piper, or ARPAbet) are grouped into 13 viseme classes after the
MPEG-4 FAP viseme table and the Disney/Preston-Blair mouth charts: each class is a mouth target
(jaw opening, lip spread, lip rounding, lips pressed). Coarticulation follows the spirit of
Cohen & Massaro (1993): targets are blended by overlapping dominance kernels, here a Gaussian
smoothing of the stepwise target track (σ ≈ 35 ms), with bilabial closures (p, b, m) re-imposed
afterwards because lips must meet for them however fast the speech. Vowel opening is scaled by
the audio's loudness so louder syllables open wider.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# class → (jaw open 0..1, spread −1..1, round 0..1, pressed 0..1)
VISEMES: dict[str, tuple[float, float, float, float]] = {
    "sil": (0.0, 0.0, 0.0, 0.0),
    "PP": (0.0, 0.0, 0.0, 1.0),    # p b m
    "FF": (0.12, 0.1, 0.0, 0.3),   # f v: lower lip to upper teeth
    "TH": (0.25, 0.1, 0.0, 0.0),   # θ ð
    "DD": (0.3, 0.15, 0.0, 0.0),   # t d n l
    "KK": (0.35, 0.1, 0.0, 0.0),   # k g ŋ h
    "SS": (0.15, 0.4, 0.0, 0.0),   # s z: teeth close, lips spread
    "SH": (0.25, -0.2, 0.6, 0.0),  # ʃ ʒ tʃ dʒ
    "RR": (0.25, -0.1, 0.5, 0.0),  # r ɹ
    "AA": (1.0, 0.2, 0.0, 0.0),    # a ɑ æ ʌ
    "EE": (0.6, 0.4, 0.0, 0.0),    # e ɛ ə ɜ
    "II": (0.35, 0.7, 0.0, 0.0),   # i ɪ j
    "OO": (0.7, -0.3, 0.8, 0.0),   # o ɔ ɒ
    "UU": (0.3, -0.4, 1.0, 0.0),   # u ʊ w
}
_IPA: dict[str, str] = {}
for cls, chars in {
    "PP": "pbmɱ", "FF": "fv", "TH": "θð", "DD": "tdnlɾɫ", "KK": "kgŋhɡxʔ", "SS": "sz", "SH": "ʃʒç",
    "RR": "rɹɚɝʁ", "AA": "aɑæʌɐ", "EE": "eɛəɜ", "II": "iɪjy", "OO": "oɔɒ", "UU": "uʊwɯ",
}.items():
    for ch in chars:
        _IPA[ch] = cls
_ARPA = {"P": "PP", "B": "PP", "M": "PP", "F": "FF", "V": "FF", "TH": "TH", "DH": "TH", "T": "DD", "D": "DD",
         "N": "DD", "L": "DD", "K": "KK", "G": "KK", "NG": "KK", "HH": "KK", "S": "SS", "Z": "SS", "SH": "SH",
         "ZH": "SH", "CH": "SH", "JH": "SH", "R": "RR", "ER": "RR", "AA": "AA", "AE": "AA", "AH": "AA", "AW": "AA",
         "AY": "AA", "EH": "EE", "EY": "EE", "IH": "II", "IY": "II", "Y": "II", "AO": "OO", "OW": "OO", "OY": "OO",
         "UH": "UU", "UW": "UU", "W": "UU"}
SMOOTH_S = 0.035
SILENCE = {"sil", "sp", "spn", "", "_", "#", "pau"}


def viseme_of(phone: str) -> str:
    p = phone.strip()
    if p.lower() in SILENCE:
        return "sil"
    arpa = p.upper().rstrip("012")
    if arpa in _ARPA:
        return _ARPA[arpa]
    if p in ("tʃ", "dʒ"):
        return "SH"
    for ch in p:  # the first letter that carries the articulation (length marks, stress, ties skipped)
        if ch in _IPA:
            return _IPA[ch]
    return "DD"


@dataclass
class MouthTrack:
    open: np.ndarray     # (T,) jaw opening 0..~1.3
    spread: np.ndarray   # (T,) −1..1
    round: np.ndarray    # (T,) 0..1
    press: np.ndarray    # (T,) 0..1
    visemes: list[str]   # the class active at each frame

    def __len__(self) -> int:
        return len(self.open)


def frame_rms(audio: np.ndarray, sample_rate: int, fps: float, n: int) -> np.ndarray:
    """RMS of the audio in each video frame's window (the lip-sync reference)."""
    hop = sample_rate / fps
    out = np.zeros(n)
    a = np.asarray(audio, dtype=np.float64)
    for i in range(n):
        seg = a[int(i * hop): int((i + 1) * hop)]
        out[i] = np.sqrt(np.mean(seg ** 2)) if len(seg) else 0.0
    return out


def mouth_track(phones: list[tuple[str, float, float]], n_frames: int, fps: float,
                rms: np.ndarray | None = None) -> MouthTrack:
    # a stepwise target track sampled at 4× the frame rate, then smoothed (coarticulation)
    up = 4
    t = (np.arange(n_frames * up) + 0.5) / (fps * up)
    target = np.zeros((len(t), 4))
    names = ["sil"] * len(t)
    for ph, s, e in phones:
        cls = viseme_of(ph)
        sel = (t >= s) & (t < e)
        target[sel] = VISEMES[cls]
        for i in np.flatnonzero(sel):
            names[i] = cls
    sigma = SMOOTH_S * fps * up
    k = np.arange(-int(3 * sigma) - 1, int(3 * sigma) + 2)
    kern = np.exp(-0.5 * (k / sigma) ** 2)
    kern /= kern.sum()
    sm = np.stack([np.convolve(np.pad(target[:, j], len(k), mode="edge"), kern, "same")[len(k):-len(k)]
                   for j in range(4)], -1)
    frames = sm.reshape(n_frames, up, 4).mean(1)
    cls_f = [max(set(names[i * up:(i + 1) * up]), key=names[i * up:(i + 1) * up].count) for i in range(n_frames)]
    press_f = target[:, 3].reshape(n_frames, up).max(1)
    op = frames[:, 0]
    if rms is not None and len(rms) == n_frames and rms.max() > 0:
        voiced = rms[rms > 0.1 * rms.max()]
        ref = np.median(voiced) if len(voiced) else rms.max()
        op = op * np.clip(rms / max(ref, 1e-9), 0.5, 1.4) ** 0.5
    # bilabials close the lips whatever the neighbours do
    op = np.where(press_f > 0.5, np.minimum(op, 0.05), op)
    return MouthTrack(op, frames[:, 1], frames[:, 2], np.maximum(frames[:, 3], press_f * 0.7), cls_f)


def mouth_aus(track: MouthTrack, i: int) -> dict[int, float]:
    """Frame ``i`` of the track as AU intensities: jaw drop + lips part, stretch, pucker, press."""
    o = float(track.open[i])
    out = {26: 0.55 * o, 25: 0.8 * min(1.0, o * 2.0)}
    s = float(track.spread[i])
    if s > 0:
        out[20] = 0.25 * s
    r = float(track.round[i])
    if r > 0:
        out[18] = 0.8 * r
    pr = float(track.press[i])
    if pr > 0:
        out[24] = pr
    return out

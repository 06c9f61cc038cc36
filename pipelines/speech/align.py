"""Word timings from phone timings.

espeak joins some words into one phoneme group ("I am" → "aɪɐm") and keeps hyphenated words
whole, so groups are not words. Each word gets a share of the sentence's phones in proportion to
its own phone count (espeak on the word alone); a boundary snaps to a group edge when one is near.
"""
from __future__ import annotations

import numpy as np

from pipelines.speech.voice import BaseUtterance


def word_spans(utt: BaseUtterance, words: list[str], counts: list[int]) -> list[tuple[str, int, int]]:
    real = [i for g in utt.groups for i in g]
    if not words or not real:
        return []
    edges = {0, len(real)}
    k = 0
    for g in utt.groups:
        k += len(g)
        edges.add(k)
    edges_arr = np.array(sorted(edges))
    counts = [max(1, c) for c in counts]
    cum = np.cumsum(counts) / sum(counts) * len(real)
    bounds = [0]
    for c in cum[:-1]:
        b = int(round(c))
        near = edges_arr[np.argmin(np.abs(edges_arr - c))]
        if abs(near - c) <= 1.5:
            b = int(near)
        bounds.append(min(max(b, bounds[-1]), len(real)))
    bounds.append(len(real))
    out = []
    for w, a, b in zip(words, bounds[:-1], bounds[1:]):
        if b > a:
            out.append((w, utt.phones[real[a]].start, utt.phones[real[b - 1]].end))
        else:  # a word with no phone of its own (merged away): a zero-length span at its place
            pos = utt.phones[real[min(a, len(real) - 1)]].start
            out.append((w, pos, pos))
    return out

"""Lazy grids: a ``[[grid]]`` or ``[[item]]`` table kept as its axes, never as a list of items.

A table is a box: the product of five axes (text, prompt, portrait, affect, seed), each a sequence of distinct
keys in spec order (a ``seeds = N`` axis is a ``range``, so ten thousand or a billion seeds cost nothing).
Items come out in ``itertools.product`` order, and an item an earlier table of the same family (medium, mode,
options) already holds is skipped, exactly as the old expand-then-deduplicate did; so ids and indices are
unchanged. Counting needs no expansion: a box's size is the product of its axes' lengths, and the items an
earlier table already holds are a union of box intersections, counted by inclusion-exclusion (boxes contained
in others are dropped first, so the usual case of no overlap or one overlapping grid costs a few products).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

from studio.datasets.items import Item

AXES = ("text", "prompt", "portrait", "affect", "seed")


class Axis:
    """Distinct keys in order; ``vals`` maps a key to what the item stores when that differs from the key
    (a portrait's key is its sha256, its value (as written, path, sha256); an affect's key is (emotion, the
    intensity as the id's JSON writes it), its value (emotion, intensity))."""

    __slots__ = ("keys", "vals", "_pos")

    def __init__(self, keys: Sequence, vals: dict | None = None):
        self.keys = keys
        self.vals = vals
        self._pos: dict | None = None

    def __len__(self) -> int:
        return len(self.keys)

    def _index(self) -> dict:
        if self._pos is None:
            self._pos = {k: i for i, k in enumerate(self.keys)}
        return self._pos

    def __contains__(self, k: Any) -> bool:
        if isinstance(self.keys, range):
            return isinstance(k, int) and not isinstance(k, bool) and k in self.keys
        try:
            return k in self._index()
        except TypeError:  # an unhashable key (a damaged journal row) is in no axis
            return False

    def position(self, k: Any) -> int:
        return self.keys.index(k) if isinstance(self.keys, range) else self._index()[k]

    def value(self, k: Any) -> Any:
        return self.vals[k] if self.vals is not None else k

    def intersect(self, other: "Axis") -> "Axis":
        a, b = self.keys, other.keys
        if isinstance(a, range) and isinstance(b, range):
            return Axis(range(max(a.start, b.start), max(max(a.start, b.start), min(a.stop, b.stop))))
        small, big = (self, other) if len(a) <= len(b) else (other, self)
        return Axis(tuple(k for k in small.keys if k in big))

    def prefix(self, n: int) -> "Axis":
        return Axis(self.keys[:n], self.vals)

    def single(self, k: Any) -> "Axis":
        return Axis((k,), self.vals)

    def subset_of(self, other: "Axis") -> bool:
        return len(self.intersect(other)) == len(self)


Box = tuple  # tuple[Axis, ...], one per AXES entry


def box_size(b: Box) -> int:
    return math.prod(len(a) for a in b)


def box_intersect(a: Box, b: Box) -> Box | None:
    out = tuple(x.intersect(y) for x, y in zip(a, b))
    return out if all(len(x) for x in out) else None


def box_contains(b: Box, keys: tuple) -> bool:
    return all(k in a for a, k in zip(b, keys))


def _prune(boxes: list[Box]) -> list[Box]:
    """Drop empty boxes and boxes inside another (their union is unchanged, inclusion-exclusion gets smaller)."""
    boxes = [b for b in boxes if b is not None and box_size(b)]
    keep: list[Box] = []
    for i, b in enumerate(boxes):
        inside = any(j != i and all(x.subset_of(y) for x, y in zip(b, c)) and (j < i or not all(y.subset_of(x) for x, y in zip(b, c)))
                     for j, c in enumerate(boxes))
        if not inside:
            keep.append(b)
    return keep


def union_size(boxes: list[Box]) -> int:
    boxes = _prune(boxes)
    if not boxes:
        return 0
    first, rest = boxes[0], boxes[1:]
    return box_size(first) + union_size(rest) - union_size([box_intersect(first, r) for r in rest])


def count_new(b: Box, earlier: list[Box]) -> int:
    """Items of box ``b`` that none of the ``earlier`` boxes hold."""
    return box_size(b) - union_size([box_intersect(b, e) for e in earlier])


def intensity_key(x: float) -> str:
    """The intensity exactly as the item id's canonical JSON writes it (``Item.request`` rounds to 6 places)."""
    return json.dumps(round(float(x), 6))


@dataclass
class Table:
    """One validated spec table: constants (medium, mode, options) and the five axes."""

    medium: str
    mode: str
    options: tuple
    axes: Box
    offset: int = 0                                         # index of its first new item in the spec
    earlier: list[Box] = field(default_factory=list)        # boxes of earlier tables of the same family
    count: int = 0                                          # new items (not held by an earlier table)

    @property
    def family(self) -> tuple:
        return family_key(self.medium, self.mode, dict(self.options))

    @property
    def folder(self) -> str:
        return Item(medium=self.medium, mode=self.mode, emotion="", intensity=0.0, seed=0).folder

    def item(self, keys: tuple, index: int) -> Item:
        text, prompt, p_key, a_key, seed = keys
        emotion, intensity = self.axes[3].value(a_key)
        portrait, p_path, p_sha = self.axes[2].value(p_key) if p_key is not None else (None, None, None)
        return Item(medium=self.medium, mode=self.mode, emotion=emotion, intensity=intensity, seed=seed, text=text,
                    prompt=prompt, portrait=portrait, portrait_path=p_path, portrait_sha256=p_sha,
                    options=self.options, index=index)

    def keys(self) -> Iterator[tuple]:
        """Key tuples in product order (a nested loop, so a range axis is never turned into a list)."""
        def rec(d: int, prefix: tuple) -> Iterator[tuple]:
            if d == len(self.axes):
                yield prefix
                return
            for k in self.axes[d].keys:
                yield from rec(d + 1, prefix + (k,))
        return rec(0, ())

    def iter_items(self, start: int = 0) -> Iterator[Item]:
        """New items from the ``start``-th new one on, with their spec indices."""
        if start >= self.count:
            return
        if not self.earlier:
            for i in range(start, self.count):
                yield self.item(self._decode(i), self.offset + i)
            return
        i = 0
        for keys in self.keys():
            if any(box_contains(e, keys) for e in self.earlier):
                continue
            if i >= start:
                yield self.item(keys, self.offset + i)
            i += 1

    def _decode(self, i: int) -> tuple:
        """The i-th key tuple in product order (mixed radix, last axis fastest)."""
        out = []
        for a in reversed(self.axes):
            i, r = divmod(i, len(a))
            out.append(a.keys[r])
        return tuple(reversed(out))

    def rank(self, keys: tuple) -> int | None:
        """Position of ``keys`` among this table's new items, or None when it is not one of them."""
        if not box_contains(self.axes, keys) or any(box_contains(e, keys) for e in self.earlier):
            return None
        pos = [a.position(k) for a, k in zip(self.axes, keys)]
        if not self.earlier:
            r = 0
            for a, p in zip(self.axes, pos):
                r = r * len(a) + p
            return r
        # items before `keys` in product order: for each axis d, the first d keys fixed and axis d before its key
        r = 0
        for d, a in enumerate(self.axes):
            b = tuple(x.single(k) for x, k in zip(self.axes[:d], keys[:d])) + (a.prefix(pos[d]),) + self.axes[d + 1:]
            if box_size(b):
                r += count_new(b, self.earlier)
        return r


def family_key(medium: str, mode: str, options: dict) -> tuple:
    """Tables of different families never share an item (medium, mode and options are part of the id)."""
    return (medium, mode, json.dumps(options, sort_keys=True, default=str))


def link(tables: list[Table]) -> int:
    """Set each table's earlier boxes, count and offset; returns the spec's total number of items."""
    seen: dict[tuple, list[Box]] = {}
    total = 0
    for t in tables:
        fam = t.family
        t.earlier = [e for e in seen.get(fam, []) if box_intersect(t.axes, e) is not None]
        t.count = count_new(t.axes, t.earlier)
        t.offset = total
        total += t.count
        seen.setdefault(fam, []).append(t.axes)
    return total


def row_keys(row: dict) -> tuple[tuple, tuple] | None:
    """(family, axis keys) of a manifest row, to find the row's item in a spec without expanding it."""
    try:
        opts = json.loads(row["options"]) if isinstance(row.get("options"), str) else dict(row.get("options") or {})
        fam = family_key(row["medium"], row["mode"], opts)
        keys = (row.get("text"), row.get("prompt"), row.get("portrait_sha256"),
                (row["emotion"], intensity_key(row["intensity"])), row["seed"])
    except (KeyError, TypeError, ValueError):
        return None
    return fam, keys

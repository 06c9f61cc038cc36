"""Dataset spec files: TOML (or a dict) describing grids and explicit items, yielding ``Item``s lazily.

    [dataset]
    name = "demo"

    [[grid]]                      # every combination of the list-valued keys
    medium = "speech"
    texts = ["The results are in."]
    emotions = ["neutral", "joy", "joy:0.6,surprise:0.4", "0.5,-0.3,0.1", "quiet relief"]
    intensities = [0.5, 1.0]
    seeds = [0]

    [[item]]                      # one explicit item
    medium = "face"
    mode = "talk"
    text = "Hello there."
    emotion = "neutral > joy > sadness"

Keys (a grid takes the plural list form of emotion/intensity/seed/text/prompt/portrait, an item the singular):
    all media   medium, emotion(s), intensity/intensities (default 1.0), seed(s) (default 0; ``seeds = N`` = 0..N-1)
    speech      text(s), engine ("embedded"), format ("wav" | "flac"), voice / voices (grid: one pass per voice)
    face        mode ("express" still | "talk" clip), portrait(s) ("default" or a path relative to the spec),
                text(s) (talk only), fps (talk, 25), size (talk, 512), voice / voices (talk)
    image       prompt(s), engine ("embedded" | "diffusion" | "auto"), width, height (512), weights (a local folder)
    [dataset]   name, description, license, seed (added to every item's seed)

Types and ranges, checked when the spec is read (before anything renders), each error with its line:
    text keys    medium, mode, engine, format, weights, text, prompt, portrait, voice, and the neural options'
                 paths: TOML strings in quotes
    emotion      a string (label, mixture, "v,a,d", free text, "a > b") or a [v, a, d] list of numbers
    intensity    a number in [0, 1.5]
    seed         a whole number; dataset.seed + each seed must lie in 0 .. 2^63-1 (the manifest stores int64)
    fps 1-60, size 128-2048 (even), width and height 16-4096: whole numbers
    voice        a registry voice name (`studio weights`) or a piper .onnx path relative to the spec, loaded
                 and checked once per distinct voice
Neutral at any intensity is one request (rendered once). Trajectories need time: speech and face "talk" only.

Grids stay lazy (studio/datasets/grid.py): a spec is counted, indexed and iterated without building its
items, so a 10-million-item grid costs what its lists cost. Every distinct emotion x intensity and portrait
is still validated up front. `studio render` refuses more than 100,000 items without --yes or --limit.

Every error names the place (line number where TOML has one) and what to write instead.
"""
from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from studio.datasets.grid import Axis, Table, intensity_key, link, row_keys
from studio.datasets.items import Item
from studio.affect.core import MAX_INTENSITY
from studio.errors import StudioError
from studio.requests import SEED_MAX

MEDIA = ("speech", "face", "image")
FACE_MODES = ("express", "talk")
AUDIO_FORMATS = ("wav", "flac")

DATASET_KEYS = {"name", "description", "license", "seed"}
TOP_KEYS = {"dataset", "grid", "item"}
# singular (explicit item) key -> plural (grid) key
LISTABLE = {"emotion": "emotions", "intensity": "intensities", "seed": "seeds", "text": "texts",
            "prompt": "prompts", "portrait": "portraits"}
PLURAL_OF = {pl: s for s, pl in LISTABLE.items()}
SCALAR = {"medium", "mode", "engine", "format", "fps", "size", "width", "height", "weights"}
MEDIUM_KEYS = {
    "speech": {"text", "engine", "format"},
    "face": {"mode", "portrait", "text", "fps", "size"},
    "image": {"prompt", "engine", "width", "height", "weights"},
}
# keys that only enter an item's options (and so its id) when the spec gives them: paths are text, knobs numbers
OPTIONAL: dict[str, dict[str, type | tuple]] = {
    "speech": {"voice": str, "weights": str, "vocoder": str, "directions": str, "speaker": str},
    "face": {"engine": str, "voice": str, "weights": str, "controlnet": str, "motion_adapter": str,
             "strength": (int, float), "control_scale": (int, float), "steps": int, "guidance": (int, float),
             "temporal": str, "blend": (int, float)},
    "image": {},
}
for _m, _keys in OPTIONAL.items():
    MEDIUM_KEYS[_m] |= set(_keys)
COMMON_KEYS = {"medium", "emotion", "intensity", "seed"}
# the type every key must have: (types, how the message says it); optional keys add theirs below
KEY_TYPES: dict[str, tuple[type | tuple, str]] = {
    "medium": (str, "text"), "mode": (str, "text ('express' or 'talk')"), "engine": (str, "text (an engine name)"),
    "format": (str, "text ('wav' or 'flac')"), "weights": (str, "text (a local folder)"),
    "text": (str, "text"), "prompt": (str, "text"), "portrait": (str, "text ('default' or a path)"),
    "seed": (int, "a whole number in 0 .. 2^63-1"), "intensity": ((int, float), "a number in [0, 1.5]"),
    "fps": (int, "a whole number"), "size": (int, "a whole number"), "width": (int, "a whole number"),
    "height": (int, "a whole number"),
}
for _keys in OPTIONAL.values():
    for _k, _typ in _keys.items():
        KEY_TYPES.setdefault(_k, (_typ, "text (a name or a path)" if _typ is str else "a number"))
SIZE_RANGES = {"fps": (1, 60), "size": (128, 2048), "width": (16, 4096), "height": (16, 4096)}
DEFAULTS: dict[str, dict[str, Any]] = {
    "speech": {"engine": "embedded", "format": "wav"},
    "face": {"mode": "express", "portrait": "default", "fps": 25, "size": 512},
    "image": {"engine": "embedded", "width": 512, "height": 512, "weights": None},
}


@dataclass
class Spec:
    """A loaded spec: its tables, kept lazy. ``items`` is a sequence view (len, iteration, indexing) that
    builds items as they are asked for; ``len(spec)`` and ``counts()`` are computed without expanding."""

    name: str
    description: str
    license: str
    tables: list[Table]
    source: str = "<dict>"  # the file it came from, for messages and the dataset card
    raw: dict = field(default_factory=dict)
    total: int = 0

    def __post_init__(self):
        self.total = link(self.tables)

    def __len__(self) -> int:
        return self.total

    @property
    def items(self) -> "SpecItems":
        return SpecItems(self)

    def iter_items(self, limit: int | None = None, start: int = 0) -> Iterator[Item]:
        """Items in spec order from index ``start``, at most ``limit`` of them."""
        stop = self.total if limit is None else min(self.total, start + max(0, limit))
        for t in self.tables:
            if start >= stop:
                return
            if t.offset + t.count <= start:
                continue
            for it in t.iter_items(start - t.offset):
                if it.index >= stop:
                    return
                yield it
                start = it.index + 1

    def item_at(self, i: int) -> Item:
        if not 0 <= i < self.total:
            raise IndexError(f"item {i} of a {self.total}-item spec")
        return next(self.iter_items(limit=1, start=i))

    def counts(self, limit: int | None = None) -> dict[str, int]:
        """Items per folder (of the first ``limit``), in spec order of first appearance."""
        stop = self.total if limit is None else min(self.total, limit)
        out: dict[str, int] = {}
        for t in self.tables:
            n = max(0, min(t.count, stop - t.offset))
            if n:
                out[t.folder] = out.get(t.folder, 0) + n
        return out

    def index_of(self, row: Mapping) -> int | None:
        """The spec index of a manifest row's item (found from its request fields, checked against its id),
        or None when the spec does not hold it."""
        found = row_keys(dict(row))
        if found is None:
            return None
        fam, keys = found
        for t in self.tables:
            if t.family != fam:
                continue
            try:
                r = t.rank(keys)
            except (KeyError, ValueError, TypeError):
                r = None
            if r is not None:
                it = t.item(keys, t.offset + r)
                return it.index if it.id == row.get("id") else None
        return None


class SpecItems(Sequence):
    """The spec's items as a lazy sequence: nothing is built until asked for."""

    def __init__(self, spec: Spec):
        self._spec = spec

    def __len__(self) -> int:
        return self._spec.total

    def __iter__(self) -> Iterator[Item]:
        return self._spec.iter_items()

    def __getitem__(self, i):
        if isinstance(i, slice):
            start, stop, step = i.indices(self._spec.total)
            if step != 1:
                return list(self._spec.iter_items(max(0, stop - start), start))[::step]
            return list(self._spec.iter_items(max(0, stop - start), start))
        i = i + self._spec.total if i < 0 else i
        return self._spec.item_at(i)


def _line_of(text: str | None, key: str, nth: int = 0) -> str:
    """' (line N)' for the nth assignment of ``key`` in the TOML source, when it can be found."""
    if not text:
        return ""
    k = re.escape(key)
    hits = [i + 1 for i, ln in enumerate(text.splitlines()) if re.match(rf"\s*({k}\s*=|\[\[?\s*{k}\s*\]\]?)", ln)]
    return f" (line {hits[min(nth, len(hits) - 1)]})" if hits else ""


def _table_line(text: str | None, table: str, index: int) -> str:
    if not text:
        return ""
    hits = [i + 1 for i, ln in enumerate(text.splitlines()) if re.match(rf"\s*\[\[\s*{table}\s*\]\]", ln)]
    return f" (line {hits[index]})" if index < len(hits) else ""


class _Where(str):
    """'spec.toml [[grid]] #2 (line 14)' that can also point at one key's line inside that table."""

    def __new__(cls, name: str, text: str | None, table: str, index: int):
        obj = super().__new__(cls, f"{name} [[{table}]] #{index + 1}{_table_line(text, table, index)}")
        obj.name, obj.text, obj.table, obj.index = name, text, table, index
        return obj

    def at(self, key: str) -> str:
        """'spec.toml line 17 ([[grid]] #2)' for the key's assignment inside this table."""
        if not self.text:
            return str(self)
        lines = self.text.splitlines()
        heads = [i for i, ln in enumerate(lines) if re.match(rf"\s*\[\[\s*{self.table}\s*\]\]", ln)]
        if self.index >= len(heads):
            return str(self)
        for i in range(heads[self.index] + 1, len(lines)):
            if re.match(r"\s*\[", lines[i]):
                break
            if re.match(rf"\s*{re.escape(key)}\s*=", lines[i]):
                return f"{self.name} line {i + 1} ([[{self.table}]] #{self.index + 1})"
        return str(self)


def _nearest(key: str, valid: set[str]) -> str:
    near = difflib.get_close_matches(key, sorted(valid), n=1, cutoff=0.5)
    return f"did you mean {near[0]!r}?" if near else f"valid keys: {', '.join(sorted(valid))}"


def read_spec_source(spec: Any) -> tuple[dict, str | None, str, Path]:
    """A path, a TOML string or a dict → (data, source text, source name, base folder for relative paths)."""
    if isinstance(spec, Mapping):
        return dict(spec), None, "<dict>", Path.cwd()
    if isinstance(spec, Path) or (isinstance(spec, str) and "\n" not in spec and "=" not in spec):
        p = Path(spec)
        if not p.exists():
            raise StudioError(f"spec file {p} does not exist; give a path to a .toml spec (see examples/demo.toml)")
        if p.is_dir():
            raise StudioError(f"spec {p} is a folder; give a .toml spec file")
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise StudioError(f"spec file {p} is not UTF-8 text; save it as UTF-8 TOML") from None
        name, base = str(p), p.resolve().parent
    elif isinstance(spec, str):
        text, name, base = spec, "<string>", Path.cwd()
    else:
        raise StudioError(f"a spec is a path, a TOML string or a dict, not {type(spec).__name__}")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        msg = str(e)
        if "end of document" in msg:  # tomllib gives no line here: point at what is left open
            last = len(text.rstrip().splitlines())
            raise StudioError(f"{name}: invalid TOML: {msg} after line {last}; a bracket or quote opened earlier is never closed") from None
        raise StudioError(f"{name}: invalid TOML: {msg}; fix that line (strings need quotes, lists need [ ])") from None
    return data, text, name, base


def upper_bound(data: Mapping) -> int:
    """At most how many items a parsed spec can hold: the product of each table's list lengths, summed (tables
    that overlap count twice). Needs no validation, so a server can refuse a huge paste before any work."""
    total = 0
    for table in ("grid", "item"):
        rows = data.get(table, [])
        for t in rows if isinstance(rows, list) else []:
            if not isinstance(t, Mapping):
                continue
            n = 1
            for single, plural in LISTABLE.items():
                v = t.get(plural, t.get(single))
                if single == "seed" and isinstance(v, int) and not isinstance(v, bool):
                    n *= max(v, 0) if plural in t else 1
                elif isinstance(v, list) and not (single == "emotion" and _is_vad(v)):
                    n *= len(v)
            total += n
    return total


def load_spec(spec: Any) -> Spec:
    data, text, name, base = read_spec_source(spec)
    for k in data:
        if k not in TOP_KEYS:
            raise StudioError(f"{name}{_line_of(text, k)}: unknown key {k!r}; {_nearest(k, TOP_KEYS)}")
    ds = data.get("dataset", {})
    if not isinstance(ds, Mapping):
        raise StudioError(f"{name}: [dataset] must be a table with {', '.join(sorted(DATASET_KEYS))}")
    for k in ds:
        if k not in DATASET_KEYS:
            raise StudioError(f"{name}{_line_of(text, k)}: unknown [dataset] key {k!r}; {_nearest(k, DATASET_KEYS)}")
    grids, items = data.get("grid", []), data.get("item", [])
    for tname, tables in (("grid", grids), ("item", items)):
        if isinstance(tables, Mapping):
            raise StudioError(f"{name}: write [[{tname}]] (double brackets), one per {tname}")
        if not isinstance(tables, list) or not all(isinstance(t, Mapping) for t in tables):
            raise StudioError(f"{name}: {tname} must be an array of tables written [[{tname}]]")
    if not grids and not items:
        raise StudioError(f"{name}: the spec has no [[grid]] or [[item]] tables; see examples/demo.toml")
    for k in ("name", "description", "license"):
        if k in ds and not isinstance(ds[k], str):
            raise StudioError(f"{name}{_line_of(text, k)}: [dataset] {k} must be text in quotes, got {ds[k]!r}")
    base_seed = _as_int(ds.get("seed", 0), "dataset.seed", name + _line_of(text, "seed"))
    if not 0 <= base_seed <= SEED_MAX:
        raise StudioError(f"{name}{_line_of(text, 'seed')}: dataset.seed must be in 0 .. 2^63-1, got {base_seed}")
    ctx = _Context(text, name, base)
    tables = [_table(g, w, ctx, base_seed, grid=True)
              for gi, grid in enumerate(grids) for w in [_Where(name, text, "grid", gi)] for g in _per_voice(grid, w)]
    tables += [_table(it, _Where(name, text, "item", ii), ctx, base_seed, grid=False) for ii, it in enumerate(items)]
    return Spec(name=str(ds.get("name", "dataset" if name.startswith("<") else Path(name).stem)),
                description=str(ds.get("description", "")), license=str(ds.get("license", "see the models' licenses below")),
                tables=tables, source=name, raw=data)


def _per_voice(t: Mapping, where: "_Where") -> list[Mapping]:
    """``voices = [a, b]`` in a grid: one table per voice, in the listed order (a voice is an engine option, so
    each voice's items are their own family; nothing is shared or deduplicated across voices)."""
    if "voices" not in t:
        return [t]
    if t.get("medium") not in ("speech", "face"):
        raise StudioError(f"{where.at('voices')}: voices is for speech and face 'talk' grids, not {t.get('medium')!r}")
    if "voice" in t:
        raise StudioError(f"{where}: give either voice or voices, not both")
    vs = t["voices"]
    if not isinstance(vs, list) or not vs or not all(isinstance(v, str) and v.strip() for v in vs):
        raise StudioError(f"{where.at('voices')}: voices must be a list of voice names or paths, e.g. voices = [\"piper-joe-medium\", \"piper-kristin-medium\"]")
    rest = {k: v for k, v in t.items() if k != "voices"}
    return [{**rest, "voice": v} for v in dict.fromkeys(vs)]


def _as_int(v: Any, what: str, where: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise StudioError(f"{where}: {what} must be a whole number, got {v!r}")
    return v


def _item_seed(base_seed: int, s: Any, where: str) -> int:
    """dataset.seed + the listed seed, in the one seed range (the manifest stores seeds as int64)."""
    if isinstance(s, bool) or not isinstance(s, int):
        raise StudioError(f"{where}: a seed is a whole number in 0 .. 2^63-1, got {s!r}")
    if not 0 <= base_seed + s <= SEED_MAX:
        total = f" (dataset.seed {base_seed} + {s})" if base_seed else ""
        raise StudioError(f"{where}: seed {base_seed + s}{total} is outside 0 .. 2^63-1 ({SEED_MAX}); give seeds in that range")
    return base_seed + s


def _check_types(t: Mapping, where: "_Where") -> None:
    """Every scalar and list key has its type checked before anything is built, named with its line (emotions
    are strings or [v, a, d] lists and are checked with their meaning)."""
    for k, v in t.items():
        single = PLURAL_OF.get(k, k)
        if single not in KEY_TYPES:
            continue
        if k != single and single == "seed" and isinstance(v, int) and not isinstance(v, bool):
            continue  # seeds = N
        typ, words = KEY_TYPES[single]
        for x in (v if single in LISTABLE and isinstance(v, list) else [v]):
            if isinstance(x, bool) or not isinstance(x, typ):
                raise StudioError(f"{where.at(k)}: {k} must be {words}{' (or a list of them)' if single in LISTABLE else ''}, got {x!r}")


class _Context:
    def __init__(self, text: str | None, name: str, base: Path):
        self.text, self.name, self.base = text, name, base
        self._affects: dict[tuple, Any] = {}
        self._portraits: dict[str, tuple[str, str]] = {}
        self._voices: dict[str, str] = {}

    def affect(self, emotion: str, intensity: float, where: str):
        key = (emotion, intensity)
        if key not in self._affects:
            from studio.affect.coerce import coerce

            try:
                a = coerce(emotion, intensity)
            except StudioError as e:
                raise StudioError(f"{where}: emotion {emotion!r}: {e}") from None
            self._affects[key] = a
        return self._affects[key]

    def voice(self, v: str, where: str) -> str:
        """A registry voice name as written, or a voice path made absolute (relative to the spec file), after
        checking that it loads as a piper voice; the one voice check runs once per distinct voice."""
        if v not in self._voices:
            from pipelines.speech.voice import resolve_voice

            looks_like_path = v.endswith(".onnx") or "/" in v or "\\" in v
            target = str(Path(v) if Path(v).is_absolute() or not looks_like_path else self.base / v) if looks_like_path else v
            try:
                resolve_voice(target)
            except StudioError as e:
                raise StudioError(f"{where}: voice {v!r}: {e}") from None
            self._voices[v] = target
        return self._voices[v]

    def portrait(self, p: str, where: str) -> tuple[str, str]:
        """(absolute path to read, sha256 of its bytes) after checking it opens as an image."""
        if p not in self._portraits:
            if p == "default":
                self._portraits[p] = ("default", "default")
            else:
                from studio.media import load_image
                from studio.weights import sha256_of

                path = Path(p) if Path(p).is_absolute() else self.base / p
                if not path.exists():
                    raise StudioError(f"{where}: portrait {p!r} not found (looked for {path}); give a path relative to the spec file, or 'default'")
                try:
                    load_image(path)
                except StudioError as e:
                    raise StudioError(f"{where}: portrait {p!r}: {e}") from None
                self._portraits[p] = (str(path), sha256_of(path))
        return self._portraits[p]


def _is_vad(v: Any) -> bool:
    return isinstance(v, list) and len(v) == 3 and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)


def _values(t: Mapping, singular: str, grid: bool, where: str, default: list) -> list:
    """The values a grid iterates over (``emotions = [...]`` or a single ``emotion = ...``), or an item's one value."""
    plural = LISTABLE[singular]
    if not grid or (singular in t and plural not in t):
        if singular not in t:
            return list(default)
        v = t[singular]
        return [v] if (_is_vad(v) or not isinstance(v, list)) else list(v)
    if singular in t and plural in t:
        raise StudioError(f"{where}: give either {singular} or {plural}, not both")
    v = t.get(plural, default)
    if singular == "seed" and isinstance(v, int) and not isinstance(v, bool):
        if v < 1:
            raise StudioError(f"{where}: seeds = N asks for N seeds (0 .. N-1) and needs N >= 1; or give a list, e.g. seeds = [0, 7]")
        return range(v)  # seeds = 3 means seeds 0, 1, 2 (kept a range: a grid never lists its seeds)
    if not isinstance(v, list):
        v = [v]
    if not v:
        raise StudioError(f"{where}: {plural} is an empty list; give at least one value")
    return v


def _table(t: Mapping, where: _Where, ctx: _Context, base_seed: int, grid: bool) -> Table:
    """Validate one [[grid]] / [[item]] table up front (each distinct emotion, intensity and portrait once) into
    its lazy axes."""
    medium = t.get("medium")
    if medium not in MEDIA:
        near = difflib.get_close_matches(str(medium), MEDIA, n=1)
        raise StudioError(f"{where}: medium must be one of {', '.join(MEDIA)}, got {medium!r}" + (f"; did you mean {near[0]!r}?" if near else ""))
    allowed = (COMMON_KEYS | MEDIUM_KEYS[medium])
    valid = allowed | ({LISTABLE[k] for k in allowed if k in LISTABLE} if grid else set())
    for k in t:
        if k not in valid:
            other = next((m for m in MEDIA if k in MEDIUM_KEYS[m] or k.rstrip("s") in MEDIUM_KEYS[m]), None)
            # a grid suggests the plural list keys, an item the singular ones
            hint = _nearest(k, {LISTABLE.get(v, v) for v in allowed} | (valid - set(LISTABLE)) if grid else valid)
            if other and other != medium and k.rstrip("s") not in allowed:
                hint = f"{k!r} belongs to {other} items; " + hint
            raise StudioError(f"{where.at(k)}: unknown key {k!r} for {'an' if medium == 'image' else 'a'} {medium} {'grid' if grid else 'item'}; {hint}")
    _check_types(t, where)
    d = DEFAULTS[medium]
    opts = {k: t.get(k, d[k]) for k in MEDIUM_KEYS[medium] & SCALAR if k in d}
    for k, typ in OPTIONAL[medium].items():
        if k in t:
            v = t[k]
            if isinstance(v, bool) or not isinstance(v, typ):
                kind = "text (a name or a path)" if typ is str else "a number"
                raise StudioError(f"{where.at(k)}: {k} must be {kind}, got {v!r}")
            opts[k] = v
    if "voice" in opts:
        at = where.at("voice")
        opts["voice"] = ctx.voice(opts["voice"], where.at("voices") if at == str(where) else at)
    mode = opts.pop("mode", None) or {"speech": "speak", "image": "generate"}[medium]
    if medium == "face" and mode not in FACE_MODES:
        raise StudioError(f"{where}: face mode must be 'express' (a still) or 'talk' (a clip with speech), got {mode!r}")
    if medium == "speech" and opts["format"] not in AUDIO_FORMATS:
        raise StudioError(f"{where}: speech format must be 'wav' or 'flac', got {opts['format']!r}")
    for k, (lo, hi) in SIZE_RANGES.items():  # the ranges the requests accept (studio.requests)
        if k in opts:
            v = opts[k]
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi or (k == "size" and v % 2):
                even = " and even" if k == "size" else ""
                raise StudioError(f"{where.at(k)}: {k} must be a whole number in {lo}-{hi}{even}, got {v!r}")
    if medium == "face" and mode == "express":
        if "text" in t or "texts" in t:
            raise StudioError(f"{where}: face 'express' renders a still and takes no text; set mode = 'talk' for a clip")
        opts.pop("fps", None)
        opts.pop("size", None)  # express keeps the portrait's own size
    emotions = _values(t, "emotion", grid, where, ["neutral"])
    intensities = _values(t, "intensity", grid, where, [1.0])
    raw_seeds = _values(t, "seed", grid, where, [0])
    seed_at = where.at(LISTABLE["seed"] if grid and LISTABLE["seed"] in t else "seed")
    if isinstance(raw_seeds, range):
        seeds: Any = range(base_seed + raw_seeds.start, base_seed + raw_seeds.stop)
        if seeds.stop - 1 > SEED_MAX:
            raise StudioError(f"{seed_at}: seeds run up to {seeds.stop - 1} (dataset.seed {base_seed} + {raw_seeds.stop - 1}); "
                              f"every item's seed must be in 0 .. 2^63-1 ({SEED_MAX}); use fewer seeds or a smaller dataset.seed")
    else:
        seeds = tuple(dict.fromkeys(_item_seed(base_seed, s, seed_at) for s in raw_seeds))
    for x in intensities:
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not 0 <= x <= MAX_INTENSITY:
            raise StudioError(f"{where.at(LISTABLE['intensity'] if grid and 'intensities' in t else 'intensity')}: "
                              f"intensity must be a number in [0, {MAX_INTENSITY:g}], got {x!r}")
    emotions = [",".join(f"{float(v):g}" for v in e) if isinstance(e, list) else e for e in emotions]
    for e in emotions:
        if not isinstance(e, str):
            raise StudioError(f"{where}: an emotion is a string (label, mixture, 'v,a,d', free text or 'a > b') or a [v, a, d] list, got {e!r}; in a list of emotions write a VAD point as [v, a, d] inside the list")
    needs_text = medium == "speech" or (medium == "face" and mode == "talk")
    texts = _values(t, "text", grid, where, [None]) if needs_text else [None]
    prompts = _values(t, "prompt", grid, where, [None]) if medium == "image" else [None]
    portraits = _values(t, "portrait", grid, where, [d.get("portrait")]) if medium == "face" else [None]
    for what, vals in (("text", texts), ("prompt", prompts)):
        if (what == "text" and needs_text) or (what == "prompt" and medium == "image"):
            if any(not isinstance(v, str) or not v.strip() for v in vals):
                raise StudioError(f"{where}: every {medium} item needs a non-empty {what}; add {LISTABLE[what] if grid else what} = [\"...\"]")
    affects: dict[tuple, tuple] = {}
    for emotion in emotions:  # product order: emotion, then intensity
        for inten in intensities:
            affect = ctx.affect(emotion, float(inten), where)
            is_traj = not hasattr(affect, "vad")
            if is_traj and not (medium == "speech" or mode == "talk"):
                raise StudioError(f"{where}: trajectory {emotion!r} needs time: use it for speech or face mode 'talk', not {medium} {mode}")
            if not is_traj and affect.is_neutral:
                inten = 0.0  # neutral at any intensity is the same request
                if affect.intensity:
                    ctx.affect(emotion, 0.0, where)
            affects.setdefault((emotion, intensity_key(inten)), (emotion, float(inten)))
    if medium == "face" and mode == "talk":  # the frame budget: the longest text against every affect's pace
        from studio.requests import check_talk_length

        longest = max(texts, key=len)
        for emotion, inten in affects.values():
            try:
                check_talk_length(longest, ctx.affect(emotion, inten, where), opts.get("size", 512), opts.get("fps", 25))
            except StudioError as e:
                raise StudioError(f"{where.at(LISTABLE['text'] if grid and 'texts' in t else 'text')}: emotion {emotion!r}: {e}") from None
    portrait_vals: dict = {}
    for p in portraits:
        if p is None:
            portrait_vals.setdefault(None, (None, None, None))
        else:
            p_path, p_sha = ctx.portrait(p, where)
            portrait_vals.setdefault(p_sha, (p, p_path, p_sha))  # the item's id follows the bytes, not the name
    axes = (Axis(tuple(dict.fromkeys(texts))), Axis(tuple(dict.fromkeys(prompts))),
            Axis(tuple(portrait_vals), portrait_vals), Axis(tuple(affects), affects), Axis(seeds))
    return Table(medium=medium, mode=mode, options=tuple(sorted(opts.items())), axes=axes)

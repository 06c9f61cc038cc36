"""Spec parsing: grid expansion, explicit items, ids, and one-line errors that say where and what to write."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from studio.datasets import load_spec
from studio.datasets.spec import read_spec_source
from studio.errors import StudioError

GRID = """
[dataset]
name = "t"

[[grid]]
medium = "speech"
texts = ["One.", "Two."]
emotions = ["neutral", "joy", "sadness"]
intensities = [0.5, 1.0]
seeds = 2
"""


def test_grid_expansion_count_and_neutral_dedup():
    s = load_spec(GRID)
    # 2 texts x (neutral once + 2 emotions x 2 intensities) x 2 seeds: neutral at any intensity is one request
    assert len(s.items) == 2 * (1 + 2 * 2) * 2
    assert len({it.id for it in s.items}) == len(s.items)
    assert [it.index for it in s.items] == list(range(len(s.items)))
    assert {it.seed for it in s.items} == {0, 1}
    neutral = [it for it in s.items if it.emotion == "neutral"]
    assert all(it.intensity == 0.0 for it in neutral)


def test_ids_are_deterministic_and_depend_on_every_request_field():
    a, b = load_spec(GRID), load_spec(GRID)
    assert [it.id for it in a.items] == [it.id for it in b.items]
    c = load_spec(GRID.replace("seeds = 2", "seeds = [5, 6]"))
    assert not {it.id for it in a.items} & {it.id for it in c.items}
    d = load_spec(GRID.replace('"Two."', '"Three."'))
    assert len({it.id for it in a.items} & {it.id for it in d.items}) == len(a.items) // 2


def test_explicit_items_all_affect_kinds_and_dict_spec():
    spec = {"dataset": {"seed": 10}, "item": [
        {"medium": "speech", "text": "Hi.", "emotion": "joy:0.6,surprise:0.4", "intensity": 0.8},
        {"medium": "image", "prompt": "a tree", "emotion": [0.5, -0.2, 0.1], "width": 64, "height": 64},
        {"medium": "speech", "text": "Hi.", "emotion": "neutral > joy > sadness"},
        {"medium": "face", "mode": "talk", "text": "Hi.", "emotion": "anger@0 > neutral@1", "size": 128},
        {"medium": "face", "emotion": "fear", "intensity": 1.2},
    ]}
    s = load_spec(spec)
    assert [it.folder for it in s.items] == ["speech", "image", "speech", "video", "face"]
    mix, vad, traj, talk, still = s.items
    assert mix.summary["label"] == "joy" and mix.intensity == 0.8 and mix.seed == 10
    assert vad.emotion == "0.5,-0.2,0.1" and np.allclose(vad.summary["point"], [0.5, -0.2, 0.1])
    assert traj.summary["trajectory"] and traj.summary["label"] == "sadness"
    assert talk.opts["size"] == 128 and talk.extension == "mp4"
    assert still.portrait == "default" and still.extension == "png" and "size" not in still.opts
    row = mix.request_row()
    for col in ("id", "medium", "mode", "file", "emotion", "intensity", "label", "valence", "arousal", "dominance",
                "text", "prompt", "portrait", "seed", "engine", "options", "affect"):
        assert col in row


def test_portrait_paths_relative_to_spec_and_ids_follow_the_bytes(tmp_path):
    from PIL import Image

    (tmp_path / "sub").mkdir()
    Image.fromarray(np.full((80, 80, 3), 120, np.uint8)).save(tmp_path / "sub" / "p.png")
    f = tmp_path / "s.toml"
    f.write_text('[[grid]]\nmedium = "face"\nportraits = ["sub/p.png"]\nemotions = ["joy"]\n')
    it = load_spec(f).items[0]
    assert it.portrait == "sub/p.png" and it.portrait_path == str(tmp_path / "sub" / "p.png")
    moved = tmp_path / "other"
    moved.mkdir()
    (moved / "sub").mkdir()
    (tmp_path / "sub" / "p.png").rename(moved / "sub" / "p.png")
    (moved / "s.toml").write_text(f.read_text())
    assert load_spec(moved / "s.toml").items[0].id == it.id  # moving the folder keeps ids


@pytest.mark.parametrize("text, needle", [
    ('[[grid]]\nmedium = "speech"\ntexts = ["a"\nemotions = ["joy"]\n', "line 4"),
    ('[[grid]]\nmedium = "speech"\ntexts = ["a"]\nemotion = joy\n', "line 4"),
])
def test_malformed_toml_names_the_line(text, needle):
    with pytest.raises(StudioError) as e:
        load_spec(text)
    assert needle in str(e.value) and "invalid TOML" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("text, needles", [
    ('[[grid]]\nmedium = "speech"\ntexts = ["a"]\nemotoins = ["joy"]\n', ["line 4", "'emotoins'", "did you mean 'emotions'"]),
    ('[[grid]]\nmedium = "image"\nprompts = ["a"]\nintensitys = [1.0]\n', ["line 4", "did you mean 'intensities'"]),
    ('[datset]\nname = "x"\n', ["'datset'", "did you mean 'dataset'"]),
    ('[[grid]]\nmedium = "speach"\ntexts = ["a"]\n', ["did you mean 'speech'"]),
    ('[[item]]\nmedium = "image"\nprompt = "a"\ntext = "b"\n', ["line 4", "'text'", "belongs to speech"]),
    ('[dataset]\nnmae = "x"\n[[grid]]\nmedium = "speech"\ntexts = ["a"]\n', ["line 2", "did you mean 'name'"]),
])
def test_unknown_keys_name_the_nearest_valid_key(text, needles):
    with pytest.raises(StudioError) as e:
        load_spec(text)
    for n in needles:
        assert n in str(e.value), str(e.value)


@pytest.mark.parametrize("text, needle", [
    ('[[grid]]\nmedium = "face"\nportraits = ["nope.png"]\nemotions = ["joy"]\n', "portrait 'nope.png' not found"),
    ('[[grid]]\nmedium = "speech"\nemotions = ["joy"]\n', "needs a non-empty text"),
    ('[[grid]]\nmedium = "image"\nprompts = ["a"]\nemotions = ["neutral > joy"]\n', "trajectory"),
    ('[[grid]]\nmedium = "speech"\ntexts = ["a"]\nemotions = ["jyo"]\n', "emotion 'jyo'"),
    ('[[grid]]\nmedium = "speech"\ntexts = ["a"]\nintensities = [3.0]\n', "intensity"),
    ('[[grid]]\nmedium = "speech"\ntexts = ["a"]\nseeds = 0\n', "N >= 1"),
    ('[[grid]]\nmedium = "face"\nmode = "sing"\n', "express"),
    ('[[grid]]\nmedium = "image"\nprompts = ["a"]\nwidth = 5\n', "width"),
    ('[grid]\nmedium = "image"\n', "double brackets"),
    ('[dataset]\nname = "x"\n', "no [[grid]] or [[item]]"),
])
def test_bad_values_give_one_clear_line(text, needle):
    with pytest.raises(StudioError) as e:
        load_spec(text)
    assert needle in str(e.value), str(e.value)
    assert "\n" not in str(e.value)


def test_missing_spec_file_and_folder(tmp_path):
    with pytest.raises(StudioError, match="does not exist"):
        read_spec_source(str(tmp_path / "none.toml"))
    with pytest.raises(StudioError, match="is a folder"):
        read_spec_source(tmp_path)


def test_demo_spec_covers_all_media_and_affect_kinds():
    from pathlib import Path

    s = load_spec(Path(__file__).resolve().parent.parent / "examples" / "demo.toml")
    c = s.counts()
    assert set(c) == {"speech", "face", "video", "image"}
    emotions = {it.emotion for it in s.items}
    assert any(":" in e for e in emotions) and any(">" in e for e in emotions)
    assert any(" " in e and ":" not in e and ">" not in e for e in emotions)  # free text
    assert any(e.count(",") == 2 and ":" not in e for e in emotions)  # a VAD point
    assert sum(c.values()) <= 60  # keeps `make demo` near five minutes on a laptop CPU


def test_every_example_spec_loads():
    from pathlib import Path

    specs = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.toml"))
    assert specs
    for p in specs:
        s = load_spec(p)
        assert s.items and len({it.id for it in s.items}) == len(s.items)


# ---- lazy grids -----------------------------------------------------------------------------------------------
DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo.toml"


def test_demo_ids_unchanged_by_lazy_expansion():
    import hashlib

    # the sha256 of the demo's 50 ids in order, as the list-building expansion (before lazy grids) gave them
    s = load_spec(DEMO)
    assert len(s) == 50 and [it.index for it in s.items] == list(range(50))
    assert hashlib.sha256(",".join(it.id for it in s.items).encode()).hexdigest() == \
        "a7b74d2a605cbf6fd998ee17f73bc9018ee63bc38bb4817d19a233801c7c677c"


def _oracle(spec: dict) -> list:
    """The plain expansion: every combination of every table, in order, first occurrence of each id kept."""
    import itertools

    from studio.affect import Affect
    from studio.affect.spec import from_spec
    from studio.datasets.items import Item

    seen: dict = {}
    for g in spec["grid"]:
        medium = g["medium"]
        seeds = range(g["seeds"]) if isinstance(g["seeds"], int) else g["seeds"]
        words = g["texts"] if medium == "speech" else g["prompts"]
        opts = {"engine": "embedded", "format": "wav"} if medium == "speech" else \
            {"engine": "embedded", "width": g.get("width", 512), "height": 512, "weights": None}
        for w, e, x, sd in itertools.product(words, g["emotions"], g["intensities"], seeds):
            x = 0.0 if from_spec(e, float(x)).is_neutral else float(x)
            it = Item(medium=medium, mode="speak" if medium == "speech" else "generate", emotion=e, intensity=x,
                      seed=sd, text=w if medium == "speech" else None, prompt=w if medium == "image" else None,
                      options=tuple(sorted(opts.items())))
            seen.setdefault(it.id, it)
    return list(seen.values())


@pytest.mark.parametrize("seed", range(12))
def test_overlapping_grids_count_index_and_order_match_the_plain_expansion(seed):
    import random

    rng = random.Random(seed)

    def grid():
        medium = rng.choice(["speech", "speech", "image"])
        g = {"medium": medium, "emotions": rng.sample(["neutral", "joy", "sadness", "anger", "joy"], rng.randint(1, 4)),
             "intensities": rng.sample([0.0, 0.5, 1.0, 0.5000000001, 1], rng.randint(1, 3)),
             "seeds": rng.randint(1, 4) if rng.random() < 0.5 else [rng.randint(0, 4) for _ in range(rng.randint(1, 4))],
             ("texts" if medium == "speech" else "prompts"): [rng.choice("abc") for _ in range(rng.randint(1, 3))]}
        if medium == "image":
            g["width"] = rng.choice([64, 64, 96])
        return g

    spec = {"grid": [grid() for _ in range(rng.randint(2, 5))]}
    want = _oracle(spec)
    s = load_spec(spec)
    assert len(s) == len(want) and sum(s.counts().values()) == len(want)  # counted, not expanded
    got = list(s.items)
    assert [it.id for it in got] == [it.id for it in want] and [it.index for it in got] == list(range(len(want)))
    assert [it.intensity for it in got] == [it.intensity for it in want]  # the first occurrence is the one kept
    for i, it in enumerate(want):
        assert s.item_at(i).id == it.id
        assert s.index_of({**it.request_row(), "id": it.id}) == i  # a journal row finds its place
    assert s.index_of({**want[0].request_row(), "seed": 99}) is None
    k = rng.randint(0, len(want))
    assert [it.id for it in s.items[k:k + 3]] == [it.id for it in want[k:k + 3]]


TEN_MILLION = {"dataset": {"name": "huge"}, "grid": [{
    "medium": "speech", "texts": [f"Line number {i}." for i in range(10)],
    "emotions": ["joy", "sadness", "anger", "fear", "disgust", "surprise", "contempt", "0.5,0.2,0.1",
                 "joy:0.5,fear:0.5", "0.2,0.6,-0.1"],
    "intensities": [round(0.1 * i + 0.1, 1) for i in range(10)], "seeds": 10000}]}


def test_ten_million_item_grid_is_counted_and_indexed_without_expansion():
    import tracemalloc

    tracemalloc.start()
    try:
        s = load_spec(TEN_MILLION)
        assert len(s) == 10_000_000 and s.counts() == {"speech": 10_000_000}
        last = s.items[-1]
        assert (last.index, last.seed, last.text, last.emotion, last.intensity) == \
            (9_999_999, 9999, "Line number 9.", "0.2,0.6,-0.1", 1.0)
        assert s.index_of(last.request_row()) == 9_999_999
        first = s.items[:3]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [it.seed for it in first] == [0, 1, 2] and len({it.id for it in first}) == 3
    assert peak < 20 * 2**20, peak  # a list of 10M items would be gigabytes


def test_ten_million_item_grid_limit_3_renders_3_with_bounded_memory(tmp_path):
    import tracemalloc

    from studio.datasets import load_manifest, render

    pytest.importorskip("pipelines.speech")
    tracemalloc.start()
    try:
        s = render(TEN_MILLION, tmp_path / "huge", limit=3)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    m = load_manifest(tmp_path / "huge")
    assert s.rendered == 3 and s.total == 3 and list(m["index"]) == [0, 1, 2] and list(m["seed"]) == [0, 1, 2]
    assert all((tmp_path / "huge" / f).stat().st_size > 1000 for f in m["file"])
    assert "3 of the 10,000,000 items" in (tmp_path / "huge" / "README.md").read_text()
    assert peak < 200 * 2**20, peak  # Python-side allocations: models and three clips, never the grid


def test_big_spec_is_refused_without_yes_or_limit(tmp_path):
    from studio.datasets import iter_render, render

    with pytest.raises(StudioError) as e:
        render(TEN_MILLION, tmp_path / "x")
    msg = str(e.value)
    assert "10,000,000 items" in msg and "--yes" in msg and "--limit" in msg and "\n" not in msg
    assert not (tmp_path / "x").exists()  # refused before anything is written
    pytest.importorskip("pipelines.speech")
    gen = iter_render(TEN_MILLION, tmp_path / "y", yes=True)  # confirmed: it starts (one item, then stop)
    row = next(gen)
    gen.close()
    assert row["index"] == 0 and (tmp_path / "y" / row["file"]).is_file()

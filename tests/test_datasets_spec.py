"""Spec parsing: grid expansion, explicit items, ids, and one-line errors that say where and what to write."""
from __future__ import annotations

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

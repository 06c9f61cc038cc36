"""Several speakers in one dataset: ``voices = [...]`` in a grid, each item's voice in the manifest, the card's
speaker list (issue: embedded speech, more voices)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from studio import weights  # noqa: E402
from studio.cli import main  # noqa: E402
from studio.datasets.spec import load_spec  # noqa: E402
from studio.errors import StudioError  # noqa: E402

JOE = "piper-joe-medium"


@pytest.fixture()
def second_voice(tmp_path) -> Path:
    """A second voice through the path route: the joe files under another name (no other voice is offline)."""
    src = weights.path(JOE, "en_US-joe-medium.onnx")
    d = tmp_path / "voices"
    d.mkdir()
    shutil.copy(src, d / "studio-b.onnx")
    shutil.copy(src.with_name(src.name + ".json"), d / "studio-b.onnx.json")
    return d / "studio-b.onnx"


def test_a_grid_over_voices_renders_each_voice_and_records_it(tmp_path, second_voice):
    import pandas as pd

    spec = tmp_path / "spec.toml"
    spec.write_text('[[grid]]\nmedium = "speech"\ntexts = ["Hello there."]\nemotions = ["joy"]\n'
                    f'voices = ["{JOE}", "voices/{second_voice.name}"]\n')
    out = tmp_path / "out"
    assert main(["render", str(spec), "-o", str(out)]) == 0
    m = pd.read_parquet(out / "manifest.parquet")
    assert list(m["voice"]) == [JOE, "studio-b"] and list(m["voice_source"]) == ["registry", "path"]
    assert m["voice_sha256"].nunique() == 1  # the copy is the same model, so the same bytes ...
    a, b = (sf.read(out / f)[0] for f in m["file"])
    assert np.array_equal(a, b) and m["id"].nunique() == 2  # ... and the same audio, but two items
    card = (out / "README.md").read_text()
    speakers = card[card.index("## Speakers"):]
    assert f"`{JOE}` | registry | male" in speakers and "`studio-b` | path | not recorded" in speakers
    meta = pd.read_csv(out / "speech" / "metadata.csv")
    assert list(meta["voice"]) == [JOE, "studio-b"]


def test_voices_are_checked_when_the_spec_is_read(tmp_path):
    bad = '[[grid]]\nmedium = "speech"\ntexts = ["Hi."]\nvoices = ["piper-joe-medium", "nobody.onnx"]\n'
    with pytest.raises(StudioError, match=r"line 4.*voice 'nobody.onnx'.*does not exist"):
        load_spec(bad)
    with pytest.raises(StudioError, match="voices is for speech and face"):
        load_spec('[[grid]]\nmedium = "image"\nprompts = ["x"]\nvoices = ["piper-joe-medium"]\n')
    with pytest.raises(StudioError, match="either voice or voices"):
        load_spec('[[grid]]\nmedium = "speech"\ntexts = ["Hi."]\nvoice = "a"\nvoices = ["b"]\n')
    with pytest.raises(StudioError, match="list of voice names"):
        load_spec('[[grid]]\nmedium = "speech"\ntexts = ["Hi."]\nvoices = [3]\n')


def test_a_voice_grid_counts_one_table_per_voice(second_voice):
    spec = load_spec({"grid": [{"medium": "speech", "texts": ["a", "b"], "seeds": 3,
                                "voices": [JOE, str(second_voice)]}]})
    assert len(spec) == 12
    assert [it.opts.get("voice") for it in spec.items[::6]] == [JOE, str(second_voice)]


def test_a_long_dataset_text_streams_and_keeps_its_voice(tmp_path, monkeypatch):
    import pandas as pd

    import studio.speech_stream as stream

    monkeypatch.setattr(stream, "SEGMENT_CHARS", 40)
    streamed = []
    real = stream._stream
    monkeypatch.setattr(stream, "_stream", lambda req, plan, segs, out, progress: streamed.append(len(segs)) or real(req, plan, segs, out, progress))
    spec = tmp_path / "spec.toml"
    text = "The rain stopped at noon. We walked to the harbour. The boats were already out. Nobody waved."
    spec.write_text(f'[[item]]\nmedium = "speech"\ntext = "{text}"\nemotion = "joy"\n')
    out = tmp_path / "out"
    assert main(["render", str(spec), "-o", str(out)]) == 0
    row = pd.read_parquet(out / "manifest.parquet").iloc[0]
    y, sr = sf.read(out / row["file"])
    assert streamed and streamed[0] >= 3
    assert row["voice"] == JOE and abs(len(y) / sr - row["duration_s"]) < 0.01 and len(y) / sr > 4.0


def test_the_card_flags_the_non_commercial_ratings_behind_free_text(tmp_path):
    from studio.affect import vad_head

    if not vad_head.available():
        pytest.skip("vad-norms not pulled (make weights VAD_NORMS=1)")
    spec = tmp_path / "spec.toml"
    spec.write_text('[[item]]\nmedium = "image"\nprompt = "a lake"\nwidth = 64\nheight = 64\nemotion = "quietly thrilled"\n'
                    '[[item]]\nmedium = "image"\nprompt = "a lake"\nwidth = 64\nheight = 64\nemotion = "joy"\n')
    out = tmp_path / "out"
    assert main(["render", str(spec), "-o", str(out)]) == 0
    card = (out / "README.md").read_text()
    assert "| vad-norms |" in card and "Non-commercial inputs" in card and "NC" in card

"""Base voices other than the embedded joe: by path (a piper .onnx + .onnx.json) or by registry name."""
import shutil

import numpy as np
import pytest

from evals.speech import measure
from pipelines.speech.engine import EmbeddedEngine
from pipelines.speech.voice import resolve_voice
from studio import engines, weights
from studio.affect import Affect
from studio.errors import MissingWeights, StudioError
from studio.affect.tracks import plan_for

TEXT = "The train leaves at seven, so pack your bag tonight."


@pytest.fixture(scope="module")
def other_voice(tmp_path_factory):
    """The joe files copied under another voice's name, as a user's own piper voice would sit."""
    d = tmp_path_factory.mktemp("voices")
    src = weights.store_dir() / "piper-joe-medium"
    shutil.copyfile(src / "en_US-joe-medium.onnx", d / "en_GB-test_speaker-medium.onnx")
    shutil.copyfile(src / "en_US-joe-medium.onnx.json", d / "en_GB-test_speaker-medium.onnx.json")
    return d / "en_GB-test_speaker-medium.onnx"


def test_a_second_voice_loads_by_path_renders_and_is_recorded(other_voice):
    eng = engines.get("speech", "embedded", voice=str(other_voice))
    r = eng.speak(TEXT, plan_for("speech", Affect.of("sadness", 0.7)), seed=2)
    m = measure(r.audio, r.sample_rate)
    assert r.duration_s > 1.0 and m["voiced_fraction"] > 0.3 and m["rms_db"] > -40
    v = r.meta["voice"]
    assert v["name"] == "en_GB-test_speaker-medium" and v["source"] == "path"
    assert v["path"] == str(other_voice.resolve())
    assert v["sha256"] == weights.model("piper-joe-medium").files[0].sha256  # the bytes that were loaded
    # the same weights through the path route speak exactly what the embedded voice speaks
    joe = engines.get("speech", "embedded").speak(TEXT, plan_for("speech", Affect.of("sadness", 0.7)), seed=2)
    assert np.array_equal(r.audio, joe.audio)
    assert joe.meta["voice"]["name"] == "piper-joe-medium" and joe.meta["voice"]["source"] == "registry"


def test_a_voice_folder_with_one_onnx_is_accepted(other_voice):
    assert resolve_voice(other_voice.parent).onnx == other_voice.resolve()


def test_bad_voices_are_refused_with_one_line(other_voice, tmp_path):
    lone = tmp_path / "lone.onnx"
    shutil.copyfile(other_voice, lone)
    cases = [(str(lone), "no config lone.onnx.json"), (str(tmp_path / "none.onnx"), "does not exist"),
             ("piper-joe-mediun", "did you mean piper-joe-medium"), ("face-landmarker", "not a piper voice"),
             (str(tmp_path / "voice.wav"), "neither a registry voice")]
    for voice, msg in cases:
        with pytest.raises(StudioError, match=msg) as e:
            EmbeddedEngine(voice=voice)
        assert "\n" not in str(e.value)
    with pytest.raises(StudioError, match="speaker must be"):
        EmbeddedEngine(voice=str(other_voice), speaker=1)


def test_registry_voices_of_both_sexes_name_their_pull_command(monkeypatch, tmp_path):
    voices = [m for m in weights.models().values() if m.medium == "speech" and not m.embedded and "voice" in m.role]
    assert {"male", "female"} <= {m.role.split("one ")[-1].split()[0] for m in voices}
    for m in voices:
        assert m.license and any(s.get("hf") == "rhasspy/piper-voices" for s in m.sources)
        assert {f.path.rsplit(".", 1)[-1] for f in m.files} >= {"onnx", "json"} and any(f.path == "MODEL_CARD" for f in m.files)
    monkeypatch.setenv("STUDIO_HOME", str(tmp_path))
    with pytest.raises(MissingWeights, match=f"studio weights pull {voices[0].name}"):
        EmbeddedEngine(voice=voices[0].name)

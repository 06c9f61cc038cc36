"""The weights registry: verification, refusal of tampered files, offline pull errors."""
import shutil

import pytest

from studio import weights
from studio.errors import MissingWeights, StudioError


def test_embedded_models_are_pulled_and_verified():
    embedded = [m for m in weights.models().values() if m.embedded]
    assert {m.name for m in embedded} >= {"piper-joe-medium", "face-landmarker", "fer2013-mini-xception", "minilm-l6-v2"}
    for m in embedded:
        assert m.license and m.sources
        assert weights.status(m.name) == "ok"
        for f in m.files:
            assert weights.sha256_of(weights.store_dir() / m.name / f.path) == f.sha256


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_HOME", str(tmp_path))
    return tmp_path / "weights"


def test_a_tampered_file_is_refused_with_both_hashes(store):
    src = weights.REPO_ROOT / "weights" / "face-landmarker" / "face_landmarker.task"
    dest = store / "face-landmarker" / "face_landmarker.task"
    dest.parent.mkdir(parents=True)
    data = bytearray(src.read_bytes())
    data[100] ^= 0xFF
    dest.write_bytes(bytes(data))
    with pytest.raises(StudioError) as e:
        weights.path("face-landmarker")
    msg = str(e.value)
    assert weights.model("face-landmarker").files[0].sha256 in msg and "does not match" in msg
    assert weights.status("face-landmarker") == "corrupt"


def test_missing_model_names_the_pull_command(store):
    with pytest.raises(MissingWeights, match="studio weights pull fer2013-mini-xception"):
        weights.path("fer2013-mini-xception")


def test_pull_from_an_unreachable_source_says_how_to_place_the_file(store, monkeypatch, tmp_path):
    reg = tmp_path / "registry.toml"
    reg.write_text('''[[model]]
name = "ghost"
medium = "text"
role = "test"
license = "none"
files = [{ path = "g.bin", sha256 = "00" }]
sources = [{ url = "http://127.0.0.1:9/g.bin" }]
''')
    monkeypatch.setenv("STUDIO_REGISTRY", str(reg))
    with pytest.raises(StudioError) as e:
        weights.pull("ghost", log=lambda *_: None)
    assert "127.0.0.1:9" in str(e.value) and "by hand" in str(e.value) and "\n" not in str(e.value)
    assert not (store / "ghost" / "g.bin").exists()


def test_pull_copies_a_verified_file_into_an_empty_store(store, monkeypatch):
    # the wheel source needs the package index; a url source pointing at a local file exercises the same path
    src = weights.REPO_ROOT / "weights" / "face-landmarker" / "face_landmarker.task"
    m = weights.model("face-landmarker")
    monkeypatch.setattr(weights, "models", lambda: {"face-landmarker": type(m)(m.name, m.medium, m.role, m.license, True, m.files, ({"url": src.as_uri()},))})
    weights.pull("face-landmarker", log=lambda *_: None)
    assert weights.status("face-landmarker") == "ok"
    assert weights.path("face-landmarker").parent == store / "face-landmarker"


def test_unknown_model_suggests_the_nearest():
    with pytest.raises(StudioError, match="did you mean face-landmarker"):
        weights.model("face-landmark")

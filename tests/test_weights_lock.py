"""Unpinned registry files: sha256 recorded in registry.lock at the first pull, verified after."""
import json

import pytest

from studio import weights
from studio.errors import StudioError


@pytest.fixture
def unpinned(tmp_path, monkeypatch):
    src = tmp_path / "src" / "voice.bin"
    src.parent.mkdir()
    src.write_bytes(b"piper voice bytes" * 100)
    reg = tmp_path / "registry.toml"
    reg.write_text(f'''[[model]]
name = "loose"
medium = "speech"
role = "test"
license = "CC0"
files = [{{ path = "voice.bin", sha256 = "" }}]
sources = [{{ url = "{src.as_uri()}" }}]
''')
    monkeypatch.setenv("STUDIO_REGISTRY", str(reg))
    monkeypatch.setenv("STUDIO_HOME", str(tmp_path / "home"))
    return src


def test_first_pull_records_the_hash_and_later_use_verifies_it(unpinned):
    with pytest.raises(StudioError, match="studio weights pull loose"):
        weights.path("loose")
    weights.pull("loose", log=lambda *_: None)
    lock = json.loads(weights.lock_path().read_text())
    rec = lock["loose/voice.bin"]
    assert rec["sha256"] == weights.sha256_of(unpinned) and rec["size"] == unpinned.stat().st_size
    assert weights.path("loose").read_bytes() == unpinned.read_bytes()
    assert weights.status("loose") == "ok"
    # the file changes on disk: refused against the recorded hash, not re-recorded
    p = weights.store_dir() / "loose" / "voice.bin"
    p.write_bytes(b"tampered" * 100)
    with pytest.raises(StudioError, match="does not match the recorded") as e:
        weights.path("loose")
    assert rec["sha256"] in str(e.value)
    assert weights.status("loose") == "corrupt"
    # and the source changing upstream is refused at the next pull
    unpinned.write_bytes(b"a different upload" * 100)
    with pytest.raises(StudioError, match="does not match the recorded"):
        weights.pull("loose", log=lambda *_: None)


def test_a_file_placed_by_hand_is_adopted_by_pull(unpinned):
    dest = weights.store_dir() / "loose" / "voice.bin"
    dest.parent.mkdir(parents=True)
    dest.write_bytes(b"hand placed" * 10)
    assert weights.path("loose") == dest  # trusted on first use, and recorded
    rec = json.loads(weights.lock_path().read_text())["loose/voice.bin"]
    assert rec["sha256"] == weights.sha256_of(dest)
    weights.pull("loose", log=lambda *_: None)  # nothing to fetch: the recorded file is intact
    assert dest.read_bytes() == b"hand placed" * 10

"""Inputs that used to crash, leak a server path or lose work (issue: hardening). Each one now gets one clear line."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from studio.cli import main  # noqa: E402
from studio.errors import StudioError  # noqa: E402

JOY = ["label", "joy", "joy:0.6,surprise:0.4", 0.5, 0.3, 0.0, "bittersweet relief", "neutral > joy", 0.9]


def _studio(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "studio.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=300)


def _one_line_error(res: subprocess.CompletedProcess, *words: str) -> str:
    assert res.returncode == 2, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("studio: error: "), res.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("seed, words", [("-5", ("--seed", "[0, 2^63-1]")), ("99999999999999999999", ("2^63-1",)),
                                         ("1.5", ("whole number",))])
def test_bad_seeds_are_refused_before_rendering(tmp_path, capsys, seed, words):
    out = tmp_path / "x.wav"
    assert main(["say", "Hi.", "--seed", seed, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert all(w in err for w in words) and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("vad, words", [("1.2.3,0,0", ("not three numbers",)), ("joy", ("not three numbers",)),
                                        ("0.1,0.2", ("not three numbers",)), ("nan,0,0", ("valence",)),
                                        ("2,0,0", ("[-1, 1]",))])
def test_vad_takes_exactly_three_finite_numbers(capsys, vad, words):
    assert main(["plan", "--vad", vad]) == 2
    err = capsys.readouterr().err
    assert all(w in err for w in words) and "Traceback" not in err


def test_vad_in_exponent_notation_is_read_back(capsys):
    assert main(["plan", "--vad", "1e-5,0.5,0", "--json"]) == 0
    import json

    out = json.loads(capsys.readouterr().out)
    assert out["affect"]["vad"] == pytest.approx([1e-5, 0.5, 0.0])


@pytest.mark.parametrize("out", ["/proc/x.wav", "missing-folder/x.wav"])
def test_unwritable_output_is_refused_before_rendering(tmp_path, out):
    res = _studio("say", "Hello there.", "-o", out, cwd=tmp_path)
    _one_line_error(res)


def test_output_under_a_file_is_refused(tmp_path):
    base = tmp_path / "base.wav"
    base.write_bytes(b"x")
    _one_line_error(_studio("say", "Hello there.", "-o", str(base / "x.wav")), "is a file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into a read-only folder")
def test_readonly_folder_is_refused(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        _one_line_error(_studio("say", "Hello there.", "-o", str(ro / "x.wav")), "not writable")
    finally:
        ro.chmod(0o700)


def test_text_the_voice_cannot_say_is_one_line_without_a_source_path(tmp_path):
    res = _studio("say", "你好世界 😀", "-o", str(tmp_path / "x.wav"))
    line = _one_line_error(res, "nothing speakable", "你好")
    assert ".py" not in line
    mixed = _studio("say", "Hello 😀 there.", "-o", str(tmp_path / "y.wav"))
    assert mixed.returncode == 0, mixed.stderr
    assert [ln for ln in mixed.stderr.splitlines() if ln.strip()] == [
        "studio: warning: dropped characters the English voice cannot say: 😀"]
    assert (tmp_path / "y.wav").stat().st_size > 1000


def test_a_face_in_a_panorama_keeps_its_pixels(tmp_path):
    from PIL import Image
    from skimage import data

    from studio.api import Studio

    face = np.asarray(Image.fromarray(data.astronaut()).resize((400, 400)))
    wide = np.full((400, 10000, 3), 200, np.uint8)
    wide[:, 4800:5200] = face
    Image.fromarray(wide).save(tmp_path / "wide.png")
    still = Studio().express(tmp_path / "wide.png", "joy")
    assert still.image.shape == (512, 512, 3)
    from evals.fer import FerRecognizer

    assert FerRecognizer().recognize(still.image).top == "joy"


# ---- the web demo -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client():
    pytest.importorskip("gradio")
    from gradio_client import Client

    from ui.app import free_port, launch

    demo, url = launch("127.0.0.1", free_port(), block=False)
    try:
        yield Client(url, verbose=False)
    finally:
        demo.close()


def test_api_parameters_have_names(client):
    info = client.view_api(return_format="dict", print_info=False)
    for endpoint in ("/speech", "/talk", "/express", "/image"):
        names = [p["parameter_name"] for p in info["named_endpoints"][endpoint]["parameters"]]
        assert not any(n.startswith("param_") for n in names), (endpoint, names)
        assert "intensity" in names and "seed" in names


def test_upload_errors_name_the_users_file_not_the_servers_copy(client, tmp_path):
    from gradio_client import handle_file

    bad = tmp_path / "notimg.png"
    bad.write_bytes(b"this is not a PNG")
    with pytest.raises(Exception) as e:
        client.predict(*JOY, handle_file(str(bad)), 0, api_name="/express")
    msg = str(e.value)
    assert "notimg.png" in msg and "/tmp/gradio" not in msg and "cannot read" in msg


def test_talk_size_may_be_given_as_text(client, tmp_path):
    video, *_ = client.predict(*JOY, None, "Hi.", 0, "256", api_name="/talk")
    import cv2

    path = video["video"] if isinstance(video, dict) else video
    cap = cv2.VideoCapture(str(path))
    assert int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == 256
    cap.release()


def test_talk_size_outside_the_list_is_a_message(client):
    with pytest.raises(Exception, match="video size must be one of"):
        client.predict(*JOY, None, "Hi.", 0, "300", api_name="/talk")

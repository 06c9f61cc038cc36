"""The web demo: the affect control's rules, and every tab called through a live server with gradio_client.

One server per module; each endpoint renders once (short text, small sizes) and is asserted on many times.
"""
from __future__ import annotations

import os
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from studio.affect import Affect, Trajectory  # noqa: E402
from studio.errors import StudioError  # noqa: E402
from ui.affect_control import AffectInputs, request_points, resolve, summary  # noqa: E402

# the 9 affect-control values every endpoint takes first: mode, label, mixture, V, A, D, free text, trajectory, intensity
JOY = ["label", "joy", "joy:0.6,surprise:0.4", 0.5, 0.3, 0.0, "bittersweet relief", "neutral > joy", 0.9]


def _importable(module: str, attr: str | None = None) -> bool:
    import importlib

    try:
        m = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name and module.startswith(e.name):
            return False
        raise
    return attr is None or hasattr(m, attr)


def _needs(module: str, attr: str | None = None):
    if not _importable(module, attr):
        pytest.skip(f"{module}{'.' + attr if attr else ''} is not in this checkout yet")


# ---- the affect control -----------------------------------------------------------------------
def test_mode_decides_which_input_is_read():
    base = AffectInputs(label="anger", mixture="joy:1", valence=-0.7, arousal=-0.4, intensity=1.0)
    assert resolve(base).top_label == "anger"
    assert resolve(AffectInputs(**{**base.__dict__, "mode": "mixture"})).top_label == "joy"
    vad = resolve(AffectInputs(**{**base.__dict__, "mode": "VAD"}))
    assert vad.point[:2] == pytest.approx((-0.7, -0.4))
    traj = resolve(AffectInputs(**{**base.__dict__, "mode": "trajectory", "trajectory": "neutral > joy > sadness"}))
    assert isinstance(traj, Trajectory) and len(traj.keys) == 3
    assert [p[0] > 0 for p in request_points(traj)] == [False, True, False]


def test_intensity_scales_every_mode_and_zero_is_neutral():
    for mode in ("label", "mixture", "VAD"):
        x = resolve(AffectInputs(mode=mode, intensity=0.5))
        full = resolve(AffectInputs(mode=mode, intensity=1.0))
        assert np.allclose(np.array(x.point), 0.5 * np.array(full.point))
        assert resolve(AffectInputs(mode=mode, intensity=0.0)).is_neutral


@pytest.mark.parametrize("field,value,words", [
    ("label", "", "label"), ("mixture", "  ", "mixture"), ("mixture", "joy:abc", "not a number"),
    ("trajectory", "", "trajectory"), ("text", "", "free-text"), ("label", "xyzzy", "xyzzy"),
])
def test_bad_affect_inputs_are_one_line_user_errors(field, value, words):
    mode = {"label": "label", "mixture": "mixture", "trajectory": "trajectory", "text": "free text"}[field]
    with pytest.raises(StudioError, match=words) as e:
        resolve(AffectInputs(**{"mode": mode, field: value}))
    assert "\n" not in str(e.value)


def test_summary_names_the_affect_and_its_point():
    s = summary(Affect.of("sadness", 1.0))
    assert "sadness" in s and "V -" in s


def test_free_text_mode_shows_nearest_labels_or_says_why_not():
    try:
        x = resolve(AffectInputs(mode="free text", text="bittersweet relief"))
    except StudioError as e:
        assert "free-text" in str(e)
        return
    assert isinstance(x, Affect) and x.intensity > 0


def test_va_plane_marks_request_and_measurement():
    from ui.plots import prob_bars, va_plane

    fig = va_plane([(0.6, 0.4)], [("fer", -0.2, 0.1)])
    ax = fig.axes[0]
    offsets = [c.get_offsets() for c in ax.collections]
    assert any(np.allclose(o, [[0.6, 0.4]]) for o in offsets)
    assert any(np.allclose(o, [[-0.2, 0.1]]) for o in offsets)
    bars = prob_bars([("fer", {"joy": 0.7, "sadness": 0.3})], highlight="joy")
    widths = sorted(round(p.get_width(), 3) for p in bars.axes[0].patches)
    assert widths == [0.3, 0.7]


def test_dataset_spec_limits_are_enforced():
    _needs("studio.datasets.spec")
    from ui.tabs.dataset import MAX_ITEMS, check_spec

    many = f'[[grid]]\nmedium = "image"\nprompts = ["x"]\nemotions = ["joy"]\nseeds = {list(range(MAX_ITEMS + 1))}\n'
    with pytest.raises(StudioError, match="at most"):
        check_spec(many)
    with pytest.raises(StudioError, match="default portrait"):
        check_spec('[[item]]\nmedium = "face"\nportrait = "/etc/hostname"\nemotion = "joy"\n')


# ---- the live server ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client():
    from gradio_client import Client

    from ui.app import free_port, launch

    demo, url = launch("127.0.0.1", free_port(), block=False)
    try:
        yield Client(url, verbose=False)
    finally:
        demo.close()


def _check_back_classification(rec: dict, bars: dict, plane: dict, medium: str):
    from evals.dispatch import available

    for fig in (bars, plane):
        assert fig["type"] == "matplotlib" and fig["plot"].startswith("data:image/png;base64,")
    if not available(medium):  # checked last, so the media assertions above still ran
        pytest.skip(f"no {medium} recognizer is in this checkout yet")
    assert rec["recognitions"], f"no recognizer judged the output: {rec['notes']}"
    for r in rec["recognitions"]:
        if r["probs"]:
            assert sum(r["probs"].values()) == pytest.approx(1.0, abs=1e-3)
        if r["valence"] is not None:
            assert -1.0 <= r["valence"] <= 1.0 and -1.0 <= r["arousal"] <= 1.0


@pytest.fixture(scope="module")
def speech(client):
    _needs("pipelines.speech.engine", "EmbeddedEngine")
    return client.predict(*JOY, "Hi there.", 3, api_name="/speech")


def test_speech_tab_returns_audio_and_its_back_classification(speech):
    import soundfile as sf

    wav, bars, plane, rec, plan = speech
    info = sf.info(wav)
    assert info.frames / info.samplerate > 0.3
    audio, _ = sf.read(wav)
    assert np.abs(audio).max() > 0.01
    _check_back_classification(rec, bars, plane, "speech")
    assert rec["requested"]["top_label"] == "joy"
    assert plan["affect"]["label"] == "joy" and plan["plan"]


@pytest.fixture(scope="module")
def talk(client):
    _needs("pipelines.face.talk", "talk")
    return client.predict(*JOY, None, "Hello there.", 0, 256, api_name="/talk")


def test_talk_tab_returns_a_video_with_sound(talk):
    import cv2
    import imageio_ffmpeg

    video, bars, plane, rec, plan = talk
    path = video["video"] if isinstance(video, dict) else video
    cap = cv2.VideoCapture(path)
    n, h = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    ok, _ = cap.read()
    cap.release()
    assert ok and n > 0 and h == 256
    probe = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", path], capture_output=True, text=True)
    assert "Audio:" in probe.stderr and "Video:" in probe.stderr
    _check_back_classification(rec, bars, plane, "face")


def test_express_tab_returns_a_still_judged_by_face_recognizers(client):
    _needs("pipelines.face.express", "express")
    from PIL import Image

    still, bars, plane, rec, plan = client.predict(*JOY, None, 0, api_name="/express")
    with Image.open(still) as im:
        assert im.mode == "RGB" and min(im.size) >= 64
    _check_back_classification(rec, bars, plane, "face")
    assert any(r["probs"] for r in rec["recognitions"])


def test_image_tab_returns_the_requested_size(client):
    _needs("pipelines.image.embedded", "EmbeddedEngine")
    from PIL import Image

    out, bars, plane, rec, plan = client.predict(*JOY, "a harbour", "embedded", 256, 192, 1, api_name="/image")
    with Image.open(out) as im:
        assert im.size == (256, 192)
        assert np.asarray(im.convert("RGB")).std() > 1.0  # a picture, not a flat fill
    _check_back_classification(rec, bars, plane, "image")


def test_dataset_tab_renders_reports_and_zips(client):
    _needs("studio.datasets", "render")
    spec = '[dataset]\nname = "ui-test"\n\n[[grid]]\nmedium = "image"\nprompts = ["a field"]\nemotions = ["joy", "sadness"]\nwidth = 64\nheight = 64\n'
    report, plots, archive = client.predict(spec, None, api_name="/dataset")
    with zipfile.ZipFile(archive) as z:
        names = z.namelist()
    assert sum(n.endswith(".png") and "image" in n for n in names) >= 2
    assert any(n.endswith("report.md") for n in names)
    assert report.strip()


def test_bad_input_shows_a_message_and_the_server_keeps_serving(client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="empty"):
        client.predict(*JOY, "   ", 0, api_name="/speech")
    with pytest.raises(AppError, match="intensity|mixture"):
        client.predict(*(["mixture", "joy", "joy:zzz"] + JOY[3:]), "Hi.", 0, api_name="/speech")
    fake = tmp_path / "portrait.png"
    fake.write_text("this is not an image")
    if _importable("pipelines.face.express", "express"):
        with pytest.raises(AppError, match="cannot read .* as an image"):
            client.predict(*JOY, handle_file(str(fake)), 0, api_name="/express")
    if _importable("studio.datasets.spec"):
        with pytest.raises(AppError, match="invalid TOML|unknown key"):
            client.predict("[[grid]\nmedium = ", None, api_name="/dataset")
    if _importable("pipelines.image.embedded", "EmbeddedEngine"):
        with pytest.raises(AppError, match="between|maximum"):
            client.predict(*JOY, "a harbour", "embedded", 4000, 64, 0, api_name="/image")
        with pytest.raises(AppError, match="one affect"):
            client.predict(*(["trajectory"] + JOY[1:]), "a harbour", "embedded", 64, 64, 0, api_name="/image")
    # the next good request after all those errors is served normally
    if _importable("pipelines.speech.engine", "EmbeddedEngine"):
        wav = client.predict(*JOY, "Okay.", 0, api_name="/speech")[0]
        assert Path(wav).stat().st_size > 1000



# ---- `studio serve` -----------------------------------------------------------------------------
def test_serve_command_is_registered_without_share():
    from studio.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["serve", "--port", "7999", "--diffusion-weights", "w"])
    assert (args.host, args.port, args.diffusion_weights) == ("127.0.0.1", 7999, "w")
    with pytest.raises(SystemExit):
        parser.parse_args(["serve", "--share"])


def test_serve_refuses_missing_weights_with_one_line(tmp_path):
    from studio.cli import main

    res = subprocess.run([str(Path(os.sys.executable).parent / "studio"), "serve", "--diffusion-weights", str(tmp_path / "nope")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "does not exist" in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_serve_command_serves_the_page(tmp_path):
    import time
    import urllib.request

    from ui.app import free_port

    port = free_port()
    proc = subprocess.Popen([str(Path(os.sys.executable).parent / "studio"), "serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, page = time.monotonic() + 60, ""
        while time.monotonic() < deadline and not page:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read().decode()
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                time.sleep(0.5)
        assert "Affect Studio" in page
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_serve_on_a_taken_port_is_a_one_line_error():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        res = subprocess.run([str(Path(os.sys.executable).parent / "studio"), "serve", "--port", str(port)],
                             capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr[-1000:]
    assert "pick another --port" in res.stderr


def test_diffusion_engine_is_offered_when_weights_are_configured(tmp_path):
    """A random-weight tiny Stable Diffusion built in code stands in for a user's weights folder."""
    _needs("pipelines.image.tiny", "build_tiny_sd")
    from gradio_client import Client
    from PIL import Image

    from pipelines.image.tiny import build_tiny_sd
    from ui.app import free_port, launch

    build_tiny_sd(tmp_path / "sd")
    demo, url = launch("127.0.0.1", free_port(), diffusion_weights=str(tmp_path / "sd"), block=False)
    try:
        c = Client(url, verbose=False)
        out, bars, plane, rec, plan = c.predict(*JOY, "a lake house", "diffusion", 64, 128, 0, api_name="/image")
        with Image.open(out) as im:
            assert im.size == (64, 128)
        assert plan["plan"]["direction"] and rec["requested"]["top_label"] == "joy"
    finally:
        demo.close()

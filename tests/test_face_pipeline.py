"""The embedded talking-head pipeline: stills recognized by the independent FER classifier,
planned AUs visible to MediaPipe blendshapes, decoded MP4 properties, determinism, bad input."""
from __future__ import annotations

import os

import numpy as np
import pytest

from studio import Studio
from studio.affect import Affect
from studio.affect.tracks import plan_for
from studio.errors import StudioError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def portrait():
    from pipelines.face.portrait import prepare

    return prepare(None, size=384)


@pytest.fixture(scope="module")
def stills(portrait):
    from pipelines.face.express import express

    return {e: express(None, plan_for("face", Affect.of(e, 1.0)), prepared=portrait)
            for e in ("neutral", "joy", "sadness", "surprise", "anger", "fear")}


@pytest.fixture(scope="module")
def fer():
    from evals.fer import FerRecognizer

    return FerRecognizer()


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    res = Studio().talk(None, "Hello, how are you?", Affect.of("joy", 0.8), seed=3, size=256)
    path = tmp_path_factory.mktemp("face") / "talk.mp4"
    res.save(path)
    return res, path


@pytest.mark.parametrize("emotion", ["joy", "sadness", "surprise", "anger"])
def test_fer_recognizes_the_expression(stills, fer, emotion):
    rec = fer.recognize(stills[emotion].image)
    assert rec.top == emotion, rec.probs


def test_the_smile_is_removed_by_neutralisation(portrait, stills, fer):
    # the astronaut smiles; after neutralisation and a sad expression joy must have collapsed
    assert portrait.blendshapes_before["mouthSmileLeft"] > 0.5
    assert fer.recognize(portrait.image).probs["joy"] > 0.9
    assert fer.recognize(stills["sadness"].image).probs["joy"] < 0.2
    after = stills["neutral"].blendshapes_after
    assert after["mouthSmileLeft"] < portrait.blendshapes_before["mouthSmileLeft"] - 0.2


@pytest.mark.parametrize("emotion,shape,direction", [
    ("surprise", "browInnerUp", +1), ("surprise", "jawOpen", +1), ("surprise", "eyeWideRight", +1),
    ("anger", "eyeSquintLeft", +1), ("anger", "eyeSquintRight", +1), ("anger", "browInnerUp", -1),
    ("sadness", "browInnerUp", +1), ("fear", "eyeWideRight", +1), ("fear", "browInnerUp", +1),
    ("joy", "mouthSmileLeft", +1), ("joy", "mouthSmileRight", +1),
])
def test_planned_aus_move_their_blendshapes(stills, emotion, shape, direction):
    from evals.blendshapes import BlendshapeRecognizer

    rec = BlendshapeRecognizer()
    base = rec.recognize(stills["neutral"].image).measures[shape]
    moved = rec.recognize(stills[emotion].image).measures[shape]
    assert direction * (moved - base) > (0.05 if direction > 0 else 0.02), (base, moved)


def test_intensity_zero_is_the_neutralised_portrait(portrait, stills):
    # the studio's neutral is the face at rest: exactly the neutralised portrait, not the raw photo
    rest = portrait.render(np.zeros((478, 2)))
    assert np.array_equal(stills["neutral"].image, rest)
    assert not np.array_equal(rest, portrait.image)


def test_contempt_is_one_sided(portrait):
    from pipelines.face.express import express

    img = express(None, plan_for("face", Affect.of("contempt", 1.0)), prepared=portrait).image
    diff = np.abs(img.astype(int) - portrait.render(np.zeros((478, 2))).astype(int)).sum(-1)
    x_mid = int(portrait.fields.frame.origin[0])
    right, left = diff[:, :x_mid].sum(), diff[:, x_mid:].sum()  # subject's right is the image's left
    assert right > 3 * left


def test_express_saves_png_with_plan(stills, tmp_path):
    from studio.media import png_meta

    p = stills["joy"].save(tmp_path / "joy.png")
    meta = png_meta(p)
    assert "plan" in meta and "affect" in meta and '"12"' in meta["plan"]


def test_video_frames_duration_and_audio(video):
    from pipelines.face.video import count_frames, probe

    res, path = video
    dur = res.speech.duration_s
    n = count_frames(path)
    assert abs(n - round(dur * 25)) <= 1
    assert n == len(res.frames)
    info = probe(path)
    assert info["video"]["codec"] == "h264" and info["video"]["pix_fmt"] == "yuv420p"
    assert info["video"]["fps"] == 25.0
    assert info["audio"] is not None and info["audio"]["codec"] == "aac"
    assert abs(info["duration_s"] - dur) <= 1 / 25 + 0.03  # container rounds to 10 ms; AAC pads a frame
    with open(path, "rb") as f:  # +faststart: the moov atom precedes the media data
        head = f.read(4096)
    assert head.find(b"moov") != -1 and (head.find(b"mdat") == -1 or head.find(b"moov") < head.find(b"mdat"))


def test_mouth_follows_the_speech(video):
    from evals.blendshapes import mouth_open
    from pipelines.face.video import read_frames
    from pipelines.face.visemes import frame_rms

    res, path = video
    frames = read_frames(path)
    opening = np.array([mouth_open(f) for f in frames])
    rms = frame_rms(res.speech.audio, res.speech.sample_rate, res.fps, len(frames))
    assert opening.max() - opening.min() > 0.03  # the lips really move (lip gap over face height)
    assert np.corrcoef(opening, rms)[0, 1] > 0.4


def test_video_is_deterministic(video):
    from pipelines.face.talk import talk

    res, _ = video
    plan = plan_for("face", Affect.of("joy", 0.8))
    again = talk(None, "Hello, how are you?", plan, res.speech, seed=3, size=256)
    assert np.array_equal(again.frames, res.frames)
    other = talk(None, "Hello, how are you?", plan, res.speech, seed=4, size=256)
    assert not np.array_equal(other.tracks["head"], res.tracks["head"])


def test_hair_and_background_stay_still_while_the_head_moves(video):
    import cv2

    from pipelines.face import topology as T
    from pipelines.face.portrait import prepare

    res, _ = video
    p = prepare(None, size=256)
    frames = res.frames.astype(int)
    # the head turns and the mouth moves: the face changes from frame to frame ...
    assert np.abs(frames[1:] - frames[:-1]).max() > 30
    # ... while everything farther than the warp's fade from the face outline is the same in every frame
    # (the sway fades out at the outline, the jaw only compresses a narrow strip of neck)
    xy = p.face.points[:, :2]
    face = np.zeros((256, 256), np.uint8)
    cv2.fillPoly(face, [np.round(xy[list(T.FACE_OVAL)]).astype(np.int32)], 255)
    r = int(np.ceil(p.warp.fade_px)) + 2
    near = cv2.dilate(face, np.ones((2 * r + 1, 2 * r + 1), np.uint8)) > 0
    near[int(np.percentile(xy[:, 1], 60)):] = True  # below the mouth the chin and jaw may pass over the neck
    assert np.array_equal(frames[:, ~near], np.broadcast_to(frames[:1, ~near], frames[:, ~near].shape))


def test_no_mp4_left_when_rendering_fails(tmp_path):
    from pipelines.face.video import write_mp4

    def frames(exc):
        for i in range(5):
            yield np.full((64, 64, 3), i * 40, np.uint8)
        raise exc

    for exc in (RuntimeError("boom"), KeyboardInterrupt()):
        with pytest.raises(type(exc)):
            write_mp4(tmp_path / "out.mp4", frames(exc), 25, (64, 64), np.zeros(8000, np.float32), 16000)
        assert os.listdir(tmp_path) == []


def test_bad_inputs(tmp_path):
    express, talk = Studio().express, Studio().talk

    bad = tmp_path / "x.png"
    bad.write_text("not an image")
    with pytest.raises(StudioError, match="cannot read"):
        express(bad, Affect.of("joy"))
    corrupt = tmp_path / "c.png"
    from PIL import Image

    Image.fromarray(np.zeros((100, 100, 3), np.uint8)).save(corrupt)
    corrupt.write_bytes(corrupt.read_bytes()[:60])
    with pytest.raises(StudioError):
        express(corrupt, Affect.of("joy"))
    with pytest.raises(StudioError, match="no face"):
        express(np.full((300, 300, 3), 128, np.uint8), Affect.of("joy"))
    with pytest.raises(StudioError, match="face-index"):
        express(None, Affect.of("joy"), face_index=2)
    with pytest.raises(StudioError, match="at most"):
        talk(None, "word " * 400, Affect.of("joy"))
    with pytest.raises(StudioError, match="text"):
        talk(None, "   ", Affect.of("joy"))


def test_small_face_is_refused():
    import cv2

    from studio.media import default_portrait

    express = Studio().express
    tiny = np.full((512, 512, 3), 200, np.uint8)
    tiny[:320, :320] = cv2.resize(default_portrait(), (320, 320), interpolation=cv2.INTER_AREA)  # a ~57 px face
    with pytest.raises(StudioError, match="px"):
        express(tiny, Affect.of("joy"))


def test_odd_image_formats_are_handled(tmp_path):
    from PIL import Image

    from pipelines.face.portrait import prepare
    from studio.media import default_portrait

    astro = default_portrait()
    grey = tmp_path / "g.png"
    Image.fromarray(astro.mean(-1).astype(np.uint8)).save(grey)
    rgba = tmp_path / "a.png"
    Image.fromarray(np.dstack([astro, np.full(astro.shape[:2], 255, np.uint8)])).save(rgba)
    deep = tmp_path / "d.png"
    Image.fromarray((astro.mean(-1) * 257).astype(np.uint16)).save(deep)
    for p in (grey, rgba, deep):
        assert prepare(p, size=256, neutralise=False).image.shape == (256, 256, 3)
    wide = np.full((1250, 10000, 3), 230, np.uint8)
    wide[:, 4000:5250] = np.asarray(Image.fromarray(astro).resize((1250, 1250)))
    assert prepare(wide, size=256, neutralise=False).face.size > 64


def test_cli_still_and_errors(tmp_path, capsys):
    from studio.cli import main

    out = tmp_path / "s.png"
    assert main(["face", "-e", "surprise", "--size", "256", "-o", str(out)]) == 0
    assert out.exists()
    assert main(["face", "-e", "joy", "--text", "hi", "-o", str(tmp_path / "x.png")]) == 2
    assert main(["face", "-e", "joy", "-o", str(tmp_path / "x.mp4")]) == 2
    err = capsys.readouterr().err
    assert "needs something to say" in err and "leave out --text" in err
    assert sorted(os.listdir(tmp_path)) == ["s.png"]


def test_face_index_picks_faces_left_to_right():
    from pipelines.face.analysis import detect
    from pipelines.face.portrait import prepare
    from studio.media import default_portrait

    astro = default_portrait()
    pair = np.concatenate([astro, np.ascontiguousarray(astro[:, ::-1])], 1)
    faces = detect(pair)
    assert len(faces) == 2 and faces[0].points[:, 0].mean() < 512 < faces[1].points[:, 0].mean()
    a = prepare(pair, face_index=0, size=256, neutralise=False).image
    b = prepare(pair, face_index=1, size=256, neutralise=False).image
    assert np.abs(a.astype(int) - b[:, ::-1].astype(int)).mean() < 12  # the mirrored twin, framed alike
    with pytest.raises(StudioError, match="2 face"):
        prepare(pair, face_index=2)

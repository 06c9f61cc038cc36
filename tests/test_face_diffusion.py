"""The diffusion face engine on a tiny random SD + ControlNet pair: condition drawing, stills, clips, errors."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from studio.affect import Affect, Trajectory
from studio.affect.tracks import plan_for
from studio.errors import StudioError
from studio.requests import FaceRequest

pytest.importorskip("diffusers")

FAST = {"steps": 2, "strength": 0.75}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """`python -m pipelines.face.tiny DIR`, in process: the paths it prints as JSON."""
    import contextlib
    import io

    from pipelines.face import tiny

    root = tmp_path_factory.mktemp("face-tiny")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert tiny.main([str(root)]) == 0
    return json.loads(out.getvalue())


@pytest.fixture(scope="module")
def engine(tiny):
    from studio import engines

    return engines.get("face", "diffusion", weights=tiny["sd"], controlnet=tiny["controlnet"])


@pytest.fixture(scope="module")
def portrait():
    from pipelines.face.portrait import prepare

    return prepare(None, size=128)


def render(engine, **kw):
    kw.setdefault("size", 128)
    kw["options"] = {**FAST, **kw.get("options", {})}
    req = FaceRequest(engine="diffusion", **kw)
    return engine.render(req, plan_for("face", req.affect))


# ---- the condition ---------------------------------------------------------------------------
def test_condition_draws_contours_and_irises_where_the_mesh_is(portrait):
    from pipelines.face import condition as C

    pts = portrait.face.points[:, :2] + portrait.neutral_disp
    img = C.draw(pts, (128, 128))
    drawn = img.any(-1)
    ys, xs = np.nonzero(drawn)
    lo, hi = pts.min(0) - C.THICKNESS - 1, pts.max(0) + C.THICKNESS + 1
    assert drawn.sum() > 200
    assert (xs >= lo[0]).all() and (xs <= hi[0]).all() and (ys >= lo[1]).all() and (ys <= hi[1]).all()
    for group in ("face_oval", "lips"):  # each contour passes through its landmarks in its own colour
        idx = sorted({i for e in C.connections()[group] for i in e})
        px = np.floor(pts[idx]).astype(int)
        hits = [tuple(img[y, x]) == C.COLOURS[group] for x, y in px]
        assert np.mean(hits) > 0.9, group
    for idx, group in ((C.RIGHT_IRIS_CENTRE, "right_iris"), (C.LEFT_IRIS_CENTRE, "left_iris")):
        x, y = pts[idx].astype(int)
        assert tuple(img[y, x]) == C.COLOURS[group]
    assert pts[C.RIGHT_IRIS_CENTRE, 0] < pts[C.LEFT_IRIS_CENTRE, 0]  # the subject's right eye is on the image's left
    colours = {tuple(c) for c in img[drawn]}
    assert colours <= set(C.COLOURS.values())


def test_condition_follows_the_mesh_and_drops_what_leaves_the_image(portrait):
    from pipelines.face import condition as C

    pts = np.floor(portrait.face.points[:, :2]) + 0.5
    a = C.draw(pts, (128, 128))
    b = C.draw(pts + [5, 3], (128, 128))
    assert np.array_equal(np.roll(a, (3, 5), axis=(0, 1)), b)
    assert not C.draw(pts + [400, 0], (128, 128)).any()
    with pytest.raises(StudioError, match="478"):
        C.draw(pts[:468], (128, 128))


# ---- the per-frame track ---------------------------------------------------------------------
def test_track_gives_the_warp_engines_frames_exactly(portrait):
    from pipelines.face import track
    from pipelines.face.talk import talk
    from studio import spine
    from studio.requests import SpeechRequest

    a = Affect.of("joy", 0.8)
    speech = spine.render(SpeechRequest(text="Hi there.", affect=a, seed=4))
    ref = talk(None, "Hi there.", plan_for("face", a), speech, seed=4, fps=8, size=128, prepared=portrait)
    tr = track.talk_track(portrait, speech, plan_for("face", a), 8, 4)
    frames = np.stack([portrait.render(tr.disp[i], aus=tr.aus[i]) for i in range(len(tr))])
    assert np.array_equal(frames, ref.frames)
    assert np.array_equal(tr.tracks["blink"], ref.tracks["blink"])
    assert not track.still_disp(portrait, plan_for("face", Affect.neutral())).any()  # neutral = the neutral mesh


def test_prompt_weights_morph_between_keyframes():
    from pipelines.face.diffusion import key_weights, prompt_for

    w = key_weights([0.0, 1.0, 3.0], np.array([0.0, 0.5, 1.0, 2.0, 3.0, 4.0]))
    assert np.allclose(w.sum(1), 1) and np.allclose(w[1], [0.5, 0.5, 0]) and np.allclose(w[3], [0, 0.5, 0.5])
    assert np.allclose(w[5], [0, 0, 1])
    assert prompt_for(Affect.neutral(), "a face") == "a face"
    assert "joy" in prompt_for(Affect.of("joy", 0.9), "a face")


# ---- rendering -------------------------------------------------------------------------------
def test_tiny_pair_is_written_in_diffusers_layout(tiny):
    from pathlib import Path

    assert set(tiny) == {"sd", "controlnet", "motion_adapter"}
    assert (Path(tiny["sd"]) / "model_index.json").is_file()
    for name, cls in (("controlnet", "ControlNetModel"), ("motion_adapter", "MotionAdapter")):
        folder = Path(tiny[name])
        assert json.loads((folder / "config.json").read_text())["_class_name"] == cls
        assert (folder / "diffusion_pytorch_model.safetensors").is_file()
        assert not list(folder.glob("*.bin"))


def test_still_same_seed_same_image_and_the_mesh_condition_acts(engine, tmp_path):
    # neutral renders the neutral mesh through the same diffusion: what it guarantees is same seed → same image
    a = render(engine, affect=Affect.neutral(), seed=3)
    assert a.image.shape == (128, 128, 3) and a.image.dtype == np.uint8
    assert np.array_equal(a.image, render(engine, affect=Affect.neutral(), seed=3).image)
    assert not np.array_equal(a.image, render(engine, affect=Affect.neutral(), seed=4).image)
    off = render(engine, affect=Affect.neutral(), seed=3, options={"control_scale": 0.0})
    assert np.abs(off.image.astype(int) - a.image).mean() > 0.5  # the mesh condition changes the picture
    joy = render(engine, affect=Affect.of("surprise", 1.0), seed=3)
    assert not np.array_equal(a.image, joy.image)
    out = joy.save(tmp_path / "still.png")
    from PIL import Image

    assert np.array_equal(np.asarray(Image.open(out).convert("RGB")), joy.image)


@pytest.fixture(scope="module")
def clip(engine):
    return render(engine, text="Hi.", affect=Affect.of("joy", 0.9), seed=5, fps=8)


def test_clip_has_every_frame_and_the_speech_track(engine, clip, tmp_path):
    from pipelines.face.video import count_frames, probe, read_frames

    r = clip
    n = len(r.frames)
    assert n == max(1, round(r.speech.duration_s * 8)) and n >= 3 and r.frames.shape[1:] == (128, 128, 3)
    again = render(engine, text="Hi.", affect=Affect.of("joy", 0.9), seed=5, fps=8)
    assert np.array_equal(r.frames, again.frames)
    out = r.save(tmp_path / "clip.mp4")
    info = probe(out)
    assert info["video"]["codec"] == "h264" and info["video"]["pix_fmt"] == "yuv420p"
    assert info["audio"] is not None and info["audio"]["codec"] == "aac"
    assert abs(info["duration_s"] - r.speech.duration_s) <= 1 / 8 + 0.05
    assert count_frames(out) == n
    decoded = read_frames(out)
    assert decoded.shape == r.frames.shape

    def luma(x):  # yuv420p keeps luma at full resolution; compare that, lightly blurred
        import cv2

        return np.stack([cv2.GaussianBlur(f.astype(np.float32).mean(-1), (0, 0), 1.0) for f in x])

    err = np.abs(luma(decoded) - luma(r.frames)).mean()
    assert err < 4 and err < 0.25 * np.abs(luma(decoded) - luma(r.frames)[::-1, ::-1]).mean()


def test_temporal_methods_share_noise_and_blend_after_the_first_frame(engine):
    kw = dict(text="Hi.", affect=Affect.of("anger", 0.8), seed=2, fps=6)
    shared = render(engine, **kw, options={"temporal": "shared-noise"}).frames
    blend = render(engine, **kw, options={"temporal": "blend", "blend": 0.6}).frames
    none = render(engine, **kw, options={"temporal": "none"}).frames
    assert len(shared) >= 2
    assert np.array_equal(shared[0], blend[0])              # nothing to blend with yet
    assert not np.array_equal(shared[1:], blend[1:])
    assert not np.array_equal(shared[0], none[0])           # frame noise from its own seed


def test_a_trajectory_clip_renders(engine):
    r = render(engine, text="Hi.", affect=Trajectory.parse("neutral > joy"), seed=1, fps=6)
    assert len(r.frames) == max(1, round(r.speech.duration_s * 6))
    assert len(r.plans) == 2


def test_motion_adapter_runs_the_animatediff_path(tiny):
    from studio import engines

    eng = engines.get("face", "diffusion", weights=tiny["sd"], controlnet=tiny["controlnet"],
                      motion_adapter=tiny["motion_adapter"])
    assert eng.motion is not None
    r = render(eng, text="Hi.", affect=Affect.of("joy", 0.9), seed=1, fps=4, options={"window": 2})
    assert len(r.frames) == max(1, round(r.speech.duration_s * 4)) and r.frames.shape[1:] == (128, 128, 3)


# ---- errors ----------------------------------------------------------------------------------
def one_line(fn) -> str:
    with pytest.raises(StudioError) as e:
        fn()
    msg = str(e.value)
    assert "\n" not in msg and msg
    return msg


def test_missing_or_wrong_weights_give_one_clear_line(tiny, tmp_path):
    from pipelines.face.diffusion import DiffusionFaceEngine as E

    assert "needs --controlnet" in one_line(lambda: E(weights=tiny["sd"], controlnet=None))
    assert "does not exist" in one_line(lambda: E(weights=tiny["sd"], controlnet=str(tmp_path / "nowhere")))
    assert "whole diffusion pipeline" in one_line(lambda: E(weights=tiny["sd"], controlnet=tiny["sd"]))
    assert "no model_index.json" in one_line(lambda: E(weights=tiny["controlnet"], controlnet=tiny["controlnet"]))
    assert "not in the Hugging Face cache" in one_line(lambda: E(weights=tiny["sd"], controlnet="nobody/no-controlnet"))
    pickled = tmp_path / "pickled"
    shutil.copytree(tiny["controlnet"], pickled)
    (pickled / "diffusion_pytorch_model.safetensors").rename(pickled / "diffusion_pytorch_model.bin")
    assert "safetensors" in one_line(lambda: E(weights=tiny["sd"], controlnet=str(pickled)))
    wide = tmp_path / "wide"
    shutil.copytree(tiny["controlnet"], wide)
    cfg = json.loads((wide / "config.json").read_text())
    (wide / "config.json").write_text(json.dumps({**cfg, "cross_attention_dim": 1024}))
    assert "1024-wide" in one_line(lambda: E(weights=tiny["sd"], controlnet=str(wide)))
    assert "MotionAdapter" in one_line(lambda: E(weights=tiny["sd"], controlnet=tiny["controlnet"], motion_adapter=tiny["sd"]))


def test_bad_options_give_one_clear_line(engine):
    assert "valid:" in one_line(lambda: render(engine, options={"strenght": 0.5}))
    assert "temporal" in one_line(lambda: render(engine, options={"temporal": "optical-flow"}))
    assert "multiple of 8" in one_line(lambda: render(engine, size=132))
    assert "no denoising step" in one_line(lambda: render(engine, options={"steps": 1, "strength": 0.5}))


def test_no_half_written_mp4_when_encoding_fails(clip, tmp_path):
    import dataclasses

    frames = clip.frames

    class Failing:
        shape = frames.shape

        def __len__(self):
            return len(frames)

        def __iter__(self):
            yield frames[0]
            raise KeyboardInterrupt

    r = dataclasses.replace(clip, frames=Failing())
    with pytest.raises(KeyboardInterrupt):
        r.save(tmp_path / "clip.mp4")
    assert list(tmp_path.iterdir()) == []


def test_unpinned_registry_files_are_pinned_at_first_pull(tmp_path, monkeypatch):
    from studio import weights

    monkeypatch.setenv("STUDIO_HOME", str(tmp_path / "home"))
    src = tmp_path / "cfg.json"
    src.write_text('{"_class_name": "ControlNetModel"}')
    reg = tmp_path / "registry.toml"
    reg.write_text(f'''[[model]]
name = "unpinned"
medium = "face"
role = "test"
license = "none"
files = [{{ path = "sub/config.json", sha256 = "" }}]
sources = [{{ url = "{src.as_uri()}" }}]
''')
    monkeypatch.setenv("STUDIO_REGISTRY", str(reg))
    assert weights.status("unpinned") == "missing"
    weights.pull("unpinned", log=lambda *_: None)
    assert weights.status("unpinned") == "ok"
    got = weights.path("unpinned", "sub/config.json")
    assert got.read_text() == src.read_text()
    got.write_text('{"_class_name": "Changed"}')
    assert weights.status("unpinned") == "corrupt"
    assert "first pull" in one_line(lambda: weights.path("unpinned", "sub/config.json"))

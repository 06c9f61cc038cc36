"""The render spine: request → plan → engine → result, shared by every entry point.

Hand-edited plans (objects, JSON dicts, JSON files, `studio say --plan FILE`) render as written and move
the measured output the way the edit says; registries list their engines and recognizers; results save
their metadata; the API, the CLI, the dataset runner and the web demo all render through `studio.spine`;
the CLI's EMOTION / VAD / seed parsing and its stderr.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from evals.speech import measure
from studio import Studio, engines, spine
from studio.affect import Affect, ProsodyPlan
from studio.affect.tracks import PlanTrack, plan_for, plan_from_json, plan_to_dict
from studio.cli import main
from studio.errors import StudioError
from studio.media import png_meta
from studio.requests import FaceRequest, ImageRequest, SpeechRequest
from studio.results import sidecar_path

TEXT = "We should have left an hour ago, and you know it."
AFFECT = Affect.of("sadness", 0.5)
STUDIO_BIN = str(Path(sys.executable).parent / "studio")
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}


def _f0(audio, sr) -> float:
    return measure(audio, sr)["f0_median_st"]


def _raised(plan: ProsodyPlan, st: float) -> dict:
    d = plan_to_dict(plan)
    d["plan"]["f0_shift_st"] += st
    return d


@pytest.fixture(scope="module")
def own():
    """The affect's own plan, rendered."""
    return Studio().speak(TEXT, AFFECT, seed=2)


# ---- hand-edited plans ----------------------------------------------------------------------------
def test_hand_edited_plan_json_raises_the_measured_f0(own, tmp_path):
    s = Studio()
    req = SpeechRequest(text=TEXT, affect=AFFECT, seed=2)
    base = plan_for("speech", AFFECT)
    assert own.plan == base
    edited = _raised(base, 4.0)
    f = tmp_path / "plan.json"
    f.write_text(json.dumps(edited))
    assert plan_from_json(f) == plan_from_json(edited) == ProsodyPlan(**edited["plan"])
    for given in (plan_from_json(f), edited, f):  # an object, its JSON dict, the file
        up = s.render_plan(req, given)
        assert up.plan.f0_shift_st == pytest.approx(base.f0_shift_st + 4.0)
        assert up.affect == own.affect  # the request is the same; only the plan was edited
        assert _f0(up.audio, up.sample_rate) - _f0(own.audio, own.sample_rate) == pytest.approx(4.0, abs=1.0)
    # an edit that changes nothing renders the affect's own audio bit for bit
    same = s.render_plan(req, plan_to_dict(base))
    assert np.array_equal(same.audio, own.audio)


def test_cli_say_with_plan_file(own, tmp_path):
    f = tmp_path / "plan.json"
    f.write_text(json.dumps(_raised(plan_for("speech", AFFECT), 4.0)))
    out_own, out_plan = tmp_path / "own.wav", tmp_path / "plan.wav"
    args = ["say", TEXT, "-e", "sadness", "-i", "0.5", "--seed", "2"]
    assert main(args + ["-o", str(out_own)]) == 0
    assert main(args + ["--plan", str(f), "-o", str(out_plan)]) == 0
    a, sr = sf.read(out_own, dtype="float32")
    b, _ = sf.read(out_plan, dtype="float32")
    np.testing.assert_allclose(a, own.audio, atol=1.5 / 32768)  # the CLI renders what the API renders
    assert _f0(b, sr) - _f0(a, sr) == pytest.approx(4.0, abs=1.0)
    meta = json.loads(sidecar_path(out_plan).read_text())
    assert meta["plan"]["plan"]["f0_shift_st"] == pytest.approx(plan_for("speech", AFFECT).f0_shift_st + 4.0)
    assert main(["say", TEXT, "--plan", str(tmp_path / "missing.json"), "-o", str(tmp_path / "x.wav")]) == 2
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["say", TEXT, "--plan", str(bad), "-o", str(tmp_path / "x.wav")]) == 2
    face_plan = tmp_path / "face.json"
    face_plan.write_text(json.dumps(plan_to_dict(plan_for("face", AFFECT))))
    assert main(["say", TEXT, "--plan", str(face_plan), "-o", str(tmp_path / "x.wav")]) == 2
    assert not (tmp_path / "x.wav").exists()


def test_studio_plan_json_file_renders_each_medium_like_the_emotion(tmp_path, capsys):
    """`studio plan anger --json > f` then `--plan f`: each command picks its medium's plan from the file,
    and (with the same seed) renders exactly what `-e anger` renders."""
    assert main(["plan", "anger", "--json"]) == 0
    f = tmp_path / "anger.json"
    f.write_text(capsys.readouterr().out)
    three = json.loads(f.read_text())
    assert {"prosody", "face", "image"} <= set(three)
    with pytest.raises(StudioError, match="say which one"):
        plan_from_json(f)

    assert main(["say", "Hi there.", "--plan", str(f), "-o", str(tmp_path / "p.wav")]) == 0
    assert main(["say", "Hi there.", "-e", "anger", "-o", str(tmp_path / "e.wav")]) == 0
    assert main(["say", "Hi there.", "-o", str(tmp_path / "n.wav")]) == 0
    p, sr = sf.read(tmp_path / "p.wav", dtype="float32")
    e, _ = sf.read(tmp_path / "e.wav", dtype="float32")
    n, _ = sf.read(tmp_path / "n.wav", dtype="float32")
    assert np.array_equal(p, e)
    assert _f0(p, sr) > _f0(n, sr) + 3  # anger's plan, not the (neutral) affect of that command
    assert json.loads(sidecar_path(tmp_path / "p.wav").read_text())["plan"]["plan"] == three["prosody"]

    assert main(["image", "a lake", "--plan", str(f), "--width", "64", "--height", "64", "-o", str(tmp_path / "p.png")]) == 0
    assert main(["image", "a lake", "-e", "anger", "--width", "64", "--height", "64", "-o", str(tmp_path / "e.png")]) == 0
    from studio.media import load_image

    assert np.array_equal(load_image(tmp_path / "p.png"), load_image(tmp_path / "e.png"))
    assert json.loads(png_meta(tmp_path / "p.png")["plan"]) == three["image"]

    assert main(["face", "--plan", str(f), "--size", "256", "-o", str(tmp_path / "p_face.png")]) == 0
    assert main(["face", "-e", "anger", "--size", "256", "-o", str(tmp_path / "e_face.png")]) == 0
    assert np.array_equal(load_image(tmp_path / "p_face.png"), load_image(tmp_path / "e_face.png"))
    assert json.loads(png_meta(tmp_path / "p_face.png")["plan"])["aus"] == three["face"]["aus"]


def test_two_keyframe_plan_track_from_json_changes_inside_one_clip():
    low, high = ProsodyPlan(f0_shift_st=-3.0, loudness_db=-3.0), ProsodyPlan(f0_shift_st=4.0, loudness_db=3.0)

    def track(a, b):
        return {"medium": "speech", "keys": [[0.0, plan_to_dict(a)["plan"]], [1.0, plan_to_dict(b)["plan"]]]}

    up_track = plan_from_json(track(low, high))
    assert isinstance(up_track, PlanTrack) and up_track.at(0.5).f0_shift_st == pytest.approx(0.5)
    req = SpeechRequest(text=TEXT, seed=1)
    up = spine.render(req, track(low, high))
    down = spine.render(req, track(high, low))
    assert isinstance(up.plan, PlanTrack) and len(up.plans) == 2
    assert up.plans[0][1] == low and up.plans[-1][1] == high

    def halves(r, key):
        mid = len(r.audio) // 2
        return [measure(h, r.sample_rate)[key] for h in (r.audio[:mid], r.audio[mid:])]

    # same words, same base voice: the rising track is higher and louder late, the falling one early
    for key, margin in (("f0_median_st", 1.5), ("rms_db", 1.5)):
        up1, up2 = halves(up, key)
        down1, down2 = halves(down, key)
        assert up2 > down2 + margin and down1 > up1 + margin, key
    (up1, up2), (down1, down2) = halves(up, "f0_median_st"), halves(down, "f0_median_st")
    assert up2 > up1 + 1.5 and down1 > down2 + 1.5  # and the pitch moves within each clip


def test_a_plan_of_another_medium_or_type_is_refused():
    req = SpeechRequest(text="Hi.")
    with pytest.raises(StudioError, match="speech"):
        spine.render(req, plan_for("face", Affect.of("joy")))
    with pytest.raises(StudioError, match="face plan"):
        spine.render(req, plan_to_dict(plan_for("face", Affect.of("joy"))))
    with pytest.raises(StudioError, match="Request"):
        spine.render("Hi.")  # type: ignore[arg-type]
    with pytest.raises(StudioError, match="f0_typo"):
        spine.render(req, {"medium": "speech", "plan": {"f0_typo": 3.0}})


def test_a_plan_field_of_the_wrong_type_is_one_line_error():
    with pytest.raises(StudioError):
        spine.render(SpeechRequest(text="Hi."), {"medium": "speech", "plan": {"f0_shift_st": "high"}})


# ---- registries -----------------------------------------------------------------------------------
def test_studio_engines_lists_every_engine(capsys):
    assert main(["engines"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    listed = {tuple(ln.split()[:2]) for ln in lines}
    assert listed == set(engines.ENGINES) and len(lines) == len(engines.ENGINES)
    assert {m for m, _ in listed} == {"speech", "face", "image"}
    assert [e.name for e in Studio().engines()] == [e.name for e in engines.entries()]


def test_unknown_engine_is_one_line(tmp_path, capsys):
    with pytest.raises(StudioError) as e:
        engines.get("speech", "nope")
    assert "nope" in str(e.value) and "embedded" in str(e.value) and "\n" not in str(e.value)
    capsys.readouterr()
    assert main(["say", "Hi.", "--engine", "nope", "-o", str(tmp_path / "x.wav")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope" in err[0]
    assert not (tmp_path / "x.wav").exists()
    with pytest.raises(StudioError, match="nope"):
        Studio().image("x", "joy", engine="nope", width=64, height=64)


def test_studio_recognizers_lists_kind_per_recognizer(capsys):
    from evals import registry

    assert main(["recognizers"]) == 0
    rows = {ln.split()[0]: ln.split() for ln in capsys.readouterr().out.strip().splitlines()[1:]}
    entries = registry.entries()
    assert entries and set(rows) == {e.name for e in entries}
    for e in entries:
        assert e.kind in ("perception", "realisation")
        assert rows[e.name][1:3] == [e.medium, e.kind]
    assert {e.medium for e in entries} == {"speech", "face", "image"}


# ---- results save their metadata ------------------------------------------------------------------
def test_speech_save_writes_a_sidecar_with_request_plan_and_affect(own, tmp_path):
    p = own.save(tmp_path / "x.wav")
    side = tmp_path / "x.wav.json"
    assert side == sidecar_path(p) and side.is_file()
    meta = json.loads(side.read_text())
    assert meta["medium"] == "speech" and meta["engine"] == "embedded" and meta["seed"] == 2
    assert meta["request"]["text"] == TEXT and meta["request"]["seed"] == 2
    assert meta["affect"]["label"] == "sadness" and meta["affect"] == own.affect
    assert plan_from_json(meta["plan"]) == own.plan
    data, sr = sf.read(p, dtype="float32")
    np.testing.assert_allclose(data, own.audio, atol=1.5 / 32768)  # the sidecar leaves the audio bytes alone
    own.save(tmp_path / "y.wav", sidecar=False)
    assert not sidecar_path(tmp_path / "y.wav").exists()


def test_still_and_image_save_metadata_in_png_text_chunks(tmp_path):
    s = Studio()
    still = s.express(None, "joy", seed=4, size=256)
    img = s.image("a lake", "sadness", seed=3, width=96, height=64)[0]
    for name, res in (("still", still), ("image", img)):
        p = res.save(tmp_path / f"{name}.png")
        meta = png_meta(p)
        assert json.loads(meta["affect"]) == res.affect and "plan" in meta
        assert not sidecar_path(p).exists()  # PNG has a place for metadata: no sidecar
    assert json.loads(png_meta(tmp_path / "still.png")["plan"])["aus"]["12"] > 0
    assert json.loads(png_meta(tmp_path / "still.png")["affect"])["label"] == "joy"
    im = png_meta(tmp_path / "image.png")
    assert im["seed"] == "3" and im["prompt"] == "a lake" and json.loads(im["affect"])["label"] == "sadness"
    assert plan_from_json({"medium": "image", "plan": json.loads(im["plan"])}) == img.plan
    assert img.request.medium == "image" and still.request == FaceRequest(affect=Affect.of("joy"), seed=4, size=256)


# ---- every entry point renders through the spine ----------------------------------------------------
@pytest.fixture
def spine_calls(monkeypatch):
    calls: list = []
    real = spine.render

    def counting(request, plan=None, **kw):
        calls.append(request)
        return real(request, plan, **kw)

    monkeypatch.setattr(spine, "render", counting)
    return calls


def test_api_goes_through_the_spine(spine_calls):
    r = Studio().speak("Hi.", "joy", seed=1)
    assert [c.medium for c in spine_calls] == ["speech"] and spine_calls[0].text == "Hi." and r.request is spine_calls[0]


def test_cli_goes_through_the_spine(spine_calls, tmp_path):
    assert main(["say", "Hi.", "-e", "joy", "-o", str(tmp_path / "x.wav")]) == 0
    assert len(spine_calls) == 1 and spine_calls[0].text == "Hi." and spine_calls[0].affect.top_label == "joy"


def test_dataset_runner_goes_through_the_spine(spine_calls, tmp_path):
    from studio.datasets import render

    spec = tmp_path / "one.toml"
    spec.write_text('[dataset]\nname = "one"\n\n[[item]]\nmedium = "speech"\ntext = "Hi."\nemotion = "joy"\n')
    s = render(spec, tmp_path / "out")
    assert s.rendered == 1
    assert len(spine_calls) == 1 and spine_calls[0].text == "Hi." and spine_calls[0].affect.top_label == "joy"


def test_web_demo_goes_through_the_spine(spine_calls):
    from ui.tabs.speech import speak

    wav, *_ = speak("label", "joy", "joy:1", 0.0, 0.0, 0.0, "", "neutral > joy", 1.0, "Hi.", 0)
    assert Path(wav).stat().st_size > 1000
    assert len(spine_calls) == 1 and spine_calls[0].text == "Hi." and spine_calls[0].affect.top_label == "joy"


# ---- the CLI's EMOTION, VAD and seed parsing --------------------------------------------------------
def _plan_json(argv, capsys) -> dict:
    assert main(argv) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_negative_vad_forms_are_read(capsys, tmp_path):
    for argv in (["plan", "--vad", "-0.8,0.8,0", "--json"], ["plan", "-0.8,0.8,0", "--json"],
                 ["plan", "--json", "--vad=-0.8,0.8,0"], ["plan", "-e", "-0.8,0.8,0", "--json"]):
        d = _plan_json(argv, capsys)
        assert d["affect"]["vad"] == [-0.8, 0.8, 0.0], argv
    out = tmp_path / "f.png"
    assert main(["image", "x", "--vad", "-0.8,0.8,0", "--width", "64", "--height", "64", "-o", str(out)]) == 0
    assert json.loads(png_meta(out)["affect"])["vad"] == [-0.8, 0.8, 0.0]
    capsys.readouterr()
    assert _plan_json(["plan", "--vad", "1e-5,0.5,0", "--json"], capsys)["affect"]["vad"] == [1e-5, 0.5, 0.0]


def test_negative_vad_inside_a_trajectory(tmp_path):
    out = tmp_path / "t.wav"
    assert main(["say", "Hi there.", "--emotion", "-0.5,0.2,0 > joy", "-o", str(out)]) == 0
    meta = json.loads(sidecar_path(out).read_text())
    keys = meta["request"]["affect"]["keys"]
    assert len(keys) == 2 and keys[0][1]["vad"] == [-0.5, 0.2, 0.0] and keys[-1][1]["label"] == "joy"
    assert meta["plan"]["medium"] == "speech" and len(meta["plan"]["keys"]) == 2


@pytest.mark.parametrize("argv", [
    ["plan", "--vad", "1.2.3,0,0"], ["plan", "--vad", "joy"], ["plan", "--vad", "0.5,0.2"],
    ["plan", "--vad", "2,0,0"], ["plan", "--vad", "-0.5,0,0", "-e", "joy"],
])
def test_bad_vad_is_exit_2_with_one_line(argv, capsys):
    assert main(argv) == 2
    cap = capsys.readouterr()
    err = cap.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("studio: error:") and not cap.out


@pytest.mark.parametrize("seed", ["-5", "1.5", "x", str(2**63)])
def test_bad_seed_is_exit_2_with_one_line(seed, tmp_path, capsys):
    assert main(["say", "Hi.", "--seed", seed, "-o", str(tmp_path / "x.wav")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "seed" in err[0]
    assert not (tmp_path / "x.wav").exists()


def test_version_is_printed():
    from importlib.metadata import version

    res = subprocess.run([STUDIO_BIN, "--version"], capture_output=True, text=True, timeout=60, env=ENV)
    assert res.returncode == 0 and res.stdout.strip() == f"affect-studio {version('affect-studio')}"


NOISE = re.compile(r"InitGoogle|XNNPACK|W0000|I0000|E0000|Feedback manager|pkg_resources|TensorFlow Lite|absl|"
                   r"inference_feedback|landmark_projection|DeprecationWarning|FutureWarning")


def test_a_render_prints_only_the_studios_own_lines(tmp_path):
    out = tmp_path / "x.png"
    res = subprocess.run([STUDIO_BIN, "face", "-e", "joy", "--size", "256", "-o", str(out)], capture_output=True,
                         text=True, timeout=300, env=ENV, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert out.is_file() and json.loads(res.stdout)["out"] == str(out)
    noisy = [ln for ln in res.stderr.splitlines() if NOISE.search(ln)]
    assert not noisy, noisy
    assert all(ln.startswith("studio:") for ln in res.stderr.splitlines() if ln.strip()), res.stderr
    # with --verbose the third-party lines are let through (so the filter above is what removed them)
    loud = subprocess.run([STUDIO_BIN, "--verbose", "face", "-e", "joy", "--size", "256", "-o", str(out)],
                          capture_output=True, text=True, timeout=300, env=ENV, cwd=tmp_path)
    assert loud.returncode == 0 and any(NOISE.search(ln) for ln in loud.stderr.splitlines())

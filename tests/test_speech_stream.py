"""Long text streamed into the file segment by segment (issue 17, item 6), and the talking head's length bound."""
from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import pytest
import soundfile as sf

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from studio import engines, speech_stream, spine  # noqa: E402
from studio.affect import Affect, ProsodyPlan, Trajectory  # noqa: E402
from studio.affect.tracks import PlanTrack  # noqa: E402
from studio.cli import main  # noqa: E402
from studio.errors import StudioError  # noqa: E402
from studio.requests import FaceRequest, SpeechRequest, check_talk_duration, talk_max_chars  # noqa: E402
from studio.results import sidecar_path  # noqa: E402

TEXT = ("The boat left the harbour at dawn. Nobody on the pier said a word. "
        "By noon the wind had turned, and the sails were full. We reached the island before dark. "
        "It was the best day of the summer.")
SEG = 50  # characters per segment in these tests: six segments from TEXT (one cut at a clause)


def _req(text: str = TEXT, affect=None, seed: int = 3) -> SpeechRequest:
    return SpeechRequest(text=text, affect=affect if affect is not None else Affect.of("joy", 0.8), seed=seed)


def test_segments_cut_at_sentence_then_clause_boundaries():
    long_sentence = ("Then, after a very long pause, with many clauses in it, and a great many words besides, "
                     "the doctor finally spoke.")
    segs = speech_stream.segments("Dr. Smith paid $5. " + long_sentence + " It was 1999!", 40)
    assert all(len(s.text.replace("\n\n", " ")) <= 40 for s in segs)
    joined = " ".join(s.text.replace("\n\n", " ") for s in segs)
    assert joined.startswith("doctor Smith paid five dollars.") and joined.endswith("nineteen ninety-nine!")
    assert all(joined[s.start:s.end] == s.text.replace("\n\n", " ") for s in segs)
    assert segs[1].text.startswith("Then,") and segs[1].text.endswith("pause,")  # cut after the clause comma
    from pipelines.speech import text as textfe

    for s in segs:  # the engine splits a segment into exactly the sentences it was built from
        assert [x for c in textfe.prepare(s.text) for x in c.sentences] == s.text.split("\n\n")


def test_streamed_file_is_the_segments_joined_without_clicks_and_bit_identical(tmp_path):
    req = _req()
    out = tmp_path / "long.wav"
    res = speech_stream.render_to_file(req, out, segment_chars=SEG)
    segs = speech_stream.segments(TEXT, SEG)
    assert isinstance(res, speech_stream.SpeechFile) and len(res.segments) == len(segs) == 6
    x, sr = sf.read(out, dtype="float32")
    # each segment alone, as the spine renders it with its derived seed, is what the file holds
    plan = spine.plan(req)
    parts = [spine.render(dataclasses.replace(req, text=s.text, seed=speech_stream.segment_seed(req.seed, k)), plan)
             for k, s in enumerate(segs)]
    gap = int(round(speech_stream.SEGMENT_PAUSE_S * plan.pause_scale / plan.rate_scale * sr))
    assert len(x) == sum(len(p.audio) for p in parts) + gap * (len(parts) - 1) == res.samples
    fade = int(speech_stream.FADE_S * sr)
    pos = 0
    for k, p in enumerate(parts):
        y = p.audio
        inner = slice(fade, len(y) - fade)
        assert np.max(np.abs(x[pos:pos + len(y)][inner] - y[inner])) <= 1.5 / 32768  # PCM_16 of the same samples
        assert abs(res.segments[k]["start_s"] - pos / sr) < 1e-9
        if k < len(parts) - 1:  # the joint: faded edges around silence, no step a click would make
            joint = x[pos + len(y) - fade:pos + len(y) + gap + fade]
            assert np.max(np.abs(np.diff(joint))) < 0.02
            assert np.all(x[pos + len(y):pos + len(y) + gap] == 0)
        pos += len(y) + (gap if k < len(parts) - 1 else 0)
    meta = json.loads(sidecar_path(out).read_text())
    starts = [w[1] for w in meta["words"]]
    assert len(meta["words"]) == sum(len(p.words) for p in parts) and starts == sorted(starts)
    assert meta["words"][-1][2] <= meta["duration_s"] + 1e-6 and meta["request"]["text"] == TEXT
    assert meta["words"][-1][1] >= res.segments[-1]["start_s"]  # offsets carried into the last segment
    # same text and seed, nothing cached: the same file, bit for bit
    engines.get("speech", "embedded").cache.clear()
    again = tmp_path / "again.wav"
    speech_stream.render_to_file(req, again, segment_chars=SEG, progress=True)
    assert again.read_bytes() == out.read_bytes()


def test_one_segment_writes_what_the_plain_path_writes(tmp_path):
    req = _req("We won the game. I can't believe it.")
    old = spine.render(req).save(tmp_path / "old.wav")
    new = tmp_path / "new.wav"
    res = speech_stream.render_to_file(req, new)
    assert not isinstance(res, speech_stream.SpeechFile)
    assert new.read_bytes() == old.read_bytes()
    a, b = (json.loads(sidecar_path(p).read_text()) for p in (old, new))
    a.pop("timings"), b.pop("timings")
    assert a == b
    from studio.api import Studio

    api = tmp_path / "api.wav"
    Studio().speak_to_file("We won the game. I can't believe it.", api, "joy", intensity=0.8, seed=3)
    assert api.read_bytes() == old.read_bytes()


@pytest.mark.parametrize("exc", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_a_failure_mid_stream_leaves_no_file(tmp_path, monkeypatch, exc):
    calls = []
    real = spine.render

    def flaky(request, plan=None, **kw):
        calls.append(request.text)
        if len(calls) == 3:
            raise exc
        return real(request, plan, **kw)

    monkeypatch.setattr(speech_stream.spine, "render", flaky)
    with pytest.raises(type(exc)):
        speech_stream.render_to_file(_req(), tmp_path / "long.wav", segment_chars=SEG)
    assert len(calls) == 3 and list(tmp_path.iterdir()) == []


def _close(p: ProsodyPlan, q: ProsodyPlan) -> bool:
    return bool(np.allclose(list(dataclasses.asdict(p).values()), list(dataclasses.asdict(q).values()), atol=1e-9))


def test_a_trajectory_is_laid_over_the_whole_text():
    traj = Trajectory.parse("neutral > anger > sadness")
    track = spine.plan(_req(affect=traj))
    a, b = 0.3, 0.7
    part = speech_stream.slice_plan(track, a, b, 0.0)
    for x in (0.0, 0.2, 0.5, 0.8, 1.0):  # the slice at x is the whole track at a + x (b - a)
        assert _close(part.at(x, 1.0), track.at(a + x * (b - a), 1.0))
    edited = PlanTrack("speech", ((0.0, ProsodyPlan()), (1.0, ProsodyPlan(rate_scale=0.5, f0_shift_st=4.0))))
    p2 = speech_stream.slice_plan(edited, 0.5, 1.0, 0.0)
    assert p2.at(0.0, 1.0).f0_shift_st == pytest.approx(2.0) and p2.at(1.0, 1.0).rate_scale == pytest.approx(0.5)
    secs = Trajectory(((0.0, Affect.neutral()), (10.0, Affect.of("anger", 1.0))), relative=False)
    strack = PlanTrack.of("speech", secs)
    p3 = speech_stream.slice_plan(strack, 0.0, 1.0, 4.0)  # a segment starting 4 s into the audio
    assert _close(p3.at(2.0, 99.0), strack.at(6.0, 99.0)) and _close(p3.at(20.0, 99.0), strack.at(20.0, 99.0))
    assert not _close(p3.at(2.0, 99.0), strack.at(2.0, 99.0))
    assert speech_stream.slice_plan(ProsodyPlan(rate_scale=1.2), 0.1, 0.2, 3.0) == ProsodyPlan(rate_scale=1.2)


def test_say_streams_a_long_text_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(speech_stream, "SEGMENT_CHARS", SEG)
    f = tmp_path / "long.txt"
    f.write_text(TEXT + " \U0001F600", encoding="utf-8")
    out = tmp_path / "long.wav"
    assert main(["say", "--text-file", str(f), "-e", "joy", "-i", "0.8", "--seed", "3", "-o", str(out)]) == 0
    cap = capsys.readouterr()
    assert cap.err.count("dropped characters") == 1  # once for the text, not once per segment
    lines = cap.out.splitlines()
    assert lines[0] == str(out) and "in 6 segments" in lines[1] and "measured F0 median" in lines[1]
    meta = json.loads(sidecar_path(out).read_text())
    assert len(meta["streamed"]["segments"]) == 6
    assert sf.info(str(out)).duration == pytest.approx(meta["duration_s"], abs=1e-4)


def test_the_talking_head_refuses_a_text_over_its_limit_before_rendering(tmp_path, capsys):
    limit = talk_max_chars(512, 25.0)
    text = ("The wind came down from the hills. " * 40)[: limit + 50]
    out = tmp_path / "x.mp4"
    assert main(["face", "--text", text, "-o", str(out)]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and f"at most {limit}" in err[0] and "split it into clips" in err[0], err
    assert list(tmp_path.iterdir()) == []
    # the bound is the frames' memory: half the frame rate takes twice the text; slow speech takes less
    FaceRequest(text=text, size=256)
    assert talk_max_chars(512, 12.5) >= 2 * limit - 2 and talk_max_chars(256, 25.0) > 2 * limit  # (256: the 60 s cap)
    with pytest.raises(StudioError, match="with this emotion"):
        FaceRequest(text=text[: int(limit * 0.9)], affect=Affect.of("sadness", 1.5))
    with pytest.raises(StudioError, match="the speech lasts 40 s"):
        check_talk_duration(40.0, 512, 25.0)

"""The neural speech engine on a tiny random SpeechT5 written in the published layout (pipelines.speech.tiny)."""
import json

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("sentencepiece")

import torch  # noqa: E402

from pipelines.speech import level, text as textfe  # noqa: E402
from pipelines.speech.directions import LABELS, Directions, fit_directions, measure  # noqa: E402
from pipelines.speech.neural import NeuralSpeechEngine  # noqa: E402
from studio import engines  # noqa: E402
from studio.affect import Affect, ProsodyPlan, Trajectory, prosody_plan  # noqa: E402
from studio.affect.taxonomy import anchor  # noqa: E402
from studio.affect.tracks import plan_for  # noqa: E402
from studio.errors import StudioError  # noqa: E402
from studio.requests import SpeechRequest  # noqa: E402

FAST = {"maxlenratio": 6.0}   # the tiny model never predicts stop: cap its length (6 frames per 2 tokens)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from pipelines.speech.tiny import build

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model is latency-bound: more threads only contend on a shared CPU
    folder = tmp_path_factory.mktemp("tts")
    paths = build(folder, directions=False)
    # random but fixed directions (the algebra does not depend on how they were fitted) with a response matrix
    rng = np.random.default_rng(3)
    Directions(LABELS, 0.4 * rng.standard_normal((len(LABELS), 512)), None,
               rng.standard_normal((5, len(LABELS)))).save(folder / "emotion_directions.safetensors")
    yield paths
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def eng(tiny):
    return NeuralSpeechEngine(tiny["weights"])


def say(eng, text="Hello there.", affect=None, seed=0, plan=None, options=FAST):
    req = SpeechRequest(text=text, affect=affect if affect is not None else Affect.neutral(), seed=seed, engine="neural",
                        options=dict(options))
    return eng.render(req, plan if plan is not None else plan_for("speech", req.affect))


def test_intensity_zero_is_the_plain_backbone_output(eng):
    plain = eng.voice.synthesize(["Hello there."], eng.neutral[None], [eng_seed(0)], **FAST)[0].audio
    neutral = say(eng)
    zero = say(eng, affect=Affect.of("anger", 0.0))
    assert np.array_equal(zero.audio, neutral.audio)
    assert np.array_equal(neutral.audio, level.limit(plain.astype(np.float64), eng.sample_rate))
    assert zero.meta["embedding_offset"] == [0.0] * 512
    one = say(eng, affect=Affect.of("anger", 1.0))
    assert not np.array_equal(one.audio, neutral.audio)
    assert np.abs(one.audio - neutral.audio).max() > 1e-3
    # deterministic given the seed; another seed draws other decoder-prenet dropout masks
    assert np.array_equal(say(eng, affect=Affect.of("anger", 1.0)).audio, one.audio)
    assert not np.array_equal(say(eng, affect=Affect.of("anger", 1.0), seed=1).audio, one.audio)


def eng_seed(k):
    from pipelines.speech.neural import _sentence_seed

    return _sentence_seed(0, k)


def test_offset_is_linear_in_intensity_and_follows_negation_and_mixtures(eng):
    d = eng.directions
    offs = {k: np.array(say(eng, affect=Affect.of("anger", k)).meta["embedding_offset"]) for k in (0.5, 1.0)}
    np.testing.assert_allclose(offs[1.0], 2 * offs[0.5], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(offs[1.0], d.vectors[LABELS.index("anger")], rtol=1e-6)
    for k in (0.25, 0.7, 1.3):
        np.testing.assert_allclose(eng.affect_offset(Affect.of("joy", k)), k * eng.affect_offset(Affect.of("joy", 1.0)),
                                   rtol=1e-12, atol=1e-12)
    # negation: a labelled emotion becomes its taxonomy opposite (anger -> fear); a raw VAD point mirrors exactly
    neg = eng.affect_offset(-Affect.of("anger", 0.8))
    np.testing.assert_allclose(neg, 0.8 * d.vectors[LABELS.index("fear")], rtol=1e-6)
    v = Affect.from_vad(0.4, -0.3, 0.2, intensity=0.9)
    np.testing.assert_allclose(eng.affect_offset(-v), -eng.affect_offset(v), rtol=1e-12, atol=1e-12)
    assert np.linalg.norm(eng.affect_offset(v)) > 0
    # mixtures: the mixed affect's offset is the weighted sum of its parts' offsets
    a, b = Affect.of("joy", 0.8), Affect.of("sadness", 0.4)
    mixed = eng.affect_offset(Affect.mix([a, b], [0.3, 0.7]))
    np.testing.assert_allclose(mixed, 0.3 * eng.affect_offset(a) + 0.7 * eng.affect_offset(b), rtol=1e-9, atol=1e-12)
    # a VAD point at a label's anchor lands near that label's direction (ridge map through the anchors)
    x = np.array([anchor(lab) for lab in LABELS])
    assert np.linalg.matrix_rank(x) == 3


def test_trajectory_changes_the_embedding_inside_one_utterance(eng):
    text = "We start out calm. Then things get louder. And now it is a fight!"
    traj = Trajectory.parse("neutral > anger", 1.0)
    r = say(eng, text=text, affect=traj)
    offs = [np.array(o) for o in r.meta["sentence_offsets"]]
    assert len(offs) == 3 and r.meta["embedding_source"] == "affect"
    norms = [np.linalg.norm(o) for o in offs]
    assert norms[0] < norms[1] < norms[2]
    # each sentence sits on the anger direction, scaled by the trajectory's intensity at that point
    unit = eng.directions.vectors[LABELS.index("anger")].astype(np.float64)
    for o in offs:
        assert abs(o @ unit) / (np.linalg.norm(o) * np.linalg.norm(unit)) > 0.999
    steady = say(eng, text=text, affect=Affect.of("anger", 1.0))
    assert not np.array_equal(r.audio, steady.audio)
    assert r.plans[0][0] == 0.0 and r.plans[-1][0] == pytest.approx(r.duration_s)


def test_trajectory_moves_the_embedding_within_one_sentence(eng):
    traj = Trajectory.parse("neutral > anger", 1.0)
    r = say(eng, text="This one sentence starts calm and ends in a rage!", affect=traj)
    (knots,) = [np.array(k) for k in r.meta["offset_knots"]]
    norms = np.linalg.norm(knots, axis=1)
    assert norms[0] == 0.0 and np.all(np.diff(norms) > 0)
    assert norms[-1] > 0.9 * np.linalg.norm(eng.directions.vectors[LABELS.index("anger")])
    calm = say(eng, text="This one sentence starts calm and ends in a rage!")
    angry = say(eng, text="This one sentence starts calm and ends in a rage!", affect=Affect.of("anger", 1.0))
    assert not np.array_equal(r.audio, calm.audio) and not np.array_equal(r.audio, angry.audio)
    # the decoder's first steps run on the neutral embedding, its last ones near anger: the spectrum of the
    # opening is closer to the neutral render's, that of the ending closer to the angry render's
    n = len(r.audio) // 4
    spec = lambda x: np.log(np.abs(np.fft.rfft(x)) + 1e-9)  # noqa: E731
    dist = lambda a, b: float(np.mean((spec(a) - spec(b)) ** 2))  # noqa: E731
    assert dist(r.audio[:n], calm.audio[:n]) < dist(r.audio[:n], angry.audio[:n])
    assert dist(r.audio[-n:], angry.audio[-n:]) < dist(r.audio[-n:], calm.audio[-n:])


def test_wav_is_valid_and_timings_lie_inside_it(eng, tmp_path):
    text = "Hello there, I can't wait. See you at nine."
    r = say(eng, text=text, affect=Affect.of("joy", 0.8))
    p = r.save(tmp_path / "a.wav")
    data, sr = sf.read(p)
    assert sr == 16000 == r.sample_rate and len(data) == len(r.audio) and np.all(np.isfinite(data))
    assert np.abs(r.audio).max() <= 10 ** (level.PEAK_DB / 20) + 1e-6
    assert [w for w, _, _ in r.words] == [w for s in textfe.sentences(textfe.normalise(text)) for w in textfe.words(s)]
    for seq in (r.words, r.phones):
        assert seq and all(0 <= a <= b <= r.duration_s + 1e-9 for _, a, b in seq)
        assert all(x[1] >= y[1] for x, y in zip(seq[1:], seq)), "timings must be in order"
    spoken = [p for p in r.phones if p[0] != "sil"]
    assert "θ" in [p[0] for p in spoken] and "k" in [p[0] for p in spoken]  # "there" → θ…, "can't" → k…
    for w, a, b in r.words:  # every word's letters are phones inside its span
        inside = [p for p in spoken if a - 1e-9 <= p[1] and p[2] <= b + 1e-9]
        assert 0 < len(inside) <= len(w)
    assert sum(len(w.replace("'", "")) for w, _, _ in r.words) >= len(spoken)
    assert any(p[0] == "sil" and p[2] - p[1] >= 0.2 for p in r.phones)  # the pause between the two sentences
    json.dumps(r.meta)  # the metadata is JSON-able


def test_batch_renders_each_request_as_alone(eng):
    reqs = [("Hello there.", Affect.of("anger", 0.6)), ("We won the match today!", Affect.of("joy", 1.0)),
            ("Hi.", Affect.neutral())]
    requests = [SpeechRequest(text=t, affect=a, seed=5, engine="neural", options=FAST) for t, a in reqs]
    batch = eng.render_batch(requests, [prosody_plan(r.affect) for r in requests])
    for req, res in zip(requests, batch):
        alone = eng.render(req, prosody_plan(req.affect))
        assert len(res.audio) == len(alone.audio)
        np.testing.assert_allclose(res.audio, alone.audio, atol=1e-5)
        assert [w for w, _, _ in res.words] == [w for w, _, _ in alone.words]


def test_hand_edited_plan_renders_through_the_measured_response(eng):
    neutral = say(eng)
    assert np.array_equal(say(eng, plan=ProsodyPlan()).audio, neutral.audio)
    edited = say(eng, plan=ProsodyPlan(loudness_db=4.0, f0_shift_st=2.0))
    assert edited.meta["embedding_source"] == "plan" and np.linalg.norm(edited.meta["embedding_offset"]) > 0
    assert not np.array_equal(edited.audio, neutral.audio)


def test_direction_fitting_reduces_its_objective(tiny, tmp_path):
    out = tmp_path / "dirs.safetensors"
    target = {"tilt_db": 3.0}
    rep = fit_directions(tiny["weights"], str(out), targets={"anger": target}, feature_weights={"tilt_db": 1.0},
                         basis=4, iters=2, population=2, texts=["Hello there."], options=FAST)["anger"]
    assert rep.objective_end < 0.5 * rep.objective_start
    # independently: the saved direction, loaded by the engine, moves the rendered tilt toward the target
    e = NeuralSpeechEngine(tiny["weights"], directions=str(out))
    a, n = say(e, affect=Affect.of("anger", 1.0)), say(e)
    moved = measure(a.audio, a.sample_rate)["tilt_db"] - measure(n.audio, n.sample_rate)["tilt_db"]
    assert moved > 1.5
    d = Directions.load(out)
    assert d.labels == ("anger",) and d.response.shape == (5, 1) and d.neutral is not None
    with pytest.raises(StudioError, match="no direction for 'joy'"):
        say(e, affect=Affect.of("joy", 1.0))


def test_bad_folders_give_one_clear_line(tiny, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertModel"]}))
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text(json.dumps({"model_type": "speecht5", "architectures": ["SpeechT5ForTextToSpeech"]}))
    (pickled / "pytorch_model.bin").write_bytes(b"\x80")
    cases = [(empty, "no config.json"), (other, "not SpeechT5ForTextToSpeech"), (pickled, "never unpickles"),
             (tmp_path / "missing", "do not exist"), ("nobody/no-such-tts", "not in the Hugging Face cache")]
    for folder, why in cases:
        with pytest.raises(StudioError, match=why) as e:
            NeuralSpeechEngine(str(folder))
        assert "\n" not in str(e.value)
    with pytest.raises(StudioError, match="needs --weights"):
        NeuralSpeechEngine()
    with pytest.raises(StudioError, match="no emotion directions"):
        say(NeuralSpeechEngine(tiny["weights"], directions="none"), affect=Affect.of("anger", 1.0))
    with pytest.raises(StudioError, match="has no option"):
        say(NeuralSpeechEngine(tiny["weights"]), options={"speed": 2})


def test_registry_and_spine_render_the_neural_engine(tiny):
    from studio.spine import render

    assert engines.engine_class("speech", "neural") is NeuralSpeechEngine
    opts = {"weights": tiny["weights"]}
    r0 = render(SpeechRequest(text="Hello there.", affect=Affect.of("anger", 0.0), engine="neural", engine_options=opts,
                              options=FAST))
    rn = render(SpeechRequest(text="Hello there.", engine="neural", engine_options=opts, options=FAST))
    r1 = render(SpeechRequest(text="Hello there.", affect=Affect.of("anger", 1.0), engine="neural", engine_options=opts,
                              options=FAST))
    assert np.array_equal(r0.audio, rn.audio) and not np.array_equal(r1.audio, rn.audio)
    assert r1.engine == "neural" and r1.plan == prosody_plan(Affect.of("anger", 1.0))


def test_sdpa_and_bf16_paths_match_eager_fp32(tiny, eng):
    ref = say(eng, affect=Affect.of("joy", 1.0))
    sdpa = NeuralSpeechEngine(tiny["weights"], attention="sdpa")
    assert sdpa.voice.attention == "sdpa"
    np.testing.assert_allclose(say(sdpa, affect=Affect.of("joy", 1.0)).audio, ref.audio, atol=1e-4)
    half = say(NeuralSpeechEngine(tiny["weights"], dtype="bf16"), affect=Affect.of("joy", 1.0))
    assert half.meta["dtype"] == "bfloat16" and len(half.audio) == len(ref.audio) and np.all(np.isfinite(half.audio))
    assert np.corrcoef(half.audio, ref.audio)[0, 1] > 0.5

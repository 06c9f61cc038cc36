"""Emotional speech with the embedded engine: real piper + WORLD audio, measured by the acoustic recognizer."""
import warnings

import numpy as np
import pytest
import soundfile as sf

from evals.speech import AcousticRecognizer, measure
from pipelines.speech import SpeechResult, level
from pipelines.speech.engine import SENTENCE_PAUSE_S, EmbeddedEngine
from studio import Studio, engines
from studio.affect import Affect, ProsodyPlan, Trajectory
from studio.affect.tracks import plan_for
from studio.errors import StudioError
from studio.media import Media

TEXT = "I can't believe you did that. We agreed on it last week."
SHORT = "Well, that was a surprise."
STUDIO = Studio()


def synthesize(text, affect, seed=0, engine="embedded"):
    return STUDIO.speak(text, affect, seed=seed, engine=engine)


def speech_plan(affect):
    return plan_for("speech", affect)


@pytest.fixture(scope="module")
def renders() -> dict[str, SpeechResult]:
    out = {"neutral": synthesize(TEXT, Affect.neutral())}
    for k in (0.5, 1.0):
        out[f"anger{k}"] = synthesize(TEXT, Affect.of("anger", k))
    out["sadness1.0"] = synthesize(TEXT, Affect.of("sadness", 1.0))
    out["traj"] = synthesize(TEXT, Trajectory.parse("neutral > anger", 1.0))
    out["traj_rev"] = synthesize(TEXT, Trajectory.parse("anger > neutral", 1.0))
    return out


@pytest.fixture(scope="module")
def measures(renders) -> dict[str, dict]:
    return {k: measure(r.audio, r.sample_rate) for k, r in renders.items()}


def test_results_are_well_formed(renders):
    for r in renders.values():
        assert r.audio.dtype == np.float32 and r.audio.ndim == 1
        assert np.all(np.isfinite(r.audio))
        assert 20 * np.log10(np.abs(r.audio).max()) <= -1.0 + 1e-3  # peak <= -1 dBFS
        assert r.duration_s == pytest.approx(len(r.audio) / r.sample_rate)
        assert r.engine == "embedded" and r.affect
        assert [w for w, _, _ in r.words] == ["I", "can't", "believe", "you", "did", "that", "We", "agreed", "on", "it", "last", "week"]


def test_intensity_zero_is_plain_piper_after_the_same_normalisation():
    from piper import SynthesisConfig

    eng = EmbeddedEngine(noise_scale=0.0, noise_w_scale=0.0)  # piper's own noise is unseeded: compare without it
    ours = eng.speak(SHORT, speech_plan(Affect.of("anger", 0.0)))
    chunks = list(eng.base.voice.synthesize(SHORT, SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, normalize_audio=False)))
    assert len(chunks) == 1
    plain = level.normalise(chunks[0].audio_float_array, chunks[0].sample_rate)
    assert ours.audio.shape == plain.shape
    np.testing.assert_allclose(ours.audio, plain, atol=2e-5)


def test_neutral_equals_base_voice_and_is_deterministic(renders):
    eng = engines.get("speech", "embedded")
    base, sr = eng.base_audio(TEXT, seed=0)
    np.testing.assert_array_equal(renders["neutral"].audio, base)
    again = synthesize(TEXT, Affect.of("anger", 1.0), seed=0)
    np.testing.assert_array_equal(again.audio, renders["anger1.0"].audio)
    other = synthesize(TEXT, Affect.neutral(), seed=1)
    assert other.audio.shape != base.shape or not np.array_equal(other.audio, base)


def test_f0_higher_for_anger_than_sadness_and_monotone_in_intensity(measures):
    f0 = {k: m["f0_median_st"] for k, m in measures.items()}
    assert f0["anger1.0"] > f0["sadness1.0"] + 4
    assert f0["neutral"] < f0["anger0.5"] < f0["anger1.0"]


def test_loudness_rate_and_tilt_move_as_planned(renders, measures):
    n, a, s = measures["neutral"], measures["anger1.0"], measures["sadness1.0"]
    pa, ps = renders["anger1.0"].plan, renders["sadness1.0"].plan
    assert a["rms_db"] - n["rms_db"] == pytest.approx(pa.loudness_db, abs=1.0)
    assert s["rms_db"] - n["rms_db"] == pytest.approx(ps.loudness_db, abs=1.0)
    assert a["tilt_db"] > n["tilt_db"] + 3 and s["tilt_db"] < n["tilt_db"] - 2
    # anger is faster (less speaking time for the same words), sadness slower with longer pauses
    assert renders["anger1.0"].duration_s < renders["neutral"].duration_s < renders["sadness1.0"].duration_s
    assert np.log(n["speech_s"] / a["speech_s"]) == pytest.approx(np.log(pa.rate_scale), rel=0.35)
    assert np.log(n["speech_s"] / s["speech_s"]) == pytest.approx(np.log(ps.rate_scale), rel=0.35)


def _frame_db(audio, sr, a, b):
    seg = audio[int(a * sr):int(b * sr)].astype(np.float64)
    return 10 * np.log10(np.mean(seg ** 2) + 1e-12)


@pytest.mark.parametrize("key", ["neutral", "anger1.0", "sadness1.0", "traj"])
def test_word_and_phone_timings_line_up_with_the_audio(renders, key):
    r = renders[key]
    sr = r.sample_rate
    starts = [s for _, s, _ in r.words]
    assert starts == sorted(starts)
    assert all(0 <= s <= e <= r.duration_s + 1e-6 for _, s, e in r.words)
    assert all(0 <= s <= e <= r.duration_s + 1e-6 for _, s, e in r.phones)
    assert r.phones[-1][2] == pytest.approx(r.duration_s, abs=0.03)  # the alignment spans the whole clip
    inside = [_frame_db(r.audio, sr, s, e) for _, s, e in r.words if e - s > 0.05]
    # the pause between the sentences, as the alignment places it
    gaps = [(e0, s1) for (_, _, e0), (_, s1, _) in zip(r.words, r.words[1:]) if s1 - e0 > 0.2]
    assert gaps, "the sentence pause should appear as a gap between words"
    quiet = [_frame_db(r.audio, sr, a + 0.03, b - 0.03) for a, b in gaps]
    assert min(inside) > max(quiet) + 15
    # and the loudest 20 ms of the clip lies inside a word
    n = int(0.02 * sr)
    frames = r.audio[: len(r.audio) // n * n].reshape(-1, n)
    t_peak = (np.argmax((frames ** 2).mean(axis=1)) + 0.5) * n / sr
    assert any(s - 0.02 <= t_peak <= e + 0.02 for _, s, e in r.words)


def test_sentence_pause_is_scaled_by_the_plan(renders):
    def pause(r):
        return max(s1 - e0 for (_, _, e0), (_, s1, _) in zip(r.words, r.words[1:]))
    assert pause(renders["neutral"]) >= SENTENCE_PAUSE_S
    assert pause(renders["sadness1.0"]) > 1.3 * pause(renders["neutral"])


def test_trajectory_changes_prosody_within_the_utterance(renders):
    def halves(r, key):
        mid = len(r.audio) // 2
        return [measure(h, r.sample_rate)[key] for h in (r.audio[:mid], r.audio[mid:])]
    # same words, same base voice: "neutral > anger" is higher and louder late, "anger > neutral" early
    for key, margin in (("f0_median_st", 1.0), ("rms_db", 1.5)):
        up1, up2 = halves(renders["traj"], key)
        down1, down2 = halves(renders["traj_rev"], key)
        assert down1 > up1 + margin and up2 > down2 + margin, key
    r = renders["traj"]
    assert len(r.plans) == 2 and r.plans[0][0] == 0.0
    assert r.plans[-1][0] == pytest.approx(r.duration_s, abs=0.05)
    assert r.plan.first.f0_shift_st == 0.0 and r.plans[-1][1].f0_shift_st > 3


def test_hand_edited_plan_overrides_the_affect():
    eng = engines.get("speech", "embedded")
    loud = eng.speak(SHORT, ProsodyPlan(loudness_db=6.0))
    base = eng.speak(SHORT, speech_plan(Affect.neutral()))
    assert measure(loud.audio, loud.sample_rate)["rms_db"] - measure(base.audio, base.sample_rate)["rms_db"] == pytest.approx(6.0, abs=0.7)


def test_two_chunks_join_with_a_pause_and_continuous_timings():
    text = " ".join(["The quick brown fox jumps over the lazy dog."] * 10)  # > one chunk
    r = synthesize(text, Affect.neutral())
    assert len(r.words) == 90
    starts = [s for _, s, _ in r.words]
    assert starts == sorted(starts) and r.words[-1][2] <= r.duration_s


def test_save_wav_and_flac_round_trip(renders, tmp_path):
    r = renders["anger1.0"]
    for ext in (".wav", ".flac"):
        p = r.save(tmp_path / f"x{ext}")
        data, sr = sf.read(p, dtype="float32")
        assert sr == r.sample_rate and data.shape == r.audio.shape
        np.testing.assert_allclose(data, r.audio, atol=1.5 / 32768)
        rec = AcousticRecognizer().recognize_file(p)
        assert rec.measures["rms_db"] == pytest.approx(measure(r.audio, sr)["rms_db"], abs=0.1)


def test_recognizer_accepts_results_and_reports_arousal(renders):
    base = renders["neutral"]
    rec = AcousticRecognizer().calibrate(base.audio, base.sample_rate, same_text=True)
    a = {k: rec.recognize(renders[k]).arousal for k in ("neutral", "anger1.0", "sadness1.0")}
    assert a["sadness1.0"] < a["neutral"] < a["anger1.0"]
    assert rec.medium == "speech" and set(rec.recognize(base).measures) >= {"f0_median_hz", "f0_range_st", "rms_db", "tilt_db", "speech_rate"}


@pytest.mark.parametrize("text", ["", "   ", "?!...", "你好😀"])
def test_unspeakable_text_is_refused(text):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(StudioError):
            synthesize(text, Affect.neutral())


def test_bad_affect_seed_and_intensity_are_refused():
    with pytest.raises(StudioError):
        synthesize("hello", object())  # type: ignore[arg-type]
    with pytest.raises(StudioError):  # the engine renders a plan, never an emotion string
        engines.get("speech", "embedded").speak("hello", "anger")  # type: ignore[arg-type]
    with pytest.raises(StudioError):
        synthesize("hello", Affect.neutral(), seed=1.5)  # type: ignore[arg-type]
    with pytest.raises(StudioError):
        Affect.of("anger", float("nan"))
    with pytest.raises(StudioError):
        synthesize("hello", Affect.neutral(), engine="nope")


def test_bad_output_paths_write_nothing(renders, tmp_path):
    r = renders["neutral"]
    with pytest.raises(StudioError):
        r.save(tmp_path / "missing" / "x.wav")
    with pytest.raises(StudioError):
        r.save(tmp_path / "x.mp3")
    assert list(tmp_path.iterdir()) == []


def test_recognizer_refuses_silence_and_missing_files(tmp_path):
    with pytest.raises(StudioError):
        AcousticRecognizer().recognize(Media.of_audio(np.zeros(22050, np.float32), 22050))
    with pytest.raises(StudioError):
        AcousticRecognizer().recognize_file(tmp_path / "none.wav")


def test_cli_say_writes_audio_and_reports(tmp_path, capsys):
    from studio.cli import main

    out = tmp_path / "out.flac"
    assert main(["say", SHORT, "--emotion", "anger", "--intensity", "0.8", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and "F0 median" in printed and "dBFS" in printed
    data, sr = sf.read(out)
    assert sr == 22050 and len(data) > sr * 0.5
    assert main(["say", "hello", "-o", str(tmp_path / "no" / "x.wav")]) == 2
    assert main(["say", "?!", "-o", str(tmp_path / "y.wav")]) == 2
    assert not (tmp_path / "y.wav").exists()
    src = tmp_path / "text.txt"
    src.write_text("Hello from a file.", encoding="utf-8")
    assert main(["say", "--text-file", str(src), "-e", "neutral > joy", "-o", str(tmp_path / "f.wav")]) == 0
    assert sf.info(tmp_path / "f.wav").duration > 0.5
    assert main(["say", "hi", "--text-file", str(src), "-o", str(tmp_path / "g.wav")]) == 2
    assert main(["say", "hi", "-e", "anger", "-i", "nan", "-o", str(tmp_path / "h.wav")]) == 2
    assert not (tmp_path / "g.wav").exists() and not (tmp_path / "h.wav").exists()


@pytest.mark.parametrize("slope_st_s", [-0.6, -0.3, 0.6, 1.0])
def test_declination_does_not_change_the_planned_f0_range(slope_st_s):
    from pipelines.speech.prosody import ST, _keep_spread, _spread

    rng = np.random.default_rng(3)
    t = np.arange(0, 5, 0.005)
    contour = 2.5 * np.sin(2 * np.pi * 0.7 * t) - 0.3 * t + rng.normal(0, 0.5, len(t))  # st: phrase arcs, own fall
    voiced = rng.random(len(t)) < 0.7
    excursion = ST * 0.8 * (contour - np.median(contour[voiced]))                      # a x0.8 range plan
    slope = ST * slope_st_s * (t - t[voiced].mean())
    assert abs(_spread((excursion + slope)[voiced]) / _spread(excursion[voiced]) - 1) > 0.02  # the slope alone would move it
    k = _keep_spread(excursion, slope, voiced)
    assert _spread((k * excursion + slope)[voiced]) == pytest.approx(_spread(excursion[voiced]), rel=1e-3)
    assert _keep_spread(excursion, np.zeros_like(t), voiced) == 1.0
    steep = ST * -3.0 * (t - t[voiced].mean())   # a slope that dwarfs the contour: the bound, and closer than before
    k = _keep_spread(excursion, steep, voiced)
    assert k == pytest.approx(0.25) and _spread((k * excursion + steep)[voiced]) < _spread((excursion + steep)[voiced])


def test_reused_analysis_renders_bit_identical_audio_and_the_cache_is_bounded():
    text = "The cache must not change a single sample. Not one."
    cold = EmbeddedEngine(cache_bytes=0)
    warm = EmbeddedEngine()
    warm.speak(text, speech_plan(Affect.of("joy", 1.0)), seed=5)          # fills the cache with base voice + analysis
    assert len(warm.cache) == 1 and 0 < warm.cache.bytes <= warm.cache.max_bytes
    one = warm.cache.bytes
    for a in (Affect.of("anger", 0.7), Trajectory.parse("sadness > surprise", 1.0), Affect.neutral()):
        r_cold, r_warm = cold.speak(text, speech_plan(a), seed=5), warm.speak(text, speech_plan(a), seed=5)
        assert np.array_equal(r_cold.audio, r_warm.audio) and r_cold.phones == r_warm.phones
    assert len(cold.cache) == 0
    other = warm.speak(text, speech_plan(Affect.of("anger", 0.7)), seed=6)   # another seed is another base voice
    assert len(warm.cache) == 2 and not np.array_equal(other.audio[:1000], r_warm.audio[:1000])
    small = EmbeddedEngine(cache_bytes=int(1.5 * one))   # room for one entry: the oldest goes
    for seed in (1, 2):
        small.speak(text, speech_plan(Affect.of("anger", 1.0)), seed=seed)
    assert len(small.cache) == 1 and small.cache.bytes <= small.cache.max_bytes


def test_threads_sharing_one_engine_get_the_sequential_result():
    from concurrent.futures import ThreadPoolExecutor

    text, eng = "Two requests at once.", EmbeddedEngine()
    asks = [Affect.of("anger", 1.0), Affect.of("sadness", 1.0), Affect.of("joy", 0.5), Affect.of("fear", 0.8)]
    with ThreadPoolExecutor(4) as ex:
        together = list(ex.map(lambda a: eng.speak(text, speech_plan(a), seed=3).audio, asks))
    alone = [EmbeddedEngine(cache_bytes=0).speak(text, speech_plan(a), seed=3).audio for a in asks[:2]]
    assert all(np.array_equal(x, y) for x, y in zip(together, alone))
    assert len(eng.cache) == 1

"""Neural perception recognizers: tiny random models in the publishers' layouts, loaded the way real
weights are, judging real renders (embedded speech, a still expression, an embedded image)."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from evals import registry
from evals.label_map import label_map
from evals.tiny import EMOSET8, FER7, build_all, build_hsemotion, build_image_classifier, build_speech_er
from studio import Studio, weights
from studio.affect.taxonomy import anchor
from studio.errors import MissingWeights, StudioError
from studio.media import Media

NEURAL = ("speech-er", "speech-msp-dim", "hsemotion", "face-vit", "image-emotion", "clip-va")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, str]:
    return build_all(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def renders() -> dict[str, Media]:
    s = Studio()
    speech = s.speak("Well, that was a surprise.", "anger", seed=0)
    face = s.express(None, "joy", seed=0)
    image = s.image("a lake house at dawn", "joy", seed=0, engine="embedded")[0]
    return {"speech": speech.media(), "face": face.media(), "image": image.media()}


def get(name: str, tiny) -> object:
    return registry.get(name, tiny[name])


def one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert msg and "\n" not in msg
    return msg


# ---- layouts ---------------------------------------------------------------------------------------

def test_builder_writes_the_published_layouts(tiny, tmp_path, capsys):
    import onnx
    from safetensors import safe_open

    assert set(tiny) == set(NEURAL) and all(n in registry.RECOGNIZERS for n in NEURAL)
    for name in ("speech-er", "speech-msp-dim", "face-vit", "image-emotion"):
        assert {p.name for p in __import__("pathlib").Path(tiny[name]).iterdir()} == {
            "config.json", "model.safetensors", "preprocessor_config.json"}
    dim = json.loads(open(f"{tiny['speech-msp-dim']}/config.json").read())
    assert dim["architectures"] == ["EmotionModel"] and dim["id2label"] == {"0": "arousal", "1": "dominance", "2": "valence"}
    with safe_open(f"{tiny['speech-msp-dim']}/model.safetensors", "np") as f:
        keys = set(f.keys())
    assert {"classifier.dense.weight", "classifier.dense.bias", "classifier.out_proj.weight", "classifier.out_proj.bias",
            "wav2vec2.encoder.pos_conv_embed.conv.weight_g", "wav2vec2.encoder.pos_conv_embed.conv.weight_v"} <= keys
    m = onnx.load(f"{tiny['hsemotion']}/enet_b0_8_va_mtl.onnx")
    dims = lambda v: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]  # noqa: E731
    assert [(i.name, dims(i)) for i in m.graph.input] == [("input", ["batch_size", 3, 224, 224])]
    assert [(o.name, dims(o)) for o in m.graph.output] == [("output", ["batch_size", 10])]
    assert m.graph.node[-1].op_type == "Gemm"  # EmotiEffLib reads its classifier from the final Gemm
    from evals.tiny import main

    assert main([str(tmp_path), "--only", "hsemotion"]) == 0
    assert json.loads(capsys.readouterr().out) == {"hsemotion": str(tmp_path / "hsemotion")}


# ---- speech ----------------------------------------------------------------------------------------

def test_speech_er_maps_superb_codes_onto_core_labels(tiny, renders):
    rec = get("speech-er", tiny)
    r = rec.recognize(renders["speech"])
    assert r.kind == "perception" and r.recognizer == "speech-er"
    assert set(r.probs) == {"neutral", "joy", "anger", "sadness"}
    assert sum(r.probs.values()) == pytest.approx(1.0, abs=1e-9)
    raw = {k[len("class:"):]: v for k, v in r.measures.items() if k.startswith("class:")}
    assert list(raw) == ["neu", "hap", "ang", "sad"]
    assert r.probs["joy"] == pytest.approx(raw["hap"]) and r.probs["anger"] == pytest.approx(raw["ang"])
    expect = sum(raw[c] * np.array(anchor(l)) for c, l in zip(raw, ("neutral", "joy", "anger", "sadness")))
    assert (r.valence, r.arousal, r.dominance) == pytest.approx(tuple(expect))
    assert r.measures["seconds"] == pytest.approx(len(renders["speech"].audio) / renders["speech"].sample_rate)


def test_speech_is_resampled_to_the_extractors_rate(tiny, renders):
    from scipy.signal import resample_poly

    rec = get("speech-er", tiny)
    m = renders["speech"]
    a16 = resample_poly(m.audio, 320, 441).astype(np.float32)  # 22.05 kHz → 16 kHz
    a48 = resample_poly(a16, 3, 1).astype(np.float32)
    p16 = rec.class_probs(a16, 16000)
    np.testing.assert_allclose(rec.class_probs(m.audio, m.sample_rate), p16, atol=2e-3)
    np.testing.assert_allclose(rec.class_probs(a48, 48000), p16, atol=2e-3)
    clip = Media("video", frames=(np.zeros((8, 8, 3), np.uint8),), fps=25.0, audio=m.audio, sample_rate=m.sample_rate)
    assert rec.recognize(clip).probs == pytest.approx(rec.recognize(m).probs)
    with pytest.raises(StudioError, match="judges audio or video"):
        rec.recognize(Media.of_image(np.zeros((64, 64, 3), np.uint8)))
    with pytest.raises(StudioError, match="ms long"):
        rec.recognize(Media.of_audio(np.zeros(100, np.float32), 16000))


def test_speech_dim_head_loads_the_published_parameter_names(tiny, renders):
    import torch
    from safetensors.numpy import load_file

    rec = get("speech-msp-dim", tiny)
    r = rec.recognize(renders["speech"])
    assert r.probs == {} and r.kind == "perception"
    for d in ("valence", "arousal", "dominance"):
        assert getattr(r, d) == pytest.approx(float(np.clip(2 * r.measures[f"raw_{d}"] - 1, -1, 1)))
        assert -1 <= getattr(r, d) <= 1
    # the head recomputed from the file's own tensors: the weights landed where the names say
    sd = load_file(f"{tiny['speech-msp-dim']}/model.safetensors")
    np.testing.assert_array_equal(rec.model.wav2vec2.encoder.pos_conv_embed.conv.parametrizations.weight.original1.detach().numpy(),
                                  sd["wav2vec2.encoder.pos_conv_embed.conv.weight_v"])
    from evals.hf_folder import resample

    x = rec.extractor(resample(renders["speech"].audio, renders["speech"].sample_rate, 16000), sampling_rate=16000,
                      return_tensors="pt")["input_values"]
    with torch.no_grad():
        pooled = rec.model.wav2vec2(x)[0].mean(1)[0].numpy().astype(np.float64)
    h = np.tanh(sd["classifier.dense.weight"] @ pooled + sd["classifier.dense.bias"])
    y = sd["classifier.out_proj.weight"] @ h + sd["classifier.out_proj.bias"]
    assert [r.measures["raw_arousal"], r.measures["raw_dominance"], r.measures["raw_valence"]] == pytest.approx(list(y), abs=1e-4)


# ---- faces -----------------------------------------------------------------------------------------

def test_hsemotion_runs_the_published_preprocessing_on_the_face_crop(tiny, renders):
    import cv2
    import onnxruntime as ort

    from evals.face_crop import crop_rgb

    rec = get("hsemotion", tiny)
    r = rec.recognize(renders["face"])
    assert set(r.probs) == {"anger", "contempt", "disgust", "fear", "joy", "neutral", "sadness", "surprise"}
    assert sum(r.probs.values()) == pytest.approx(1.0, abs=1e-9)
    # EmotiEffLib's recipe written out independently: resize to 224, /255, ImageNet mean/std, NCHW
    crop = crop_rgb(renders["face"].image)
    x = cv2.resize(crop, (224, 224)).astype(np.float64) / 255
    x = ((x - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]).transpose(2, 0, 1)[None].astype(np.float32)
    out = ort.InferenceSession(str(rec.file), providers=["CPUExecutionProvider"]).run(["output"], {"input": x})[0][0]
    e = np.exp(out[:8] - out[:8].max())
    assert r.probs["contempt"] == pytest.approx(e[1] / e.sum(), abs=1e-5)
    assert r.probs["joy"] == pytest.approx(e[4] / e.sum(), abs=1e-5)   # Happiness, the fifth class
    assert r.valence == pytest.approx(float(np.clip(out[8], -1, 1)), abs=1e-5)
    assert r.arousal == pytest.approx(float(np.clip(out[9], -1, 1)), abs=1e-5)
    clip = Media("video", frames=(renders["face"].image, np.full((64, 64, 3), 90, np.uint8)), fps=25.0)
    assert rec.recognize(clip).measures["frames"] == 1.0  # the faceless frame is skipped
    with pytest.raises(StudioError) as e:
        rec.recognize(Media.of_image(np.full((128, 128, 3), 90, np.uint8)))
    assert "no face found" in one_line(e)


def test_hsemotion_seven_class_graph_has_no_contempt_and_anchor_va(tmp_path, renders):
    from evals.face_hsemotion import HSEmotionRecognizer

    rec = HSEmotionRecognizer(path=build_hsemotion(tmp_path, classes=7, seed=3))
    r = rec.recognize(renders["face"])
    assert "contempt" not in r.probs and len(r.probs) == 7 and not rec.has_va
    p = np.array([r.measures[f"class:{c}"] for c in rec.classes])
    assert (r.valence, r.arousal, r.dominance) == pytest.approx(tuple(p @ np.array([anchor(l) for l in (
        "anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")])))


def test_face_classifier_maps_fer_labels_and_keeps_unknown_ones(tiny, renders, tmp_path):
    from evals.face_classifier import FaceExpressionClassifier

    r = get("face-vit", tiny).recognize(renders["face"])
    assert set(r.probs) == {"anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"} and len(FER7) == 7
    assert sum(r.probs.values()) == pytest.approx(1.0, abs=1e-9)
    odd = FaceExpressionClassifier(path=build_image_classifier(tmp_path, ("happy", "sad", "squinty", "Neutral")))
    r = odd.recognize(renders["face"])
    assert set(r.probs) == {"joy", "sadness", "squinty", "neutral"}
    assert sum(r.probs.values()) == pytest.approx(1.0, abs=1e-9)
    known = np.array([r.probs["joy"], r.probs["sadness"], r.probs["neutral"]])
    expect = (known / known.sum()) @ np.array([anchor("joy"), anchor("sadness"), anchor("neutral")])
    assert r.valence == pytest.approx(expect[0]) and r.arousal == pytest.approx(expect[1])


# ---- images ----------------------------------------------------------------------------------------

def test_image_classifier_folds_emoset_classes_through_the_taxonomy(tiny, renders):
    rec = get("image-emotion", tiny)
    r = rec.recognize(renders["image"])
    raw = {k[len("class:"):]: v for k, v in r.measures.items() if k.startswith("class:")}
    assert set(raw) == set(EMOSET8) and sum(r.probs.values()) == pytest.approx(1.0, abs=1e-9)
    mix = {t: dict(label_map([t]).targets[0]) for t in EMOSET8}
    assert mix["awe"] == pytest.approx({"surprise": 0.7, "fear": 0.3})
    assert r.probs["joy"] == pytest.approx(sum(raw[t] * mix[t].get("joy", 0) for t in EMOSET8))
    assert r.probs["fear"] == pytest.approx(raw["fear"] + 0.3 * raw["awe"])
    other = Media.of_image(np.full((96, 128, 3), 30, np.uint8))
    batch = rec.recognize_batch([renders["image"], other])
    assert batch[0].probs == pytest.approx(r.probs) and batch[1].probs != pytest.approx(r.probs)


def test_clip_va_takes_a_path_and_media(tiny, renders):
    rec = get("clip-va", tiny)
    r = rec.recognize(renders["image"])
    assert r.kind == "perception" and -1 <= r.valence <= 1 and sum(r.probs.values()) == pytest.approx(1.0, abs=1e-5)
    assert rec.recognize_batch([renders["image"]])[0].valence == pytest.approx(r.valence, abs=1e-5)
    with pytest.raises(StudioError, match="clip-va=PATH"):
        registry.get("clip-va")


# ---- errors, caching, safety -------------------------------------------------------------------------

def test_wrong_layouts_and_missing_files_are_one_line_errors(tiny, tmp_path):
    from evals.face_hsemotion import HSEmotionRecognizer
    from evals.speech_classifier import SpeechEmotionClassifier
    from evals.speech_dim import SpeechDimensionalRecognizer

    with pytest.raises(StudioError) as e:
        SpeechEmotionClassifier(path=tmp_path / "nowhere")
    assert "does not exist" in one_line(e)
    with pytest.raises(StudioError) as e:  # the audEERING head is not an audio-classification head
        SpeechEmotionClassifier(path=tiny["speech-msp-dim"])
    assert "is not a transformers audio-classification checkpoint" in one_line(e)
    with pytest.raises(StudioError) as e:
        SpeechDimensionalRecognizer(path=tiny["speech-er"])
    assert "arousal" in one_line(e)
    pickled = tmp_path / "pickled"
    shutil.copytree(tiny["speech-er"], pickled)
    (pickled / "model.safetensors").rename(pickled / "pytorch_model.bin")
    with pytest.raises(StudioError) as e:
        SpeechEmotionClassifier(path=pickled)
    assert "pickled weights are never loaded" in one_line(e)
    (pickled / "pytorch_model.bin").unlink()
    shutil.copy(f"{tiny['speech-er']}/model.safetensors", pickled)
    (pickled / "preprocessor_config.json").unlink()
    with pytest.raises(StudioError) as e:
        SpeechEmotionClassifier(path=pickled)
    assert "missing preprocessor_config.json" in one_line(e)
    with pytest.raises(StudioError) as e:
        HSEmotionRecognizer(path=tiny["speech-er"])
    assert "holds 0 .onnx files" in one_line(e)
    with pytest.raises(StudioError) as e:  # an ONNX graph with the wrong output width
        HSEmotionRecognizer(path=build_hsemotion(tmp_path / "five", classes=5))
    assert "EmotiEffLib layout" in one_line(e)
    (tmp_path / "junk.onnx").write_bytes(b"not a protobuf")
    with pytest.raises(StudioError) as e:
        HSEmotionRecognizer(path=tmp_path / "junk.onnx")
    assert "cannot open" in one_line(e)


def test_registry_builds_one_instance_per_path(tiny, tmp_path):
    a = registry.get("speech-er", tiny["speech-er"])
    assert registry.get("speech-er", tiny["speech-er"]) is a
    other = build_speech_er(tmp_path / "er2", labels=("neu", "hap", "ang", "sad", "oth"), seed=1)
    b = registry.get("speech-er", str(other))
    assert b is not a and "oth" in b.labels.unknown


def test_nothing_is_unpickled(tiny, renders, monkeypatch):
    import pickle

    import torch

    from evals.face_classifier import FaceExpressionClassifier
    from evals.face_hsemotion import HSEmotionRecognizer
    from evals.image import ClipVARecognizer
    from evals.image_classifier import ImageEmotionClassifier
    from evals.speech_classifier import SpeechEmotionClassifier
    from evals.speech_dim import SpeechDimensionalRecognizer

    def refuse(*a, **k):
        raise AssertionError("unpickling attempted")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    for cls, name, media in ((SpeechEmotionClassifier, "speech-er", "speech"),
                             (SpeechDimensionalRecognizer, "speech-msp-dim", "speech"),
                             (HSEmotionRecognizer, "hsemotion", "face"), (FaceExpressionClassifier, "face-vit", "face"),
                             (ImageEmotionClassifier, "image-emotion", "image"), (ClipVARecognizer, "clip-va", "image")):
        cls(path=tiny[name]).recognize(renders[media])


def test_registry_weights_are_recorded_at_first_pull_and_verified(tiny, monkeypatch, tmp_path):
    """A registry model without a published hash: pulled through a url source (a local file), its hash is
    recorded in the lock file, the recognizer loads it by default, and a changed file is refused."""
    from evals.face_hsemotion import HSEmotionRecognizer

    monkeypatch.setenv("STUDIO_HOME", str(tmp_path))
    with pytest.raises(MissingWeights, match="studio weights pull hsemotion-enet-b0-va-mtl"):
        HSEmotionRecognizer()
    m = weights.model("hsemotion-enet-b0-va-mtl")
    assert m.files[0].sha256 == "" and weights.pin_state(m.name) == "unrecorded"
    src = f"{tiny['hsemotion']}/enet_b0_8_va_mtl.onnx"
    local = type(m)(m.name, m.medium, m.role, m.license, False, m.files, ({"url": "file://" + src},))
    table = dict(weights.models(), **{m.name: local})
    monkeypatch.setattr(weights, "models", lambda: table)
    weights.pull(m.name, log=lambda *_: None)
    lock = json.loads(weights.lock_path().read_text())
    assert lock[f"{m.name}/enet_b0_8_va_mtl.onnx"]["sha256"] == weights.sha256_of(__import__("pathlib").Path(src))
    assert weights.pin_state(m.name) == "recorded" and weights.status(m.name) == "ok"
    assert HSEmotionRecognizer().file == weights.store_dir() / m.name / "enet_b0_8_va_mtl.onnx"
    store_file = weights.store_dir() / m.name / "enet_b0_8_va_mtl.onnx"
    store_file.write_bytes(store_file.read_bytes() + b"\0")
    assert weights.status(m.name) == "corrupt"
    with pytest.raises(StudioError) as e:
        weights.path(m.name)
    assert "does not match the recorded" in one_line(e)


def test_weights_list_says_pinned_or_recorded(capsys):
    from studio.cli import main

    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    line = lambda name: next(l for l in out.splitlines() if l.startswith(name))  # noqa: E731
    assert "pinned" in line("face-landmarker")
    assert "NON-COMMERCIAL" in line("audeering-msp-dim") and "CC-BY-NC-SA-4.0" in line("audeering-msp-dim")
    assert any(s in line("superb-wav2vec2-base-er") for s in ("recorded", "unrecorded"))


def test_neural_recognizers_do_not_import_any_renderer():
    import ast
    from pathlib import Path

    import evals

    root = Path(evals.__file__).parent
    for name in ("label_map.py", "hf_folder.py", "speech_classifier.py", "speech_dim.py", "face_hsemotion.py",
                 "face_classifier.py", "image_classifier.py"):
        for node in ast.walk(ast.parse((root / name).read_text(encoding="utf-8"))):
            mods = ([a.name for a in node.names] if isinstance(node, ast.Import)
                    else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(m == "pipelines" or m.startswith("pipelines.") for m in mods), f"{name} imports {mods}"

"""Random-weight recognizer models in the publishers' exact on-disk layouts, for tests and benchmarks.

``python -m evals.tiny OUT`` writes one tiny model per neural recognizer under ``OUT/NAME/`` and prints
``{NAME: path}`` as JSON; ``--full`` builds them at the published sizes instead (slow; for timing).
Each folder loads through the same code a user's real download takes (``Class(path=OUT/NAME)``):

- speech-er: ``config.json`` + ``model.safetensors`` + ``preprocessor_config.json`` of a
  Wav2Vec2ForSequenceClassification with SUPERB's weighted layer sum and IEMOCAP's neu/hap/ang/sad;
- speech-msp-dim: the audEERING layout (``architectures: ["EmotionModel"]``, ``classifier.dense`` /
  ``classifier.out_proj``, id2label arousal/dominance/valence);
- hsemotion: ``enet_b0_8_va_mtl.onnx``, an EfficientNet-style graph (MBConv blocks with squeeze-excite,
  SiLU, a final Gemm) with the published input ``input`` [batch_size, 3, 224, 224] and output
  ``output`` [batch_size, 10];
- face-vit / image-emotion: ViT image classifiers with FER2013's 7 and EmoSet's 8 labels;
- clip-va: a CLIP model with its tokenizer and image processor.

Both wav2vec2 checkpoints store the positional convolution's weight norm under the names the published
files use (``weight_g`` / ``weight_v``, from the torch version they were saved with), so loading them
exercises the same key conversion the real downloads need. Every random choice comes from ``seed``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

IEMOCAP4 = ("neu", "hap", "ang", "sad")
FER7 = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
EMOSET8 = ("amusement", "anger", "awe", "contentment", "disgust", "excitement", "fear", "sadness")
DIMS = ("arousal", "dominance", "valence")

# Published architectures (the configs of the repos in weights/registry.toml): wav2vec2-base for SUPERB ER,
# wav2vec2-large-robust cut to 12 layers for audEERING, ViT-B/16 at 224 px, CLIP ViT-B/32.
W2V_BASE = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                conv_dim=(512,) * 7, num_conv_pos_embeddings=128, num_conv_pos_embedding_groups=16,
                feat_extract_norm="group", do_stable_layer_norm=False, use_weighted_layer_sum=True,
                classifier_proj_size=256)
W2V_LARGE_12 = dict(hidden_size=1024, num_hidden_layers=12, num_attention_heads=16, intermediate_size=4096,
                    conv_dim=(512,) * 7, num_conv_pos_embeddings=128, num_conv_pos_embedding_groups=16,
                    feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True, final_dropout=0.1)
W2V_TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                conv_dim=(32,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
VIT_B16 = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
               image_size=224, patch_size=16)
VIT_TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                image_size=32, patch_size=8)
# EfficientNet-B0 (Tan & Le 2019, Table 1): (expand ratio, kernel, stride, out channels, repeats) per stage.
ENET_B0 = dict(stem=32, head=1280, blocks=((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
                                           (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)))
ENET_TINY = dict(stem=8, head=32, blocks=((1, 3, 2, 8, 1), (2, 3, 2, 16, 1)))


def _labels(cfg_kw: dict, labels) -> dict:
    cfg_kw = dict(cfg_kw)
    cfg_kw["id2label"] = {i: l for i, l in enumerate(labels)}
    cfg_kw["label2id"] = {l: i for i, l in enumerate(labels)}
    return cfg_kw


def _legacy_weight_norm_names(folder: Path) -> None:
    """Rename torch's parametrised weight-norm keys to the weight_g / weight_v names the published files carry."""
    from safetensors.torch import load_file, save_file

    f = folder / "model.safetensors"
    sd = load_file(f)
    new = {k.replace("parametrizations.weight.original0", "weight_g").replace("parametrizations.weight.original1", "weight_v"): v
           for k, v in sd.items()}
    save_file(new, f, metadata={"format": "pt"})


def _w2v_extractor(attention_mask: bool):
    from transformers import Wav2Vec2FeatureExtractor

    return Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True,
                                    return_attention_mask=attention_mask)


def build_speech_er(folder: str | Path, labels=IEMOCAP4, full: bool = False, seed: int = 0) -> Path:
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2ForSequenceClassification

    folder = Path(folder)
    torch.manual_seed(seed)
    kw = W2V_BASE if full else dict(W2V_TINY, use_weighted_layer_sum=True, classifier_proj_size=16)
    cfg = Wav2Vec2Config(**_labels(kw, labels), architectures=["Wav2Vec2ForSequenceClassification"])
    Wav2Vec2ForSequenceClassification(cfg).save_pretrained(folder, safe_serialization=True)
    _legacy_weight_norm_names(folder)
    _w2v_extractor(False).save_pretrained(folder)
    return folder


def build_speech_dim(folder: str | Path, full: bool = False, seed: int = 0) -> Path:
    import torch
    from transformers import Wav2Vec2Config

    from evals.speech_dim import emotion_model_class

    folder = Path(folder)
    torch.manual_seed(seed)
    kw = W2V_LARGE_12 if full else dict(W2V_TINY, feat_extract_norm="layer", do_stable_layer_norm=True)
    cfg = Wav2Vec2Config(**_labels(kw, DIMS), architectures=["EmotionModel"], finetuning_task="wav2vec2_reg")
    emotion_model_class()(cfg).save_pretrained(folder, safe_serialization=True)
    _legacy_weight_norm_names(folder)
    _w2v_extractor(True).save_pretrained(folder)
    return folder


def build_image_classifier(folder: str | Path, labels, full: bool = False, seed: int = 0) -> Path:
    import torch
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    folder = Path(folder)
    torch.manual_seed(seed)
    kw = VIT_B16 if full else VIT_TINY
    cfg = ViTConfig(**_labels(kw, labels), architectures=["ViTForImageClassification"])
    ViTForImageClassification(cfg).save_pretrained(folder, safe_serialization=True)
    s = kw["image_size"]
    ViTImageProcessor(size={"height": s, "width": s}, image_mean=[0.5] * 3, image_std=[0.5] * 3).save_pretrained(folder)
    return folder


def build_clip(folder: str | Path, full: bool = False, seed: int = 0) -> Path:
    from pipelines.image.tiny import build_tiny_clip

    if not full:
        return build_tiny_clip(folder, seed=seed)
    import tempfile

    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    from pipelines.image.tiny import load_tokenizer, write_clip_tokenizer

    folder = Path(folder)
    with tempfile.TemporaryDirectory() as tmp:
        tok = load_tokenizer(write_clip_tokenizer(tmp))
    torch.manual_seed(seed)
    cfg = CLIPConfig(text_config=dict(vocab_size=49408, hidden_size=512, intermediate_size=2048, num_attention_heads=8,
                                      num_hidden_layers=12, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                                      pad_token_id=tok.pad_token_id),
                     vision_config=dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12,
                                        num_hidden_layers=12, image_size=224, patch_size=32),
                     projection_dim=512)
    CLIPModel(cfg).save_pretrained(folder, safe_serialization=True)
    CLIPProcessor(image_processor=CLIPImageProcessor(), tokenizer=tok).save_pretrained(folder)
    return folder


# ---- EfficientNet-style ONNX graph -------------------------------------------------------------

class _Graph:
    def __init__(self, rng: np.random.Generator):
        self.rng, self.nodes, self.inits, self.n = rng, [], [], 0

    def name(self, stem: str) -> str:
        self.n += 1
        return f"{stem}_{self.n}"

    def weight(self, shape, fan_in: int, scale: float = 1.0) -> str:
        from onnx import numpy_helper

        w = (self.rng.standard_normal(shape) * scale * np.sqrt(2.0 / max(1, fan_in))).astype(np.float32)
        n = self.name("w")
        self.inits.append(numpy_helper.from_array(w, n))
        return n

    def bias(self, c: int) -> str:
        from onnx import numpy_helper

        n = self.name("b")
        self.inits.append(numpy_helper.from_array(np.zeros(c, np.float32), n))
        return n

    def node(self, op: str, inputs: list[str], **attrs) -> str:
        from onnx import helper

        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def conv(self, x: str, c_in: int, c_out: int, k: int, stride: int = 1, groups: int = 1, scale: float = 1.0) -> str:
        # batch norm is folded into the convolution's bias, as the exported published graph has it
        w = self.weight((c_out, c_in // groups, k, k), (c_in // groups) * k * k, scale)
        p = k // 2
        return self.node("Conv", [x, w, self.bias(c_out)], kernel_shape=[k, k], strides=[stride, stride],
                         pads=[p, p, p, p], group=groups)

    def silu(self, x: str) -> str:
        return self.node("Mul", [x, self.node("Sigmoid", [x])])


def build_hsemotion(folder: str | Path, full: bool = False, classes: int = 10, size: int = 224, seed: int = 0,
                    file_name: str = "enet_b0_8_va_mtl.onnx") -> Path:
    """An EfficientNet-style ONNX classifier with EmotiEffLib's input/output names and shapes."""
    import onnx
    from onnx import TensorProto, helper

    from evals.face_hsemotion import INPUT, OUTPUT

    arch = ENET_B0 if full else ENET_TINY
    g = _Graph(np.random.default_rng(seed))
    x = g.silu(g.conv(INPUT, 3, arch["stem"], 3, 2))
    c = arch["stem"]
    for expand, k, stride, c_out, repeats in arch["blocks"]:
        for r in range(repeats):
            s = stride if r == 0 else 1
            mid = c * expand
            h = g.silu(g.conv(x, c, mid, 1)) if expand != 1 else x
            h = g.silu(g.conv(h, mid, mid, k, s, groups=mid))
            se = g.node("GlobalAveragePool", [h])
            se = g.silu(g.conv(se, mid, max(1, c // 4), 1))
            h = g.node("Mul", [h, g.node("Sigmoid", [g.conv(se, max(1, c // 4), mid, 1)])])
            h = g.conv(h, mid, c_out, 1, scale=0.5)
            x = g.node("Add", [x, h]) if s == 1 and c == c_out else h
            c = c_out
    x = g.silu(g.conv(x, c, arch["head"], 1))
    x = g.node("Flatten", [g.node("GlobalAveragePool", [x])], axis=1)
    w = g.weight((classes, arch["head"]), arch["head"])
    g.nodes.append(helper.make_node("Gemm", [x, w, g.bias(classes)], [OUTPUT], transB=1))
    graph = helper.make_graph(
        g.nodes, "enet_b0_8_va_mtl",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["batch_size", 3, size, size])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch_size", classes])], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)], producer_name="affect-studio tiny")
    model.ir_version = 7  # opset 11's IR, as the published torch export
    onnx.checker.check_model(model)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, folder / file_name)
    return folder


BUILDERS = {
    "speech-er": lambda d, full: build_speech_er(d, full=full),
    "speech-msp-dim": lambda d, full: build_speech_dim(d, full=full),
    "hsemotion": lambda d, full: build_hsemotion(d, full=full),
    "face-vit": lambda d, full: build_image_classifier(d, FER7, full=full),
    "image-emotion": lambda d, full: build_image_classifier(d, EMOSET8, full=full),
    "clip-va": lambda d, full: build_clip(d, full=full),
}


def build_all(out: str | Path, full: bool = False, names: list[str] | None = None) -> dict[str, str]:
    out = Path(out)
    return {n: str(BUILDERS[n](out / n, full)) for n in (names or list(BUILDERS))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evals.tiny", description=__doc__.splitlines()[0])
    ap.add_argument("out", help="folder to write OUT/NAME/ model folders into")
    ap.add_argument("--full", action="store_true", help="published sizes instead of tiny (random weights; slow)")
    ap.add_argument("--only", action="append", choices=list(BUILDERS), help="build only this recognizer (repeatable)")
    args = ap.parse_args(argv)
    from transformers.utils import logging as tlog

    tlog.disable_progress_bar()
    print(json.dumps(build_all(args.out, args.full, args.only), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

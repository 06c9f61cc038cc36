"""Diffusion engine on a tiny random Stable Diffusion pipeline built in code (CPU, 32 px, 2 steps, no network)."""
from __future__ import annotations

import builtins
import json
import shutil
import warnings

import numpy as np
import pytest
import torch

from pipelines.image.diffusion import DiffusionEngine, DiffusionOptions, PromptTruncated
from pipelines.image.loading import apply_attention, choose_attention
from pipelines.image.tiny import build_tiny_sd
from studio.affect import Affect, image_plan
from studio import Studio, spine
from studio.errors import StudioError
from studio.requests import ImageRequest

generate = Studio().image

SIZE, STEPS = 32, 2
PROMPTS = ["a lake house at dawn", "a city street"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny_sd")
    build_tiny_sd(d)
    return d


@pytest.fixture(scope="module")
def engine(folder):
    return DiffusionEngine(weights=folder, device="cpu")


def _plain(pipe, prompts, seeds, output_type):
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    return pipe(prompt=prompts, num_inference_steps=STEPS, height=SIZE, width=SIZE, generator=gens,
                output_type=output_type).images


def _ours(engine, plans, seeds, output_type, **kw):
    return engine.generate_batch(PROMPTS[: len(plans)], plans, seeds, width=SIZE, height=SIZE,
                                 opts=DiffusionOptions(steps=STEPS, **kw), output_type=output_type)


def test_neutral_is_exact_noop(engine):
    neutral = [image_plan(Affect.neutral()), image_plan(Affect.of("joy", 0.0))]
    lat = _ours(engine, neutral, [3, 4], "latent")
    assert torch.equal(torch.stack(lat), _plain(engine.pipe, PROMPTS, [3, 4], "latent"))
    px = _ours(engine, neutral, [3, 4], "np")
    plain = (np.clip(_plain(engine.pipe, PROMPTS, [3, 4], "np"), 0, 1) * 255 + 0.5).astype(np.uint8)
    assert np.array_equal(np.stack(px), plain)


def test_affect_changes_latents(engine):
    lat = _ours(engine, [image_plan(Affect.of("anger", 1.0))] * 2, [3, 4], "latent")
    plain = _plain(engine.pipe, PROMPTS, [3, 4], "latent")
    assert (lat[0] - plain[0]).abs().max() > 1e-3


def test_embeddings_move_monotonically_with_intensity(engine):
    pe, _, _, _ = engine.encode(PROMPTS[:1], cfg=False)
    norms, dirs = [], []
    for k in (0.0, 0.25, 0.5, 1.0, 1.5):
        e, _ = engine.condition(pe, None, [image_plan(Affect.of("fear", k))], PROMPTS[:1])
        d = (e - pe).flatten()
        norms.append(float(d.norm()))
        dirs.append(d)
    assert norms[0] == 0.0 and all(a < b for a, b in zip(norms, norms[1:]))
    cos = torch.nn.functional.cosine_similarity(dirs[1], dirs[-1], dim=0)
    assert cos > 0.999  # one direction, growing length
    # mirrored affect, mirrored residual (linear in VAD)
    e_pos, _ = engine.condition(pe, None, [image_plan(Affect.from_vad(0.6, 0.4, 0.1))], PROMPTS[:1])
    e_neg, _ = engine.condition(pe, None, [image_plan(Affect.from_vad(-0.6, -0.4, -0.1))], PROMPTS[:1])
    assert torch.allclose(e_pos - pe, -(e_neg - pe), atol=1e-5)
    # the prompt's own tokens (start token and content) are never touched; the residual starts at end-of-text
    (eos,) = engine.eos_positions(PROMPTS[:1])
    assert eos == len(engine.pipe.tokenizer(PROMPTS[0]).input_ids) - 1
    assert torch.equal(e_pos[:, :eos], pe[:, :eos]) and not torch.equal(e_pos[:, eos], pe[:, eos])


def _valence_separation(engine, d, anchors) -> float:
    """Projection of each anchor's end-of-text embedding tail (minus the neutral phrase's) onto the fitted
    valence direction: mean over high-valence anchors minus mean over low-valence ones, in units of the
    projections' spread."""
    from pipelines.image.directions import NEUTRAL_WORD, TEMPLATE

    phrases = [p for p, _ in anchors]
    valence = np.array([v[0] for _, v in anchors])
    neutral = TEMPLATE.format(NEUTRAL_WORD)
    emb, _, _, _ = engine.encode(phrases, cfg=False)
    n_emb, _, _, _ = engine.encode([neutral], cfg=False)
    k = d.tokens.shape[1]
    (n_eos,) = engine.eos_positions([neutral])
    tails = torch.stack([emb[i, e:e + k] - n_emb[0, n_eos:n_eos + k]
                         for i, e in enumerate(engine.eos_positions(phrases))]).reshape(len(phrases), -1)
    w = d.tokens[0].reshape(-1)
    proj = (tails.float() @ (w / w.norm())).numpy()
    high, low = proj[valence > 0.4], proj[valence < -0.4]
    assert len(high) >= 5 and len(low) >= 5
    return float((high.mean() - low.mean()) / proj.std())


def test_directions_separate_anchor_valence(engine):
    from pipelines.image.directions import anchor_phrases, fit_directions

    anchors = anchor_phrases()
    assert len(anchors) >= 30
    d = engine.directions()
    assert d.tokens.shape[0] == 3 and d.n_anchors == len(anchors)
    # the fitted valence direction puts pleasant anchors (joy, love …) above unpleasant ones (anger, grief …)
    real = _valence_separation(engine, d, anchors)
    assert real > 0.5
    # control: the same fit with the VAD rows shuffled across phrases separates nothing like as well
    def enc(phrases):
        pe, _, pooled, _ = engine.encode(phrases, cfg=False)
        return pe, pooled

    perm = np.random.default_rng(0).permutation(len(anchors))
    shuffled = [(anchors[i][0], anchors[j][1]) for i, j in enumerate(perm)]
    assert _valence_separation(engine, fit_directions(enc, engine.eos_positions, shuffled), anchors) < real - 0.5


def test_mixed_affect_batch_matches_uniform_batches(engine):
    anger, neutral = image_plan(Affect.of("anger", 1.0)), image_plan(Affect.neutral())
    mixed = _ours(engine, [anger, neutral], [5, 6], "latent")
    all_anger = _ours(engine, [anger, anger], [5, 6], "latent")
    all_neutral = _ours(engine, [neutral, neutral], [5, 6], "latent")
    assert torch.allclose(mixed[0], all_anger[0], atol=1e-5)
    assert torch.allclose(mixed[1], all_neutral[1], atol=1e-5)
    assert not torch.allclose(mixed[0], mixed[1])


def test_generate_batch_through_weights_folder(folder, tmp_path):
    res = spine.render_many([
        ImageRequest(prompt=p, affect=a, seed=s, width=SIZE, height=SIZE, engine="diffusion",
                     engine_options={"weights": str(folder)}, options={"steps": STEPS})
        for p, a, s in zip(["a lake", "a lake", "a city"], [Affect.of("joy", 1.0), Affect.neutral(), "sadness"], [0, 0, 1])])
    assert [r.image.shape for r in res] == [(SIZE, SIZE, 3)] * 3
    assert not np.array_equal(res[0].image, res[1].image)
    assert res[2].engine == "diffusion" and res[2].info["attention"] == "sdpa"
    # the neutral item equals plain diffusers loaded independently from the same folder
    from diffusers import StableDiffusionPipeline

    plain = StableDiffusionPipeline.from_pretrained(folder, local_files_only=True, use_safetensors=True)
    plain.set_progress_bar_config(disable=True)
    ref = _plain(plain, ["a lake", "a lake", "a city"], [0, 0, 1], "np")
    assert np.array_equal(res[1].image, (np.clip(ref[1], 0, 1) * 255 + 0.5).astype(np.uint8))


def test_cli_with_weights_path(folder, tmp_path):
    from studio.cli import main
    from studio.media import png_meta

    out = tmp_path / "x.png"
    rc = main(["image", "a lake house at dawn", "--engine", "diffusion", "--weights", str(folder), "--emotion", "awe",
               "--width", str(SIZE), "--height", str(SIZE), "--steps", str(STEPS), "-n", "2", "-o", str(out)])
    assert rc == 0
    meta = png_meta(tmp_path / "x-1.png")
    assert meta["engine"] == "diffusion" and meta["seed"] == "1"
    assert json.loads(meta["studio"])["steps"] == STEPS


def test_img2img_init(folder, tmp_path):
    from PIL import Image

    from studio.media import default_portrait

    src = tmp_path / "init.png"
    Image.fromarray(default_portrait()[::8, ::8]).save(src)
    res = generate("a portrait", Affect.of("joy", 1.0), engine="diffusion", weights=str(folder), init=str(src),
                   width=SIZE, height=SIZE, steps=4, strength=0.5)
    assert res[0].image.shape == (SIZE, SIZE, 3) and res[0].info["init"]


def test_xformers_absent_falls_back_to_sdpa(engine, monkeypatch):
    real_import = builtins.__import__

    def no_xformers(name, *a, **k):
        if name.split(".")[0] == "xformers":
            raise ImportError("simulated: xformers not installed")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_xformers)
    assert choose_attention("cuda") == "sdpa"
    with pytest.warns(UserWarning, match="xformers"):
        assert choose_attention("cuda", "xformers") == "sdpa"
    assert choose_attention("cpu") == "sdpa"
    from diffusers.models.attention_processor import AttnProcessor2_0

    assert apply_attention(engine.pipe, "sdpa") == "sdpa"
    assert all(isinstance(p, AttnProcessor2_0) for p in engine.pipe.unet.attn_processors.values())
    out = _ours(engine, [image_plan(Affect.of("joy"))], [0], "np")
    assert out[0].shape == (SIZE, SIZE, 3)


def test_long_prompt_warns_with_limit(engine):
    with pytest.warns(PromptTruncated, match="77"):
        engine.check_prompt("a lake house at dawn " * 40)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PromptTruncated)
        engine.check_prompt("a lake house at dawn")


def test_bad_weights_are_one_line_errors(folder, tmp_path):
    def err(weights):
        with pytest.raises(StudioError) as e:
            generate("x", Affect.of("joy"), engine="diffusion", weights=str(weights), width=SIZE, height=SIZE, steps=1)
        assert "\n" not in str(e.value)
        return str(e.value)

    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no model_index.json" in err(empty)
    partial = tmp_path / "partial"
    shutil.copytree(folder, partial)
    shutil.rmtree(partial / "unet")
    assert "missing component" in err(partial) and "unet" in err(partial)
    other = tmp_path / "other"
    other.mkdir()
    (other / "model_index.json").write_text(json.dumps({"_class_name": "FluxPipeline"}))
    assert "Stable Diffusion" in err(other)
    assert "Hugging Face cache" in err("nobody/no-such-model")
    assert "a file" in err(folder / "model_index.json")
    assert "do not exist" in err(tmp_path / "nowhere")
    pickled = tmp_path / "pickled"
    shutil.copytree(folder, pickled)
    for f in (pickled / "unet").glob("*.safetensors"):
        f.unlink()
    assert "cannot load" in err(pickled)
    with pytest.raises(StudioError, match="needs --weights"):
        generate("x", Affect.of("joy"), engine="diffusion")


@pytest.fixture(scope="module")
def xl_engine(tmp_path_factory):
    from pipelines.image.tiny import build_tiny_sdxl

    d = tmp_path_factory.mktemp("tiny_sdxl")
    build_tiny_sdxl(d)
    return DiffusionEngine(weights=d, device="cpu")


def test_sdxl_noop_and_pooled_residual(xl_engine):
    neutral = [image_plan(Affect.neutral())]
    ours = xl_engine.generate_batch(["a lake"], neutral, [0], width=SIZE, height=SIZE,
                                    opts=DiffusionOptions(steps=STEPS), output_type="latent")
    plain = xl_engine.pipe(prompt=["a lake"], num_inference_steps=STEPS, width=SIZE, height=SIZE,
                           generator=[torch.Generator().manual_seed(0)], output_type="latent").images
    assert torch.equal(ours[0], plain[0])
    pe, _, pooled, _ = xl_engine.encode(["a lake"], cfg=False)
    assert pooled is not None
    moves = []
    for k in (0.0, 0.5, 1.0):
        e, p = xl_engine.condition(pe, pooled, [image_plan(Affect.of("sadness", k))], ["a lake"])
        moves.append((float((e - pe).norm()), float((p - pooled).norm())))
    assert moves[0] == (0.0, 0.0) and moves[0] < moves[1] and moves[1][0] < moves[2][0] and moves[1][1] < moves[2][1]
    mixed = xl_engine.generate_batch(["a lake"] * 2, [image_plan(Affect.of("joy", 1.0)), neutral[0]], [0, 0],
                                     width=SIZE, height=SIZE, opts=DiffusionOptions(steps=STEPS), output_type="latent")
    assert not torch.allclose(mixed[0], mixed[1])


def test_descriptor_weaving_and_option_errors(engine):
    from pipelines.image.diffusion import woven_prompt

    joy = image_plan(Affect.of("joy", 1.0))
    woven = woven_prompt("a lake house", joy, True)
    assert woven.startswith("a lake house, ") and "joyful" in woven and joy.lighting in woven
    assert woven_prompt("a lake house", joy, False) == "a lake house"
    assert woven_prompt("a lake house", image_plan(Affect.neutral()), True) == "a lake house"
    out = _ours(engine, [joy], [0], "np", descriptors=True)
    assert out[0].shape == (SIZE, SIZE, 3)
    with pytest.raises(StudioError, match="multiple of 8"):
        engine.generate_batch(["x"], [joy], [0], width=30, height=32, opts=DiffusionOptions(steps=1))
    with pytest.raises(StudioError, match="steps"):
        engine.generate_batch(["x"], [joy], [0], width=32, height=32, opts=DiffusionOptions(steps=0))
    with pytest.raises(StudioError, match="strength"):
        engine.generate_batch(["x"], [joy], [0], width=32, height=32, init=[np.zeros((32, 32, 3), np.uint8)],
                              opts=DiffusionOptions(steps=1, strength=1.5))


def test_low_memory_options_keep_the_picture(engine, folder):
    lean = DiffusionEngine(weights=folder, device="cpu", attention_slicing=True, vae_slicing=True)
    assert lean.pipe.vae.use_slicing
    assert any(type(p).__name__.startswith("Sliced") for p in lean.pipe.unet.attn_processors.values())
    plans = [image_plan(Affect.of("joy", 1.0)), image_plan(Affect.of("fear", 1.0))]
    a = _ours(lean, plans, [1, 2], "latent")
    b = _ours(engine, plans, [1, 2], "latent")
    assert torch.allclose(torch.stack(a), torch.stack(b), atol=1e-4)


def test_repo_id_resolves_from_the_hf_cache_layout_without_a_hub_client(folder, tmp_path, monkeypatch):
    from pipelines.image.loading import check_folder, resolve

    cache = tmp_path / "hub"
    repo = cache / "models--acme--tiny-sd"
    shutil.copytree(folder, repo / "snapshots" / "0123abcd")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd\n")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    snap = resolve("acme/tiny-sd")
    assert snap == repo / "snapshots" / "0123abcd" and "StableDiffusion" in check_folder(snap)["_class_name"]
    with pytest.raises(StudioError, match=r"acme/absent is not in the Hugging Face cache .* `hf download acme/absent`"):
        resolve("acme/absent")

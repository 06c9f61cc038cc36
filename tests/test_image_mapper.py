"""The learnable emotion mapping network: exact neutral no-op, safetensors save/load/resume, real training."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pipelines.image.mapper import EmotionMapper, MapperConfig, load_checkpoint, save_checkpoint
from pipelines.image.tiny import build_tiny_sd
from pipelines.image.train import read_records, train_mapper
from studio.errors import StudioError


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny_sd_mapper")
    build_tiny_sd(d)
    return d


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Eight synthetic records: warm bright images rated pleasant, dark cold ones unpleasant."""
    from PIL import Image

    d = tmp_path_factory.mktemp("va_data")
    rng = np.random.default_rng(0)
    lines = []
    for i in range(8):
        v = 0.8 if i % 2 == 0 else -0.8
        a = float(np.round(rng.uniform(-1, 1), 2))
        base = np.array([230, 180, 60] if v > 0 else [30, 40, 90], np.float32)
        img = np.clip(base + rng.normal(0, 20, (40, 48, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(d / f"img{i}.png")
        lines.append(json.dumps({"file_name": f"img{i}.png", "prompt": "a lake house", "valence": v, "arousal": a}))
    (d / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    return d


def _random_mapper(dim=32, seed=1) -> EmotionMapper:
    torch.manual_seed(seed)
    m = EmotionMapper(MapperConfig(dim=dim, hidden=32, heads=4, layers=1))
    torch.nn.init.normal_(m.out.weight, std=0.1)  # as if trained: a non-zero output layer
    return m.eval()


def test_neutral_va_gives_exactly_zero_residual():
    m = _random_mapper()
    emb = torch.randn(3, 77, 32)
    va = torch.tensor([[0.0, 0.0], [0.7, -0.2], [-0.5, 0.9]])
    with torch.no_grad():
        res = m(emb, va)
    assert torch.count_nonzero(res[0]) == 0
    assert res[1].abs().max() > 1e-4 and res[2].abs().max() > 1e-4


def test_save_load_roundtrip(tmp_path):
    m = _random_mapper()
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    m(torch.randn(1, 77, 32), torch.tensor([[0.5, 0.5]])).sum().backward()
    opt.step()
    p = save_checkpoint(tmp_path / "m.safetensors", m, opt, epoch=3, history=[1.0, 0.5, 0.25])
    m2, state, opt_state = load_checkpoint(p)
    emb, va = torch.randn(2, 77, 32), torch.tensor([[0.3, -0.6], [-0.9, 0.1]])
    with torch.no_grad():
        assert torch.equal(m(emb, va), m2(emb, va))
    assert state["epoch"] == 3 and state["history"] == [1.0, 0.5, 0.25]
    opt2 = torch.optim.AdamW(m2.parameters(), lr=1e-3)
    opt2.load_state_dict(opt_state)
    assert torch.equal(opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    # safetensors only: the file starts with a little-endian header length, then JSON
    raw = p.read_bytes()
    assert raw[8:9] == b"{"
    (tmp_path / "junk.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(StudioError, match="not a readable safetensors"):
        load_checkpoint(tmp_path / "junk.safetensors")


def test_read_records_validates(tmp_path, dataset):
    recs = read_records(dataset)
    assert len(recs) == 8 and recs[0].valence == 0.8
    (tmp_path / "metadata.csv").write_text("file_name,prompt,valence,arousal\nnone.png,x,0.1,0.2\n")
    with pytest.raises(StudioError, match="does not exist"):
        read_records(tmp_path)
    (tmp_path / "metadata.csv").write_text(f"file_name,prompt,valence,arousal\n{dataset / 'img0.png'},x,2.5,0.2\n")
    with pytest.raises(StudioError, match=r"\[-1, 1\]"):
        read_records(tmp_path)


def test_training_learns_and_resume_matches_uninterrupted(folder, dataset, tmp_path):
    from pipelines.image.loading import load_pipeline

    pipe = load_pipeline(folder, "cpu")
    kw = dict(pipe=pipe, batch_size=4, lr=1e-3, resolution=32, hidden=32, layers=1, seed=3)
    full = train_mapper(dataset, tmp_path / "full.safetensors", epochs=2, **kw)
    assert len(full["history"]) == 2 and all(np.isfinite(full["history"]))
    part = train_mapper(dataset, tmp_path / "part.safetensors", epochs=1, **kw)
    resumed = train_mapper(dataset, tmp_path / "part.safetensors", epochs=1, resume=tmp_path / "part.safetensors", **kw)
    assert resumed["history"][0] == part["history"][0] and len(resumed["history"]) == 2
    a, sa, _ = load_checkpoint(tmp_path / "full.safetensors")
    b, sb, _ = load_checkpoint(tmp_path / "part.safetensors")
    assert sa["epoch"] == sb["epoch"] == 2
    for (n, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.allclose(x, y, atol=1e-6), n
    assert a.out.weight.abs().max() > 0  # training moved the zero-initialised output layer

    # the trained mapper plugs into generation and keeps the neutral no-op
    from pipelines.image.diffusion import DiffusionEngine
    from studio.affect import Affect, image_plan

    eng = DiffusionEngine(pipe=pipe, mapper=str(tmp_path / "full.safetensors"))
    pe, _, _, _ = eng.encode(["a lake house"], cfg=False)
    e0, _ = eng.condition(pe, None, [image_plan(Affect.neutral())], ["a lake house"])
    e1, _ = eng.condition(pe, None, [image_plan(Affect.of("joy", 1.0))], ["a lake house"])
    assert torch.equal(e0, pe) and not torch.equal(e1, pe)


def test_cli_train_and_use(folder, dataset, tmp_path, capsys):
    from studio.cli import main

    out = tmp_path / "cli.safetensors"
    assert main(["train", "image-mapper", str(dataset), "--weights", str(folder), "--out", str(out), "--epochs", "1",
                 "--resolution", "32", "--batch-size", "8"]) == 0
    assert "epoch 1: denoising loss" in capsys.readouterr().out
    _, state, _ = load_checkpoint(out)
    assert state["epoch"] == 1 and state["records"] == 8
    img = tmp_path / "m.png"
    assert main(["image", "a lake", "--engine", "diffusion", "--weights", str(folder), "--mapper", str(out),
                 "--emotion", "joy", "--width", "32", "--height", "32", "--steps", "2", "-o", str(img)]) == 0
    assert img.exists()
    assert main(["train", "image-mapper", str(tmp_path / "nowhere"), "--weights", str(folder)]) == 2

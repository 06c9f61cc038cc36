"""Dataset inputs that used to crash mid-render, corrupt a dataset or escape its folder (issue: hardening).
Each is now refused up front with one line, nothing rendered, nothing written outside the output folder."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from studio.cli import main  # noqa: E402
from studio.datasets.spec import load_spec, upper_bound  # noqa: E402
from studio.errors import StudioError  # noqa: E402

IMAGE = '[[grid]]\nmedium = "image"\nprompts = ["a calm lake"]\nwidth = 64\nheight = 64\n'


def _render_fails(tmp_path: Path, capsys, spec: str, *words: str) -> str:
    p = tmp_path / "spec.toml"
    p.write_text(spec)
    out = tmp_path / "out"
    assert main(["render", str(p), "-o", str(out)]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith("studio: error: "), err
    assert all(w in err[0] for w in words), err[0]
    assert not out.exists(), "nothing may be rendered or written for a spec refused up front"
    return err[0]


@pytest.mark.parametrize("seeds, words", [
    ("[99999999999999999999]", ("line 6", "2^63-1")),
    ("[-5]", ("line 6", "seed -5")),
    ('["1"]', ("line 6", "whole number")),
    ("[1.5]", ("line 6", "whole number")),
])
def test_seeds_outside_the_range_are_refused_when_the_spec_is_read(tmp_path, capsys, seeds, words):
    _render_fails(tmp_path, capsys, IMAGE + f"seeds = {seeds}\n", *words)


def test_dataset_seed_plus_seed_count_past_the_range_is_refused(tmp_path, capsys):
    spec = f"[dataset]\nseed = {2**63 - 2}\n" + IMAGE + "seeds = 3\n"
    _render_fails(tmp_path, capsys, spec, "2^63-1", "dataset.seed")


@pytest.mark.parametrize("key, value, words", [
    ("portraits", "[3]", ("portraits", "text")),
    ("width", '"512"', ("width", "whole number")),
    ("intensities", "[2]", ("intensity", "[0, 1.5]")),
    ("intensities", '["high"]', ("intensit", "number")),
    ("engine", "3", ("engine", "text")),
])
def test_every_key_has_its_type_checked_with_its_line(tmp_path, capsys, key, value, words):
    medium = "face" if key == "portraits" else "image"
    body = f'[[grid]]\nmedium = "{medium}"\n' + ('prompts = ["x"]\n' if medium == "image" else "") + f"{key} = {value}\n"
    line = body.count("\n")
    _render_fails(tmp_path, capsys, body, f"line {line}", *words)


def test_dataset_table_text_keys_must_be_text(tmp_path, capsys):
    _render_fails(tmp_path, capsys, "[dataset]\nname = 7\n" + IMAGE, "name", "text")


def _two_image_dataset(tmp_path: Path) -> tuple[Path, Path]:
    spec = tmp_path / "spec.toml"
    spec.write_text(IMAGE + "seeds = 2\n")
    out = tmp_path / "ds" / "out"
    assert main(["render", str(spec), "-o", str(out)]) == 0
    return spec, out


def test_a_tampered_journal_row_cannot_point_outside_the_dataset(tmp_path, capsys, caplog):
    spec, out = _two_image_dataset(tmp_path)
    journal = out / "manifest.jsonl"
    rows = [json.loads(ln) for ln in journal.read_text().splitlines()]
    victim = tmp_path / "ds" / "victim"
    victim.mkdir()
    (victim / "x.png").write_bytes((out / rows[0]["file"]).read_bytes())  # same bytes: sha256 and size match
    (out / rows[0]["file"]).unlink()
    rows[0]["file"] = "../victim/x.png"
    journal.write_text("".join(json.dumps(r) + "\n" for r in rows))
    capsys.readouterr()

    assert main(["render", str(spec), "-o", str(out), "--resume"]) == 0
    cap = capsys.readouterr()
    said = caplog.text + cap.err
    assert "manifest.jsonl line 1" in said and "not a file inside" in said
    assert sorted(p.name for p in victim.iterdir()) == ["x.png"], "nothing may be written beside the victim"
    assert not (tmp_path / "ds" / "metadata.csv").exists()
    done = [json.loads(ln) for ln in journal.read_text().splitlines()]
    assert len(done) == 2 and all(not r["file"].startswith("..") and (out / r["file"]).is_file() for r in done)
    assert "1 rendered, 1 already done" in cap.out + cap.err  # the refused row's item was rendered again, inside the folder


def test_eval_refuses_a_manifest_path_outside_the_folder(tmp_path, capsys):
    import pandas as pd

    from studio.datasets.evaluate import iter_evaluate

    _, out = _two_image_dataset(tmp_path)
    df = pd.read_parquet(out / "manifest.parquet")
    df.loc[0, "file"] = "/etc/passwd"
    df.to_parquet(out / "manifest.parquet")
    results = list(iter_evaluate(out, recognizers=["image-stats"]))
    bad = next(r for r in results if r["file"] == "/etc/passwd")
    assert bad["recognitions"] == [] and "not a file inside" in bad["errors"][0]
    good = next(r for r in results if r["file"] != "/etc/passwd")
    assert good["recognitions"] and not good["errors"]


def test_the_web_demo_refuses_a_huge_grid_from_its_list_lengths(monkeypatch):
    from ui.tabs import dataset

    def boom(*a, **k):
        raise AssertionError("the spec was loaded: a huge paste must be refused before any work")

    monkeypatch.setattr("studio.datasets.spec.load_spec", boom)
    huge = IMAGE.replace('["a calm lake"]', "[" + ",".join(f'"p{i}"' for i in range(1000)) + "]") + "seeds = 1000\n"
    with pytest.raises(StudioError, match=r"up to 1,000,000 items"):
        dataset.check_spec(huge)
    with pytest.raises(StudioError, match="characters"):
        dataset.check_spec(IMAGE + "# " + "x" * 30_000 + "\n")


def test_upper_bound_is_at_least_the_real_count():
    spec = IMAGE + 'emotions = ["joy", "anger", "0.5,0.5,0"]\nintensities = [0.5, 1.0]\nseeds = 4\n' \
        '[[item]]\nmedium = "image"\nprompt = "x"\nemotion = [0.1, 0.2, 0.0]\n'
    import tomllib

    assert upper_bound(tomllib.loads(spec)) == 3 * 2 * 4 + 1 == len(load_spec(spec))


def test_a_tampered_anchor_cache_is_rebuilt_not_trusted(tmp_path, monkeypatch):
    from studio import derived

    monkeypatch.setattr("studio.weights.store_dir", lambda: tmp_path)
    calls = []

    def build():
        calls.append(1)
        return {"embeddings": np.arange(6, dtype=np.float32).reshape(2, 3)}

    a = derived.cached("anchors", {"phrases": "x", "model": "m"}, build)
    b = derived.cached("anchors", {"phrases": "x", "model": "m"}, build)
    assert len(calls) == 1 and np.array_equal(a["embeddings"], b["embeddings"])
    p = derived.cache_path("anchors", {"phrases": "x", "model": "m"})
    poisoned = {"embeddings": np.full((2, 3), 99.0, dtype=np.float32)}
    import io

    buf = io.BytesIO()
    np.savez(buf, **poisoned)
    p.write_bytes(buf.getvalue())  # a valid .npz of the right shape, but not what was recorded
    c = derived.cached("anchors", {"phrases": "x", "model": "m"}, build)
    assert len(calls) == 2 and np.array_equal(c["embeddings"], a["embeddings"])
    assert derived.cache_path("anchors", {"phrases": "x", "model": "other"}) != p  # new weights, new cache


def test_a_talking_head_text_past_the_frame_budget_is_refused_when_the_spec_is_read(tmp_path, capsys):
    long = "We walked along the river and talked about the summer. " * 12
    spec = f'[[grid]]\nmedium = "face"\nmode = "talk"\nemotions = ["joy", "sadness"]\ntexts = ["Hi.", "{long}"]\n'
    _render_fails(tmp_path, capsys, spec, "line 5", "characters", "split it")
    ok = load_spec(spec.replace("texts", "size = 256\ntexts"))  # a smaller clip fits the same budget
    assert len(ok) == 4

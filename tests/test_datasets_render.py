"""Rendering real datasets with the embedded engines: manifest, card, HF folder metadata, determinism across
worker processes, kill -9 + resume equivalence, a simulated full disk, and the back-classification report."""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from studio.datasets import evaluate, iter_render, load_manifest, load_spec, render
from studio.errors import StudioError
from studio.weights import sha256_of

pytest.importorskip("pipelines.speech")
pytest.importorskip("pipelines.image")
HAS_FACE = True
try:
    import pipelines.face  # noqa: F401
except ModuleNotFoundError:
    HAS_FACE = False

SPEC = """
[dataset]
name = "tiny"
license = "CC0-1.0"

[[grid]]
medium = "speech"
texts = ["Hi there."]
emotions = ["neutral", "joy", "sadness"]
intensities = [0.5, 1.0]

[[grid]]
medium = "image"
prompts = ["a house"]
emotions = ["neutral", "joy", "sadness", "anger"]
intensities = [0.5, 1.0]
width = 96
height = 96
"""
FACE = """
[[grid]]
medium = "face"
emotions = ["neutral", "joy"]

[[item]]
medium = "face"
mode = "talk"
text = "Hello there."
emotion = "joy"
size = 128
"""
SPEC_TEXT = SPEC + (FACE if HAS_FACE else "")
N_ITEMS = 5 + 7 + (3 if HAS_FACE else 0)
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}


def _stray(d: Path) -> list[Path]:
    """Temporary files of atomic writes (the render's lock file is expected)."""
    return [p for p in d.rglob(".*") if p.is_file() and p.name != ".render.lock"]


def _frame(d: Path) -> pd.DataFrame:
    return pd.read_parquet(d / "manifest.parquet")


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("spec") / "tiny.toml"
    p.write_text(SPEC_TEXT)
    return p


@pytest.fixture(scope="module")
def clean(spec_file, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clean") / "ds"
    s = render(spec_file, out)
    assert s.rendered == N_ITEMS and s.skipped == 0
    return out


@pytest.fixture(scope="module")
def evaluated(clean):
    return evaluate(clean)


def test_manifest_has_every_request_field_plan_and_hash(clean):
    m = _frame(clean)
    assert len(m) == N_ITEMS and m["id"].is_unique and list(m["index"]) == list(range(N_ITEMS))
    for col in ("id", "medium", "mode", "file", "emotion", "intensity", "label", "valence", "arousal", "dominance",
                "text", "prompt", "portrait", "seed", "engine", "options", "affect", "plan", "sha256", "bytes"):
        assert col in m.columns, col
    for r in m.to_dict("records"):
        f = clean / r["file"]
        assert f.is_file() and f.stat().st_size == r["bytes"] and sha256_of(f) == r["sha256"]
        assert r["id"] in f.name
        assert isinstance(json.loads(r["plan"]), dict)
    speech = m[m["medium"] == "speech"]
    assert (speech["duration_s"] > 0.2).all()
    joy_plan = json.loads(speech[(speech["label"] == "joy") & (speech["intensity"] == 1.0)]["plan"].iloc[0])
    assert joy_plan["f0_shift_st"] > 0  # the ProsodyPlan the engine applied, not a placeholder
    img = m[m["medium"] == "image"]
    assert set(img["width"]) == {96} and set(img["height"]) == {96}
    # nothing left behind by the atomic writes
    assert not _stray(clean)


def test_hf_folder_metadata_loads_and_points_at_files(clean):
    import soundfile as sf
    from PIL import Image

    folders = {"speech", "image"} | ({"face", "video"} if HAS_FACE else set())
    assert {p.parent.name for p in clean.glob("*/metadata.csv")} == folders
    for folder in folders:
        meta = pd.read_csv(clean / folder / "metadata.csv")
        assert "file_name" in meta.columns and meta["id"].is_unique
        for name in meta["file_name"]:
            f = clean / folder / name
            assert f.is_file()
            if folder == "speech":
                audio, sr = sf.read(f)
                assert sr > 8000 and len(audio) > sr * 0.2
            elif folder in ("image", "face"):
                with Image.open(f) as im:
                    assert im.size[0] >= 96
    import pyarrow.parquet as pq

    assert pq.read_table(clean / "manifest.parquet").num_rows == N_ITEMS


def test_dataset_card_counts_engines_and_licenses(clean):
    card = (clean / "README.md").read_text()
    assert card.startswith("---\n") and "pretty_name: tiny" in card and "config_name: speech" in card
    assert "| joy |" in card and f"| {N_ITEMS} |" in card
    assert "piper-joe-medium" in card and "CC0-1.0" in card  # the voice and its license, from the registry
    if HAS_FACE:
        assert "face-landmarker" in card and "Apache-2.0" in card
    assert 'pd.read_parquet("manifest.parquet")' in card and 'load_dataset("audiofolder"' in card


def test_workers_2_give_identical_output(spec_file, clean, tmp_path):
    out = tmp_path / "w2"
    s = render(spec_file, out, workers=2)
    assert s.rendered == N_ITEMS
    a, b = _frame(clean), _frame(out)
    pd.testing.assert_frame_equal(a, b)  # same ids, same plans, same file hashes


# Run in the killed subprocess: the render stalls inside the atomic write of item K+1 (its bytes in a temporary
# file beside the destination, not yet renamed), once K rows are in the journal, and says so on a pipe. The
# kill then lands at that exact point: after K finished items, in the middle of the next one's write.
STALL = """
import contextlib, os, sys, threading
from pathlib import Path
import studio.media as media

out, k, fd = Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
real = media.atomic_path

@contextlib.contextmanager
def stalled(path):
    with real(path) as tmp:
        yield tmp
        journal = out / "manifest.jsonl"
        if journal.exists() and journal.read_bytes().count(b"\\n") >= k and Path(tmp).exists():
            os.write(fd, f"{tmp}\\n".encode())
            threading.Event().wait()   # until the test's SIGKILL

media.atomic_path = stalled
from studio.cli import main
sys.exit(main(["render", sys.argv[1], "-o", str(out)]))
"""


def test_kill9_then_resume_equals_clean_run(spec_file, clean, tmp_path):
    import select

    out = tmp_path / "killed"
    k = 3
    r, w = os.pipe()
    proc = subprocess.Popen([sys.executable, "-c", STALL, str(spec_file), str(out), str(k), str(w)], pass_fds=(w,),
                            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(w)
    try:
        ready, _, _ = select.select([r], [], [], 180)
        said = os.read(r, 4096).decode() if ready else ""
    finally:
        os.close(r)
    assert said, f"the render never reached item {k + 1}'s write: {proc.poll()} {proc.stderr.read()[-2000:] if proc.poll() is not None else ''}"
    half = Path(said.strip())
    assert half.exists() and half.name.startswith(".")  # the next item's bytes, not yet renamed into place
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL, "the render finished before it could be killed"
    partial = load_manifest(out)
    assert 0 < len(partial) < N_ITEMS
    assert len(partial) == k
    for r in partial.to_dict("records"):  # whatever was counted is complete
        assert sha256_of(out / r["file"]) == r["sha256"]
    assert _stray(out)  # the interrupted write's temporary file is there until the resume
    with pytest.raises(StudioError, match="--resume"):
        render(spec_file, out)
    s = render(spec_file, out, resume=True)
    assert s.skipped == len(partial) and s.rendered == N_ITEMS - len(partial)
    pd.testing.assert_frame_equal(_frame(clean), _frame(out))
    assert not _stray(out)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in state  # a zombie has finished


def test_kill9_with_workers_leaves_no_orphans_and_resumes(spec_file, clean, tmp_path):
    if not sys.platform.startswith("linux"):
        pytest.skip("worker parent-death signal is Linux-only")
    out = tmp_path / "killed2"
    proc = subprocess.Popen([sys.executable, "-m", "studio.cli", "render", str(spec_file), "-o", str(out), "--workers", "2"],
                            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = out / "manifest.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and journal.read_bytes().count(b"\n") >= 2:
            break
        time.sleep(0.01)
    children = [int(x) for x in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
    assert children  # the spawned workers (and multiprocessing's resource tracker)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(c) for c in children):
        time.sleep(0.05)
    assert not any(_alive(c) for c in children), "worker processes outlived a killed render"
    render(spec_file, out, resume=True)
    pd.testing.assert_frame_equal(_frame(clean), _frame(out))


def test_full_disk_keeps_finished_items_and_says_so(spec_file, clean, tmp_path, monkeypatch):
    import soundfile

    out = tmp_path / "full"
    render(spec_file, out, limit=2)
    real_write = soundfile.write

    def full_disk(file, *a, **k):
        Path(file).write_bytes(b"RIFF" + b"\0" * 100)  # half a file, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(soundfile, "write", full_disk)
    with pytest.raises(StudioError) as e:
        render(spec_file, out, resume=True)
    msg = str(e.value)
    assert "disk full" in msg and "--resume" in msg and "2 finished items are kept" in msg and "\n" not in msg
    assert len(load_manifest(out)) == 2 and len(_frame(out)) == 2
    assert not _stray(out)  # no half-written file left behind
    monkeypatch.setattr(soundfile, "write", real_write)
    render(spec_file, out, resume=True)
    pd.testing.assert_frame_equal(_frame(clean), _frame(out))


def test_output_that_is_a_file_and_limit(spec_file, tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(StudioError, match="is a file"):
        render(spec_file, f)
    s = render(spec_file, tmp_path / "lim", limit=1)
    assert s.rendered == 1 and len(_frame(tmp_path / "lim")) == 1


def test_a_second_render_into_the_same_folder_is_refused(spec_file, tmp_path):
    import fcntl

    out = tmp_path / "busy"
    out.mkdir()
    with open(out / ".render.lock", "a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(StudioError, match="another `studio render`"):
            render(spec_file, out)
    assert not (out / "manifest.jsonl").exists()


def test_iter_render_and_studio_api(spec_file, clean, tmp_path):
    from studio import Studio

    out = tmp_path / "api"
    spec = load_spec(spec_file)
    first = Studio().render(spec_file.read_text(), out, limit=3)
    assert first.rendered == 3
    rows = list(iter_render(spec, out, resume=True))  # yields only what it renders now, in spec order
    assert [r["index"] for r in rows] == list(range(3, N_ITEMS))
    assert all((out / r["file"]).is_file() for r in rows)
    pd.testing.assert_frame_equal(_frame(clean), _frame(out))


def test_eval_writes_parquet_report_and_plots(clean, evaluated):
    from PIL import Image

    ev = pd.read_parquet(clean / "eval.parquet")
    assert set(ev["id"]) == set(_frame(clean)["id"])
    assert {"speech", "image"} <= set(ev["folder"])
    report = (clean / "report.md").read_text()
    assert "## Summary" in report and "| image | image-stats |" in report
    pngs = sorted((clean / "plots").glob("*.png"))
    names = {p.name.split("_")[0] for p in pngs}
    assert {"va", "intensity"} <= names and (not HAS_FACE or "confusion" in names)
    for p in pngs:
        assert p.name in report
        with Image.open(p) as im:
            im.verify()


def test_summary_numbers_come_from_the_recognitions(clean, evaluated):
    from evals import metrics

    m = _frame(clean)
    ev = pd.read_parquet(clean / "eval.parquet").merge(m, on="id")
    img = ev[ev["recognizer"] == "image-stats"]
    row = evaluated.summary.set_index(["folder", "recognizer"]).loc[("image", "image-stats")]
    assert row["v_ccc"] == pytest.approx(metrics.ccc(img["valence"], img["pred_valence"]))
    assert row["v_mae"] == pytest.approx(metrics.mae(img["valence"], img["pred_valence"]))
    # the measured image statistics follow the requested valence
    assert metrics.pearson(img["valence"], img["pred_valence"]) > 0.8
    assert np.isfinite(row["rho"])
    if HAS_FACE:
        fer = ev[(ev["recognizer"] == "fer2013") & (ev["folder"] == "face")]
        frow = evaluated.summary.set_index(["folder", "recognizer"]).loc[("face", "fer2013")]
        assert frow["accuracy"] == pytest.approx(metrics.accuracy(fer["label"], fer["top"]))


@pytest.mark.skipif(not HAS_FACE, reason="face pipeline not installed")
def test_dispatch_judges_a_talking_clip_by_frames_and_audio(clean):
    from evals.dispatch import recognize_file

    clip = next((clean / "video").glob("*.mp4"))
    recs = {r.recognizer: r for r in recognize_file("face", clip)}
    assert "fer2013" in recs and recs["fer2013"].measures["frames_judged"] >= 2
    assert abs(sum(recs["fer2013"].probs.values()) - 1) < 1e-3
    assert "acoustic-prosody" in recs  # the audio track was extracted and measured
    with pytest.raises(StudioError, match="does not exist"):
        recognize_file("face", clean / "nope.mp4")


def test_dispatch_reads_each_medium_from_disk_and_refuses_mismatches(clean):
    from evals.dispatch import available, recognize_file

    m = _frame(clean)
    wav = clean / m[m["medium"] == "speech"]["file"].iloc[0]
    png = clean / m[m["medium"] == "image"]["file"].iloc[0]
    (speech,) = recognize_file("speech", wav)
    assert speech.recognizer in available("speech") and speech.arousal is not None and speech.measures
    (img,) = recognize_file("image", png)
    assert -1 <= img.valence <= 1 and img.recognizer in available("image")
    with pytest.raises(StudioError, match="is an image"):
        recognize_file("speech", png)
    with pytest.raises(StudioError, match="is audio"):
        recognize_file("image", wav)
    with pytest.raises(StudioError, match="unknown medium"):
        recognize_file("smell", wav)
    # a neutral rendering of the same text as the speaker baseline: the neutral item then measures ~0 arousal
    neutral = clean / m[(m["medium"] == "speech") & (m["label"] == "neutral")]["file"].iloc[0]
    (base,) = recognize_file("speech", neutral, reference=neutral)
    assert abs(base.arousal) < 1e-6


def test_speech_intensity_response_reads_arousal_not_its_uninformative_valence():
    import pandas as pd

    from studio.datasets.report import intensity_curves

    # joy requested at rising intensity; measured arousal rises, the valence estimate falls (noise)
    rows = [("neutral", 0.0, 0.0, 0.0, 0.30, 0.00)] + [
        ("joy", i, 0.81 * i, 0.51 * i, 0.30 - 0.6 * i, 0.4 * i) for i in (0.25, 0.5, 0.75, 1.0)]
    df = pd.DataFrame(rows, columns=["label", "intensity", "valence", "arousal", "pred_valence", "pred_arousal"])
    df["trajectory"] = False
    speech = intensity_curves(df.assign(recognizer="acoustic-prosody"))["joy"]
    assert speech["kind"] == "arousal (signed)" and speech["rho"] == pytest.approx(1.0)
    image = intensity_curves(df.assign(recognizer="image-stats"))["joy"]   # both axes count there
    assert image["kind"] == "VA projection" and image["rho"] == pytest.approx(-1.0)

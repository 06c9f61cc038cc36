"""`studio render --ray`: the same ids and files as one local process for every medium, on a simulated
two-node cluster (one CPU each, shared by the whole module: Ray starts once); an actor killed mid-item, a node
lost mid-run and a killed driver each end with the complete, exact set and nothing rendered twice."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from studio.datasets import iter_render, load_manifest, render
from studio.datasets.runner import RenderSummary
from studio.errors import StudioError
from studio.weights import sha256_of

pytest.importorskip("pipelines.speech")
pytest.importorskip("pipelines.image")
try:
    import pipelines.face  # noqa: F401
    HAS_FACE = True
except ModuleNotFoundError:
    HAS_FACE = False

SPEC = """
[dataset]
name = "ray-tiny"

[[grid]]
medium = "speech"
texts = ["Hi there."]
emotions = ["joy", "sadness"]

[[grid]]
medium = "image"
prompts = ["a house"]
emotions = ["joy", "anger"]
width = 64
height = 64
"""
FACE = """
[[grid]]
medium = "face"
emotions = ["joy"]

[[item]]
medium = "face"
mode = "talk"
text = "Hi."
emotion = "joy"
size = 128
fps = 10
"""
# a longer single-group run, so a kill lands while items are queued on the actors
SPEECH8 = """
[[grid]]
medium = "speech"
texts = ["One more time.", "Here we go."]
emotions = ["joy", "sadness"]
seeds = 2
"""


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("rayspec") / "tiny.toml"
    p.write_text(SPEC + (FACE if HAS_FACE else ""))
    return p


@pytest.fixture(scope="module")
def cluster():
    """Two simulated nodes of one CPU each; this process is the driver."""
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    c.add_node(num_cpus=1)
    ray.init(address=c.address, include_dashboard=False, log_to_driver=False, namespace="affect-studio")
    try:
        yield c
    finally:
        ray.shutdown()
        c.shutdown()


def _files(out: Path) -> dict[str, str]:
    return {r["id"]: (r["file"], sha256_of(out / r["file"])) for r in load_manifest(out).to_dict("records")}


@pytest.fixture(scope="module")
def reference(tmp_path_factory, spec_file) -> Path:
    out = tmp_path_factory.mktemp("ray") / "local"
    render(spec_file, out, workers=1)
    return out


def _journal_ids(out: Path) -> list[str]:
    return [json.loads(line)["id"] for line in (out / "manifest.jsonl").read_text().splitlines()]


def _exact(out: Path, ref: Path) -> None:
    """Same ids, files and bytes as the reference; each item journalled once; no temporary left behind."""
    assert _files(out) == _files(ref)
    ids = _journal_ids(out)
    assert len(ids) == len(set(ids)) == len(_files(ref))
    media = [p for p in out.rglob("*") if p.is_file() and p.parent != out and p.name != "metadata.csv"]
    assert len(media) == len(ids) and not [p for p in media if p.name.startswith(".")]
    cols = [c for c in load_manifest(ref).columns]
    pd.testing.assert_frame_equal(load_manifest(out)[cols], load_manifest(ref)[cols])


def _kill_one_actor(ray) -> str:
    names = sorted(a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if a["name"].startswith("render-"))
    assert names, "no render actor alive"
    ray.kill(ray.get_actor(names[0], namespace="affect-studio"), no_restart=True)
    return names[0]


def test_every_medium_gives_the_local_files_on_two_nodes(cluster, spec_file, reference, tmp_path):
    out = tmp_path / "ray"
    s = render(spec_file, out, ray=cluster.address, workers=2)
    assert s.rendered == s.total == len(_files(reference)) and s.retried == 0
    assert "2 nodes" in s.cluster and "2 actors" in s.cluster
    assert {"speech", "image"} <= set(load_manifest(out)["medium"]) and (not HAS_FACE or "video" in s.counts)
    _exact(out, reference)
    assert (out / "README.md").read_text() == (reference / "README.md").read_text()


def test_actor_killed_mid_item_is_retried_elsewhere(cluster, tmp_path):
    import ray

    ref = tmp_path / "ref"
    render(SPEECH8, ref, workers=1)
    out = tmp_path / "killed"
    summary = RenderSummary(out_dir=out, total=0, rendered=0, skipped=0)
    gen = iter_render(SPEECH8, out, ray=cluster.address, workers=2, summary=summary)
    rows = [next(gen)]  # the driver waits here; the actors hold the next items
    _kill_one_actor(ray)
    rows += list(gen)
    assert summary.retried >= 1  # the kill hit an item in flight, which was rendered again
    assert len(rows) == len({r["id"] for r in rows}) == 8
    _exact(out, ref)


def test_node_lost_mid_run_loses_nothing(cluster, tmp_path):
    ref = tmp_path / "ref"
    render(SPEECH8, ref, workers=1)
    out = tmp_path / "node"
    summary = RenderSummary(out_dir=out, total=0, rendered=0, skipped=0)
    gen = iter_render(SPEECH8, out, ray=cluster.address, workers=2, summary=summary)
    rows = [next(gen)]
    worker = next(n for n in cluster.list_all_nodes() if n is not cluster.head_node)
    cluster.remove_node(worker)  # one actor lives there (one CPU per node, two actors)
    try:
        rows += list(gen)
    finally:
        cluster.add_node(num_cpus=1)  # the next test gets two nodes again
    assert summary.retried >= 1 and len(rows) == len({r["id"] for r in rows}) == 8
    _exact(out, ref)


def test_driver_killed_then_resume_finishes_the_set(cluster, spec_file, reference, tmp_path):
    out = tmp_path / "driver"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "studio.cli", "render", str(spec_file), "-o", str(out),
                             "--ray", cluster.address, "--workers", "2"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    journal = out / "manifest.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and len(journal.read_bytes().splitlines()) >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_before = len(_journal_ids(out))
    assert 2 <= n_before < len(_files(reference))
    s = render(spec_file, out, ray=cluster.address, workers=2, resume=True)
    assert s.skipped == n_before and s.rendered == len(_files(reference)) - n_before
    _exact(out, reference)


def test_ray_missing_gives_one_line(monkeypatch, spec_file, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(StudioError) as e:
        render(spec_file, tmp_path / "x", ray="local")
    assert "pip install 'affect-studio[ray]'" in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "x").exists()


def test_cli_flags():
    from studio.cli import build_parser

    a = build_parser().parse_args(["render", "s.toml", "-o", "x", "--ray"])
    assert a.ray == "local" and a.workers is None and not a.yes
    a = build_parser().parse_args(["render", "s.toml", "-o", "x", "--ray", "10.0.0.5:6379", "--workers", "8", "--yes"])
    assert (a.ray, a.workers, a.yes) == ("10.0.0.5:6379", 8, True)

"""The web demo in a real headless Chromium: the page renders its tabs and the affect control after JavaScript ran.

Playwright is not available, so Chromium's own flags do the work: --dump-dom after a virtual time
budget gives the DOM the Svelte front end built, --screenshot keeps a picture under tests/artifacts/.
.ci/install-chromium installs the browser in CI.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason=f"{CHROMIUM} is missing; run .ci/install-chromium to install Debian's chromium")


@pytest.fixture(scope="module")
def url():
    from ui.app import free_port, launch

    demo, u = launch("127.0.0.1", free_port(), block=False)
    try:
        yield u
    finally:
        demo.close()


def chromium(url: str, tmp: Path, *extra: str, budget_ms: int = 20000) -> subprocess.CompletedProcess:
    profile = tmp / "profile"
    profile.mkdir(exist_ok=True)
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
           f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}", *extra, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def dom(url, tmp_path_factory) -> str:
    res = chromium(url, tmp_path_factory.mktemp("chromium"), "--window-size=1400,1000", "--dump-dom")
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


def test_page_shows_every_tab(dom):
    for tab in ("Speech", "Talking head", "Image", "Dataset"):
        assert f">{tab}<" in dom or f">{tab} <" in dom or tab in dom, tab
    assert 'role="tab"' in dom


def test_page_shows_the_shared_affect_control(dom):
    for label in ("Affect from", "Emotion label", "Mixture", "Valence", "Arousal", "Dominance", "Free text",
                  "Trajectory", "Intensity"):
        assert label in dom, label
    for mode in ("label", "mixture", "VAD", "free text", "trajectory"):
        assert f'value="{mode}"' in dom, mode
    # the page-load event ran on the server and came back: the summary names the default affect
    assert "intensity 0.80" in dom


def test_back_classification_panels_are_beside_the_results(dom):
    assert "Back-classification" in dom and "Plan used" in dom


def test_screenshot_shows_the_app(url, tmp_path):
    from PIL import Image

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "ui.png"
    res = chromium(url, tmp_path, "--window-size=1400,1300", f"--screenshot={shot}")
    assert res.returncode == 0 and shot.exists(), res.stderr[-2000:]
    with Image.open(shot) as im:
        assert im.size == (1400, 1300)
        import numpy as np

        px = np.asarray(im.convert("L"), dtype=float)
    assert px.std() > 10  # a rendered page, not a blank or error screen (docs/screenshot.png: `python -m ui.screenshot`)

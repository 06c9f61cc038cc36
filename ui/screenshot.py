"""``python -m ui.screenshot [OUT.png] [face|image]``: the README screenshot, taken by headless Chromium.

The app starts in showcase mode (that tab open, its default request rendered on page load) so the
picture shows an output beside its back-classification, not empty panels.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--hide-scrollbars"]


def capture(url: str, out: Path, size: tuple[int, int] = (1400, 1400), budget_ms: int = 30000) -> Path:
    """Screenshot of ``url`` after the page's scripts and requests settle (virtual time)."""
    if not os.path.exists(CHROMIUM):
        raise SystemExit(f"{CHROMIUM} is missing; run .ci/install-chromium")
    with tempfile.TemporaryDirectory() as profile:
        cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}",
               f"--virtual-time-budget={budget_ms}", f"--screenshot={out.resolve()}", url]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if res.returncode != 0 or not out.exists():
        raise SystemExit(f"chromium failed ({res.returncode}): {res.stderr[-500:]}")
    return out


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from ui.app import free_port, launch

    args = argv if argv is not None else sys.argv[1:]
    out = Path(args[0] if args else "docs/screenshot.png")
    tab = args[1] if len(args) > 1 else "face"
    out.parent.mkdir(parents=True, exist_ok=True)
    demo, url = launch("127.0.0.1", free_port(), block=False, showcase=tab)
    try:
        capture(url, out)
    finally:
        demo.close()
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

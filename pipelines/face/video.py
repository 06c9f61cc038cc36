"""MP4 writing: raw RGB frames piped to ffmpeg (imageio-ffmpeg's binary), H.264 yuv420p + AAC,
+faststart so browsers start playing before the download ends, written to a temporary file and
renamed, so an error or Ctrl-C never leaves a half-written MP4 behind."""
from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path
from typing import Iterable

import numpy as np

from studio.errors import StudioError


def ffmpeg_exe() -> str:
    try:
        import imageio_ffmpeg
    except ImportError:
        raise StudioError("writing MP4 needs imageio-ffmpeg: pip install 'affect-studio[video]'") from None
    return imageio_ffmpeg.get_ffmpeg_exe()


def write_mp4(path: str | Path, frames: Iterable[np.ndarray], fps: float, size: tuple[int, int],
              audio: np.ndarray | None = None, sample_rate: int = 0, crf: int = 18) -> Path:
    """Encode ``frames`` (uint8 H×W×3, ``size`` = (H, W), both even) with optional mono ``audio``."""
    import soundfile as sf

    from studio.media import atomic_path, check_output

    p = check_output(path, {".mp4"})
    h, w = size
    if h % 2 or w % 2:
        raise StudioError(f"H.264 yuv420p needs even frame sides, got {w}x{h}; use an even --size")
    with tempfile.TemporaryDirectory(prefix="studio-mp4-") as td, atomic_path(p) as tmp:
        cmd = [ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
               "-r", str(fps), "-i", "-"]
        if audio is not None:
            wav = Path(td) / "audio.wav"
            sf.write(wav, np.asarray(audio, dtype=np.float32), sample_rate, subtype="PCM_16")
            cmd += ["-i", str(wav)]
        cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p",
                "-profile:v", "high", "-r", str(fps)]
        if audio is not None:
            cmd += ["-c:a", "aac", "-b:a", "128k", "-ar", "44100"]
        cmd += ["-movflags", "+faststart", "-f", "mp4", str(tmp)]
        err = tempfile.TemporaryFile(dir=td)
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
        try:
            n = 0
            for f in frames:
                f = np.ascontiguousarray(f, dtype=np.uint8)
                if f.shape != (h, w, 3):
                    raise StudioError(f"frame {n} has shape {f.shape}, expected {(h, w, 3)}")
                proc.stdin.write(f.tobytes())
                n += 1
            proc.stdin.close()
            rc = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        if rc != 0 or n == 0:
            err.seek(0)
            msg = err.read().decode(errors="replace").strip().splitlines()
            raise StudioError(f"ffmpeg could not encode {p.name} ({msg[-1] if msg else f'{n} frames'}); "
                              "check the disk space and the output folder")
    return p


def probe(path: str | Path) -> dict:
    """Streams of a media file from ``ffmpeg -i`` (ffprobe is not shipped): duration, fps, size, codecs."""
    out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    info: dict = {"video": None, "audio": None, "duration_s": None}
    m = re.search(r"Duration: (\d+):(\d+):([\d.]+)", out)
    if m:
        info["duration_s"] = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
    for line in out.splitlines():
        if "Video:" in line and info["video"] is None:
            v = re.search(r"Video: (\w+).*?, (\w+)[(,].*?(\d{2,5})x(\d{2,5})", line)
            fps = re.search(r"([\d.]+) fps", line)
            info["video"] = {"codec": v[1] if v else None, "pix_fmt": v[2] if v else None,
                             "size": (int(v[3]), int(v[4])) if v else None, "fps": float(fps[1]) if fps else None}
        if "Audio:" in line and info["audio"] is None:
            a = re.search(r"Audio: (\w+).*?(\d+) Hz", line)
            info["audio"] = {"codec": a[1] if a else None, "sample_rate": int(a[2]) if a else None}
    return info


def count_frames(path: str | Path) -> int:
    """Decoded video frame count (ffmpeg null muxer), independent of container metadata."""
    out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path), "-map", "0:v:0", "-f", "null", "-"],
                         capture_output=True, text=True).stderr
    m = re.findall(r"frame=\s*(\d+)", out)
    return int(m[-1]) if m else 0


def read_frames(path: str | Path) -> np.ndarray:
    """All video frames decoded to RGB uint8 (T, H, W, 3)."""
    import imageio_ffmpeg

    gen = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    meta = next(gen)
    w, h = meta["size"]
    return np.stack([np.frombuffer(b, np.uint8).reshape(h, w, 3) for b in gen])

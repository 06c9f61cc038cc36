"""Piecewise-affine mesh warp: the portrait follows its moved landmark mesh, triangle by triangle.

Triangles come from a Delaunay triangulation of the landmarks (irises left out, so a closing lid
slides over the eye) plus fixed anchors on an ellipse around the face and on the image border,
so hair, shoulders and background stay put. The triangulation, the region it can move and the
identity sampling grid are computed once per portrait. Per frame: one affine per moving triangle
(a batched 3×3 inverse), an id-buffer raster of the moved triangles (cv2, nearest-to-camera drawn
last so folds resolve like occlusion), one gather + small matrix product per pixel giving the
source position, then a single cv2.remap. The torch path does the per-pixel part and the
resampling with grid_sample, on CUDA when present.

Beyond the moved face outline the warp fades to the identity within ``FADE`` of the face's size:
what moves the outline (the jaw opening, a chin raise) compresses or stretches only a narrow strip
of neck, ear or hair next to it, the way the chin passes in front of the neck, instead of dragging
the whole band out to the anchor ring. The fade is a per-pixel factor on the displacement of the
band triangles, computed from a distance transform of the moved outline.

Why not a precomputed forward field inverted by iteration: when the lips part, triangles across a
closed mouth grow from ~1 px to tens of px tall; the fixed-point inverse diverges there, while the
exact per-triangle inverse is cheap and never does.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import Delaunay

from pipelines.face import topology as T

RING_SCALE = 1.45      # anchor ellipse, × the face's half-extent from its centre
RING_POINTS = 32
SHIFT = 4              # sub-pixel bits for the triangle raster
FADE = 0.04            # band displacement fades to zero this far outside the moved outline (× face size)


def _anchors(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    xy = points[:, :2]
    c = (xy.min(0) + xy.max(0)) / 2
    half = (xy.max(0) - xy.min(0)) / 2
    a = np.linspace(0, 2 * np.pi, RING_POINTS, endpoint=False)
    ring = c + np.stack([np.cos(a), np.sin(a)], -1) * half * RING_SCALE
    ring = ring[(ring[:, 0] > 1) & (ring[:, 0] < w - 2) & (ring[:, 1] > 1) & (ring[:, 1] < h - 2)]
    k = 6
    t = np.linspace(0, 1, k, endpoint=False)
    border = np.concatenate([
        np.stack([t * (w - 1), np.zeros(k)], -1), np.stack([np.full(k, w - 1.0), t * (h - 1)], -1),
        np.stack([(1 - t) * (w - 1), np.full(k, h - 1.0)], -1), np.stack([np.zeros(k), (1 - t) * (h - 1)], -1)])
    return np.concatenate([ring, border])


class MeshWarp:
    def __init__(self, points: np.ndarray, shape: tuple[int, int]):
        h, w = shape[:2]
        self.shape = (h, w)
        self.mesh_idx = np.array([i for i in range(len(points)) if i not in T.IRIS])
        self.n_mesh = len(self.mesh_idx)
        anchors = _anchors(points, (h, w))
        self.vertices = np.concatenate([points[self.mesh_idx, :2], anchors])
        z = np.concatenate([points[self.mesh_idx, 2], np.full(len(anchors), points[:, 2].max())])
        simplices = Delaunay(self.vertices).simplices
        moving = (simplices < self.n_mesh).any(1)
        tris = simplices[moving]
        # far triangles first, so where the moved mesh folds the nearer surface is drawn on top
        self.tris = tris[np.argsort(-z[tris].mean(1))]
        self.band = (self.tris >= self.n_mesh).any(1)  # triangles reaching an anchor: outside the face
        pos = {int(j): k for k, j in enumerate(self.mesh_idx)}
        self.oval = np.array([pos[j] for j in T.FACE_OVAL])
        self.fade_px = max(2.0, FADE * float((points[:, :2].max(0) - points[:, :2].min(0)).max()))
        used = self.vertices[np.unique(self.tris)]
        x0, y0 = np.maximum(np.floor(used.min(0)).astype(int) - 2, 0)
        x1, y1 = np.minimum(np.ceil(used.max(0)).astype(int) + 3, [w, h])
        self.box = (int(x0), int(y0), int(x1), int(y1))
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        self.grid = np.stack([xs, ys], -1)
        self._src = self.vertices[self.tris]  # (F, 3, 2)

    def moved(self, disp478: np.ndarray) -> np.ndarray:
        v = self.vertices.copy()
        v[: self.n_mesh] += np.asarray(disp478)[self.mesh_idx, :2]
        return v

    def frame_affines(self, disp478: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(id buffer over ``box`` with -1 where nothing moves, per-triangle 2×3 affines dst → src,
        per-pixel share 0..1 of the affine's displacement that applies: 1 inside the face, fading
        to 0 at ``fade_px`` outside the moved outline)."""
        import cv2

        moved = self.moved(disp478)
        dst = moved[self.tris]  # (F, 3, 2)
        Dm = np.concatenate([dst.transpose(0, 2, 1), np.ones((len(dst), 1, 3))], 1)  # (F, 3, 3)
        det = np.linalg.det(Dm)
        ok = np.abs(det) > 1e-6
        A = np.zeros((len(dst), 2, 3))
        A[ok] = self._src[ok].transpose(0, 2, 1) @ np.linalg.inv(Dm[ok])
        x0, y0, x1, y1 = self.box
        ids = np.full((y1 - y0, x1 - x0), -1, np.int32)
        pts = np.round((dst - [x0, y0]) * (1 << SHIFT)).astype(np.int32)
        good = np.flatnonzero(ok)
        # a thick outline of every triangle first: where the moved mesh folds or leaves a sliver
        # between rasterised edges, the hole takes a neighbour's (slightly extrapolated) affine
        # instead of the identity, which would show the unwarped source (e.g. a dark mouth corner)
        for i in good:
            cv2.polylines(ids, [pts[i]], True, int(i), thickness=3, lineType=cv2.LINE_8, shift=SHIFT)
        for i in good:
            cv2.fillConvexPoly(ids, pts[i], int(i), lineType=cv2.LINE_8, shift=SHIFT)
        outside = np.full(ids.shape, 255, np.uint8)
        cv2.fillPoly(outside, [np.round((moved[self.oval] - [x0, y0]) * (1 << SHIFT)).astype(np.int32)], 0,
                     lineType=cv2.LINE_8, shift=SHIFT)
        x = np.clip(1.0 - cv2.distanceTransform(outside, cv2.DIST_L2, 3) / self.fade_px, 0.0, 1.0)
        share = (x * x * (3 - 2 * x)).astype(np.float32)
        share[(ids >= 0) & ~self.band[np.maximum(ids, 0)]] = 1.0
        ids[share <= 0] = -1
        return ids, A.astype(np.float32), share

    def source_map(self, disp478: np.ndarray) -> np.ndarray:
        """For every output pixel, the source pixel to sample (H, W, 2), float32."""
        ids, A, share = self.frame_affines(disp478)
        x0, y0, x1, y1 = self.box
        m = self.grid.copy()
        sub = m[y0:y1, x0:x1]
        hit = ids >= 0
        q = sub[hit]
        Ah = A[ids[hit]]
        mapped = np.einsum("nij,nj->ni", Ah[:, :, :2], q) + Ah[:, :, 2]
        sub[hit] = q + share[hit][:, None] * (mapped - q)
        return m

    def warp(self, image: np.ndarray, disp478: np.ndarray) -> np.ndarray:
        import cv2

        m = self.source_map(disp478)
        return cv2.remap(image, m[..., 0], m[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


class TorchMeshWarp:
    """The same warp with torch grid_sample (CUDA when present); shares MeshWarp's precomputation."""

    def __init__(self, base: MeshWarp, device: str | None = None):
        import torch

        self.torch = torch
        self.base = base
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.grid = torch.as_tensor(base.grid, device=self.device)
        self._image_key = None

    def warp(self, image: np.ndarray, disp478: np.ndarray) -> np.ndarray:
        torch = self.torch
        h, w = self.base.shape
        ids_np, A_np, share_np = self.base.frame_affines(disp478)
        x0, y0, x1, y1 = self.base.box
        ids = torch.as_tensor(ids_np, device=self.device).long()
        A = torch.as_tensor(A_np, device=self.device)
        sub = self.grid[y0:y1, x0:x1]
        hit = ids >= 0
        q = sub[hit]
        Ah = A[ids[hit]]  # (n, 2, 3)
        mapped = Ah[:, :, 0] * q[:, :1] + Ah[:, :, 1] * q[:, 1:] + Ah[:, :, 2]
        mapped = q + torch.as_tensor(share_np, device=self.device)[hit][:, None] * (mapped - q)
        m = self.grid.clone()
        m[y0:y1, x0:x1][hit] = mapped
        g = torch.stack([m[..., 0] / (w - 1) * 2 - 1, m[..., 1] / (h - 1) * 2 - 1], -1)
        img = torch.as_tensor(image, device=self.device).permute(2, 0, 1).float()[None]
        out = torch.nn.functional.grid_sample(img, g[None], mode="bilinear", padding_mode="border", align_corners=True)
        return out[0].round().clamp(0, 255).byte().permute(1, 2, 0).cpu().numpy()

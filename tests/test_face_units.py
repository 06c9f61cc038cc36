"""Fast unit checks of the face pipeline's parts: visemes, blinks, warp backends, fields."""
from __future__ import annotations

import numpy as np
import pytest


def test_viseme_classes_for_ipa_and_arpabet():
    from pipelines.face.visemes import viseme_of

    assert viseme_of("m") == viseme_of("b") == viseme_of("P") == "PP"
    assert viseme_of("aː") == viseme_of("AA1") == "AA"
    assert viseme_of("uː") == viseme_of("w") == "UU"
    assert viseme_of("iː") == "II" and viseme_of("sil") == "sil" and viseme_of("tʃ") == "SH"


def test_mouth_track_closes_for_bilabials_and_opens_for_vowels():
    from pipelines.face.visemes import mouth_track

    phones = [("sil", 0, 0.2), ("m", 0.2, 0.32), ("a", 0.32, 0.6), ("p", 0.6, 0.7), ("a", 0.7, 1.0), ("sil", 1.0, 1.2)]
    tr = mouth_track(phones, 30, 25)
    assert tr.open[0] < 0.05 and tr.open[29] < 0.1
    assert tr.open[int(0.46 * 25)] > 0.6
    assert tr.open[int(0.65 * 25)] <= 0.05  # the p closes the lips between two open vowels
    onset = tr.open[7:11]  # coarticulation: the vowel is approached through intermediate openings
    assert np.any((onset > 0.1) & (onset < 0.9)) and np.all(np.diff(onset) >= 0)


def test_blinks_follow_the_rate_and_the_seed():
    from pipelines.face.motion import blink_track

    fps, n = 25, 25 * 120
    b = blink_track(np.random.default_rng(0), np.full(n, 20.0), fps)
    onsets = np.flatnonzero((b[1:] > 0) & (b[:-1] == 0))
    assert 25 <= len(onsets) <= 55  # 20 per minute over 2 minutes, Poisson spread
    assert b.max() == 1.0
    assert np.array_equal(b, blink_track(np.random.default_rng(0), np.full(n, 20.0), fps))
    fast = blink_track(np.random.default_rng(0), np.full(n, 40.0), fps)
    assert (np.flatnonzero((fast[1:] > 0) & (fast[:-1] == 0))).size > len(onsets)


@pytest.fixture(scope="module")
def rig():
    from pipelines.face.portrait import prepare

    return prepare(None, size=256, neutralise=False)


def test_torch_warp_matches_numpy(rig):
    from pipelines.face.warp import TorchMeshWarp

    f = rig.fields
    disp = f.displacement(f.weights({26: 1.0, 12: 0.8, 1: 1.0, 45: 0.5}))
    a = rig.warp.warp(rig.image, disp).astype(int)
    b = TorchMeshWarp(rig.warp, "cpu").warp(rig.image, disp).astype(int)
    assert np.abs(a - b).max() <= 2
    assert np.mean(np.abs(a - b)) < 0.05


def test_warp_is_identity_without_displacement_and_keeps_background(rig):
    f = rig.fields
    assert np.array_equal(rig.warp.warp(rig.image, np.zeros((478, 2))), rig.image)
    moved = rig.warp.warp(rig.image, f.displacement(f.weights({26: 1.5, 4: 1.5, 20: 1.5})))
    x0, y0, x1, y1 = rig.warp.box
    outside = np.ones(rig.image.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(moved[outside], rig.image[outside])


def test_fields_scale_with_the_face(rig):
    import cv2

    from pipelines.face.actions import ActionFields
    from pipelines.face.analysis import detect

    big = detect(cv2.resize(rig.image, (512, 512), interpolation=cv2.INTER_CUBIC))[0]
    a = np.linalg.norm(rig.fields.displacement(rig.fields.weights({12: 1.0})), axis=1).max()
    b = np.linalg.norm(ActionFields(big).displacement(ActionFields(big).weights({12: 1.0})), axis=1).max()
    assert b / a == pytest.approx(2.0, rel=0.1)


def test_unilateral_share_moves_one_side(rig):
    from pipelines.face import topology as T

    f = rig.fields
    d = f.displacement(f.weights({12: 1.0}, {12: 1.0}))
    r, l = T.MOUTH_CORNERS
    assert np.linalg.norm(d[r]) > 10 * np.linalg.norm(d[l])


def test_head_motion_works_for_clips_shorter_than_the_nod_filter():
    from pipelines.face.motion import head_angles

    rng = np.random.default_rng(0)
    for n in (1, 5, 10, 30):
        loud = np.linspace(0.1, 1.0, n)
        ang = head_angles(rng, np.ones(n), 25.0, loud)
        assert ang.shape == (n, 3) and np.all(np.isfinite(ang))


def test_head_sway_fades_to_zero_at_the_face_outline(rig):
    from pipelines.face import topology as T
    from pipelines.face.motion import rotation_disp, sway_weight

    w = sway_weight(rig.face.points, T.FACE_OVAL)
    assert w.shape == (478,) and np.all((w >= 0) & (w <= 1))
    assert np.all(w[list(T.FACE_OVAL)] == 0)
    assert w[T.NOSE_TIP] == pytest.approx(1.0) and w[list(T.RIGHT_EYE + T.LEFT_EYE)].min() > 0.6
    # the features still turn visibly: ~1.5° of yaw moves the nose tip by more than a pixel at 256²
    d = rotation_disp(rig.face.points, np.deg2rad([1.5, 0.0, 0.0])) * w[:, None]
    assert np.linalg.norm(d[T.NOSE_TIP]) > 1.0
    assert np.abs(d[list(T.FACE_OVAL)]).max() == 0


def test_jaw_drop_leaves_the_neck_beyond_the_fade_still(rig):
    import cv2

    from pipelines.face import topology as T

    f = rig.fields
    disp = f.displacement(f.weights({26: 1.5, 25: 1.0}))
    moved = rig.warp.warp(rig.image, disp)
    ids, _, share = rig.warp.frame_affines(disp)
    assert share.min() >= 0 and share.max() <= 1
    # pixels farther than the fade from both the still and the moved outline are untouched
    near = np.zeros(rig.image.shape[:2], np.uint8)
    for pts in (rig.face.points[:, :2], rig.face.points[:, :2] + disp):
        cv2.fillPoly(near, [np.round(pts[list(T.FACE_OVAL)]).astype(np.int32)], 255)
    r = int(np.ceil(rig.warp.fade_px)) + 2
    near = cv2.dilate(near, np.ones((2 * r + 1, 2 * r + 1), np.uint8)) > 0
    assert np.array_equal(moved[~near], rig.image[~near])
    # while the chin itself moved
    assert np.abs(moved[near].astype(int) - rig.image[near].astype(int)).max() > 30


def test_nose_wrinkler_adds_creases_only_when_planned(rig):
    from pipelines.face import wrinkles

    pts = rig.face.points[:, :2]
    fr = rig.fields.frame
    assert wrinkles.apply(rig.image, pts, fr, {12: 1.0, 26: 0.5}) is rig.image
    out = wrinkles.apply(rig.image, pts, fr, {9: 1.0})
    x, y = np.round(pts[168]).astype(int)
    r = max(3, int(0.15 * fr.iod))
    before = rig.image[y - r:y + r, x - r:x + r].astype(float).mean()
    after = out[y - r:y + r, x - r:x + r].astype(float).mean()
    assert after < before - 1.0  # the nasal root darkens with creases
    assert np.array_equal(out[: int(pts[:, 1].min()) - 2], rig.image[: int(pts[:, 1].min()) - 2])

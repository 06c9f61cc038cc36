"""Properties of the shared affect module and its plans, over generated affects."""
import dataclasses
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from studio.affect import (EMOTIONS, ActionUnitPlan, Affect, ImagePlan, ProsodyPlan, Trajectory, action_unit_plan,
                           image_plan, plan, prosody_plan)
from studio.affect import taxonomy
from studio.affect.plans import plan_from_dict
from studio.affect.spec import from_spec
from studio.errors import StudioError

PLANNERS = (prosody_plan, action_unit_plan, image_plan)
unit = st.floats(-1, 1, allow_nan=False)
vad_points = st.tuples(unit, unit, unit).filter(lambda v: max(map(abs, v)) > 0.05)
labels = st.sampled_from(sorted(taxonomy.terms()))
intensities = st.floats(0, 1.5, allow_nan=False)


def deviations(affect):
    out = {}
    for fn in PLANNERS:
        for k, v in fn(affect).deviations().items():
            out[f"{fn.__name__}.{k}"] = v
    return out


@st.composite
def affects(draw):
    kind = draw(st.sampled_from(["label", "vad", "mixture"]))
    if kind == "label":
        return Affect.of(draw(labels), 1.0)
    if kind == "vad":
        return Affect.from_vad(*draw(vad_points), intensity=1.0)
    names = draw(st.lists(st.sampled_from(EMOTIONS), min_size=2, max_size=3, unique=True))
    ws = draw(st.lists(st.floats(0.1, 1), min_size=len(names), max_size=len(names)))
    return Affect.from_mixture(dict(zip(names, ws)), 1.0)


def test_neutral_is_the_identity_plan():
    for a in (Affect.neutral(), Affect.of("anger", 0.0), Affect.from_vad(0.9, 0.9, 0.9, intensity=0.0)):
        assert prosody_plan(a) == ProsodyPlan()
        assert action_unit_plan(a) == ActionUnitPlan()
        assert image_plan(a).deviations() == ImagePlan().deviations()
        assert all(v == 0 for v in deviations(a).values())


@given(affects(), intensities, intensities)
@settings(max_examples=150, deadline=None)
def test_deviations_grow_monotonically_with_intensity(affect, i1, i2):
    lo, hi = sorted((i1, i2))
    d_lo, d_hi = deviations(affect.with_intensity(lo)), deviations(affect.with_intensity(hi))
    for k in d_hi:
        a, b = d_lo.get(k, 0.0), d_hi[k]
        assert abs(a) <= abs(b) + 1e-9, k
        assert a * b >= -1e-12, k  # never changes direction


VALENCE_LINKED = ("prosody_plan.f0_shift_st", "prosody_plan.f0_range", "prosody_plan.rate", "prosody_plan.loudness_db",
                  "prosody_plan.tilt_db", "prosody_plan.f0_slope_st", "image_plan.brightness", "image_plan.saturation",
                  "image_plan.contrast", "image_plan.warmth", "image_plan.curvature", "image_plan.spatial_frequency")


@given(vad_points, st.floats(0.1, 1.5))
@settings(max_examples=150, deadline=None)
def test_negation_flips_valence_linked_terms(vad, k):
    a = Affect.from_vad(*vad, intensity=k)
    d, n = deviations(a), deviations(a.negated())
    for key in VALENCE_LINKED:
        if abs(d[key]) > 1e-9:
            assert math.copysign(1, d[key]) == -math.copysign(1, n[key]), key


@pytest.mark.parametrize("label,au_gone,au_new", [("joy", 12, 15), ("sadness", 15, 12), ("anger", 23, 20)])
def test_negating_a_label_swaps_to_its_opposite_face(label, au_gone, au_new):
    neg = action_unit_plan(Affect.of(label, 1.0).negated())
    assert au_gone not in neg.aus and neg.aus.get(au_new, 0) > 0.3


@given(st.lists(st.sampled_from(sorted(taxonomy.terms())[1:]), min_size=2, max_size=2, unique=True),
       st.floats(0, 1), st.floats(0.1, 1.5))
@settings(max_examples=150, deadline=None)
def test_mixture_plan_lies_between_its_parts(names, w, k):
    a, b = Affect.of(names[0], k), Affect.of(names[1], k)
    if not a.mixture or not b.mixture:
        return
    da, db, dm = deviations(a), deviations(b), deviations(Affect.mix([a, b], [1 - w, w]))
    for key in set(da) | set(db) | set(dm):
        lo, hi = sorted((da.get(key, 0.0), db.get(key, 0.0)))
        assert lo - 1e-9 <= dm.get(key, 0.0) <= hi + 1e-9, key


def test_label_synonyms_and_intensity_default():
    for a, b in [("angry", "anger"), ("happy", "joy"), ("happiness", "joy"), ("sad", "sadness"), ("fearful", "fear"),
                 ("surprised", "surprise"), ("disgusted", "disgust")]:
        assert Affect.of(a, 0.5) == Affect.of(b, 0.5)
    assert Affect.of("furious").intensity > Affect.of("annoyed").intensity


def test_mixture_string_and_vad_spec():
    m = from_spec("joy:0.6,surprise:0.4")
    assert dict(m.mixture) == pytest.approx({"joy": 0.6, "surprise": 0.4})
    v = from_spec("0.5,-0.2,0.1", 0.5)
    assert v.point == pytest.approx((0.25, -0.1, 0.05))


def test_lerp_endpoints_and_midpoint():
    a, b = Affect.of("joy", 1.0), Affect.of("sadness", 1.0)
    assert a.lerp(b, 0) == a and a.lerp(b, 1) == b
    mid = a.lerp(b, 0.5)
    assert mid.point[0] == pytest.approx((a.point[0] + b.point[0]) / 2)


@pytest.mark.parametrize("bad,needle", [
    (lambda: Affect.of("angr"), "closest known: angry"),
    (lambda: Affect.of("joy", float("nan")), "intensity must be"),
    (lambda: Affect.of("joy", 2.0), "[0, 1.5]"),
    (lambda: Affect.from_vad(1.5, 0, 0), "valence must be"),
    (lambda: Affect.from_vad(0, float("inf"), 0), "arousal must be"),
    (lambda: from_spec("   "), "emotion is empty"),
    (lambda: from_spec("joy:x"), "not a number"),
    (lambda: Trajectory.parse(""), "empty trajectory"),
])
def test_bad_input_gives_one_line_errors(bad, needle):
    with pytest.raises(StudioError) as e:
        bad()
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_trajectory_sampling_morphs_between_keyframes():
    t = Trajectory.parse("neutral@0 > anger@1", 1.0)
    frames = t.sample(fps=10, duration=2.0)
    assert len(frames) == 20
    arousal = [f.point[1] for f in frames]
    assert arousal[0] == 0 and all(b >= a for a, b in zip(arousal, arousal[1:])) and arousal[-1] > 0.5


def test_plans_round_trip_through_json():
    p = plan(from_spec("joy:0.5,contempt:0.5"))
    d = json.loads(json.dumps(p.to_dict()))
    assert plan_from_dict(ProsodyPlan, d["prosody"]) == p.prosody
    assert plan_from_dict(ActionUnitPlan, d["face"]) == p.face
    assert plan_from_dict(ImagePlan, d["image"]) == p.image
    assert p.face.unilateral.get(14) == pytest.approx(1.0)  # contempt's dimpler stays one-sided
    with pytest.raises(StudioError, match="no field"):
        plan_from_dict(ProsodyPlan, {"pitch": 3})


def test_taxonomy_has_sources_and_enough_terms():
    terms = taxonomy.terms()
    assert set(taxonomy.CORE_LABELS) <= set(terms)
    assert sum(t.tier == "extended" for t in terms.values()) >= 40
    for t in terms.values():
        assert t.source.strip(), t.name
        assert all(-1 <= x <= 1 for x in t.vad)
        assert all(n in taxonomy.CORE_LABELS for n, _ in t.mixture), t.name


def test_affect_module_imports_no_torch():
    import subprocess
    import sys

    code = "import sys, studio.affect, studio.affect.parse; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"

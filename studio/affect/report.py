"""Human-readable view of an affect and its plans (the `studio plan` output)."""
from __future__ import annotations

from studio.affect.plans import AU_NAMES, Plans


def describe(p: Plans) -> str:
    a = p.affect
    v, ar, d = a.point
    lines = [f"affect     {a.label}   intensity {a.intensity:.2f}",
             f"VAD point  valence {v:+.2f}  arousal {ar:+.2f}  dominance {d:+.2f}"]
    if a.mixture:
        lines.append("mixture    " + ", ".join(f"{n} {w:.2f}" for n, w in sorted(a.mixture, key=lambda x: -x[1])))
    if a.why:
        lines.append("nearest    " + ", ".join(f"{n} ({s:.2f})" for n, s in a.why))
    if a.note:
        lines.append(f"note       {a.note}")
    s = p.prosody
    lines += ["", "speech (ProsodyPlan)",
              f"  F0 level {s.f0_shift_st:+.1f} st   range x{s.f0_range_scale:.2f}   slope {s.f0_slope_st:+.2f} st/s",
              f"  rate x{s.rate_scale:.2f}   pauses x{s.pause_scale:.2f}   loudness {s.loudness_db:+.1f} dB   tilt {s.tilt_db:+.1f} dB",
              f"  breathiness {s.breathiness:.2f}   jitter {s.jitter:.3f}"]
    f = p.face
    lines += ["", "face (ActionUnitPlan)"]
    for au, val in sorted(f.aus.items()):
        side = f"  (one side {f.unilateral[au]:.0%})" if au in f.unilateral else ""
        lines.append(f"  AU{au:<3d} {AU_NAMES.get(au, ''):22s} {val:.2f}{side}")
    if not f.aus:
        lines.append("  no action units (neutral face)")
    lines.append(f"  blinks {f.blink_rate_per_min:.1f}/min   head motion x{f.head_motion:.2f}")
    i = p.image
    lines += ["", "image (ImagePlan)",
              f"  brightness {i.brightness_delta:+.2f}  saturation {i.saturation_delta:+.2f}  contrast {i.contrast_delta:+.2f}",
              f"  warmth {i.warmth:+.2f}  curvature {i.curvature:+.2f}  spatial frequency {i.spatial_frequency:+.2f}",
              f"  palette {' '.join(i.palette)}", f"  lighting: {i.lighting}; composition: {i.composition}",
              f"  terms: {', '.join(i.descriptor_terms) or '-'}"]
    return "\n".join(lines)

"""Free text against human ratings and the labelled phrase sets; prints Markdown tables.

    python benchmarks/text_vad.py [--threads N]

Needs the ``vad-norms`` lexicon (`studio weights pull vad-norms`; CC BY-NC-SA, non-commercial) and the
embedded MiniLM. Rows:
- Pearson r between VAD and the ANEW human means (Bradley & Lang 1999; 1,034 words, none of them in the
  head's training set) for ``parse(word)`` without the head (the matched terms' VAD), with the head, and
  for the head alone;
- top-label accuracy on every phrase set in ``studio/data/phrases``, the tables alone and with the phrase
  vote scored leave-one-set-out (most sets were looked at while tuning: their README says which figure was
  a first score on unseen text), and per kind over all sets;
- the head's first build (embedding the training lemmas and the kernel ridge fit), timed from a cold
  cache in a temporary store, with the thread count used.
"""
from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _phrase_sets() -> None:
    from studio.affect import phrase_vote

    print("\n### Top label per phrase set (studio/data/phrases; roles and first scores in its README)\n")
    print("The vote column leaves the scored set, and any phrase within 0.9 cosine of the one scored, out of the vote.\n")
    print("| set | rows | tables alone | % | with the phrase vote | % |\n|---|---:|---:|---:|---:|---:|")
    kinds: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0, 0])
    totals = [0, 0, 0]
    for name in phrase_vote.set_names():
        alone, voted = phrase_vote.score(name, use_phrases=False), phrase_vote.score(name)
        ok0, ok1, n = alone.right, voted.right, alone.rows
        a, b, rows = sum(ok0.values()), sum(ok1.values()), sum(n.values())
        print(f"| {name} | {rows} | {a} | {100 * a / rows:.0f} | {b} | {100 * b / rows:.0f} |")
        totals = [totals[0] + rows, totals[1] + a, totals[2] + b]
        for k in n:
            kinds[k] = [kinds[k][0] + n[k], kinds[k][1] + ok0[k], kinds[k][2] + ok1[k]]
    print(f"| all | {totals[0]} | {totals[1]} | {100 * totals[1] / totals[0]:.0f} | {totals[2]} | {100 * totals[2] / totals[0]:.0f} |")
    print("\n| kind (all sets) | rows | tables alone | with the vote |\n|---|---:|---:|---:|")
    for k, (rows, a, b) in sorted(kinds.items(), key=lambda kv: -kv[1][0]):
        print(f"| {k} | {rows} | {a} ({100 * a / rows:.0f} %) | {b} ({100 * b / rows:.0f} %) |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=None, help="BLAS threads (sets OMP/OPENBLAS_NUM_THREADS)")
    args = ap.parse_args()
    if args.threads:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    import numpy as np

    from studio.affect import vad_head
    from studio.affect.parse import parse_text
    from studio.errors import StudioError

    if not vad_head.available():
        raise SystemExit("the vad-norms lexicon is not pulled: run `studio weights pull vad-norms` first")

    t = time.perf_counter()
    train, anew = vad_head.training_set(vad_head.SETTINGS["subset"])
    t_read = time.perf_counter() - t
    t = time.perf_counter()
    x = vad_head.encode(list(train.words))
    t_embed = time.perf_counter() - t
    t = time.perf_counter()
    coef, mean = vad_head.fit_kernel_ridge(x, train.vad, vad_head.SETTINGS["gamma"], vad_head.SETTINGS["lam"])
    t_fit = time.perf_counter() - t
    head = vad_head.Head(x, coef, mean, float(vad_head.SETTINGS["gamma"]), "")

    words = list(anew.words)
    r_head = vad_head.pearson(head.predict(vad_head.encode(words)), anew.vad)
    rows = {}
    for name, use in (("parse, no head (term VAD)", False), ("parse with head", True)):
        vads, keep = [], []
        for i, w in enumerate(words):
            try:
                vads.append(parse_text(w, use_head=use).vad)
                keep.append(i)
            except StudioError:
                pass
        rows[name] = (vad_head.pearson(np.array(vads), anew.vad[keep]), len(keep))
    rows["head alone"] = (r_head, len(words))

    print(f"### ANEW (Bradley & Lang 1999), {len(words)} words held out of the fit\n")
    print("| VAD from | words | r V | r A | r D |\n|---|---:|---:|---:|---:|")
    for name, (r, n) in rows.items():
        print(f"| {name} | {n} | {r[0]:.3f} | {r[1]:.3f} | {r[2]:.3f} |")

    _phrase_sets()

    threads = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS") or f"default ({os.cpu_count()} cpus)"
    print(f"\n### First build of the head ({len(train.words)} Warriner lemmas, threads: {threads})\n")
    print("| step | s |\n|---|---:|")
    print(f"| read + select lemmas | {t_read:.1f} |\n| embed (MiniLM, NumPy) | {t_embed:.1f} |\n| kernel ridge fit | {t_fit:.1f} |")
    print(f"| total | {t_read + t_embed + t_fit:.1f} |")


if __name__ == "__main__":
    main()

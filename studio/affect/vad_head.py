"""A VAD head for free text: kernel ridge regression from MiniLM sentence embeddings to human VAD ratings.

Fitted on Warriner, Kuperman & Brysbaert (2013) with every ANEW (Bradley & Lang 1999) word held out,
so ANEW scores it. The lexicons are non-commercial (see the ``vad-norms`` registry entry), so the
head is never shipped: it is fitted on the user's machine at first use and cached in the weights
store as a derived cache (studio.derived) under a hash of everything it depends on (lexicon and
embedder sha256s, fit settings), checked by its own sha256 on every open; one that does not check out is
rebuilt. Without the lexicon ``available()`` is
False and free text keeps the anchor-mixture VAD.
"""
from __future__ import annotations

import csv
import hashlib
import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

log = logging.getLogger(__name__)

LEXICON = "vad-norms"
WARRINER = "NoVAD_v2013.csv"
ANEW = "ANEW_v1999.csv"
# Kernel ridge, k(x, y) = exp(gamma * (cos(x, y) - 1)) on unit-length embeddings. gamma and lam were picked on a
# random 20 % of the training words (seed 0; grid gamma 2/3/4/6 x lam 0.1/0.3/1), never on ANEW: validation r there
# was V 0.81, A 0.63, D 0.68 at gamma 4, lam 0.3. A linear ridge on the same features reaches only V 0.84 on ANEW.
# The fit uses only the lemmas that are one MiniLM word piece (7,304 of the 12,882 left after holding ANEW out):
# they carry 47 % of the lexicon's tokens, so the first build embeds half as much (the embedding is most of the
# build time), and ANEW r drops only from V 0.883 / A 0.701 / D 0.738 (all lemmas) to 0.869 / 0.688 / 0.717.
SETTINGS = {"version": 2, "features": "minilm-l6-v2 mean-pooled, unit norm", "model": "kernel ridge, exp(gamma*(cos-1))",
            "gamma": 4.0, "lam": 0.3, "holdout": "anew", "scale": "(x - 5) / 4", "subset": "single word piece"}
LICENCE_NOTE = "VAD head fitted on Warriner et al. 2013 / ANEW norms: non-commercial use only (CC BY-NC-SA 4.0)"


@dataclass(frozen=True)
class Norms:
    words: tuple[str, ...]
    vad: np.ndarray  # (n, 3) on [-1, 1]


def _scale(x: str) -> float:
    return (float(x) - 5.0) / 4.0  # the 1-9 rating scales onto the studio's [-1, 1]


def read_warriner(path: Path) -> Norms:
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["Word"].strip()]
    return Norms(tuple(r["Word"].strip().lower() for r in rows),
                 np.array([[_scale(r["V.Mean.Sum"]), _scale(r["A.Mean.Sum"]), _scale(r["D.Mean.Sum"])] for r in rows]))


def read_anew(path: Path) -> Norms:
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["Gender"].strip() == "All"]
    return Norms(tuple(r["Word"].strip().lower() for r in rows),
                 np.array([[_scale(r["ValMn"]), _scale(r["AroMn"]), _scale(r["DomMN"])] for r in rows]))


def available() -> bool:
    from studio import weights

    return weights.status(LEXICON) == "ok"


def cache_inputs(settings: dict | None = None) -> dict:
    """Everything the head depends on: the lexicon's and the embedder's verified file hashes, the fit settings."""
    from studio import derived
    from studio.affect.embedder import MODEL

    return {"lexicon": derived.model_digest(LEXICON), "embedder": derived.model_digest(MODEL),
            "settings": SETTINGS if settings is None else settings, "version": 2}


def cache_key(settings: dict | None = None, inputs: dict | None = None) -> str:
    inputs = cache_inputs(settings) if inputs is None else inputs
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def encode(texts: Sequence[str]) -> np.ndarray:
    """Embeddings in batches of similar token length, so short words are not padded to long ones."""
    from studio.affect.embedder import embedder

    emb = embedder()
    lens = np.array([sum(e.attention_mask) for e in emb.tok.encode_batch(list(texts))])
    order = np.argsort(lens, kind="stable")
    out = np.zeros((len(texts), 384), dtype=np.float32)
    for i in range(0, len(texts), 256):
        idx = order[i:i + 256]
        out[idx] = emb.encode([texts[j] for j in idx])
    return out


@dataclass(frozen=True)
class Head:
    support: np.ndarray  # (n, 384) training embeddings
    coef: np.ndarray  # (n, 3)
    mean: np.ndarray  # (3,)
    gamma: float
    key: str

    def predict(self, emb: np.ndarray) -> np.ndarray:
        k = np.exp(self.gamma * (emb.astype(np.float32) @ self.support.T - 1.0))
        return np.clip(k @ self.coef + self.mean, -1.0, 1.0)

    def confidence(self, emb: np.ndarray) -> np.ndarray:
        """Kernel value to the nearest training word, in (0, 1]: 1 for a word the head was fitted on."""
        return np.exp(self.gamma * ((emb.astype(np.float32) @ self.support.T).max(1) - 1.0))

    def vad(self, text: str) -> tuple[float, float, float]:
        return tuple(float(x) for x in self.predict(encode([text]))[0])  # type: ignore[return-value]


def fit_kernel_ridge(x: np.ndarray, y: np.ndarray, gamma: float, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """(coef, mean): solves (K + lam I) coef = y - mean in float32, in place (the n x n kernel is the memory peak)."""
    from scipy.linalg import cho_factor, cho_solve

    x = x.astype(np.float32)
    k = x @ x.T
    k -= 1.0
    k *= gamma
    np.exp(k, out=k)
    k.flat[:: len(x) + 1] += lam
    mean = y.mean(0)
    coef = cho_solve(cho_factor(k, overwrite_a=True, check_finite=False), (y - mean).astype(np.float32), check_finite=False)
    return coef.astype(np.float32), mean.astype(np.float32)


def single_piece(words: Sequence[str]) -> list[bool]:
    """Whether each word is one MiniLM word piece ([CLS] word [SEP])."""
    from studio.affect.embedder import embedder

    return [sum(e.attention_mask) == 3 for e in embedder().tok.encode_batch(list(words))]


def training_set(subset: str | None = "single word piece") -> tuple[Norms, Norms]:
    """(Warriner without ANEW's words, ANEW); ``subset`` keeps only single-word-piece lemmas (see SETTINGS)."""
    from studio import weights

    warr = read_warriner(weights.path(LEXICON, WARRINER))
    anew = read_anew(weights.path(LEXICON, ANEW))
    held = set(anew.words)
    keep = [i for i, w in enumerate(warr.words) if w not in held]
    if subset == "single word piece":
        one = single_piece([warr.words[i] for i in keep])
        keep = [i for i, k in zip(keep, one) if k]
    elif subset is not None:
        raise ValueError(f"unknown subset {subset!r}")
    return Norms(tuple(warr.words[i] for i in keep), warr.vad[keep]), anew


def fit(norms: Norms, gamma: float, lam: float, key: str = "") -> Head:
    """A head on any rated word list (the full build, or a small subset in a test)."""
    x = encode(list(norms.words))
    coef, mean = fit_kernel_ridge(x, norms.vad, gamma, lam)
    return Head(x, coef, mean, float(gamma), key)


def pearson(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """Pearson r per VAD column."""
    return tuple(float(np.corrcoef(pred[:, i], truth[:, i])[0, 1]) for i in range(3))  # type: ignore[return-value]


def build(settings: dict | None = None) -> Head:
    cfg = SETTINGS if settings is None else settings
    train, _ = training_set(cfg.get("subset"))
    log.info("fitting the free-text VAD head on %d Warriner words (first use, about half a minute; cached afterwards)",
             len(train.words))
    return fit(train, cfg["gamma"], cfg["lam"], cache_key(cfg))


def _valid(a: dict[str, np.ndarray]) -> bool:
    sup, coef, mean = a.get("support"), a.get("coef"), a.get("mean")
    if sup is None or coef is None or mean is None or "gamma" not in a:
        return False
    n = len(sup)
    return n > 0 and sup.shape == (n, 384) and coef.shape == (n, 3) and mean.shape == (3,) \
        and all(np.isfinite(x).all() for x in (sup, coef, mean))


def load_or_build(settings: dict | None = None) -> Head:
    """The head from its derived cache (studio.derived: keyed by all inputs, checked by its own sha256 on
    every open), fitted and cached when there is none or it does not check out."""
    from studio import derived

    inputs = cache_inputs(settings)  # hashes the lexicon and embedder files once (verified, then cached)
    key = cache_key(settings, inputs)

    def fitted() -> dict[str, np.ndarray]:
        h = build(settings)
        log.info("caching the VAD head (derived from the non-commercial vad-norms lexicon; never committed)")
        return {"support": h.support, "coef": h.coef, "mean": h.mean, "gamma": np.float64(h.gamma)}

    a = derived.cached("vad-head", inputs, fitted, valid=_valid)
    return Head(a["support"].astype(np.float32), a["coef"].astype(np.float32), a["mean"].astype(np.float32),
                float(a["gamma"]), key)


@lru_cache(maxsize=1)
def head() -> Head | None:
    """The cached head, fitted on first use; None when the lexicon has not been pulled."""
    if not available():
        return None
    return load_or_build()

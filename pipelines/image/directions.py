"""Training-free emotion directions in a diffusion pipeline's own text-embedding space.

EmotiCrafter (He et al. 2025) learns a network that maps (prompt embedding, valence, arousal) to an
emotion-carrying residual. Without its training data we get a first-order version for free: embed
anchor phrases whose VAD values are known (the studio taxonomy: Russell & Mehrabian 1977, ALMA,
Plutchik, Parrott, EmoNet rows, each sourced in studio/data/taxonomy.csv), subtract the embedding of
the same template with a neutral word, and ridge-regress those differences on VAD. The result is a
linear map W (3 → tokens × dim, plus 3 → pooled dim for SDXL); ``W · (V, A, D)`` is the residual
added to a prompt's embeddings from its end-of-text token on (see EmotionDirections). Linear in the realised VAD point, so intensity 0 adds exactly
nothing and the residual grows monotonically with intensity.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch

TEMPLATE = "an image that feels {}"
NEUTRAL_WORD = "neutral"
RIDGE = 0.1  # shrinks directions that a handful of anchors cannot pin down


def anchor_phrases() -> list[tuple[str, tuple[float, float, float]]]:
    """(phrase, VAD) for every non-neutral taxonomy term: 61 phrases in the shipped table."""
    from studio.affect import taxonomy

    out = []
    for name, term in taxonomy.terms().items():
        if name == NEUTRAL_WORD or not any(term.vad):
            continue
        out.append((TEMPLATE.format(name), term.vad))
    return out


@dataclass
class EmotionDirections:
    """``tokens``: (3, K, D) directions for the end-of-text token and the K−1 padding positions after it;
    ``pooled``: (3, P) or None (SD 1.x/2.x).

    Why aligned at the end-of-text token: CLIP's text encoder is causal, so an anchor's emotion word
    changes nothing before it and everything from it on, and its end-of-text and padding outputs carry
    the whole phrase (they are what the pooled embedding is read from). Adding the residual from the
    user prompt's own end-of-text token onwards therefore injects the emotion where CLIP summarises a
    sentence and leaves the prompt's content tokens exactly as encoded."""
    tokens: torch.Tensor
    pooled: torch.Tensor | None = None
    n_anchors: int = 0

    def residual(self, vad: Sequence[float], eos: int, length: int, dtype: torch.dtype, device
                 ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(length, D) token residual with the tail placed from position ``eos``; pooled residual or None."""
        p = torch.tensor([float(x) for x in vad], dtype=torch.float32)
        tail = torch.einsum("k,ktd->td", p, self.tokens)
        out = torch.zeros(length, tail.shape[1])
        eos = max(1, min(int(eos), length - 1))
        n = min(tail.shape[0], length - eos)
        out[eos:eos + n] = tail[:n]
        pooled = None if self.pooled is None else (p @ self.pooled).to(device=device, dtype=dtype)
        return out.to(device=device, dtype=dtype), pooled


def ridge_fit(x: torch.Tensor, y: torch.Tensor, lam: float = RIDGE) -> torch.Tensor:
    """Closed-form ridge without intercept: (XᵀX + λI)⁻¹ XᵀY. X (N, 3), Y (N, F) → (3, F).

    No intercept on purpose: the neutral phrase is the origin, so VAD (0, 0, 0) must map to zero."""
    x = x.double()
    y = y.double()
    a = x.T @ x + lam * torch.eye(x.shape[1], dtype=torch.float64)
    return torch.linalg.solve(a, x.T @ y).float()


def fit_directions(encode: Callable[[list[str]], tuple[torch.Tensor, torch.Tensor | None]],
                   eos_positions: Callable[[list[str]], list[int]],
                   anchors: list[tuple[str, tuple[float, float, float]]] | None = None) -> EmotionDirections:
    """``encode(prompts) -> (embeds (N, T, D), pooled (N, P) or None)`` from the pipeline itself;
    ``eos_positions(prompts)`` → index of each prompt's end-of-text token."""
    anchors = anchors or anchor_phrases()
    phrases = [p for p, _ in anchors]
    vad = torch.tensor([v for _, v in anchors], dtype=torch.float32)
    neutral = TEMPLATE.format(NEUTRAL_WORD)
    with torch.no_grad():
        emb, pooled = encode(phrases)
        n_emb, n_pooled = encode([neutral])
    emb, n_emb = emb.float().cpu(), n_emb.float().cpu()
    eos = eos_positions(phrases)
    (n_eos,) = eos_positions([neutral])
    t = emb.shape[1]
    k = t - max(eos + [n_eos])
    if k < 1:
        raise ValueError("anchor phrases fill the whole text window")
    tails = torch.stack([emb[i, e:e + k] - n_emb[0, n_eos:n_eos + k] for i, e in enumerate(eos)])
    w = ridge_fit(vad, tails.reshape(len(phrases), -1)).reshape(3, k, emb.shape[2])
    wp = None
    if pooled is not None:
        wp = ridge_fit(vad, (pooled.float().cpu() - n_pooled.float().cpu()))
    return EmotionDirections(tokens=w, pooled=wp, n_anchors=len(anchors))

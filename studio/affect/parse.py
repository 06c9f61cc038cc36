"""Free text → Affect, offline.

Words that are all taxonomy terms are read directly ("bittersweet relief" mixes both terms). Any other
text gathers two kinds of evidence: lexical (sourced idioms such as "my blood ran cold", and cue words
such as "sneering", "gobsmacked" or "deadpan", see ``studio.affect.cues``) and by meaning (MiniLM
sentence embeddings against every taxonomy term, its synonyms and the sourced glosses). Each term scores
the better of the two; the labels are a softmax over the three best. An idiom is a near-certain match,
which is why it outranks any embedding neighbour. The VAD is the matched terms' own, blended with the
head fitted on human ratings (``studio.affect.vad_head``) when its lexicon has been pulled: a single word
that is no taxonomy term takes the head's VAD (half of it for a cue word), longer text weighs the head
by how close the text lies to the words it was fitted on. A description of speech or writing ("a brief
non-committal reply", "a by-the-book answer") whose words name no emotion is neutral speech: the rule lifts
neutral to ``DESCRIBED_SPEECH`` and says so in ``why``, so such text is neither an error nor the embedding's
nearest emotion. Text of two words or more also asks the labelled example phrases (``studio.affect.phrase_vote``):
their vote weighs half beside the tables' evidence (a quarter beside a cue word or idiom, scaled down when the
nearest phrase is far), and decides alone where nothing else reaches the similarity floor; a sentence of five words
or more with nothing emotional in it and no clear vote is a plain statement, neutral. Intensifiers and softeners
scale the result ("slightly annoyed"
< "furious"). A negator flips polarity only over the emotion words it scopes over (``studio.affect.negation``):
"not happy" is negated, "so disappointed I didn't get the job" is not, "never felt so alone" is emphatic.
``Affect.why`` keeps the nearest labels and their scores.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

from studio.affect import cues, negation, phrase_vote, taxonomy
from studio.affect.core import MAX_INTENSITY, Affect
from studio.errors import StudioError

# multipliers on the term's own intensity; values follow the usual ordering of degree adverbs
# (e.g. Quirk et al. 1985 "amplifiers" vs "downtoners"), calibrated by hand, not from a corpus
MODIFIERS: dict[str, float] = {
    "extremely": 1.5, "incredibly": 1.5, "utterly": 1.5, "completely": 1.4, "absolutely": 1.4, "totally": 1.3,
    "deeply": 1.3, "very": 1.3, "really": 1.2, "so": 1.2, "super": 1.3, "intensely": 1.5, "overwhelmingly": 1.5,
    "quite": 1.1, "pretty": 1.1, "fairly": 0.9, "somewhat": 0.6, "slightly": 0.45, "mildly": 0.5, "faintly": 0.4,
    "barely": 0.3, "a bit": 0.5, "a little": 0.5, "a touch of": 0.5, "a hint of": 0.4, "hint of": 0.4,
    "kind of": 0.6, "sort of": 0.6, "quiet": 0.6, "quietly": 0.6, "gentle": 0.6, "gently": 0.6, "soft": 0.6,
    "subtle": 0.5, "subtly": 0.5, "mild": 0.5, "slight": 0.45, "intense": 1.4, "overwhelming": 1.5, "pure": 1.3,
}
NEGATORS = negation.NEGATORS
STOPWORDS = {"i", "im", "i'm", "am", "feel", "feeling", "feels", "felt", "a", "an", "the", "of", "with", "and",
             "but", "yet", "in", "me", "my", "is", "are", "was", "be", "being", "some", "mixed", "mix", "touch",
             "sense", "bit", "little", "to", "at", "it", "that", "this", "by", "for", "mood", "emotion", "tone"}
TEMPERATURE = 0.05
MIN_SIMILARITY = 0.3  # below this MiniLM neighbours are unrelated words (e.g. "the table is brown": 0.18)
NEGATION_SCALE = 0.6  # "not happy" is milder than "sad"
CUE_SIMILARITY = 0.7  # a cue word counts as a near-exact match: above what unrelated anchors reach (< 0.6 seen)
# an interjection ("ugh", "crikey") colours the sentence but yields to a content word naming an emotion;
# an act of disrespect ("booed", "snubbed") is contempt only when nothing else names an emotion: both stay
# above what MiniLM gives unrelated anchors (< 0.6) and below a cue word
INTERJECTION_SIMILARITY = 0.66
GESTURE_SIMILARITY = 0.62
CUE_REPEAT = 0.03  # each further cue word for the same term ("sobbing and weeping") adds this much
IDIOM_SIMILARITY = 0.9  # a fixed expression names its emotion outright, above any cue word
# a single word is what the head was fitted on: it speaks alone, or half when a cue word names the label
# (on the 41 ANEW words that are cue words, r V 0.858 label VAD / 0.866 head / 0.869 half and half)
CUE_HEAD_WEIGHT = 0.5
NEUTRAL_CUE = 0.6  # "plain", "dry", "level" describe emotionless speech only when nothing emotional is named
# a description of speech or writing ("a brief reply", "a formal announcement") whose words name no emotion is
# neutral speech (Burkhardt et al. 2005: read "calmly, without expressed emotion"); the rule scores neutral this
# high, below a cue word and below what MiniLM gives an uncued but emotional manner ("a cheery announcement": joy
# 0.49), above what it gives plain manner words it half-matches ("a reserved polite reply": contempt 0.43)
DESCRIBED_SPEECH = 0.45
SPEECH_REASON = "neutral (speech described without an emotion word)"
# the labelled phrases' vote (studio.affect.phrase_vote) weighs this much beside the tables' evidence; alone, where
# nothing in the text reaches MIN_SIMILARITY, it decides when its winner holds VOTE_ALONE of the vote. Both were
# picked by leave-one-set-out scores over the phrase sets (weights 0.3/0.5/0.7, beside a cue 0/0.25/0.5; all 14 sets
# 907-909 of 964 right, against 880 for the tables alone: benchmarks/text_vad.py)
PHRASE_WEIGHT = 0.5
LEXICAL_PHRASE_WEIGHT = 0.25  # beside a cue word or idiom, which name the emotion outright
VOTE_ALONE = 0.5
VOTE_REASON = "like the sourced phrases: {}"
# a sentence of this many words with nothing emotional in it is a plain statement (neutral), as the read sentences
# of Burkhardt et al. 2005 are; a shorter fragment without an emotion word stays an error ("the table is brown")
STATEMENT_WORDS = 5
STATEMENT_REASON = "neutral (a plain statement: nothing in it names an emotion, and no emotion wins the nearest sourced phrases)"


def _anchors() -> tuple[list[str], list[str]]:
    """(phrase, term) pairs: each term's name and synonyms."""
    phrases, owners = [], []
    for name, term in taxonomy.terms().items():
        for p in (name, *term.synonyms):
            for form in (p, f"feeling {p}"):  # the bare word matches labels, the phrase matches sentences
                phrases.append(form)
                owners.append(name)
    for phrase, name in cues.anchor_phrases():
        phrases.append(phrase)
        owners.append(name)
    return phrases, owners


@lru_cache(maxsize=1)
def _anchor_matrix() -> tuple[np.ndarray, tuple[str, ...]]:
    """Anchor embeddings, a derived cache keyed by the anchor list and the embedding model's hashes."""
    from studio import derived
    from studio.affect.embedder import MODEL, embedder

    phrases, owners = _anchors()
    inputs = {"phrases": hashlib.sha256("\n".join(phrases).encode()).hexdigest(), "model": derived.model_digest(MODEL)}
    arrays = derived.cached("anchors", inputs, lambda: {"embeddings": embedder().encode(phrases)},
                            valid=lambda a: a.get("embeddings", np.empty(0)).shape[:1] == (len(phrases),))
    return arrays["embeddings"], tuple(owners)


def _strip_modifiers(text: str) -> tuple[str, float]:
    """The text without degree adverbs and negators, and the product of the adverbs' multipliers."""
    t = " " + text + " "
    mult = 1.0
    for phrase in sorted(MODIFIERS, key=len, reverse=True):
        pat = f" {phrase} "
        while pat in t:
            mult *= MODIFIERS[phrase]
            t = t.replace(pat, " ", 1)
    words = [w for w in t.split() if not negation.is_negator(w)]
    return " ".join(words), mult


def nearest_terms(text: str, k: int = 5, words: list[str] | None = None) -> list[tuple[str, float]]:
    """Taxonomy terms by cosine similarity to ``text`` (best phrase of each term); terms named by a
    cue word among ``words`` score at least ``CUE_SIMILARITY``."""
    best = _similarities(_encode(text))
    for name, score in _cue_scores(words or []).items():
        best[name] = max(best.get(name, -2.0), score)
    return sorted(best.items(), key=lambda kv: -kv[1])[:k]


def _encode(text: str) -> np.ndarray:
    from studio.affect.embedder import embedder

    return embedder().encode([text])[0]


def _similarities(vec: np.ndarray) -> dict[str, float]:
    """The best anchor cosine per term for an embedded text."""
    mat, owners = _anchor_matrix()
    sims = mat @ vec
    best: dict[str, float] = {}
    for s, o in zip(sims.tolist(), owners):
        if s > best.get(o, -2.0):
            best[o] = s
    return best


def _calm_words(words: list[str], speech: bool) -> list[str]:
    """Manner words ("brief", "steady", "formal") that describe an unemotional delivery: only beside a kind of
    speech, since "calm" alone is serenity and "short" alone says nothing."""
    if not speech:
        return []
    calm = cues.speech_words()[1]
    return [w for w in words if w in calm or (w.endswith("ly") and w[:-2] in calm)]


def _cue_scores(words: list[str], speech: bool | None = None) -> dict[str, float]:
    """Cue-word scores per term; ``speech`` says the text names a kind of speech (found in ``words`` if None)."""
    counts: dict[str, int] = {}
    calm = _calm_words(words, any(cues.is_speech_noun(w) for w in words) if speech is None else speech)
    rest = [w for w in words if w not in calm]
    for _, term in cues.cue_hits(rest):
        counts[term] = counts.get(term, 0) + 1
    if calm:
        counts["neutral"] = counts.get("neutral", 0) + len(calm)
    out = {t: (NEUTRAL_CUE if t == "neutral" else CUE_SIMILARITY) + CUE_REPEAT * (n - 1) for t, n in counts.items()}
    for hits, score in ((cues.interjection_hits(rest), INTERJECTION_SIMILARITY), (cues.gesture_hits(rest), GESTURE_SIMILARITY)):
        for _, term in hits:
            out[term] = max(out.get(term, 0.0), score)
    return out


def _described_speech(speech: bool, lexical: dict[str, float], idioms: list) -> bool:
    """Speech or writing described with no word or idiom that names an emotion."""
    return speech and all(t == "neutral" for t in lexical) and all(i.term == "neutral" for i, _ in idioms)


def parse_text(text: str, intensity: float | None = None, use_head: bool = True, use_phrases: bool = True) -> Affect:
    """Free text → Affect; ``use_head=False`` keeps the matched terms' own VAD (the pre-head behaviour),
    ``use_phrases=False`` leaves out the labelled phrases' vote (the tables alone)."""
    if not isinstance(text, str) or not text.strip():
        raise StudioError("emotion text is empty: describe a feeling, e.g. 'bittersweet relief' or 'slightly annoyed'")
    tokens, clauses = negation.tokenize(text)
    idioms = cues.idiom_hits(tokens)
    scope = negation.scope(tokens, clauses, idioms)
    if scope.dropped:  # "not angry, just disappointed": the negated word is no evidence, the rest speaks
        keep = [i for i in range(len(tokens)) if i not in scope.dropped]
        tokens, clauses = [tokens[i] for i in keep], [clauses[i] for i in keep]
        idioms = cues.idiom_hits(tokens)
    negate = scope.negate
    clean = " ".join(tokens)
    inside = {p for _, pos in idioms for p in pos}
    # a negator inside an idiom ("no way", "didn't see that coming") is part of its meaning, not a flip
    core, mult = _strip_modifiers(" ".join(t for i, t in enumerate(tokens) if i not in inside))
    mult *= scope.emphasis
    words = [w for w in core.split() if w not in STOPWORDS]
    if not words and not idioms:
        raise StudioError(f"no emotion word in {text!r}: name a feeling, e.g. 'slightly annoyed' or 'calm contentment'")

    note = ""
    known = _known_terms(words) if words and not idioms else None
    if known is not None:
        parts = [Affect.of(t.name, t.intensity) for t in known]
        why = tuple((t.name, 1.0) for t in known)
        affect = parts[0] if len(parts) == 1 else Affect.mix(parts)
    else:
        embed_text = " ".join(t for t in _strip_modifiers(clean)[0].split()) or clean
        # one embedding per text: the anchors, the VAD head and (for the raw text) the phrase vote share them
        vec = _encode(embed_text)
        best = _similarities(vec)
        speech = any(cues.is_speech_noun(t) for t in tokens)  # "tone" is a stopword, so look at every token
        lexical = _cue_scores(words, speech)
        for idiom, _ in idioms:
            lexical[idiom.term] = max(lexical.get(idiom.term, 0.0), IDIOM_SIMILARITY)
        for name, score in lexical.items():
            best[name] = max(best.get(name, -2.0), score)
        described = _described_speech(speech, lexical, idioms)
        if described:
            best["neutral"] = max(best.get("neutral", -2.0), DESCRIBED_SPEECH)
        near = sorted(best.items(), key=lambda kv: -kv[1])[:5]
        # a single word is what the cue tables and the VAD head are for (ANEW r dropped with the vote on words)
        raw = text.strip()
        votes = phrase_vote.vote(raw, vec if raw == embed_text else None) if use_phrases and len(tokens) > 1 else None
        if near[0][1] < MIN_SIMILARITY:
            return _without_evidence(text, tokens, near, votes, intensity)
        top = near[:3]
        sims = np.array([s for _, s in top])
        w = np.exp((sims - sims.max()) / TEMPERATURE)
        w /= w.sum()
        why = tuple((SPEECH_REASON if described and n == "neutral" else n, round(float(s), 3)) for n, s in near)
        if near[0][0] == "neutral" and (described or w[0] >= 0.5):  # emotionless speech, not a faint emotion
            return _neutral(text, why)
        parts = [(Affect.of(name, taxonomy.terms()[name].intensity), float(wi)) for (name, _), wi in zip(top, w)
                 if wi >= 0.05]
        affect = Affect.mix([p for p, _ in parts], [wi for _, wi in parts])
        # the vote knows nothing of negation, so a sentence with a negator keeps the tables' scope rules alone
        if votes is not None and votes.trust > 0 and not any(negation.is_negator(t) for t in tokens):
            why = tuple(sorted(why + _vote_why(votes.shares), key=lambda kv: -kv[1]))
            voted = _with_vote(affect, parts, votes.shares, votes.trust * (LEXICAL_PHRASE_WEIGHT if lexical else PHRASE_WEIGHT))
            if voted is None:
                return _neutral(text, why)
            affect = voted
        head = _vad_head() if use_head else None
        if head is not None:
            from studio.affect.vad_head import LICENCE_NOTE

            note = LICENCE_NOTE
            single = len(tokens) == 1 and not idioms
            weight = (CUE_HEAD_WEIGHT if lexical else 1.0) if single else None
            affect = Affect(vad=_blend(head, vec, affect.vad, weight), mixture=affect.mixture,
                            intensity=affect.intensity, label=affect.label)
    base = affect.intensity
    if negate:
        affect = affect.negated()
        mult *= NEGATION_SCALE
    final = min(MAX_INTENSITY, base * mult) if intensity is None else intensity
    return Affect(vad=affect.vad, mixture=affect.mixture, intensity=final, label=text.strip(), why=why, note=note)


def _neutral(text: str, why: tuple[tuple[str, float], ...]) -> Affect:
    return Affect(mixture=(("neutral", 1.0),), intensity=0.0, label=text.strip(), why=why)


def _with_vote(affect: Affect, parts: list[tuple[Affect, float]], votes: dict[str, float], weight: float) -> Affect | None:
    """The tables' core mixture and the vote, weighed ``1 - weight`` : ``weight``; None when neutral wins, else the
    emotions' shares as the mixture."""
    mix = dict.fromkeys(taxonomy.CORE_LABELS, 0.0)
    for name, m in affect.mixture:
        mix[name] += (1 - weight) * m
    for name, v in votes.items():
        mix[name] += weight * v
    if max(mix, key=mix.get) == "neutral":
        return None
    emotions = {n: m for n, m in mix.items() if n != "neutral" and m >= 0.02}
    total = sum(emotions.values())
    # the phrases carry labels, not VAD: where they only confirm the tables' winner, the VAD stays that of the words
    # that name it ("my heart is racing" keeps fear's arousal); where they overturn it, the VAD follows the new mix
    vad = affect.vad
    if max(emotions, key=emotions.get) != affect.top_label:
        extra = [(Affect.of(n, taxonomy.terms()[n].intensity), weight * v) for n, v in votes.items()
                 if n != "neutral" and v >= 0.05]
        share = sum(w for _, w in parts)
        vad = Affect.mix([p for p, _ in parts] + [p for p, _ in extra],
                         [(1 - weight) * w / share for _, w in parts] + [w for _, w in extra]).vad
    return Affect(vad=vad, mixture=tuple((n, m / total) for n, m in sorted(emotions.items())),
                  intensity=affect.intensity, label=affect.label)


def _vote_why(votes: dict[str, float]) -> tuple[tuple[str, float], ...]:
    return tuple((VOTE_REASON.format(n), round(v, 3)) for n, v in sorted(votes.items(), key=lambda kv: -kv[1])[:2]
                 if v >= 0.05)


def _without_evidence(text: str, tokens: list[str], near: list[tuple[str, float]], votes, intensity: float | None) -> Affect:
    """Text in which no word, idiom or anchor names an emotion: the phrases' vote when it is clear and near, a plain
    statement's neutral for a whole sentence, else the one-line error."""
    why = tuple((n, round(float(sc), 3)) for n, sc in near)
    if votes is not None and votes.trust > 0 and votes.shares[votes.winner] >= VOTE_ALONE:
        why = _vote_why(votes.shares) + why
        if votes.winner == "neutral":
            return _neutral(text, why)
        base = Affect.of(votes.winner, taxonomy.terms()[votes.winner].intensity)
        return Affect(vad=base.vad, mixture=base.mixture, intensity=base.intensity if intensity is None else intensity,
                      label=text.strip(), why=why)
    content = [t for t in tokens if t not in STOPWORDS and not negation.is_negator(t)]
    if votes is not None and len(tokens) >= STATEMENT_WORDS and len(content) >= 2:
        return _neutral(text, ((STATEMENT_REASON, 1.0),) + (_vote_why(votes.shares) if votes.trust > 0 else ()) + why)
    names = ", ".join(f"{n} ({sc:.2f})" for n, sc in near[:3])
    raise StudioError(f"no clear emotion in {text!r} (nearest: {names}); name a feeling, e.g. 'slightly annoyed'")


def _blend(head, vec: np.ndarray, labels_vad: tuple[float, float, float], weight: float | None) -> tuple[float, float, float]:
    """The head's VAD for an embedded text mixed with the matched labels' VAD, the head weighing ``weight``; None
    (longer text) weighs it by the kernel similarity to its nearest training word, since far from every
    training word the kernel ridge falls back towards the lexicon mean."""
    emb = vec[None, :]
    pred = head.predict(emb)[0]
    wt = head.confidence(emb)[0] if weight is None else weight
    return tuple(float(np.clip(wt * p + (1 - wt) * v, -1, 1)) for p, v in zip(pred, labels_vad))  # type: ignore[return-value]


def _vad_head():
    from studio.affect import vad_head

    return vad_head.head()


def _known_terms(words: list[str]) -> list | None:
    """All content words (or word pairs) as taxonomy terms, else None."""
    out, i = [], 0
    while i < len(words):
        pair = " ".join(words[i:i + 2])
        if i + 1 < len(words) and taxonomy.lookup(pair):
            out.append(taxonomy.lookup(pair))
            i += 2
            continue
        term = taxonomy.lookup(words[i])
        if term is None:
            return None
        out.append(term)
        i += 1
    return [t for t in out if t.name != "neutral"] or out

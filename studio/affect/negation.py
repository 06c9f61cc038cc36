"""Which emotion words a negator scopes over.

A negator flips only the emotion word or idiom it governs: one that follows it closely, in the same clause,
with nothing between them but linking and degree words ("not happy", "I'm not at all happy", "I don't feel
very cheerful"). Negation scope ends at punctuation and at a conjunction that starts a new clause (Councill,
McDonald & Velikovich 2010, "What's great and what's not: learning to classify the scope of negation for
improved sentiment analysis"), so "so disappointed I didn't get the job" and "furious that they didn't call
back" keep their emotion, and a content word between them ("I can't believe how sad") takes the negation
itself. A negator before a comparative ("never felt so alone", "couldn't be happier", "never been this
angry") is emphasis, not negation (Quirk et al. 1985, negative + comparative as the absolute degree). Text
with no emotion word at all keeps the older rule (any negator flips), since there the negated event is what
carries the feeling ("I didn't get the job").
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from studio.affect import cues, taxonomy

NEGATORS = frozenset({"not", "no", "never", "hardly", "don't", "didn't", "doesn't", "isn't", "wasn't", "aren't",
                      "weren't", "can't", "cannot", "couldn't", "won't", "wouldn't", "haven't", "hasn't", "hadn't",
                      "nor", "ain't", "shouldn't", "mustn't", "neither", "nobody", "nothing", "none", "dont", "didnt",
                      "doesnt", "isnt", "wasnt", "cant", "couldnt", "wont", "wouldnt", "havent", "hasnt"})
# words that start a new clause: the negator before them does not reach past them
BOUNDARIES = frozenset({"but", "and", "because", "cos", "cause", "though", "although", "yet", "when", "while",
                        "since", "after", "before", "until", "unless", "if", "which", "who", "whereas", "or",
                        "now", "then", "just", "instead", "rather", "only"})
# words that may stand between a negator and the emotion word it negates ("not at all happy", "don't feel too sad")
LINKING = frozenset({"i", "im", "i'm", "am", "is", "are", "was", "were", "be", "been", "being", "feel", "feeling",
                     "feels", "felt", "get", "getting", "got", "look", "looking", "looked", "seem", "seems",
                     "seemed", "sound", "sounds", "sounded", "at", "all", "too", "any", "very", "that", "this", "so",
                     "more", "less", "as", "even", "ever", "really", "particularly", "especially", "exactly",
                     "entirely", "remotely", "terribly", "overly", "much", "a", "an", "the", "bit", "little", "in",
                     "least", "quite", "totally", "completely", "my", "of", "it", "you", "he", "she", "we",
                     "they", "it's", "he's", "she's", "we're", "they're", "you're", "have", "has", "had", "ve",
                     "i've", "anymore", "longer", "yet", "today", "now"} - BOUNDARIES)
# a negator of possibility or experience before a comparative is emphasis ("couldn't be happier")
EMPHATIC_NEGATORS = frozenset({"never", "couldn't", "can't", "cannot", "couldnt", "cant", "haven't", "hasn't",
                               "hadn't", "havent", "hasnt"})
COMPARATIVES = frozenset({"so", "this", "more", "as"})
EMPHASIS = 1.5  # "never felt so alone" reads as "utterly alone" (MODIFIERS["utterly"])
REACH = 6  # the most words a negator's scope spans, as in Councill et al.'s window-based baseline
_CLAUSE = re.compile(r"[,.;:!?()\"\u2013\u2014]|\s-\s")


def is_negator(word: str) -> bool:
    return word in NEGATORS or (word.endswith("n't") and len(word) > 3)


def tokenize(text: str) -> tuple[list[str], list[int]]:
    """Lower-cased word tokens and the clause index of each (clauses split at punctuation)."""
    tokens: list[str] = []
    clauses: list[int] = []
    for c, part in enumerate(_CLAUSE.split(text.lower().replace("\u2019", "'"))):
        for t in re.sub(r"[^\w\s'-]", " ", part).replace("-", " ").split():
            tokens.append(t)
            clauses.append(c)
    return tokens, clauses


@dataclass(frozen=True)
class Scope:
    negate: bool = False  # every emotion word is negated: flip the result
    dropped: frozenset[int] = field(default_factory=frozenset)  # negated emotion words beside unnegated ones
    emphasis: float = 1.0  # "never been so scared"


def _comparative(word: str) -> bool:
    """"happier", "sadder", "angrier": a comparative whose base is an emotion word."""
    if not word.endswith("er") or len(word) < 5:
        return False
    base = {word[:-2], word[:-3], word[:-3] + "y" if word.endswith("ier") else word[:-2]}
    return any(b in cues.cue_words() or taxonomy.lookup(b) is not None for b in base)


def _governs(tokens: list[str], clauses: list[int], neg: int, target: int) -> str | None:
    """"negate", "emphasis" or None: what the negator at ``neg`` does to the emotion word at ``target``."""
    if not 0 < target - neg <= REACH or clauses[neg] != clauses[target]:
        return None
    between = tokens[neg + 1:target]
    if any(w in BOUNDARIES or is_negator(w) or (w not in LINKING and not _degree(w)) for w in between):
        return None
    if _emphatic(tokens, neg) and (COMPARATIVES & set(between) or _comparative(tokens[target])):
        return "emphasis"
    return "negate"


def _emphatic(tokens: list[str], neg: int) -> bool:
    before = tokens[neg - 1] if neg > 0 else ""
    return tokens[neg] in EMPHATIC_NEGATORS or (tokens[neg] == "not" and before in {"could", "can", "have", "has"})


def _degree(word: str) -> bool:
    from studio.affect.parse import MODIFIERS

    return word in MODIFIERS


def scope(tokens: list[str], clauses: list[int], idioms: list) -> Scope:
    """What the text's negators do, given its tokens, their clauses and the idioms found in them."""
    inside = {p for _, pos in idioms for p in pos}
    negators = [i for i, t in enumerate(tokens) if is_negator(t) and i not in inside]
    if not negators:
        return Scope()
    targets = [pos[0] for idiom, pos in idioms if idiom.term != "neutral"]
    outside = [i for i in range(len(tokens)) if i not in inside and not is_negator(tokens[i])]
    rest = [tokens[i] for i in outside]
    targets += [outside[j] for j, _ in cues.cue_hits(rest) + cues.gesture_hits(rest) if tokens[outside[j]] not in LINKING]
    if not targets:  # the negated event carries the feeling ("I didn't get the job"), unless it is emphasis
        if all(_emphatic(tokens, n) and COMPARATIVES & set(tokens[n + 1:n + 4]) for n in negators):
            return Scope(emphasis=EMPHASIS)  # "never felt so alone"
        return Scope(negate=True)
    effect = {t: next((e for n in negators if (e := _governs(tokens, clauses, n, t))), None) for t in targets}
    negated = {t for t, e in effect.items() if e == "negate"}
    emphasis = EMPHASIS if "emphasis" in effect.values() else 1.0
    if negated and len(negated) == len(targets):
        return Scope(negate=True)
    if negated:
        idiom_words = {p for _, pos in idioms if pos[0] in negated for p in pos}
        return Scope(dropped=frozenset(negated | idiom_words), emphasis=emphasis)
    return Scope(emphasis=emphasis)

"""What free text says about emotion beyond the taxonomy's own words.

Four sourced tables in ``studio/data``: ``anchor_phrases.csv`` (glosses and behaviours, matched by
meaning alongside the taxonomy terms), ``cue_words.csv`` (single words such as "sneer" or "icky" that
name an emotion, matched by their stem in any position) and ``idioms.csv`` (fixed expressions such as
"my blood ran cold" whose words carry no emotion on their own, matched as base forms in order, with
room for a possessive or an adverb between them). Words and idioms generalise to sentences never seen:
"she was rolling her eyes at us" hits "roll eye"; embeddings alone put such idioms near the wrong label.
Two weaker tables: ``interjections.csv`` ("ugh", "crikey", "yay"), which colour a sentence but yield to
a content word that names an emotion ("ugh, the fridge smells rank" is disgust), and ``gesture_words.csv``,
acts of disrespect toward someone ("booed", "heckled", "snubbed", "rebuffed"), which mean contempt only
when no emotion word says otherwise ("they booed him and I was scared" is fear). An idiom pattern may
hold "..." for a longer gap ("cut ... dead" matches "cut his former business partner dead").
``speech_words.csv`` names kinds of speech and writing ("reply", "announcement") and the manner words
("brief", "formal", "steady") that, beside them, describe a delivery without emotion.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from studio.affect import taxonomy
from studio.errors import StudioError

MAX_GAP = 2  # words allowed between two idiom words ("blew MY top", "turned HER NOSE up")
WIDE_GAP = 5  # after "..." in a pattern: room for a whole noun phrase ("looked THE NEW GIRL up and down")
# words that make a pattern's match less specific: "lose my" (a loss) yields to "lose nerve" on the same words
FUNCTION_WORDS = frozenset({"my", "your", "his", "her", "their", "our", "its", "the", "a", "an", "of", "to", "in",
                            "on", "at", "it", "me", "him", "them", "us", "you", "for", "with", "be", "have"})
# irregular past forms that idioms use; regular inflections are stripped by ``stems``
IRREGULAR = {
    "blew": "blow", "blown": "blow", "ran": "run", "sank": "sink", "sunk": "sink", "fell": "fall", "broke": "break",
    "broken": "break", "got": "get", "gotten": "get", "made": "make", "went": "go", "gone": "go", "threw": "throw",
    "thrown": "throw", "took": "take", "taken": "take", "came": "come", "saw": "see", "seen": "see", "shook": "shake",
    "shaken": "shake", "lost": "lose", "kept": "keep", "felt": "feel", "bit": "bite", "gave": "give", "stood": "stand",
    "froze": "freeze", "frozen": "freeze", "struck": "strike", "caught": "catch", "left": "leave", "flew": "fly",
    "knew": "know", "thought": "think", "had": "have", "has": "have", "was": "be", "were": "be", "is": "be",
    "does": "do", "did": "do", "done": "do", "wore": "wear", "tore": "tear", "torn": "tear", "rose": "rise",
    "drove": "drive", "hid": "hide", "shot": "shoot", "woke": "wake", "dropped": "drop", "popped": "pop",
    "tickled": "tickle", "choked": "choke", "wrote": "write", "written": "write", "spat": "spit", "scared": "scare", "tied": "tie", "tired": "tire", "rolled": "roll",
}


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("studio.data").joinpath(name).read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    for r in rows:
        if r["term"] not in taxonomy.terms():
            raise StudioError(f"{name}: {r['term']!r} is not a taxonomy term")
        if not r["source"].strip():
            raise StudioError(f"{name}: a row for {r['term']!r} has no source")
    return rows


@lru_cache(maxsize=1)
def anchor_phrases() -> tuple[tuple[str, str], ...]:
    """(phrase, term) pairs."""
    return tuple((r["phrase"], r["term"]) for r in _rows("anchor_phrases.csv"))


def stems(word: str) -> set[str]:
    """The word and the stems an English inflection could have come from ("sneering" -> "sneer")."""
    out = {word}
    if word in IRREGULAR:
        out.add(IRREGULAR[word])
    for suf in ("ing", "ed", "es", "s", "ly"):
        if word.endswith(suf) and len(word) - len(suf) >= 2:
            stem = word[: -len(suf)]
            out |= {stem, stem + "e"}
            if len(stem) >= 2 and stem[-1] == stem[-2]:
                out.add(stem[:-1])  # sobbing -> sob
            if stem.endswith("i"):
                out.add(stem[:-1] + "y")  # worried -> worry
    return out


@lru_cache(maxsize=1)
def cue_words() -> dict[str, str]:
    """Cue word -> taxonomy term."""
    out: dict[str, str] = {}
    for r in _rows("cue_words.csv"):
        for w in r["words"].split("|"):
            if w.strip():
                out.setdefault(w.strip().lower(), r["term"])
    return out


@lru_cache(maxsize=1)
def interjections() -> dict[str, str]:
    """Interjection -> taxonomy term ("ugh" -> contempt, "crikey" -> surprise)."""
    return _word_table("interjections.csv")


@lru_cache(maxsize=1)
def gesture_words() -> dict[str, str]:
    """Word for an act of disrespect toward someone -> "contempt"."""
    return _word_table("gesture_words.csv")


def _word_table(name: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for r in _rows(name):
        for w in r["words"].split("|"):
            if w.strip():
                out.setdefault(w.strip().lower(), r["term"])
    return out


def _table_hit(word: str, table: dict[str, str]) -> str | None:
    return table.get("=" + word) or next((table[s] for s in sorted(stems(word)) if s in table), None)


def interjection_hits(words: list[str]) -> list[tuple[int, str]]:
    """(position, term) for each interjection (exact spelling or a listed stem)."""
    table = interjections()
    return [(i, t) for i, w in enumerate(words) if (t := table.get(w) or table.get("=" + w))]


def gesture_hits(words: list[str]) -> list[tuple[int, str]]:
    """(position, term) for each word naming an act of disrespect ("booed", "hecklers", "snubbing")."""
    table = gesture_words()
    return [(i, t) for i, w in enumerate(words) if (t := _table_hit(w, table))]


def cue_hits(words: list[str]) -> list[tuple[int, str]]:
    """(position, term) for each word that is a cue word, or a taxonomy term, by any of its stems; a cue
    written "=rank" matches that word only ("rank" is disgust, "ranked" is not)."""
    table = cue_words()
    found: list[tuple[int, str]] = []
    for i, w in enumerate(words):
        forms = sorted(stems(w))
        hit = _table_hit(w, table)
        if hit is None:
            term = next((taxonomy.lookup(s) for s in forms if taxonomy.lookup(s) is not None), None)
            hit = term.name if term is not None else None
        if hit:
            found.append((i, hit))
    return found


def cue_terms(words: list[str]) -> list[str]:
    """Taxonomy terms named by cue words in ``words``, in order of appearance."""
    out: list[str] = []
    for _, t in cue_hits(words):
        if t not in out:
            out.append(t)
    return out


@lru_cache(maxsize=1)
def speech_words() -> tuple[frozenset[str], frozenset[str]]:
    """(nouns, manner words): kinds of communication, and words that beside one mean an unemotional delivery."""
    text = resources.files("studio.data").joinpath("speech_words.csv").read_text(encoding="utf-8")
    out: dict[str, set[str]] = {"noun": set(), "calm": set()}
    for r in csv.DictReader(text.splitlines()):
        if r["role"] not in out or not r["source"].strip():
            raise StudioError(f"speech_words.csv: row {r['words'][:30]!r} needs role noun|calm and a source")
        out[r["role"]] |= {w.strip().lower() for w in r["words"].split("|") if w.strip()}
    return frozenset(out["noun"]), frozenset(out["calm"])


def is_speech_noun(word: str) -> bool:
    """"replies", "announced", "explaining" and the like, by any of their stems."""
    return bool(stems(word) & speech_words()[0])


@dataclass(frozen=True)
class Idiom:
    words: tuple[str, ...]
    term: str
    anchored: bool  # must start the text ("as if ..." is scorn only as an exclamation)

    @property
    def text(self) -> str:
        return " ".join(self.words)

    @property
    def content_words(self) -> int:
        return sum(w not in FUNCTION_WORDS and w != "..." for w in self.words)


@lru_cache(maxsize=1)
def idioms() -> tuple[Idiom, ...]:
    out = []
    for r in _rows("idioms.csv"):
        pat = r["pattern"].strip().lower()
        anchored = pat.startswith("^")
        out.append(Idiom(tuple(pat.lstrip("^").split()), r["term"], anchored))
    return tuple(out)


def _match(pattern: tuple[str, ...], forms: list[set[str]], anchored: bool) -> list[int] | None:
    """Positions of the pattern's words in order, each within MAX_GAP of the previous; None if absent."""
    starts = [0] if anchored else range(len(forms))
    words = [p for p in pattern if p != "..."]
    wide_before = []  # for each word after the first: does "..." precede it
    seen_wide = False
    for p in pattern[1:]:
        if p == "...":
            seen_wide = True
            continue
        wide_before.append(seen_wide)
        seen_wide = False
    for s in starts:
        if s >= len(forms) or words[0] not in forms[s]:
            continue
        pos, ok = [s], True
        for p, wide_gap in zip(words[1:], wide_before):
            gap = WIDE_GAP if wide_gap else MAX_GAP
            nxt = next((j for j in range(pos[-1] + 1, min(len(forms), pos[-1] + 2 + gap)) if p in forms[j]), None)
            if nxt is None:
                ok = False
                break
            pos.append(nxt)
        if ok:
            return pos
    return None


def idiom_hits(tokens: list[str]) -> list[tuple[Idiom, list[int]]]:
    """Idioms found in ``tokens`` (all words, stopwords kept), most content words first, not overlapping."""
    forms = [stems(t) | {t.replace("'", "")} for t in tokens]
    taken: set[int] = set()
    out = []
    for idiom in sorted(idioms(), key=lambda i: (-i.content_words, -len(i.words))):
        pos = _match(idiom.words, forms, idiom.anchored)
        if pos is not None and not taken & set(pos):
            taken |= set(pos)
            out.append((idiom, pos))
    return out

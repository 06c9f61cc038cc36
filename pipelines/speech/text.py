"""Text front end: clean, expand numbers and symbols, split into sentences and bounded chunks."""
from __future__ import annotations

import re
import unicodedata
import warnings
from dataclasses import dataclass

from studio.errors import StudioError

MAX_CHUNK_CHARS = 300  # sentences are grouped into chunks of about this size (bounded memory on long texts)

_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = [(10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand")]
_ORD = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth", "nine": "ninth", "twelve": "twelfth"}

_ABBREV = {
    "mr": "mister", "mrs": "missus", "ms": "miz", "dr": "doctor", "prof": "professor", "st": "saint", "jr": "junior",
    "sr": "senior", "vs": "versus", "etc": "et cetera", "approx": "approximately", "no": "number", "dept": "department",
    "e.g": "for example", "i.e": "that is", "a.m": "a m", "p.m": "p m", "u.s": "u s", "mt": "mount",
}
_SYMBOLS = {"&": " and ", "@": " at ", "+": " plus ", "=": " equals ", "#": " number ", "°": " degrees ",
            "€": " euros ", "£": " pounds ", "×": " times ", "/": " slash ", "*": " ", "_": " ", "~": " about ",
            "|": ", ", "<": " less than ", ">": " greater than ", "^": " ", "`": "", "\\": " "}
# what the voice can say: ASCII letters and digits, Latin accented letters, and the punctuation below
_SPEAKABLE = re.compile(r"[A-Za-z0-9À-ÖØ-öø-ÿ\s.,;:!?'\"()\-]")


def number_words(n: int) -> str:
    if n < 0:
        return "minus " + number_words(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("-" + _ONES[n % 10] if n % 10 else "")
    if n < 1000:
        return _ONES[n // 100] + " hundred" + (" " + number_words(n % 100) if n % 100 else "")
    for value, name in _SCALES:
        if n >= value:
            head, rest = divmod(n, value)
            return number_words(head) + " " + name + (" " + number_words(rest) if rest else "")
    raise AssertionError(n)


def ordinal_words(n: int) -> str:
    words = number_words(n)
    head, _, last = words.rpartition(" ") if " " in words else ("", "", words)
    pre, _, last_part = last.rpartition("-") if "-" in last else ("", "", last)
    if last_part in _ORD:
        last_part = _ORD[last_part]
    elif last_part.endswith("y"):
        last_part = last_part[:-1] + "ieth"
    else:
        last_part += "th"
    last = (pre + "-" if pre else "") + last_part
    return (head + " " if head else "") + last


def _year(n: int) -> str:
    hi, lo = divmod(n, 100)
    if lo == 0:
        return number_words(hi) + " hundred"
    return number_words(hi) + (" oh " + _ONES[lo] if lo < 10 else " " + number_words(lo))


def _digits_after_point(d: str) -> str:
    return " ".join(_ONES[int(c)] for c in d)


def _money(m: re.Match) -> str:
    whole = int(m.group(1).replace(",", ""))
    cents = m.group(2)
    out = number_words(whole) + (" dollar" if whole == 1 else " dollars")
    if cents and int(cents):
        c = int(cents.ljust(2, "0")[:2])
        out += " " + number_words(c) + (" cent" if c == 1 else " cents")
    return f" {out} "


def _number(m: re.Match) -> str:
    sign, whole, frac = m.group(1), m.group(2), m.group(3)
    plain = whole.replace(",", "")
    if len(plain) > 15:  # ID-like strings: read digit by digit
        return " " + _digits_after_point(plain) + " "
    n = int(plain)
    if not frac and not sign and "," not in whole and len(plain) == 4 and 1100 <= n <= 1999:
        words = _year(n)
    else:
        words = number_words(n)
    if frac:
        words += " point " + _digits_after_point(frac)
    return f" {'minus ' if sign else ''}{words} "


def normalise(text: str) -> str:
    """Expand what the voice cannot read into words; warn about and drop characters it cannot say."""
    t = unicodedata.normalize("NFKC", text)
    t = t.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"').replace("–", "-").replace("—", ", ")
    t = t.replace("…", "...")
    for abbr, full in _ABBREV.items():
        t = re.sub(rf"(?i)\b{re.escape(abbr)}\.", full, t)
    t = re.sub(r"\$\s?(\d[\d,]*)(?:\.(\d{1,2}))?\b", _money, t)
    t = re.sub(r"(\d[\d,]*(?:\.\d+)?)\s?%", lambda m: m.group(1) + " percent", t)
    t = re.sub(r"\b(\d+)(st|nd|rd|th)\b", lambda m: " " + ordinal_words(int(m.group(1))) + " ", t)
    t = re.sub(r"(?<![\w.])(-)?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?", _number, t)
    for sym, word in _SYMBOLS.items():
        t = t.replace(sym, word)
    dropped = sorted({c for c in t if not _SPEAKABLE.match(c)})
    if dropped:
        t = "".join(c if _SPEAKABLE.match(c) else " " for c in t)
        warnings.warn(f"dropped characters the English voice cannot say: {''.join(dropped)[:40]}", stacklevel=3)
    t = re.sub(r"[ \t]+", " ", t)
    t = re.sub(r" ([,.;:!?])", r"\1", t)
    return t.strip()


def sentences(text: str) -> list[str]:
    """Sentence split after normalisation (abbreviation periods are gone by then)."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        para = " ".join(para.split())
        for s in re.split(r"(?<=[.!?])[\"')]*\s+", para):
            s = s.strip()
            if any(c.isalnum() for c in s):
                out.extend(split_long(s))
    return out


def split_long(s: str, limit: int = MAX_CHUNK_CHARS, mark: str = ",") -> list[str]:
    """A sentence longer than the limit is cut at clause punctuation, then at word boundaries (a cut between
    words ends with ``mark``: a comma makes the voice pause there as at a clause)."""
    if len(s) <= limit:
        return [s]
    parts: list[str] = []
    cur = ""
    for piece in re.split(r"(?<=[,;:])\s+", s):
        while len(piece) > limit:
            cut = piece.rfind(" ", 0, limit)
            cut = cut if cut > 0 else limit
            parts.append(piece[:cut].strip() + mark)
            piece = piece[cut:].strip()
        if cur and len(cur) + len(piece) + 1 > limit:
            parts.append(cur)
            cur = piece
        else:
            cur = f"{cur} {piece}".strip()
    if cur:
        parts.append(cur)
    return parts


def words(sentence: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9À-ÖØ-öø-ÿ]+(?:['\-][A-Za-z0-9À-ÖØ-öø-ÿ]+)*", sentence)


@dataclass
class Chunk:
    sentences: list[str]

    @property
    def chars(self) -> int:
        return sum(len(s) for s in self.sentences)


def prepare(text: str) -> list[Chunk]:
    """Text → chunks of whole sentences, each at most about MAX_CHUNK_CHARS characters."""
    if not isinstance(text, str):
        raise StudioError(f"text must be a string, got {type(text).__name__}")
    if not text.strip():
        raise StudioError("text is empty: give a sentence to speak")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        norm = normalise(text)
    sents = sentences(norm)
    if not sents:
        said = f" (the English voice cannot say {caught[0].message.args[0].split(': ', 1)[-1]})" if caught else ""
        raise StudioError(f"nothing speakable in the text{said}: give English words")
    for w in caught:
        warnings.warn(w.message, stacklevel=2)
    chunks: list[Chunk] = [Chunk([])]
    for s in sents:
        if chunks[-1].sentences and chunks[-1].chars + len(s) > MAX_CHUNK_CHARS:
            chunks.append(Chunk([]))
        chunks[-1].sentences.append(s)
    return chunks

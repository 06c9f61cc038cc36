"""Speech text front end: normalisation, sentence splitting, chunking, refusals (no audio rendered)."""
import warnings

import pytest
from hypothesis import given, settings, strategies as st

from pipelines.speech import text as fe
from studio.errors import StudioError


@pytest.mark.parametrize("raw, expect", [
    ("I paid $5.50 today", "five dollars fifty cents"),
    ("It rose 20% overnight", "twenty percent"),
    ("Tom & Jerry", "Tom and Jerry"),
    ("Dr. Smith met Mr. Jones", "doctor Smith met mister Jones"),
    ("the 3rd time", "third"),
    ("in 1999 we", "nineteen ninety-nine"),
    ("1,234 people", "one thousand two hundred thirty-four"),
    ("pi is 3.14", "three point one four"),
    ("it was -7 outside", "minus seven"),
    ("e.g. this", "for example this"),
])
def test_normalise_expands_numbers_symbols_and_abbreviations(raw, expect):
    out = fe.normalise(raw)
    assert expect in out
    assert not any(c.isdigit() for c in out)


@given(st.integers(min_value=0, max_value=10**12 - 1))
@settings(max_examples=200, deadline=None)
def test_number_words_only_words(n):
    w = fe.number_words(n)
    assert w and all(part.isalpha() for part in w.replace("-", " ").split())


def test_sentence_split_and_abbreviation_does_not_split():
    s = fe.sentences(fe.normalise("Dr. Who came. Did he stay? Yes!\n\nNew paragraph here."))
    assert s == ["doctor Who came.", "Did he stay?", "Yes!", "New paragraph here."]


def test_long_text_chunks_are_bounded_and_keep_every_word():
    text = " ".join(f"Sentence number {i} has a few words in it." for i in range(200))
    assert len(text) >= 5000
    chunks = fe.prepare(text)
    assert len(chunks) > 10
    assert all(c.chars <= fe.MAX_CHUNK_CHARS for c in chunks)
    n_words = sum(len(fe.words(s)) for c in chunks for s in c.sentences)
    assert n_words == len(fe.words(fe.normalise(text)))


def test_one_very_long_sentence_is_cut_at_word_boundaries():
    text = "word " * 2000
    chunks = fe.prepare(text)
    assert all(len(s) <= fe.MAX_CHUNK_CHARS + 1 for c in chunks for s in c.sentences)
    assert sum(len(fe.words(s)) for c in chunks for s in c.sentences) == 2000


@pytest.mark.parametrize("bad", ["", "   \n ", "?!...", "你好", "😀😀", "—"])
def test_nothing_speakable_is_refused(bad):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(StudioError):
            fe.prepare(bad)


def test_unsupported_characters_are_dropped_with_a_warning():
    with pytest.warns(UserWarning, match="dropped"):
        chunks = fe.prepare("Okay 😀 then 你好.")
    assert chunks[0].sentences == ["Okay then."]


def test_non_string_is_refused():
    with pytest.raises(StudioError):
        fe.prepare(None)  # type: ignore[arg-type]

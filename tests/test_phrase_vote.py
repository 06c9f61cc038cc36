"""The labelled phrases' vote: what it decides, how a set is left out, and what stays an error."""
import pytest

from studio.affect import phrase_vote
from studio.affect.parse import STATEMENT_REASON, parse_text
from studio.errors import StudioError


def test_every_phrase_set_has_sources_core_labels_and_kinds():
    names = phrase_vote.set_names()
    assert {"dev", "heldout5", "heldout9"} <= set(names)
    for name in names:
        rows = phrase_vote.read_set(name)
        assert rows and all(r["source"].strip() and r["kind"].strip() for r in rows), name


def test_a_situation_without_an_emotion_word_takes_the_vote():
    # no cue word, idiom or anchor reaches the tables' threshold here: without the vote it is an error
    text = "we won the league on the last day of the season"
    with pytest.raises(StudioError, match="no clear emotion"):
        parse_text(text, use_phrases=False)
    a = parse_text(text)
    assert a.top_label == "joy" and a.point[0] > 0
    assert any(n.startswith("like the sourced phrases: joy") for n, _ in a.why)


def test_the_vote_can_overturn_the_anchors_nearest_label():
    text = "she put the folded towels in the cupboard and closed the door"
    assert parse_text(text, use_phrases=False).top_label == "contempt"
    assert parse_text(text).is_neutral


def test_a_plain_sentence_is_neutral_but_a_short_fragment_stays_an_error():
    a = parse_text("the lift is on the third floor next to the stairs")
    assert a.is_neutral and a.why[0][0] == STATEMENT_REASON
    with pytest.raises(StudioError):
        parse_text("the table is brown")
    with pytest.raises(StudioError):
        parse_text("asdf qwer zxcv")


def test_the_vote_leaves_negation_to_the_scope_rules():
    assert parse_text("I'm not happy about the new rota").point[0] < 0
    assert parse_text("I'm so disappointed I didn't get the job").top_label == "sadness"


def test_a_weak_vote_from_surface_words_barely_counts():
    v = phrase_vote.vote("short tempered")
    assert v.trust < 0.5
    assert parse_text("short tempered").top_label == "anger"


def test_leave_out_hides_the_set_and_near_copies_of_the_phrase():
    text = phrase_vote.read_set("heldout8")[0]["phrase"]
    assert phrase_vote.vote(text).nearest > 0.99
    with phrase_vote.leave_out("heldout8"):
        hidden = phrase_vote.vote(text)
    assert hidden.nearest < phrase_vote.NEAR_DUPLICATE
    assert phrase_vote.vote(text).nearest > 0.99  # the block restores the full corpus


def test_a_bad_label_in_a_phrase_set_is_a_one_line_error(tmp_path, monkeypatch):
    (tmp_path / "phrases_broken.csv").write_text("phrase,label,kind,source\nsome words,happyish,ordinary,x\n")
    monkeypatch.setattr(phrase_vote, "FOLDER", tmp_path)
    with pytest.raises(StudioError, match=r"phrases_broken.csv line 2: .*label") as e:
        phrase_vote.read_set("broken")
    assert "\n" not in str(e.value)

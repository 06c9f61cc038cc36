"""The free-text VAD head: a real kernel-ridge fit on a Warriner subset scored on held-out ANEW words,
its input-hash cache, and the blend into parse. Skips where the `vad-norms` lexicon is not pulled."""
import numpy as np
import pytest

from studio.affect import vad_head

pytestmark = pytest.mark.skipif(not vad_head.available(), reason="vad-norms not pulled (studio weights pull vad-norms)")


@pytest.fixture(scope="module")
def small():
    """A head on 800 random training lemmas (seconds, not the full build)."""
    train, anew = vad_head.training_set()
    idx = np.random.default_rng(0).choice(len(train.words), 800, replace=False)
    sub = vad_head.Norms(tuple(train.words[i] for i in idx), train.vad[idx])
    return vad_head.fit(sub, vad_head.SETTINGS["gamma"], vad_head.SETTINGS["lam"], "test"), train, anew


def test_anew_is_held_out_of_the_training_words(small):
    _, train, anew = small
    assert not set(train.words) & set(anew.words)
    assert len(train.words) > 5000 and len(anew.words) > 1000


def test_small_head_tracks_human_valence_and_arousal_on_anew(small):
    head, _, anew = small
    idx = np.random.default_rng(1).choice(len(anew.words), 150, replace=False)
    pred = head.predict(vad_head.encode([anew.words[i] for i in idx]))
    r = vad_head.pearson(pred, anew.vad[idx])
    assert r[0] > 0.7 and r[1] > 0.35 and r[2] > 0.4, r
    assert np.abs(pred).max() <= 1.0


def test_confidence_is_one_on_training_words_and_lower_for_sentences(small):
    head, _, _ = small
    emb = vad_head.encode(["x"])
    words_emb = head.support[:3]
    assert np.allclose(head.confidence(words_emb), 1.0, atol=1e-4)
    sent = vad_head.encode(["my heart is racing and something is behind me"])
    assert head.confidence(sent)[0] < 0.5
    assert emb.shape == (1, 384)


def test_cache_is_keyed_by_inputs_and_rebuilt_when_it_does_not_check_out(small, tmp_path, monkeypatch):
    from studio import derived

    head, _, _ = small
    calls = []

    def fake_build(settings=None):
        calls.append(1)
        return vad_head.Head(head.support, head.coef, head.mean, head.gamma, vad_head.cache_key(settings))

    monkeypatch.setattr(vad_head, "build", fake_build)
    real_path = derived.cache_path
    monkeypatch.setattr(derived, "cache_path", lambda kind, inputs: tmp_path / real_path(kind, inputs).name)
    a = vad_head.load_or_build()
    b = vad_head.load_or_build()
    assert len(calls) == 1 and np.array_equal(a.coef, b.coef)
    other = dict(vad_head.SETTINGS, gamma=2.0)
    assert vad_head.cache_key(other) != vad_head.cache_key()
    path = derived.cache_path("vad-head", vad_head.cache_inputs())
    with np.load(path) as z:
        data = {k: z[k] for k in z.files}
    data["coef"] = data["coef"] * 2  # finite and the right shape: only the recorded sha256 can tell
    np.savez(path, **data)
    c = vad_head.load_or_build()
    assert len(calls) == 2 and np.array_equal(c.coef, a.coef)


def test_parse_blends_the_head_into_free_text():
    from studio.affect.parse import parse_text

    head = vad_head.head()
    word = parse_text("sunshine")  # no taxonomy term: the head speaks alone
    assert np.allclose(word.vad, head.vad("sunshine"), atol=1e-5)
    assert word.vad[0] > 0.3
    assert "non-commercial" in word.note and word.to_dict()["note"] == word.note
    assert parse_text("furious").note == ""  # a taxonomy term keeps its own VAD: no head, no licence note
    plain = parse_text("my heart is racing and something is behind me", use_head=False)
    mixed = parse_text("my heart is racing and something is behind me")
    assert mixed.top_label == plain.top_label == "fear" and mixed.vad != plain.vad

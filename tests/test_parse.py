"""Free-text parsing with the registry's MiniLM embedder, and the NumPy encoder against torch."""
import numpy as np
import pytest

from studio.affect import Affect
from studio.errors import StudioError


def test_numpy_minilm_matches_the_torch_reference():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from studio import weights
    from studio.affect.embedder import embedder

    texts = ["I am furious", "calm contentment", "a"]
    ours = embedder().encode(texts)
    model = transformers.BertModel.from_pretrained(str(weights.path("minilm-l6-v2").parent)).eval()
    enc = embedder().tok.encode_batch(texts)
    ids = torch.tensor([e.ids for e in enc])
    mask = torch.tensor([e.attention_mask for e in enc])
    with torch.no_grad():
        h = model(input_ids=ids, attention_mask=mask).last_hidden_state
    ref = torch.nn.functional.normalize((h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True), dim=1).numpy()
    assert np.abs(ours - ref).max() < 1e-4
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_furious_is_high_arousal_anger():
    a = Affect.parse("furious")
    assert a.top_label == "anger" and a.point[1] > 0.3


def test_calm_contentment_is_pleasant_and_low_arousal():
    a = Affect.parse("calm contentment")
    assert a.point[0] > 0 and a.point[1] < 0


def test_intensifiers_and_softeners_order_intensity():
    slight, plain, very = (Affect.parse(t) for t in ("slightly annoyed", "annoyed", "very annoyed"))
    assert slight.intensity < plain.intensity < very.intensity < Affect.parse("furious").intensity


def test_bittersweet_is_a_joy_sadness_mixture():
    mix = dict(Affect.parse("bittersweet").mixture)
    assert mix["joy"] > 0.3 and mix["sadness"] > 0.3


def test_sentences_are_matched_by_meaning_with_reasons():
    scared = Affect.parse("my heart is racing and something is behind me")
    assert scared.top_label == "fear" and scared.point[1] > 0.3
    assert len(scared.why) >= 3 and scared.why[0][1] >= scared.why[-1][1]
    assert Affect.parse("I could cry").top_label == "sadness"


def test_negation_flips_polarity():
    assert Affect.parse("not happy").point[0] < 0


@pytest.mark.parametrize("text", ["", "   ", "the table is brown", "of the and"])
def test_text_without_emotion_is_a_clear_error(text):
    with pytest.raises(StudioError) as e:
        Affect.parse(text)
    assert "\n" not in str(e.value)

"""model.window_breaks: with ``paragraph`` each paragraph is read in windows of its own, at inference and in training."""

from __future__ import annotations

import json

import pytest
from test_bad_inputs import BRAT, DOC1, train_tiny_model

from diplomat_ie.data.corpora import load_docs
from diplomat_ie.inference.extractor import Extractor
from diplomat_ie.modeling.io import load_model_dir
from diplomat_ie.training.windows import windows_fingerprint

DOC2 = (BRAT / "train" / "doc2.txt").read_text(encoding="utf-8")
SEP = "\n\n"
SHORT = "Марко Рубио."  # two of them fit one window of the tiny model


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tiny_backbone):
    import torch

    threads = torch.get_num_threads()
    yield train_tiny_model(tmp_path_factory.getbasetemp(), tiny_backbone)
    torch.set_num_threads(threads)


def _shifted(res, offset: int) -> list[tuple]:
    ents = [(e.type, e.start + offset, e.end + offset, round(e.score, 3)) for e in res.entities]
    args = [(a.role, a.start + offset, a.end + offset, round(a.score, 3)) for ev in res.events for a in ev.arguments]
    return ents + args


def _flat(res) -> list[tuple]:
    return _shifted(res, 0)


def test_paragraph_breaks_read_each_paragraph_on_its_own(model_dir):
    text = DOC1 + SEP + DOC2
    para = Extractor.from_pretrained(model_dir, threads=1, window_breaks="paragraph")
    alone = sorted(_flat(para(DOC1)) + _shifted(para(DOC2), len(DOC1) + len(SEP)))
    assert alone and sorted(_flat(para(text))) == alone  # the same as two separate texts
    enc, cut = para.predictor.encode(text), len(DOC1)
    assert all(enc.words[w.hi - 1].end <= cut or enc.words[w.lo].start > cut for w in enc.windows)


def test_no_breaks_let_a_window_cross_the_blank_line(model_dir):
    text = SHORT + SEP + SHORT
    whole = Extractor.from_pretrained(model_dir, threads=1, window_breaks="none")
    para = Extractor.from_pretrained(model_dir, threads=1, window_breaks="paragraph")
    assert [(w.lo, w.hi) for w in whole.predictor.encode(text).windows] == [(0, 6)]  # both paragraphs in one
    assert [(w.lo, w.hi) for w in para.predictor.encode(text).windows] == [(0, 3), (3, 6)]


def test_the_saved_setting_is_the_default_and_an_argument_overrides_it(model_dir):
    model, _ = load_model_dir(model_dir)
    assert getattr(model.config, "window_breaks", "none") == "none"  # the tiny model was trained without breaks
    ex = Extractor.from_pretrained(model_dir, threads=1)
    ex.model.config.window_breaks = "paragraph"  # a runtime setting: read when a text is encoded
    enc = ex.predictor.encode(DOC1 + SEP + DOC2)
    assert all(not (enc.words[w.lo].start < len(DOC1) < enc.words[w.hi - 1].end) for w in enc.windows)


def test_an_unknown_break_is_refused(model_dir):
    with pytest.raises(ValueError, match="window_breaks must be one of none, paragraph, got 'line'"):
        Extractor.from_pretrained(model_dir, threads=1, window_breaks="line")


def test_training_windows_are_cached_per_break_setting(model_dir):
    model, tok = load_model_dir(model_dir)
    docs = [json.dumps(d.to_dict()) for d in load_docs(str(BRAT), "train")]
    before = windows_fingerprint(docs, model.config, tok)
    model.config.window_breaks = "paragraph"
    assert windows_fingerprint(docs, model.config, tok) != before
    model.config.window_breaks = "none"
    assert windows_fingerprint(docs, model.config, tok) == before


def test_the_model_card_states_the_paragraph_limit():
    from diplomat_ie.modeling.configuration import DiplomatConfig
    from diplomat_ie.training.card import model_card

    para = model_card(DiplomatConfig(backbone_name="tiny", entity_types=["PERSON"], roles=[],
                                     window_breaks="paragraph"), {})
    plain = model_card(DiplomatConfig(backbone_name="tiny", entity_types=["PERSON"], roles=[]), {})
    assert "`model.window_breaks` | paragraph |" in para and "`model.window_breaks` | none |" in plain
    assert "inside its paragraph" in para and "inside its paragraph" not in plain

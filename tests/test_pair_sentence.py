"""roles.pair_sentence: the pair head learns a vector for "the candidate shares the trigger's sentence" or not."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import TWO_SENTENCES, two_sentence_doc

from diplomat_ie.data.roles import ROLES
from diplomat_ie.evaluation.evaluate import predict_gold_docs
from diplomat_ie.modeling.configuration import DiplomatConfig
from diplomat_ie.modeling.encoding import encode_document
from diplomat_ie.modeling.features import SENTENCE_COLUMN, collate, window_features
from diplomat_ie.modeling.io import build_model, load_heads, load_model_dir, save_model_dir
from diplomat_ie.modeling.pair_roles import PairRoleHead
from diplomat_ie.modeling.predict import Predictor
from diplomat_ie.training.windows import feature_columns

AGENT = 1 + ROLES.index("agent")
TEXT = TWO_SENTENCES
_doc = two_sentence_doc


def _model(backbone, **kw):
    torch.manual_seed(0)
    cfg = DiplomatConfig(backbone_name=str(backbone), entity_types=["CITY", "EVENT", "PERSON"], roles=ROLES,
                         trigger_types=["EVENT"], window_length=64, role_head="pair", **kw)
    model, tok = build_model(cfg)
    return model.eval(), tok


def test_the_sentence_vector_changes_the_scores_and_is_required():
    torch.manual_seed(0)
    head = PairRoleHead(16, 8, 3, 1 + len(ROLES), 64, 0.0, sentence=True).eval()
    words = torch.randn(1, 12, 16)
    trig, cands, types = torch.tensor([[[1, 2]]]), torch.tensor([[[8, 9]]]), torch.tensor([[2]])
    same = head(words, trig, cands, types, torch.tensor([[[False]]]))
    other = head(words, trig, cands, types, torch.tensor([[[True]]]))
    assert same.shape == (1, 1, 1, 1 + len(ROLES)) and not torch.allclose(same, other)
    with pytest.raises(ValueError, match="pass cross"):
        head(words, trig, cands, types)
    assert PairRoleHead(16, 8, 3, 1 + len(ROLES), 64, 0.0).sent is None  # off: no extra weights


def test_training_windows_hold_each_words_sentence(tiny_backbone):
    model, tok = _model(tiny_backbone, pair_sentence=True)
    enc = encode_document(TEXT, tok, 64, 8)
    feats = window_features(_doc(), enc, model.config)
    assert [f[SENTENCE_COLUMN] for f in feats] == [[0, 0, 0, 0, 0, 1, 1, 1, 1, 1]]
    assert SENTENCE_COLUMN in feature_columns(model.config)
    plain, _ = _model(tiny_backbone)
    assert SENTENCE_COLUMN not in window_features(_doc(), enc, plain.config)[0]
    assert SENTENCE_COLUMN not in feature_columns(plain.config)
    batch = collate([feats[0], {**feats[0], SENTENCE_COLUMN: []}],
                    tok.pad_token_id)  # an extra corpus's window: no sentence ids, all padding
    assert batch[SENTENCE_COLUMN].tolist() == [[0, 0, 0, 0, 0, 1, 1, 1, 1, 1], [-1] * 10]
    out = model(**batch)
    assert torch.isfinite(out["loss"]) and out["role_logits"].shape[-1] == 1 + len(ROLES)
    del batch[SENTENCE_COLUMN]
    with pytest.raises(ValueError, match="word_sentence column"):
        model(**batch)


def test_pair_sentence_model_saves_loads_and_runs_heads_only(tiny_backbone, tmp_path):
    model, tok = _model(tiny_backbone, pair_sentence=True)
    save_model_dir(model, tok, tmp_path / "m")
    assert json.loads((tmp_path / "m/config.json").read_text())["pair_sentence"] is True
    loaded, _ = load_model_dir(tmp_path / "m")
    assert isinstance(loaded.role_head, PairRoleHead) and loaded.role_head.sent is not None
    assert torch.equal(loaded.role_head.sent.weight, model.role_head.sent.weight)
    heads = load_heads(tmp_path / "m")  # what the ONNX backend runs behind its encoder
    assert heads.role_head.sent is not None
    doc = _doc()
    ref = predict_gold_docs(Predictor(model, tok), [doc]).gold_ent[0].events
    again = predict_gold_docs(Predictor(loaded, tok), [doc]).gold_ent[0].events
    assert [(e.trigger, e.arguments) for e in again] == [(e.trigger, e.arguments) for e in ref]


def test_predictor_tells_the_head_which_candidates_share_the_sentence(tiny_backbone):
    """A head wired so that only the sentence vector moves its scores: same sentence -> agent, other -> none."""
    model, tok = _model(tiny_backbone, pair_sentence=True)
    head = model.role_head
    inner = head.out.in_features
    with torch.no_grad():
        for p in (head.pair.weight, head.pair.bias, head.dist.weight, head.sent.weight, head.out.weight, head.out.bias):
            p.zero_()
        head.pair.weight[0, 3 * inner] = 1.0  # the distance + sentence block's first unit
        head.sent.weight[1, 0] = 10.0  # other sentence
        head.out.weight[0, 0] = 5.0  # ... raises none
        head.out.bias[AGENT] = 8.0
    pred = predict_gold_docs(Predictor(model, tok), [_doc()]).gold_ent[0]
    sides = {pred.char_span(ev.trigger)[0]: {pred.char_span(a)[0] > 26 for a in ev.arguments} for ev in pred.events}
    assert sides == {10: {False}, 30: {True}}  # each trigger keeps its own sentence's entities


def test_cli_trains_a_pair_sentence_model(tmp_path, tiny_backbone, brat_dir, monkeypatch):
    from diplomat_ie import Extractor
    from diplomat_ie.cli import main

    monkeypatch.chdir(tmp_path)
    rc = main(["train", "--config", "default", "--name", "ps", "--data.corpus", str(brat_dir),
               "--model.backbone", str(tiny_backbone), "--model.word_vectors", "null", "--model.max_length", "32",
               "--model.overlap", "8", "--roles.pair_sentence", "true", "--training.max_steps", "2",
               "--training.eval_every", "2", "--training.batch_size", "2", "--data.dev_split", "train",
               "--data.max_eval_docs", "1", "--training.threads", "1", "--training.output_dir", str(tmp_path / "model")])
    assert rc == 0
    assert json.loads((tmp_path / "model/config.json").read_text())["pair_sentence"] is True
    summary = json.loads((tmp_path / "runs/ps/train_summary.json").read_text())
    assert "eval_roles_gold_f1" in summary["best_dev"]
    result = Extractor.from_pretrained(tmp_path / "model")(TEXT).to_dict()
    assert set(result) >= {"text", "entities", "events"}

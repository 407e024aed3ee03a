"""The shipped configs parse, and a hub backbone fails with a clear message when the hub is unreachable."""

from pathlib import Path

import pytest

from diplomat_ie.config import load_config
from diplomat_ie.modeling.configuration import DiplomatConfig
from diplomat_ie.modeling.io import ModelLoadError, build_model

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
HUB = {"rubert-base-cased.yaml": "DeepPavlov/rubert-base-cased", "rubert-tiny2.yaml": "cointegrated/rubert-tiny2",
       "ruBert-base.yaml": "ai-forever/ruBert-base"}


@pytest.mark.parametrize("path", [p for p in CONFIGS if p.name not in ("diplomatic_keywords.yaml", "trigger_lexicon.yaml")], ids=lambda p: p.name)
def test_config_parses(path):
    cfg = load_config(path)
    assert cfg.model.num_layers >= 1 and cfg.training.batch_size > 0
    if path.name in HUB:
        assert cfg.model.backbone == HUB[path.name]


@pytest.mark.parametrize("name", sorted(HUB.values()))
def test_hub_backbone_offline_gives_clear_error(name, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="HuggingFace hub") as err:
        build_model(DiplomatConfig(backbone_name=name, entity_types=["PERSON"]))
    assert name in str(err.value) and "make backbone" in str(err.value)

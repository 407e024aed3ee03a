"""The shipped configs parse, and a hub backbone fails with a clear message when the hub is unreachable."""

import pytest

from diplomat_ie.config import load_config
from diplomat_ie.modeling.configuration import DiplomatConfig
from diplomat_ie.modeling.io import ModelLoadError, build_model
from diplomat_ie.resources import resource_names

HUB = {"rubert-base-cased": "DeepPavlov/rubert-base-cased", "rubert-tiny2": "cointegrated/rubert-tiny2",
       "ruBert-base": "ai-forever/ruBert-base"}


@pytest.mark.parametrize("name", resource_names("config"))
def test_config_parses(name):
    cfg = load_config(name)
    assert cfg.model.num_layers >= 1 and cfg.training.batch_size > 0
    if name in HUB:
        assert cfg.model.backbone == HUB[name]


@pytest.mark.parametrize("name", sorted(HUB.values()))
def test_hub_backbone_offline_gives_clear_error(name, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="HuggingFace hub") as err:
        build_model(DiplomatConfig(backbone_name=name, entity_types=["PERSON"]))
    assert name in str(err.value) and "make backbone" in str(err.value)

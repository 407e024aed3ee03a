"""Modeling: configuration, the joint NER + role model, encoding, prediction, save/load."""

from .configuration import FORMAT_VERSION, DiplomatConfig
from .io import ModelLoadError, build_model, load_model_dir, save_model_dir
from .model import DiplomatModel
from .predict import Predictor

__all__ = ["FORMAT_VERSION", "DiplomatConfig", "DiplomatModel", "ModelLoadError", "Predictor",
           "build_model", "load_model_dir", "save_model_dir"]

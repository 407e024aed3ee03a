"""Modeling: configuration, the joint NER + role model, encoding, prediction, save/load."""

from .configuration import FORMAT_VERSION, DiplomatConfig
from .heads import DiplomatHeads
from .io import ModelLoadError, build_model, load_heads, load_model_dir, save_model_dir
from .model import DiplomatModel
from .predict import Predictor
from .runners import WindowOutputs, WindowRunner

__all__ = ["FORMAT_VERSION", "DiplomatConfig", "DiplomatHeads", "DiplomatModel", "ModelLoadError", "Predictor",
           "WindowOutputs", "WindowRunner", "build_model", "load_heads", "load_model_dir", "save_model_dir"]

"""diplomat-ie: nested NER and event roles for Russian diplomatic news."""

from transformers import AutoConfig

from .inference import ExtractionResult, Extractor
from .modeling.configuration import DiplomatConfig

AutoConfig.register(DiplomatConfig.model_type, DiplomatConfig, exist_ok=True)

__version__ = "0.1.0"
__all__ = ["DiplomatConfig", "ExtractionResult", "Extractor", "__version__"]

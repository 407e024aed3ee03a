"""Event roles: the one place that maps NEREL relations to roles of an event trigger."""

from __future__ import annotations

from dataclasses import dataclass, field

from .document import Document, Entity

# relation type -> (role, the trigger is NEREL's arg2?)  True: "argument -> EVENT"; False: "EVENT -> argument"
RELATION_TO_ROLE: dict[str, tuple[str, bool]] = {
    "AGENT": ("agent", True),
    "PARTICIPANT_IN": ("participant", True),
    "ORGANIZES": ("organizer", True),
    "INANIMATE_INVOLVED": ("object", True),
    "TAKES_PLACE_IN": ("place", False),
    "POINT_IN_TIME": ("time", False),
    "START_TIME": ("start_time", False),
    "END_TIME": ("end_time", False),
    "HAS_CAUSE": ("cause", False),
    "SUBEVENT_OF": ("parent_event", False),
}
ROLES: list[str] = [role for role, _ in RELATION_TO_ROLE.values()]
DEFAULT_TRIGGER_TYPES: tuple[str, ...] = ("EVENT",)


@dataclass
class Argument:
    role: str
    entity: Entity


@dataclass
class Event:
    trigger: Entity
    arguments: list[Argument] = field(default_factory=list)


def relation_to_role(rel_type: str, arg1: Entity, arg2: Entity,
                     trigger_types: tuple[str, ...] = DEFAULT_TRIGGER_TYPES) -> tuple[Entity, str, Entity] | None:
    """Normalise one relation to ``(trigger, role, argument)``; None if it is no event role.

    The trigger is the relation's EVENT side (arg2 for AGENT/PARTICIPANT_IN/ORGANIZES/INANIMATE_INVOLVED,
    arg1 for the others); it must have one of ``trigger_types``.
    """
    if rel_type not in RELATION_TO_ROLE:
        return None
    role, trigger_is_arg2 = RELATION_TO_ROLE[rel_type]
    trigger, argument = (arg2, arg1) if trigger_is_arg2 else (arg1, arg2)
    if trigger.type not in trigger_types:
        return None
    return trigger, role, argument


def document_events(doc: Document, trigger_types: tuple[str, ...] = DEFAULT_TRIGGER_TYPES) -> list[Event]:
    """Every trigger entity of ``doc`` with its role arguments (triggers without arguments included)."""
    by_id = doc.entity_by_id()
    events = {e.id: Event(trigger=e) for e in doc.entities if e.type in trigger_types}
    for r in doc.relations:
        if r.arg1 not in by_id or r.arg2 not in by_id:
            continue
        norm = relation_to_role(r.type, by_id[r.arg1], by_id[r.arg2], trigger_types)
        if norm is None:
            continue
        trigger, role, arg = norm
        events[trigger.id].arguments.append(Argument(role=role, entity=arg))
    return sorted(events.values(), key=lambda ev: (ev.trigger.start, ev.trigger.end))

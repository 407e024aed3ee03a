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


MAX_CLASS_WEIGHT = 10.0  # a role seen a handful of times must not outweigh the rest of the batch


def role_class_weights(docs: list[Document], roles: list[str], trigger_types: tuple[str, ...],
                       power: float) -> dict[str, float]:
    """Class-balanced loss weights of the roles: ``(mean count / count) ** power``, capped.

    Args:
        docs: the training documents (their gold event arguments are counted).
        roles: the model's roles.
        trigger_types: entity types that are triggers.
        power: 0 gives every role 1.0; 0.5 is the inverse square root of the frequency.

    Returns:
        ``{role: weight}`` for every role in ``roles``; a role never seen gets the cap
        (``MAX_CLASS_WEIGHT``). The ``none`` / ``O`` class keeps weight 1.
    """
    counts = dict.fromkeys(roles, 0)
    for doc in docs:
        for ev in document_events(doc, trigger_types):
            for arg in ev.arguments:
                if arg.role in counts:
                    counts[arg.role] += 1
    seen = [n for n in counts.values() if n > 0]
    if not seen or power == 0:
        return dict.fromkeys(roles, 1.0)
    mean = sum(seen) / len(seen)
    return {r: min(MAX_CLASS_WEIGHT, (mean / n) ** power) if n else MAX_CLASS_WEIGHT for r, n in counts.items()}

"""Relation -> role normalisation (both directions) and gold events from documents."""

import pytest

from diplomat_ie.data import Document, Entity, Relation, Span, document_events, relation_to_role
from diplomat_ie.data.roles import RELATION_TO_ROLE, ROLES


def ent(i, typ, a, b, text="x"):
    return Entity(id=f"T{i}", type=typ, spans=[Span(a, b)], text=text)


EVENT = ent(1, "EVENT", 10, 18)
PERSON = ent(2, "PERSON", 0, 9)
CITY = ent(3, "CITY", 20, 26)


@pytest.mark.parametrize(("rel", "arg1", "arg2", "role", "argument"), [
    ("AGENT", PERSON, EVENT, "agent", PERSON),
    ("PARTICIPANT_IN", PERSON, EVENT, "participant", PERSON),
    ("ORGANIZES", PERSON, EVENT, "organizer", PERSON),
    ("INANIMATE_INVOLVED", CITY, EVENT, "object", CITY),
    ("TAKES_PLACE_IN", EVENT, CITY, "place", CITY),
    ("POINT_IN_TIME", EVENT, CITY, "time", CITY),
    ("START_TIME", EVENT, CITY, "start_time", CITY),
    ("END_TIME", EVENT, CITY, "end_time", CITY),
    ("HAS_CAUSE", EVENT, CITY, "cause", CITY),
    ("SUBEVENT_OF", EVENT, CITY, "parent_event", CITY),
])
def test_relation_to_role_puts_the_event_first(rel, arg1, arg2, role, argument):
    trigger, got_role, got_arg = relation_to_role(rel, arg1, arg2)
    assert (trigger.id, got_role, got_arg.id) == (EVENT.id, role, argument.id)


@pytest.mark.parametrize(("rel", "arg1", "arg2"), [
    ("WORKS_AS", PERSON, EVENT),  # not an event role
    ("AGENT", EVENT, PERSON),  # wrong direction: trigger side is not an EVENT
    ("TAKES_PLACE_IN", CITY, EVENT),
])
def test_non_roles_are_ignored(rel, arg1, arg2):
    assert relation_to_role(rel, arg1, arg2) is None


def test_other_trigger_types_are_configurable():
    crime = ent(4, "CRIME", 10, 18)
    assert relation_to_role("AGENT", PERSON, crime) is None
    assert relation_to_role("AGENT", PERSON, crime, trigger_types=("EVENT", "CRIME"))[1] == "agent"


def test_mapping_is_complete():
    assert len(RELATION_TO_ROLE) == 10 and len(set(ROLES)) == 10


def test_document_events_collects_arguments_and_bare_triggers():
    lone = ent(5, "EVENT", 30, 35)
    doc = Document(id="d", text="y" * 40, entities=[PERSON, EVENT, CITY, lone],
                   relations=[Relation("R1", "AGENT", "T2", "T1"), Relation("R2", "TAKES_PLACE_IN", "T1", "T3"),
                              Relation("R3", "LOCATED_IN", "T2", "T3")])
    events = document_events(doc)
    assert [e.trigger.id for e in events] == ["T1", "T5"]
    assert sorted((a.role, a.entity.id) for a in events[0].arguments) == [("agent", "T2"), ("place", "T3")]
    assert events[1].arguments == []

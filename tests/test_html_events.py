"""The HTML view's markup: triggers as controls, argument spans, exact text and offsets, escaping."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path

import pytest

from diplomat_ie.inference.html import markup_text, render_html

ROWS_FILE = Path(__file__).parent / "fixtures" / "html_events.jsonl"


def fixture_rows() -> list[dict]:
    """Hand-written Extractor rows: nested, crossing and non-entity arguments, a document without
    events, hostile text / types / roles, a crossing trigger and an argument outside the text."""
    return [json.loads(line) for line in ROWS_FILE.read_text(encoding="utf-8").splitlines()]


class Dom(HTMLParser):
    """Each ``.text`` element's text content and its spans as ``(attrs, start, end)`` character offsets."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.docs: dict[str, dict] = {}
        self.ids: list[str] = []
        self.cur: str | None = None
        self.stack: list[tuple[str, dict, int]] = []
        self.feed(page)
        self.close()
        assert self.cur is None and not self.stack

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.append(a["id"])
        if self.cur is None and tag == "div" and a.get("class") == "text":
            self.cur, self.pos = a["id"], 0
            self.docs[self.cur] = {"text": "", "spans": []}
        elif self.cur is not None:
            assert tag == "span", tag  # nothing but spans inside the text
            self.stack.append((tag, a, self.pos))

    def handle_endtag(self, tag):
        if self.cur is None:
            return
        if not self.stack:
            assert tag == "div"
            self.cur = None
            return
        open_tag, a, start = self.stack.pop()
        assert open_tag == tag
        self.docs[self.cur]["spans"].append((a, start, self.pos))

    def handle_data(self, data):
        if self.cur is not None:
            self.docs[self.cur]["text"] += data
            self.pos += len(data)


def _doc(text, entities=(), events=()) -> dict:
    frag = markup_text(text, list(entities), list(events), key="k")
    dom = Dom(f'<div class="text" id="k-text">{frag}</div>')
    return dom.docs["k-text"]


def _covers(spans, pred) -> dict:
    """Groups the fragments selected by ``pred`` (-> group key or None) and joins each group's pieces."""
    pieces = defaultdict(list)
    for a, s, e in spans:
        key = pred(a)
        if key is not None:
            pieces[key].append((s, e))
    out = {}
    for key, parts in pieces.items():
        parts.sort()
        assert all(p[1] == q[0] for p, q in zip(parts, parts[1:], strict=False)), (key, parts)  # contiguous
        out[key] = (parts[0][0], parts[-1][1], len(parts))
    return out


def _ok(x, n):
    return type(x.get("start")) is int and type(x.get("end")) is int and 0 <= x["start"] < x["end"] <= n


def check_markup(text, entities, events):
    """Every valid span is wrapped exactly, every fragment group is contiguous, labels appear once."""
    doc = _doc(text, entities, events)
    assert doc["text"] == text
    spans = doc["spans"]
    n = len(text)
    ents = _covers(spans, lambda a: a["data-id"] if "ent" in a["class"].split() else None)
    assert {k: v[:2] for k, v in ents.items()} == {e["id"]: (e["start"], e["end"]) for e in entities if _ok(e, n)}
    lasts = [a["data-id"] for a, _, _ in spans if "last" in a["class"].split()]
    assert sorted(lasts) == sorted(ents)  # the type label sits on exactly one fragment

    expected = defaultdict(lambda: defaultdict(set))
    for i, ev in enumerate(events):
        for a in ev.get("arguments") or []:
            if _ok(a, n):
                expected[(a["start"], a["end"])][str(i)].add(a["role"])
    args = _covers(spans, lambda a: (int(a["data-start"]), int(a["data-end"])) if a["class"].startswith("arg")
                   else None)
    assert {k: v[:2] for k, v in args.items()} == {k: k for k in expected}
    for a, _, _ in spans:
        if a["class"].startswith("arg"):
            marks = json.loads(a["data-marks"])
            got = {ev: {rc[0] for rc in rcs} for ev, rcs in marks.items()}
            assert got == expected[(int(a["data-start"]), int(a["data-end"]))]
            assert all(re.fullmatch(r"#[0-9a-f]{6}", rc[1]) for rcs in marks.values() for rc in rcs)
    firsts = [(a["data-start"], a["data-end"]) for a, _, _ in spans if a["class"] == "arg first"]
    assert len(firsts) == len(args)  # the role badge sits on one fragment per argument span

    trig_spans = {}
    for i, ev in enumerate(events):
        t = ev.get("trigger") or {}
        if _ok(t, n):
            trig_spans.setdefault((t["start"], t["end"]), []).append(i)
    trigs = _covers(spans, lambda a: a["data-trg"] if a["class"] == "trg" else None)
    assert sorted(v[:2] for v in trigs.values()) == sorted(trig_spans)
    for a, _, _ in spans:
        if a["class"] == "trg":
            start, end = next(v[:2] for k, v in trigs.items() if k == a["data-trg"])
            assert a["data-evs"].split() == [str(i) for i in trig_spans[(start, end)]]
            assert a["role"] == "button" and a["aria-pressed"] == "false"
    focusable = [a for a, _, _ in spans if a.get("tabindex") == "0"]
    assert len(focusable) == len(trigs) and all(a["id"] == f"k-t{a['data-trg']}" for a in focusable)
    return doc


TEXT = "abcdefghij <&> \"q\" 'x'\nklmnop🙂qrst"
E = {"A": (0, 6), "B": (3, 9), "C": (3, 6), "D": (11, 14), "F": (24, 31), "G": (29, 34)}


def _ents(*names):
    return [{"id": k, "type": f"T{k}", "start": E[k][0], "end": E[k][1]} for k in names]


def _ev(trigger, *args):
    return {"trigger": {"start": trigger[0], "end": trigger[1], "type": "EVENT"},
            "arguments": [{"role": r, "start": s, "end": e} for r, s, e in args]}


CASES = {
    "argument equals an entity": (_ents("A", "C"), [_ev((11, 14), ("agent", 0, 6))]),
    "argument inside an entity (no snapping)": (_ents("A"), [_ev((11, 14), ("place", 1, 4))]),
    "argument around entities": (_ents("A", "C"), [_ev((11, 14), ("time", 0, 10))]),
    "argument crosses an entity": (_ents("A", "D"), [_ev((15, 18), ("agent", 4, 12))]),
    "trigger crosses an entity": (_ents("A", "B"), [_ev((5, 12), ("agent", 0, 3))]),
    "trigger equals an entity, argument is its trigger": (_ents("D"), [_ev((11, 14), ("agent", 0, 3)),
                                                                       _ev((0, 3), ("cause", 11, 14))]),
    "nested triggers": ([], [_ev((0, 10), ("agent", 11, 14)), _ev((3, 6), ("agent", 11, 14))]),
    "two roles on one span, shared span across events": (_ents("A"), [
        _ev((11, 14), ("agent", 0, 6), ("participant", 0, 6), ("agent", 0, 6)), _ev((15, 18), ("place", 0, 6))]),
    "two events on one trigger": ([], [_ev((11, 14), ("agent", 0, 3)), _ev((11, 14), ("time", 4, 6))]),
    "crossing chain over a newline and an emoji": (_ents("F", "G"), [_ev((28, 33), ("time", 22, 29))]),
    "spans at both text ends": (_ents("A"), [_ev((len(TEXT) - 1, len(TEXT)), ("agent", 0, len(TEXT)))]),
    "invalid spans are left out": ([{"id": "X", "type": "T", "start": 5, "end": 99}], [
        _ev((3, 2), ("agent", 0, 3)), _ev((0, 3), ("agent", -1, 3), ("time", None, 4), ("place", True, 4),
                                              ("cause", 5, 5), ("object", 1, 2))]),
    "no events": (_ents("A", "B", "C"), []),
    "hostile names": ([{"id": '"><b>', "type": "<script>x</script>", "start": 0, "end": 3}],
                      [_ev((11, 14), ('"><img src=x onerror=alert(1)>', 0, 3))]),
}


@pytest.mark.parametrize("entities,events", CASES.values(), ids=CASES.keys())
def test_markup_wraps_every_span_exactly(entities, events):
    doc = check_markup(TEXT, entities, events)
    assert len(doc["spans"]) >= len([e for e in entities if _ok(e, len(TEXT))])


def test_hostile_names_stay_in_attributes():
    entities, events = CASES["hostile names"]
    frag = markup_text(TEXT, entities, events)
    assert "<script" not in frag and "<img" not in frag and "<b>" not in frag
    assert "&lt;&amp;&gt;</span> &quot;q&quot; &#x27;x&#x27;" in frag  # the text itself is escaped too


def test_fixture_rows_mark_up_exactly():
    rows = fixture_rows()
    for r in rows:
        for e in r["entities"] + [a for ev in r["events"] for a in ev["arguments"] + [ev["trigger"]]]:
            assert not _ok(e, len(r["text"])) or r["text"][e["start"]:e["end"]] == e["text"]  # fixture sanity
        check_markup(r["text"], r["entities"], r["events"])


def test_page_of_many_documents():
    rows = fixture_rows()
    page = render_html(rows * 2, title="<t>")
    dom = Dom(page)
    assert len(dom.ids) == len(set(dom.ids))  # ids unique across documents
    assert [dom.docs[f"doc-{k}-text"]["text"] for k in range(1, 7)] == [r["text"] for r in rows * 2]
    assert page.count("<script>") == 1 and page.count("</script>") == 1
    for ext in ("http:", "https:", "src=", "href=", "url(", "@import", "<link", "@font-face"):
        assert ext not in page.replace("&lt;img src=x", ""), ext  # the hostile text is escaped, not a src
    sections = page.split('<section class="doc"')[1:]
    assert ["No events." in s for s in sections] == [False, True, False] * 2
    assert ['class="sel' in s for s in sections] == [True, False, True] * 2  # status line only with triggers


def test_event_table_lists_trigger_role_argument():
    rows = fixture_rows()
    page = render_html(rows[:1])
    table = page.split('<table class="events">')[1].split("</table>")[0]
    cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", table)]
    text = rows[0]["text"]
    for i, ev in enumerate(rows[0]["events"]):
        assert table.count(f'<tr data-ev="{i}">') == len(ev["arguments"])
        assert any(c.startswith(ev["trigger"]["text"]) for c in cells)
        for a in ev["arguments"]:
            assert a["role"] in cells and text[a["start"]:a["end"]] in cells
    hostile = render_html(rows[2:])
    assert "&lt;i&gt;&quot;r&amp;d&quot;&lt;/i&gt;" in hostile and "gone" in hostile  # out-of-text argument listed

"""A self-contained HTML page for Extractor results: nested entities, event triggers as controls, events.

Entities, triggers and argument spans become nested ``<span>``s cut from the text at every span boundary;
spans that cross (overlap without nesting) are split into fragments, so any character spans work and the
text content of a document's ``.text`` element is exactly its text. Each entity has a coloured underline
(outer mentions sit lower, so layers stay visible), a light background, its type as a CSS label and a
tooltip. Each trigger is a keyboard-accessible toggle button: choosing it marks the arguments of its events
in the text with their role labels (inline script); a per-document event table follows the text. Every
piece of text and every attribute is HTML-escaped; labels live in attributes, so no markup is injected.
"""

from __future__ import annotations

import html as _html
import json
import zlib
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

from .html_assets import CSS, JS

PALETTE = {
    "PERSON": "#d62728", "PER": "#d62728", "ORGANIZATION": "#1f77b4", "ORG": "#1f77b4",
    "COUNTRY": "#2ca02c", "CITY": "#17becf", "STATE_OR_PROVINCE": "#98df8a", "LOCATION": "#2e8b57",
    "LOC": "#2ca02c", "DISTRICT": "#7fbf7f", "EVENT": "#ff7f0e", "DATE": "#9467bd", "TIME": "#c5b0d5",
    "PROFESSION": "#8c564b", "NATIONALITY": "#e377c2", "FACILITY": "#bcbd22", "AGE": "#7f7f7f",
    "NUMBER": "#aec7e8", "ORDINAL": "#c7c7c7", "LAW": "#393b79", "IDEOLOGY": "#637939",
}
ROLE_PALETTE = {
    "agent": "#c62828", "participant": "#ad1457", "organizer": "#6a1b9a", "object": "#4e342e",
    "place": "#2e7d32", "time": "#4527a0", "start_time": "#283593", "end_time": "#1565c0",
    "cause": "#ef6c00", "parent_event": "#00695c",
}
IDLE = "Choose a trigger to mark its arguments in the text."


def type_color(typ: str) -> str:
    """A stable colour (``#rrggbb``) for an entity type."""
    if typ in PALETTE:
        return PALETTE[typ]
    h = zlib.crc32(typ.encode("utf-8"))
    r, g, b = (60 + (h >> s) % 160 for s in (0, 8, 16))
    return f"#{r:02x}{g:02x}{b:02x}"


def _bg(color: str) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},0.10)"


def _esc(x) -> str:
    return _html.escape(str(x), quote=True)


def role_color(role: str) -> str:
    """A stable colour (``#rrggbb``) for an event role."""
    return ROLE_PALETTE.get(role) or type_color(f"role:{role}")


def _ok(x: dict, n: int) -> bool:
    s, e = x.get("start"), x.get("end")
    return type(s) is int and type(e) is int and 0 <= s < e <= n


def _valid(entities: list[dict], n: int) -> list[dict]:
    ok = [e for e in entities if _ok(e, n)]
    return sorted(ok, key=lambda e: (e["start"], -e["end"], str(e.get("type"))))


def _heights(ents: list[dict]) -> list[int]:
    """Nesting height of each entity (1 = contains no other), so outer underlines sit lower."""
    height = [1] * len(ents)
    for i in sorted(range(len(ents)), key=lambda i: (ents[i]["end"] - ents[i]["start"], -i)):
        for j, o in enumerate(ents):
            if j != i and ents[i]["start"] <= o["start"] and o["end"] <= ents[i]["end"] and (
                    (o["start"], o["end"]) != (ents[i]["start"], ents[i]["end"]) or j > i):
                height[i] = max(height[i], height[j] + 1)
    return height


class _Span(NamedTuple):
    """One span to wrap in ``<span>``: ``tag`` gives the opening tag of a fragment ``(first, last)``."""

    start: int
    end: int
    rank: int  # among spans with equal offsets the lower rank is outside: argument, trigger, entity
    tag: Callable[[bool, bool], str]


def _entity_tag(e: dict, height: int, first: bool, last: bool) -> str:
    c = type_color(str(e.get("type")))
    tip = f"{e.get('type')} {e.get('id', '')}".strip()
    if isinstance(e.get("score"), int | float):
        tip += f" ({e['score']:.2f})"
    return (f'<span class="ent{" last" if last else ""}" data-id="{_esc(e.get("id", ""))}" '
            f'data-type="{_esc(e.get("type"))}" title="{_esc(tip)}" '
            f'style="--c:{c};--bg:{_bg(c)};padding-bottom:{2 + 5 * (height - 1)}px">')


def _entity_spans(entities: list[dict], n: int) -> list[_Span]:
    ents = _valid(entities, n)
    return [_Span(e["start"], e["end"], 2, partial(_entity_tag, e, h)) for e, h in zip(ents, _heights(ents),
                                                                                       strict=True)]


def _wrap(text: str, spans: list[_Span]) -> str:
    """``text`` escaped, with every span wrapped in (nested) ``<span>`` elements; crossing spans are split."""
    spans = sorted(spans, key=lambda x: (x.start, -x.end, x.rank))
    starts: dict[int, list[int]] = defaultdict(list)
    for i, x in enumerate(spans):
        starts[x.start].append(i)
    cuts = sorted({0, len(text)} | {x.start for x in spans} | {x.end for x in spans})
    parts: list[str] = []
    stack: list[int] = []

    def push(i: int, first: bool) -> None:
        # the fragment is the span's last iff nothing it sits inside ends before it
        parts.append(spans[i].tag(first, all(spans[j].end >= spans[i].end for j in stack)))
        stack.append(i)

    for pos, nxt in zip(cuts, cuts[1:] + [None], strict=True):
        ending = [k for k, i in enumerate(stack) if spans[i].end == pos]
        if ending:
            popped = stack[ending[0]:]
            del stack[ending[0]:]
            parts.append("</span>" * len(popped))
            for i in popped:  # spans that cross the closed one continue as a new fragment
                if spans[i].end != pos:
                    push(i, False)
        for i in starts.get(pos, []):
            push(i, True)
        if nxt is not None:
            parts.append(_esc(text[pos:nxt]))
    return "".join(parts)


def _arg_text(a: dict, text: str) -> str:
    return text[a["start"]:a["end"]] if _ok(a, len(text)) else str(a.get("text", ""))


def _trigger_tag(key: str, n: int, evs: list[int], desc: str, first: bool, last: bool) -> str:
    ident = f' id="{key}-t{n}"' if first else ""
    return (f'<span class="trg"{ident} role="button" tabindex="{0 if first else -1}" aria-pressed="false" '
            f'data-trg="{n}" data-evs="{" ".join(map(str, evs))}" data-desc="{_esc(desc)}" '
            f'title="{_esc(desc)}">')


def _arg_tag(start: int, end: int, marks: dict, first: bool, last: bool) -> str:
    data = _esc(json.dumps(marks, ensure_ascii=False, sort_keys=True))
    return f'<span class="arg{" first" if first else ""}" data-start="{start}" data-end="{end}" data-marks="{data}">'


def _event_spans(text: str, events: list[dict], key: str) -> list[_Span]:
    """A control span per distinct trigger span and a marker span per distinct argument span."""
    n = len(text)
    triggers: dict[tuple[int, int], list[int]] = {}
    marks: dict[tuple[int, int], dict[str, list[list[str]]]] = {}
    for i, ev in enumerate(events):
        trig = ev.get("trigger") or {}
        if _ok(trig, n):
            triggers.setdefault((trig["start"], trig["end"]), []).append(i)
        for a in ev.get("arguments") or []:
            if _ok(a, n):
                roles = marks.setdefault((a["start"], a["end"]), {}).setdefault(str(i), [])
                role = str(a.get("role"))
                if [role, role_color(role)] not in roles:
                    roles.append([role, role_color(role)])
    spans = [_Span(s, e, 0, partial(_arg_tag, s, e, m)) for (s, e), m in marks.items()]
    for t, ((s, e), evs) in enumerate(triggers.items()):
        desc = "; ".join(_describe(events[i], text) for i in evs)
        spans.append(_Span(s, e, 1, partial(_trigger_tag, key, t, evs, desc)))
    return spans


def _describe(ev: dict, text: str) -> str:
    trig = ev.get("trigger") or {}
    args = ", ".join(f"{a.get('role')}: {_arg_text(a, text)}" for a in ev.get("arguments") or [])
    return f"{_arg_text(trig, text)} ({trig.get('type', 'event')}): {args or 'no arguments'}"


def markup_text(text: str, entities: list[dict], events: list[dict] | None = None, key: str = "doc") -> str:
    """``text`` as escaped HTML with entities, triggers and event arguments wrapped in (nested) spans.

    Args:
        text: the document text.
        entities: dicts with ``start``, ``end``, ``type`` (and optional ``id``, ``score``) ->
            ``<span class="ent">``.
        events: Extractor events (``{"trigger": {start, end, type, ...}, "arguments": [{role, start, end,
            ...}]}``); each distinct trigger span becomes a ``<span class="trg" role="button">`` control
            and each distinct argument span a ``<span class="arg">`` that the page's script marks.
        key: prefix of the element ids (unique per document on a page).

    Returns:
        An HTML fragment whose text content is exactly ``text``; spans outside the text are ignored.
    """
    return _wrap(text, _entity_spans(entities, len(text)) + _event_spans(text, list(events or []), key))


def _events_html(events: list[dict], text: str) -> str:
    if not events:
        return '<p class="muted">No events.</p>'
    rows = []
    for i, ev in enumerate(events):
        trig = ev.get("trigger") or {}
        args = list(ev.get("arguments") or []) or [None]
        head = (f'<td rowspan="{len(args)}">{i + 1}</td><td rowspan="{len(args)}"><b>{_esc(_arg_text(trig, text))}'
                f'</b> <span class="muted">[{_esc(trig.get("start"))}, {_esc(trig.get("end"))})</span></td>'
                f'<td rowspan="{len(args)}">{_esc(trig.get("type", ""))}</td>')
        for j, a in enumerate(args):
            cells = ('<td colspan="4" class="muted">no arguments</td>' if a is None else
                     f'<td class="role">{_esc(a.get("role"))}</td><td>{_esc(_arg_text(a, text))}</td>'
                     f'<td>[{_esc(a.get("start"))}, {_esc(a.get("end"))})</td><td>{_score(a)}</td>')
            rows.append(f'<tr data-ev="{i}">{head if j == 0 else ""}{cells}</tr>')
    return ('<table class="events"><tr><th>#</th><th>trigger</th><th>type</th><th>role</th><th>argument</th>'
            f'<th>span</th><th>score</th></tr>{"".join(rows)}</table>')


def _score(x: dict) -> str:
    s = x.get("score")
    return f" {s:.2f}" if isinstance(s, int | float) else ""


def _entity_table(entities: list[dict]) -> str:
    rows = "".join(f'<tr><td>{_esc(e.get("id", ""))}</td><td>{_esc(e.get("type"))}</td>'
                   f'<td>{_esc(e.get("text", ""))}</td><td>{_esc(e.get("start"))}</td>'
                   f'<td>{_esc(e.get("end"))}</td><td>{_score(e)}</td></tr>' for e in entities)
    return (f"<details><summary>{len(entities)} entities</summary><table><tr><th>id</th><th>type</th>"
            f"<th>text</th><th>start</th><th>end</th><th>score</th></tr>{rows}</table></details>")


def _legend(types: list[str]) -> str:
    chips = "".join(f'<span style="--c:{type_color(t)}">{_esc(t)}</span>' for t in types)
    return f'<p class="legend">{chips}</p>'


def _document(k: int, r: dict) -> str:
    text = str(r.get("text", ""))
    ents = list(r.get("entities") or [])
    events = list(r.get("events") or [])
    key = f"doc-{k}"
    body = markup_text(text, ents, events, key)
    status = (f'<p class="sel muted" id="{key}-sel" aria-live="polite" data-idle="{IDLE}">{IDLE}</p>'
              if any(_ok(ev.get("trigger") or {}, len(text)) for ev in events) else "")
    return (f'<section class="doc" id="{key}" data-sel=""><h2>{_esc(r.get("id") or f"Document {k}")}</h2>'
            f'{status}<div class="text" id="{key}-text">{body}</div>{_entity_table(ents)}'
            f'<h3>Events</h3>{_events_html(events, text)}</section>')


def render_html(results: list[dict], title: str = "diplomat-ie") -> str:
    """A self-contained HTML page showing Extractor results.

    Args:
        results: Extractor results as dicts (``{"text", "entities": [{id, type, start, end, text,
            score}], "events": [{"trigger": {...}, "arguments": [{role, start, end, text, score}]}]}``,
            optionally with ``"id"``); ``ExtractionResult`` objects are accepted too.
        title: the page title (escaped).

    Returns:
        The HTML document as a string: inline CSS and script only, no external resources. Element ids
        are ``doc-<k>...`` (``k`` = 1-based position), unique on the page.
    """
    results = [r.to_dict() if hasattr(r, "to_dict") else r for r in results]
    types = sorted({str(e.get("type")) for r in results for e in r.get("entities") or []})
    sections = "".join(_document(k, r) for k, r in enumerate(results, start=1))
    return (f'<!DOCTYPE html>\n<html lang="ru"><head><meta charset="utf-8"><title>{_esc(title)}</title>'
            f'<style>{CSS}</style></head><body><h1>{_esc(title)}</h1>{_legend(types)}'
            f'{sections or "<p>No documents.</p>"}<script>{JS}</script></body></html>\n')

"""A self-contained HTML page for Extractor results: highlighted nested entities, then events.

Nested entities become nested ``<span>``s; each has a coloured underline (outer mentions sit lower, so
layers stay visible), a light background, its type as a small label and a tooltip. Entities that cross
(overlap without nesting) are split into fragments. Every text piece is HTML-escaped.
"""

from __future__ import annotations

import html as _html
import zlib
from collections import defaultdict

PALETTE = {
    "PERSON": "#d62728", "PER": "#d62728", "ORGANIZATION": "#1f77b4", "ORG": "#1f77b4",
    "COUNTRY": "#2ca02c", "CITY": "#17becf", "STATE_OR_PROVINCE": "#98df8a", "LOCATION": "#2e8b57",
    "LOC": "#2ca02c", "DISTRICT": "#7fbf7f", "EVENT": "#ff7f0e", "DATE": "#9467bd", "TIME": "#c5b0d5",
    "PROFESSION": "#8c564b", "NATIONALITY": "#e377c2", "FACILITY": "#bcbd22", "AGE": "#7f7f7f",
    "NUMBER": "#aec7e8", "ORDINAL": "#c7c7c7", "LAW": "#393b79", "IDEOLOGY": "#637939",
}

CSS = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
.text{white-space:pre-wrap;line-height:2.9;font-size:1.05rem}
.ent{border-bottom:2px solid var(--c);background:var(--bg);border-radius:2px}
.lbl{font-size:.6rem;font-weight:600;color:var(--c);vertical-align:super;margin-left:1px}
.legend span{display:inline-block;margin:0 .5rem .3rem 0;padding:0 .3rem;border-bottom:3px solid var(--c)}
.role{font-weight:600;color:#444}.muted{color:#888;font-size:.85rem}
table{border-collapse:collapse;font-size:.85rem}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}
section{border-top:1px solid #ccc;margin-top:2rem}
"""


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


def _valid(entities: list[dict], n: int) -> list[dict]:
    ok = [e for e in entities if isinstance(e.get("start"), int) and isinstance(e.get("end"), int)
          and 0 <= e["start"] < e["end"] <= n]
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


def _open(e: dict, height: int) -> str:
    c = type_color(str(e.get("type")))
    tip = f"{e.get('type')} {e.get('id', '')}".strip()
    if isinstance(e.get("score"), int | float):
        tip += f" ({e['score']:.2f})"
    return (f'<span class="ent" data-id="{_esc(e.get("id", ""))}" data-type="{_esc(e.get("type"))}" '
            f'title="{_esc(tip)}" style="--c:{c};--bg:{_bg(c)};padding-bottom:{2 + 5 * (height - 1)}px">')


def _close(e: dict) -> str:
    return f'<span class="lbl">{_esc(e.get("type"))}</span></span>'


def markup_text(text: str, entities: list[dict]) -> str:
    """``text`` as escaped HTML with entities wrapped in (nested) ``<span class="ent">``.

    Args:
        text: the document text.
        entities: dicts with ``start``, ``end``, ``type`` (and optional ``id``, ``score``); entities
            outside the text are ignored.

    Returns:
        An HTML fragment.
    """
    ents = _valid(entities, len(text))
    heights = _heights(ents)
    starts: dict[int, list[int]] = defaultdict(list)
    for i, e in enumerate(ents):
        starts[e["start"]].append(i)
    cuts = sorted({0, len(text)} | {e["start"] for e in ents} | {e["end"] for e in ents})
    parts: list[str] = []
    stack: list[int] = []
    for pos, nxt in zip(cuts, cuts[1:] + [None], strict=True):
        ending = [k for k, i in enumerate(stack) if ents[i]["end"] == pos]
        if ending:
            popped = stack[ending[0]:]
            del stack[ending[0]:]
            for i in reversed(popped):
                parts.append(_close(ents[i]) if ents[i]["end"] == pos else "</span>")
            for i in popped:  # entities that cross the closed one continue as a new fragment
                if ents[i]["end"] != pos:
                    parts.append(_open(ents[i], heights[i]))
                    stack.append(i)
        for i in starts.get(pos, []):
            parts.append(_open(ents[i], heights[i]))
            stack.append(i)
        if nxt is not None:
            parts.append(_esc(text[pos:nxt]))
    return "".join(parts)


def _events_html(events: list[dict]) -> str:
    if not events:
        return '<p class="muted">No events.</p>'
    items = []
    for ev in events:
        trig = ev.get("trigger") or {}
        args = "".join(
            f'<li><span class="role">{_esc(a.get("role"))}</span>: {_esc(a.get("text", ""))} '
            f'<span class="muted">[{_esc(a.get("start"))}, {_esc(a.get("end"))})'
            f'{_score(a)}</span></li>' for a in ev.get("arguments") or [])
        items.append(f'<li><b>{_esc(trig.get("text", ""))}</b> <span class="muted">{_esc(trig.get("type", ""))} '
                     f'[{_esc(trig.get("start"))}, {_esc(trig.get("end"))})</span>'
                     f'<ul>{args or "<li class=muted>no arguments</li>"}</ul></li>')
    return f'<ol class="events">{"".join(items)}</ol>'


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


def render_html(results: list[dict], title: str = "diplomat-ie") -> str:
    """A self-contained HTML page showing Extractor results.

    Args:
        results: Extractor results as dicts (``{"text", "entities": [{id, type, start, end, text,
            score}], "events": [{"trigger": {...}, "arguments": [{role, start, end, text, score}]}]}``,
            optionally with ``"id"``); ``ExtractionResult`` objects are accepted too.
        title: the page title (escaped).

    Returns:
        The HTML document as a string (inline CSS, no scripts, no external resources).
    """
    results = [r.to_dict() if hasattr(r, "to_dict") else r for r in results]
    types = sorted({str(e.get("type")) for r in results for e in r.get("entities") or []})
    sections = []
    for k, r in enumerate(results, start=1):
        text = str(r.get("text", ""))
        ents = list(r.get("entities") or [])
        head = _esc(r.get("id") or f"Document {k}")
        sections.append(f'<section><h2>{head}</h2><div class="text">{markup_text(text, ents)}</div>'
                        f'{_entity_table(ents)}<h3>Events</h3>{_events_html(list(r.get("events") or []))}'
                        f"</section>")
    return (f'<!DOCTYPE html>\n<html lang="ru"><head><meta charset="utf-8"><title>{_esc(title)}</title>'
            f'<style>{CSS}</style></head><body><h1>{_esc(title)}</h1>{_legend(types)}'
            f'{"".join(sections) or "<p>No documents.</p>"}</body></html>\n')

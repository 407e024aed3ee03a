"""The HTML view in a real headless Chromium: loads offline without errors, triggers mark their arguments."""

from __future__ import annotations

import importlib.util
import json
import struct
from pathlib import Path

import pytest

from diplomat_ie.inference.html import render_html

ROOT = Path(__file__).resolve().parents[1]
ROWS_FILE = Path(__file__).parent / "fixtures" / "html_events.jsonl"


def _helper():
    spec = importlib.util.spec_from_file_location("headless_chromium", ROOT / "scripts" / "headless_chromium.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _ok(x, n):
    return type(x.get("start")) is int and type(x.get("end")) is int and 0 <= x["start"] < x["end"] <= n


def _trigger_events(row) -> list[list[int]]:
    """Event indices per distinct trigger span, in order of first appearance (the page's ``data-trg``)."""
    by_span: dict[tuple[int, int], list[int]] = {}
    for i, ev in enumerate(row["events"]):
        t = ev["trigger"]
        if _ok(t, len(row["text"])):
            by_span.setdefault((t["start"], t["end"]), []).append(i)
    return list(by_span.values())


def _expected(row, n) -> set[tuple]:
    text = row["text"]
    return {(a["start"], a["end"], a["role"], text[a["start"]:a["end"]])
            for i in _trigger_events(row)[n] for a in row["events"][i]["arguments"] if _ok(a, len(text))}


MARKED = """(doc => {
  const root = document.getElementById("doc-" + doc), out = [];
  root.querySelectorAll(".arg.on").forEach(a => {
    const s = a.dataset.start, e = a.dataset.end;
    const whole = [...root.querySelectorAll(`.arg[data-start="${s}"][data-end="${e}"]`)]
      .map(x => x.textContent).join("");
    a.dataset.role.split(", ").forEach(r => out.push([+s, +e, r, whole]));
  });
  return {marked: out, pressed: [...new Set([...root.querySelectorAll('.trg[aria-pressed="true"]')]
                                          .map(t => +t.dataset.trg))],
          rows: [...new Set([...root.querySelectorAll("tr.on")].map(r => +r.dataset.ev))],
          status: (root.querySelector(".sel") || {}).textContent};
})"""

POINT = """(id => {
  const e = document.getElementById(id);
  e.scrollIntoView({block: "center"});
  const b = e.getClientRects()[0], x = b.x + b.width / 2, y = b.y + b.height / 2;
  return document.elementFromPoint(x, y).closest(".trg") === e ? [x, y] : null;
})"""


def test_trigger_controls_in_headless_chromium(tmp_path):
    hc = _helper()
    binary = hc.find_chromium()
    if not binary:
        pytest.skip("chromium not installed (apt-get install chromium)")
    rows = [json.loads(line) for line in ROWS_FILE.read_text(encoding="utf-8").splitlines()]
    page_file = tmp_path / "events.html"
    page_file.write_text(render_html(rows, title="events"), encoding="utf-8")
    url = page_file.as_uri()
    with hc.Browser(tmp_path / "profile", binary=binary) as page:
        page.open(url)
        assert page.errors() == []
        assert page.requests() == [url]  # nothing but the page itself: it works offline
        texts = page.evaluate("[...document.querySelectorAll('.text')].map(e => e.textContent)")
        assert texts == [r["text"] for r in rows]  # labels are CSS, offsets in the DOM are the text's

        def state(doc):
            s = page.evaluate(f"{MARKED}({doc})")
            return {tuple(m) for m in s["marked"]}, s["pressed"], s["rows"], s["status"]

        def click(doc, n):
            point = page.evaluate(f"{POINT}('doc-{doc}-t{n}')")
            assert point, f"trigger doc-{doc}-t{n} is not the element under its own centre"
            page.click(*point)

        def check(doc, n):
            marked, pressed, table_rows, status = state(doc)
            row = rows[doc - 1]
            assert marked == _expected(row, n) and pressed == [n]
            assert sorted(table_rows) == _trigger_events(row)[n]
            assert status.startswith(row["events"][_trigger_events(row)[n][0]]["trigger"]["text"])

        click(1, 0)
        check(1, 0)
        badge = page.evaluate("getComputedStyle(document.querySelector('#doc-1 .arg.on.first'), '::before')"
                              ".content")
        assert json.loads(badge) in {"agent", "time", "place"}  # the role label is drawn in the text
        click(3, 0)  # another document: its own selection (hostile role names, a crossing trigger)
        check(3, 0)
        check(1, 0)
        click(1, 1)  # another trigger switches the marking
        check(1, 1)
        click(1, 1)  # the same trigger again clears it
        assert state(1)[:3] == (set(), [], [])

        page.evaluate("document.getElementById('doc-1-t1').focus()")
        page.press("Tab", "Tab", 9)
        assert page.evaluate("document.activeElement.id") == "doc-1-t2"  # triggers are in the tab order
        page.press("Enter", "Enter", 13)
        check(1, 2)
        page.press(" ", "Space", 32)
        assert state(1)[:2] == (set(), [])
        page.press(" ", "Space", 32)
        check(1, 2)
        page.press("Escape", "Escape", 27)
        assert state(1)[:2] == (set(), [])

        click(1, 0)
        shot = page.screenshot(tmp_path / "events.png")
        assert page.errors() == []
    png = shot.read_bytes()
    width, height = struct.unpack(">II", png[16:24])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and width >= 800 and height >= 400


def test_html_screenshot_script(tmp_path):
    import subprocess
    import sys

    if not _helper().find_chromium():
        pytest.skip("chromium not installed (apt-get install chromium)")
    rows = [json.loads(line) for line in ROWS_FILE.read_text(encoding="utf-8").splitlines()]
    page_file = tmp_path / "events.html"
    page_file.write_text(render_html(rows), encoding="utf-8")
    out = tmp_path / "events.png"
    cmd = [sys.executable, str(ROOT / "scripts" / "html_screenshot.py"), str(page_file), str(out)]
    done = subprocess.run([*cmd, "--select", "doc-1-t0"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = subprocess.run([*cmd, "--select", "doc-9-t0"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "no element with id 'doc-9-t0'" in bad.stderr
    assert bad.stderr.count("\n") == 1  # one line, no traceback

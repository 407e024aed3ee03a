"""Inline CSS and JavaScript of the HTML view (no external resources: the page opens offline)."""

CSS = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
.text{white-space:pre-wrap;line-height:2.9;font-size:1.05rem}
.ent{border-bottom:2px solid var(--c);background:var(--bg);border-radius:2px}
.ent.last::after{content:attr(data-type);font-size:.6rem;font-weight:600;color:var(--c);vertical-align:super;
margin-left:1px}
.trg{cursor:pointer;border-radius:3px;outline:1px dashed #e65100;outline-offset:1px}
.trg:hover{background:#fff3e0}.trg:focus-visible{outline:3px solid #1565c0}
.trg[aria-pressed="true"]{background:#ffe0b2;outline:2px solid #e65100}
.arg.on{outline:2px solid var(--rc,#444);outline-offset:1px;border-radius:3px}
.arg.on.first::before{content:attr(data-role);font-size:.62rem;font-weight:700;color:#fff;
background:var(--rc,#444);border-radius:3px;padding:0 .25rem;margin-right:3px;vertical-align:super}
.sel{min-height:1.2em}
.legend span{display:inline-block;margin:0 .5rem .3rem 0;padding:0 .3rem;border-bottom:3px solid var(--c)}
.role{font-weight:600;color:#444}.muted{color:#888;font-size:.85rem}
table{border-collapse:collapse;font-size:.85rem}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}
tr.on td{background:#fff3e0}
section{border-top:1px solid #ccc;margin-top:2rem}
"""

# Choosing a trigger (click, Enter or Space) marks the arguments of its events in that document's text;
# choosing it again, or Escape, clears the marking. Only attributes and textContent are written (no innerHTML).
JS = """
(function () {
  "use strict";
  function choose(doc, trg) {
    var key = trg ? trg.getAttribute("data-trg") : "";
    if (key && doc.getAttribute("data-sel") === key) { key = ""; }
    doc.setAttribute("data-sel", key);
    var evs = key ? trg.getAttribute("data-evs").split(" ") : [];
    doc.querySelectorAll(".trg").forEach(function (t) {
      t.setAttribute("aria-pressed", String(key !== "" && t.getAttribute("data-trg") === key));
    });
    doc.querySelectorAll(".arg").forEach(function (a) {
      var marks = JSON.parse(a.getAttribute("data-marks")), roles = [], color = "";
      evs.forEach(function (e) {
        (marks[e] || []).forEach(function (rc) {
          if (roles.indexOf(rc[0]) < 0) { roles.push(rc[0]); }
          color = color || rc[1];
        });
      });
      a.classList.toggle("on", roles.length > 0);
      if (roles.length) {
        a.setAttribute("data-role", roles.join(", "));
        a.style.setProperty("--rc", color);
      } else {
        a.removeAttribute("data-role");
      }
    });
    doc.querySelectorAll("tr[data-ev]").forEach(function (r) {
      r.classList.toggle("on", evs.indexOf(r.getAttribute("data-ev")) >= 0);
    });
    var status = doc.querySelector(".sel");
    if (status) { status.textContent = key ? trg.getAttribute("data-desc") : status.getAttribute("data-idle"); }
  }
  function trigger(ev) { return ev.target.closest ? ev.target.closest(".trg") : null; }
  document.addEventListener("click", function (ev) {
    var t = trigger(ev);
    if (t) { choose(t.closest(".doc"), t); }
  });
  document.addEventListener("keydown", function (ev) {
    var t = trigger(ev);
    if (t && (ev.key === "Enter" || ev.key === " ")) {
      ev.preventDefault();
      choose(t.closest(".doc"), t);
    } else if (ev.key === "Escape" && ev.target.closest && ev.target.closest(".doc")) {
      choose(ev.target.closest(".doc"), null);
    }
  });
})();
"""

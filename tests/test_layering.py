"""The layering of README's Design section holds in the imports (module level and inside functions).

Layers, lowest first: ``utils``, ``config``, ``resources`` <- ``data`` <- ``backbone`` <- ``modeling`` <- ``training``
<- ``inference`` <- ``evaluation`` <- ``cli`` and the package ``__init__``. A module may import its own
layer or lower ones; no cycle between units (subpackages / top-level modules) nor between modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = "diplomat_ie"
SRC = Path(__file__).resolve().parents[1] / "src" / PKG
LAYERS = {"utils": 0, "config": 0, "resources": 0, "data": 1, "backbone": 2, "modeling": 3, "training": 4,
          "inference": 5, "evaluation": 6, "cli": 7, "__init__": 7}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def imports_of(module: str, source: str, is_package: bool, known: set[str]) -> set[str]:
    """The package modules ``source`` imports anywhere (functions too), relative and absolute.

    ``from X import name`` counts as importing ``X.name`` when that is a module, else ``X``.
    """
    base = module.split(".") if is_package else module.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - node.level + 1]
                mod = ".".join(anchor + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known and "." in t:  # `import diplomat_ie.data.corpora.x` -> its module
                t = t.rsplit(".", 1)[0]
            if t in known and t != module:
                out.add(t)
    return out


def unit_of(module: str) -> str:
    parts = module.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def violations(graph: dict[str, set[str]], layers: dict[str, int] = LAYERS) -> list[str]:
    """Upward imports, modules of no known layer, and cycles (between units, then between modules)."""
    out = []
    units: dict[str, set[str]] = {}
    for mod, targets in sorted(graph.items()):
        for m in (mod, *targets):
            if unit_of(m) not in layers:
                out.append(f"{m}: unit {unit_of(m)!r} has no layer; add it to LAYERS and README")
        for t in sorted(targets):
            a, b = unit_of(mod), unit_of(t)
            if a in layers and b in layers and layers[b] > layers[a]:
                out.append(f"upward import: {mod} (layer {a}) imports {t} (layer {b})")
            if a != b:
                units.setdefault(a, set()).add(b)
    out += [f"cycle between units: {' <-> '.join(c)}" for c in _cycles(units)]
    out += [f"cycle between modules: {' <-> '.join(c)}" for c in _cycles(graph)]
    return sorted(set(out), key=out.index)


def package_graph() -> dict[str, set[str]]:
    mods = package_modules()
    return {m: imports_of(m, p.read_text(encoding="utf-8"), p.name == "__init__.py", set(mods))
            for m, p in mods.items()}


def test_package_imports_follow_the_layers():
    graph = package_graph()
    assert len(graph) > 30 and sum(map(len, graph.values())) > 60  # the walk saw the package
    assert violations(graph) == []


def test_the_layers_are_the_ones_readme_documents():
    readme = (SRC.parents[1] / "README.md").read_text(encoding="utf-8")
    design = readme[readme.index("- **Layers**"):]
    line = design[: design.index("\n- ")]  # the whole bullet
    pos = [line.index(f"`{u}`") for u in ("utils", "data", "backbone", "modeling", "training", "inference",
                                          "evaluation", "cli")]
    assert pos == sorted(pos)


# ---------------------------------------------------------------- the checker itself

KNOWN = {"diplomat_ie", "diplomat_ie.cli", "diplomat_ie.config", "diplomat_ie.training",
         "diplomat_ie.training.trainer", "diplomat_ie.evaluation", "diplomat_ie.evaluation.evaluate",
         "diplomat_ie.data", "diplomat_ie.data.corpora"}

PARSE_CASES = [
    ("diplomat_ie.training.trainer", False, "from ..evaluation.evaluate import headline",
     {"diplomat_ie.evaluation.evaluate"}),
    ("diplomat_ie.training.trainer", False, "def f():\n    from ..evaluation import evaluate\n",
     {"diplomat_ie.evaluation.evaluate"}),
    ("diplomat_ie.training.trainer", False, "import diplomat_ie.data.corpora as c", {"diplomat_ie.data.corpora"}),
    ("diplomat_ie.training", True, "from .trainer import X\nfrom .. import config",
     {"diplomat_ie.training.trainer", "diplomat_ie.config"}),
    ("diplomat_ie.cli", False, "from . import train", {"diplomat_ie"}),  # a name of the package __init__
    ("diplomat_ie.cli", False, "import json\nfrom typing import Any", set()),
]


@pytest.mark.parametrize(("module", "is_pkg", "source", "expected"), PARSE_CASES)
def test_imports_are_resolved(module, is_pkg, source, expected):
    assert imports_of(module, source, is_pkg, KNOWN) == expected


BAD_GRAPHS = [
    ({"diplomat_ie.training.trainer": {"diplomat_ie.evaluation.evaluate"}},
     ["upward import: diplomat_ie.training.trainer (layer training) imports diplomat_ie.evaluation.evaluate "
      "(layer evaluation)"]),
    ({"diplomat_ie.data.corpora": {"diplomat_ie.modeling.io"}, "diplomat_ie.modeling.io": set()},
     ["upward import: diplomat_ie.data.corpora (layer data) imports diplomat_ie.modeling.io (layer modeling)"]),
    ({"diplomat_ie.utils": {"diplomat_ie.config"}, "diplomat_ie.config": {"diplomat_ie.utils"}},
     ["cycle between units: config <-> utils", "cycle between modules: diplomat_ie.config <-> diplomat_ie.utils"]),
    ({"diplomat_ie.evaluation.report": {"diplomat_ie.evaluation.run"},
      "diplomat_ie.evaluation.run": {"diplomat_ie.evaluation.report"}},
     ["cycle between modules: diplomat_ie.evaluation.report <-> diplomat_ie.evaluation.run"]),
    ({"diplomat_ie.plugins.x": {"diplomat_ie.data"}},
     ["diplomat_ie.plugins.x: unit 'plugins' has no layer; add it to LAYERS and README"]),
    ({"diplomat_ie.cli": {"diplomat_ie", "diplomat_ie.evaluation.run"}, "diplomat_ie": {"diplomat_ie.training"},
      "diplomat_ie.evaluation.run": {"diplomat_ie.inference.html", "diplomat_ie.data"}}, []),
]


@pytest.mark.parametrize(("graph", "expected"), BAD_GRAPHS, ids=["upward-training", "upward-data", "unit-cycle",
                                                                 "module-cycle", "unknown-unit", "clean"])
def test_checker_flags_bad_graphs(graph, expected):
    assert violations(graph) == expected

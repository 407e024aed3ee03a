"""scripts/syntax_paths.py: the tree distance and span head of the syntax-path analysis (pure functions)."""

import importlib.util
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location("syntax_paths", Path(__file__).parents[1] / "scripts" / "syntax_paths.py")
sp = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(sp)

# «Марко Рубио намерен посетить Казахстан .»: 0 -> 2 (nsubj), 1 -> 0 (appos), 2 root, 3 -> 2, 4 -> 3, 5 -> 2
HEADS = [2, 0, -1, 2, 3, 2]


@pytest.mark.parametrize(("a", "b", "dist"), [
    (0, 0, 0), (0, 2, 1), (2, 0, 1), (1, 3, 3), (4, 0, 3), (4, 5, 3), (1, 4, 4),
])
def test_tree_distance(a, b, dist):
    assert sp.tree_distance(HEADS, a, b) == dist


def test_tree_distance_across_trees():
    assert sp.tree_distance([-1, 0, -1, 2], 1, 3) == 99  # two sentences: no path


@pytest.mark.parametrize(("lo", "hi", "head"), [(0, 2, 0), (1, 2, 1), (3, 5, 3), (4, 5, 4), (0, 6, 2)])
def test_span_head(lo, hi, head):
    assert sp.span_head(HEADS, lo, hi) == head

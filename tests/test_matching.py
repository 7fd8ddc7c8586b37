"""The blossom matching finds the same optimum as networkx and as trying every matching."""

from __future__ import annotations

import itertools
import random

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.matching import matching_weight, max_weight_matching

Edge = tuple[int, int, float]


@st.composite
def graphs(
    draw: st.DrawFn, max_n: int = 14, weights: st.SearchStrategy[float] | None = None
) -> tuple[int, list[Edge]]:
    """A random graph: any density, small integer weights so that ties (the hard case) abound."""
    n = draw(st.integers(0, max_n))
    pairs = list(itertools.combinations(range(n), 2))
    density = draw(st.floats(0.0, 1.0))
    rng = random.Random(draw(st.integers(0, 2**32)))
    weight = weights if weights is not None else st.integers(-2, 9)
    chosen = [p for p in pairs if rng.random() < density]
    return n, [(i, j, draw(weight)) for i, j in chosen]


def networkx_optimum(n: int, edges: list[Edge], maxcardinality: bool) -> tuple[int, float]:
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_weighted_edges_from(edges)
    matching = nx.max_weight_matching(graph, maxcardinality=maxcardinality)
    return len(matching), sum(graph[i][j]["weight"] for i, j in matching)


def brute_force_optimum(n: int, edges: list[Edge], maxcardinality: bool) -> tuple[int, float]:
    """(size, weight) of the best matching, by trying every set of disjoint edges."""
    best: tuple[int, float] = (0, 0.0)
    for size in range(1, n // 2 + 1):
        for subset in itertools.combinations(edges, size):
            ends = [v for i, j, _ in subset for v in (i, j)]
            if len(set(ends)) < len(ends):
                continue
            weight = sum(w for _, _, w in subset)
            better = (size, weight) > best if maxcardinality else weight > best[1]
            if better:
                best = (size, weight)
    return best


def assert_valid(n: int, edges: list[Edge], mate: list[int]) -> None:
    present = {(min(i, j), max(i, j)) for i, j, _ in edges}
    assert len(mate) == n
    for v, m in enumerate(mate):
        if m != -1:
            assert mate[m] == v
            assert (min(v, m), max(v, m)) in present


@settings(max_examples=400, deadline=None)
@given(graphs(), st.booleans())
def test_same_optimum_as_networkx(graph: tuple[int, list[Edge]], maxcardinality: bool) -> None:
    """On random graphs the matching weighs as much as networkx's, with as many edges."""
    n, edges = graph
    mate = max_weight_matching(n, edges, maxcardinality)
    assert_valid(n, edges, mate)
    size, weight = networkx_optimum(n, edges, maxcardinality)
    assert matching_weight(mate, edges) == weight
    if maxcardinality:
        assert sum(m != -1 for m in mate) == 2 * size


@settings(max_examples=150, deadline=None)
@given(
    graphs(max_n=7, weights=st.floats(-1.0, 10.0, allow_nan=False).map(lambda w: round(w, 3))),
    st.booleans(),
)
def test_same_optimum_as_brute_force_with_float_weights(
    graph: tuple[int, list[Edge]], maxcardinality: bool
) -> None:
    """With fractional weights the result is still the best of all matchings (to 1e-9)."""
    n, edges = graph
    mate = max_weight_matching(n, edges, maxcardinality)
    assert_valid(n, edges, mate)
    size, weight = brute_force_optimum(n, edges, maxcardinality)
    assert matching_weight(mate, edges) == pytest.approx(weight, abs=1e-9)
    if maxcardinality:
        assert sum(m != -1 for m in mate) == 2 * size


def test_larger_dense_graphs_agree_with_networkx() -> None:
    """Complete graphs of 40–60 vertices with huge integer weights (as pairing uses) agree."""
    rng = random.Random(7)
    for n in (40, 51, 60):
        edges: list[Edge] = [
            (i, j, rng.randrange(10**15)) for i, j in itertools.combinations(range(n), 2)
        ]
        mate = max_weight_matching(n, edges, True)
        assert_valid(n, edges, mate)
        assert matching_weight(mate, edges) == networkx_optimum(n, edges, True)[1]


def test_maxcardinality_gives_up_weight_to_match_more() -> None:
    """On a path 0–1–2–3 with a heavy middle edge, maxcardinality takes both outer edges."""
    edges: list[Edge] = [(0, 1, 1), (1, 2, 10), (2, 3, 1)]
    assert max_weight_matching(4, edges, False) == [-1, 2, 1, -1]
    assert max_weight_matching(4, edges, True) == [1, 0, 3, 2]


def test_edges_that_only_cost_are_left_out() -> None:
    """Without maxcardinality a negative edge is never taken; with it, it is."""
    assert max_weight_matching(2, [(0, 1, -5)], False) == [-1, -1]
    assert max_weight_matching(2, [(0, 1, -5)], True) == [1, 0]


def test_parallel_edges_count_with_their_heaviest_weight() -> None:
    """An edge listed twice weighs its larger weight."""
    edges: list[Edge] = [(0, 1, 1), (1, 0, 5), (1, 2, 4)]
    assert max_weight_matching(3, edges) == [1, 0, -1]
    assert matching_weight([1, 0, -1], edges) == 5


def test_no_edges_means_nobody_is_matched() -> None:
    """Isolated vertices (and an empty graph) stay unmatched."""
    assert max_weight_matching(3, []) == [-1, -1, -1]
    assert max_weight_matching(0, []) == []


@pytest.mark.parametrize("edge", [(0, 0, 1.0), (0, 3, 1.0), (-1, 1, 1.0)])
def test_self_loops_and_unknown_vertices_are_errors(edge: Edge) -> None:
    """A self-loop or a vertex outside 0..n-1 is a caller's bug and raises ValueError."""
    with pytest.raises(ValueError):
        max_weight_matching(3, [edge])

"""The compiled auction matcher (bot.core.fastmatch): always a valid matching, near-optimal,
a true upper bound, deterministic — and actually compiled in this environment."""

from __future__ import annotations

import random
from array import array

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core import fastmatch
from bot.core.fastmatch import (
    available,
    matching_from_arrays,
    matching_with_bound,
    max_weight_matching_fast,
)
from bot.core.matching import matching_weight

Edge = tuple[int, int, float]


def assert_valid(n: int, edges: list[Edge], mate: list[int]) -> None:
    """Each vertex at most once, symmetric, and only positive-weight edges that were given."""
    assert len(mate) == n
    given_edges = {(min(i, j), max(i, j)) for i, j, w in edges if w > 0}
    for v, u in enumerate(mate):
        if u == -1:
            continue
        assert 0 <= u < n and u != v
        assert mate[u] == v
        assert (min(u, v), max(u, v)) in given_edges


def optimum(edges: list[Edge]) -> float:
    graph = nx.Graph()
    for i, j, w in edges:
        if w > 0 and (not graph.has_edge(i, j) or graph[i][j]["weight"] < w):
            graph.add_edge(i, j, weight=w)
    return float(sum(graph[u][v]["weight"] for u, v in nx.max_weight_matching(graph)))


def curiosity_graph(seed: int, largest: int = 300) -> tuple[int, list[Edge]]:
    """A sparse graph like a candidate graph: 1-8 proposals per person, weights summing one to
    three shared (1 + rarity bonus) or complementary (2 + bonus) curiosities."""
    rng = random.Random(seed)
    n = rng.randint(50, largest)
    edges: dict[tuple[int, int], float] = {}
    for i in range(n):
        for _ in range(rng.randint(1, 8)):
            j = rng.randrange(n)
            if j != i:
                edges[(min(i, j), max(i, j))] = round(
                    sum(
                        rng.choice([1.0, 2.0]) + 2 * rng.random()
                        for _ in range(rng.choice([1, 1, 1, 2, 2, 3]))
                    ),
                    3,
                )
    return n, [(i, j, w) for (i, j), w in edges.items()]


def test_the_compiled_matcher_is_available() -> None:
    """The C matcher must be built here (``pip install -e .`` compiles it via setup.py).

    Without this test a broken build would pass CI silently, because every function falls back
    to the exact pure-Python matcher — correct, but far too slow for large pools.
    """
    assert available()


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=0, max_value=40).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(
                st.tuples(
                    st.integers(0, max(n - 1, 0)),
                    st.integers(0, max(n - 1, 0)),
                    st.sampled_from([-1.0, 0.0, 0.5, 1.0, 1.0, 2.0, 3.25, 7.0]),
                ),
                max_size=120,
            ),
        )
    )
)
def test_always_a_valid_matching(case: tuple[int, list[Edge]]) -> None:
    n, raw = case
    edges = [(i, j, w) for i, j, w in raw if i != j]
    mate, bound = matching_with_bound(n, edges)
    assert_valid(n, edges, mate)
    assert matching_weight(mate, edges) <= bound + 1e-9
    if n <= 40 and edges:
        assert bound >= optimum(edges) - 1e-9


@pytest.mark.parametrize("seed", range(12))
def test_near_optimal_with_a_true_upper_bound(seed: int) -> None:
    n, edges = curiosity_graph(seed)
    mate, bound = matching_with_bound(n, edges)
    assert_valid(n, edges, mate)
    best = optimum(edges)
    got = matching_weight(mate, edges)
    assert got >= 0.99 * best
    assert bound >= best - 1e-9
    assert got <= best + 1e-9


def test_quality_over_many_graphs_is_above_99_5_percent_on_average() -> None:
    ratios = []
    for seed in range(100, 120):
        n, edges = curiosity_graph(seed, largest=150)
        ratios.append(matching_weight(max_weight_matching_fast(n, edges), edges) / optimum(edges))
    assert min(ratios) >= 0.99
    assert sum(ratios) / len(ratios) >= 0.995


def test_empty_and_isolated() -> None:
    assert max_weight_matching_fast(0, []) == []
    assert max_weight_matching_fast(3, []) == [-1, -1, -1]
    mate, bound = matching_with_bound(5, [(1, 3, 2.0)])
    assert mate == [-1, 3, -1, 1, -1]
    assert 2.0 <= bound <= 2.0 * 1.001  # the auction's bound is within about n·eps


def test_zero_and_negative_weights_are_never_used() -> None:
    assert max_weight_matching_fast(4, [(0, 1, 0.0), (2, 3, -5.0)]) == [-1, -1, -1, -1]
    assert max_weight_matching_fast(3, [(0, 1, 0.0), (1, 2, 1.0)]) == [-1, 2, 1]


def test_duplicate_edges_count_once_with_their_largest_weight() -> None:
    edges = [(0, 1, 1.0), (1, 0, 5.0), (1, 2, 3.0), (0, 1, 2.0), (2, 3, 1.0)]
    mate, bound = matching_with_bound(4, edges)
    assert mate == [1, 0, 3, 2]
    assert matching_weight(mate, edges) == 6.0
    assert bound >= 6.0 - 1e-9


def test_prefers_two_good_pairs_over_one_great_one() -> None:
    # The greedy trap: the heaviest edge (1, 2) strands 0 and 3.
    assert max_weight_matching_fast(4, [(0, 1, 3.0), (1, 2, 4.0), (2, 3, 3.0)]) == [1, 0, 3, 2]


@pytest.mark.parametrize(
    ("n", "edges"),
    [
        (2, [(0, 0, 1.0)]),
        (2, [(0, 2, 1.0)]),
        (2, [(-1, 1, 1.0)]),
        (2, [(0, 1, float("nan"))]),
        (2, [(0, 1, float("inf"))]),
    ],
)
def test_invalid_input_is_an_error(n: int, edges: list[Edge]) -> None:
    with pytest.raises(ValueError):
        max_weight_matching_fast(n, edges)


def test_deterministic_and_independent_of_edge_order() -> None:
    n, edges = curiosity_graph(7)
    first = max_weight_matching_fast(n, edges)
    assert max_weight_matching_fast(n, edges) == first
    shuffled = edges[:]
    random.Random(1).shuffle(shuffled)
    swapped = [(j, i, w) for i, j, w in shuffled]
    assert max_weight_matching_fast(n, swapped) == first


def test_arrays_in_and_stats_out() -> None:
    n, edges = curiosity_graph(3)
    ei = array("i", [e[0] for e in edges])
    ej = array("i", [e[1] for e in edges])
    w = array("d", [e[2] for e in edges])
    mate, stats = matching_from_arrays(n, ei, ej, w)
    assert mate == max_weight_matching_fast(n, edges)
    assert stats.final == pytest.approx(matching_weight(mate, edges))
    assert stats.rounded <= stats.final + 1e-9 <= stats.bound + 2e-9
    assert stats.fractional <= stats.bound + 1e-9
    assert stats.phases >= 1 and stats.bids >= n and not stats.cut_short
    with pytest.raises(ValueError):
        matching_from_arrays(n, ei, ej, w[:-1])


def test_a_larger_graph_stays_valid_and_close_to_its_bound() -> None:
    rng = random.Random(5)
    n = 5000
    edges = [
        (i, j, float(rng.randint(1, 9)))
        for i in range(n)
        for j in rng.sample(range(n), 5)
        if j != i
    ]
    mate, bound = matching_with_bound(n, edges)
    assert_valid(n, edges, mate)
    assert matching_weight(mate, edges) >= 0.99 * bound


def test_falls_back_to_the_exact_matcher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fastmatch, "_library", lambda: None)
    assert not available()
    n, edges = curiosity_graph(11)
    mate, bound = matching_with_bound(n, edges)
    assert_valid(n, edges, mate)
    assert matching_weight(mate, edges) == pytest.approx(optimum(edges))
    assert bound == pytest.approx(optimum(edges))
    with pytest.raises(ValueError):
        max_weight_matching_fast(2, [(0, 0, 1.0)])


# --- the candidate search (fm_candidates) ---------------------------------------------------

Card = list[tuple[int, int]]  # (topic id, role): bit 1 curious about, bit 2 can tell about


def random_cards(seed: int, n: int, topics: int) -> list[Card]:
    """Cards with a heavy-tailed topic popularity, like a meetup's."""
    rng = random.Random(seed)
    weights = [1 / (t + 2) for t in range(topics)]
    cards = []
    for _ in range(n):
        held = set(rng.choices(range(topics), weights, k=rng.randint(0, 6)))
        cards.append(sorted((t, rng.choice([1, 2, 2, 3])) for t in held))
    return cards


def exact_score(a: Card, b: Card, wshared: list[float], wcomp: list[float]) -> float:
    roles = dict(b)
    total = 0.0
    for t, ra in a:
        if t in roles:
            rb = roles[t]
            a_asks, b_asks = bool(ra & 1 and rb & 2), bool(rb & 1 and ra & 2)
            total += wcomp[t] if a_asks != b_asks else wshared[t]
    return total


def build(
    seed: int, n: int, topics: int, *, threads: int = 0, budget: int = 10_000, k: int = 5
) -> tuple[
    list[Card], list[float], list[float], list[int], list[list[int]], fastmatch.CandidateGraph
]:
    rng = random.Random(seed + 1)
    cards = random_cards(seed, n, topics)
    wshared = [1 + 2 * rng.random() for _ in range(topics)]
    wcomp = [w + 1 for w in wshared]
    languages = [rng.choice([0, 1, 2, 3]) for _ in range(n)]  # 0: anything, bits: en, de
    forbidden: list[list[int]] = [[] for _ in range(n)]
    for _ in range(n):
        i, j = rng.sample(range(n), 2)
        forbidden[i].append(j)
        forbidden[j].append(i)
    graph = fastmatch.candidate_graph(
        n,
        [[t for t, _ in c] for c in cards],
        [[r for _, r in c] for c in cards],
        wshared,
        wcomp,
        languages,
        forbidden,
        k=k,
        fallbacks=2,
        scan_budget=budget,
        window=4,
        base=0.5,
        seed=seed,
        threads=threads,
    )
    return cards, wshared, wcomp, languages, forbidden, graph


def edge_set(graph: fastmatch.CandidateGraph) -> set[tuple[int, int, float]]:
    return set(zip(graph.ei, graph.ej, graph.w, strict=True))


def test_candidates_are_allowed_pairs_weighted_by_their_exact_score() -> None:
    cards, wshared, wcomp, languages, forbidden, graph = build(3, 300, 40)
    assert len(graph.w) > 300
    for i, j, w in edge_set(graph):
        assert 0 <= i < j < 300
        assert j not in forbidden[i]
        assert not (languages[i] and languages[j] and not languages[i] & languages[j])
        assert w == pytest.approx(exact_score(cards[i], cards[j], wshared, wcomp) + 0.5)


def test_each_person_gets_their_best_partners_when_the_search_sees_everyone() -> None:
    """With a scan budget above every co-holder count, the k best allowed partners of each
    person (ties aside) are candidates: nobody's best match is missed."""
    n, k = 200, 5
    cards, wshared, wcomp, languages, forbidden, graph = build(8, n, 30, k=k)
    near: dict[int, set[int]] = {v: set() for v in range(n)}
    for i, j, _ in edge_set(graph):
        near[i].add(j)
        near[j].add(i)
    for i in range(n):
        scores = sorted(
            (
                (exact_score(cards[i], cards[j], wshared, wcomp), j)
                for j in range(n)
                if j != i
                and j not in forbidden[i]
                and not (languages[i] and languages[j] and not languages[i] & languages[j])
            ),
            reverse=True,
        )
        if len(scores) > k:
            threshold = scores[k][0]  # the (k+1)-th best: everyone strictly above must be in
            assert {j for s, j in scores if s > threshold and s > 0} <= near[i]


def test_someone_who_shares_nothing_still_has_partners() -> None:
    cards, *_, graph = build(5, 120, 200)
    loners = [v for v, c in enumerate(cards) if not c]
    assert loners
    touched = set(graph.ei) | set(graph.ej)
    assert all(v in touched for v in loners)


def test_the_graph_is_the_same_for_a_seed_whatever_the_threads() -> None:
    """Chunks of people draw from their own seeded streams, so 1 or 4 threads agree."""
    one = build(4, 3000, 60, threads=1, budget=200)[-1]
    four = build(4, 3000, 60, threads=4, budget=200)[-1]
    again = build(4, 3000, 60, threads=2, budget=200)[-1]
    assert sorted(edge_set(one)) == sorted(edge_set(four)) == sorted(edge_set(again))
    other_seed = fastmatch.candidate_graph(
        1,
        [[0]],
        [[1]],
        [1.0],
        [2.0],
        [0],
        [[]],
        k=1,
        fallbacks=1,
        scan_budget=1,
        window=1,
        base=0.0,
        seed=5,
    )
    assert len(other_seed.w) == 0  # one person: nobody to pair with


def test_candidate_input_is_checked() -> None:
    def call(topics: list[list[int]], roles: list[list[int]], forbidden: list[list[int]]) -> None:
        fastmatch.candidate_graph(
            2,
            topics,
            roles,
            [1.0, 1.0],
            [2.0, 2.0],
            [0, 0],
            forbidden,
            k=1,
            fallbacks=1,
            scan_budget=10,
            window=1,
            base=0.0,
            seed=1,
        )

    call([[0, 1], [1]], [[1, 2], [2]], [[], []])  # fine
    with pytest.raises(ValueError, match="ascend"):
        call([[1, 0], [1]], [[1, 2], [2]], [[], []])
    with pytest.raises(ValueError, match="ascend"):
        call([[0, 7], [1]], [[1, 2], [2]], [[], []])
    with pytest.raises(ValueError, match="ascend"):
        call([[0], [1]], [[1], [2]], [[5], []])
    with pytest.raises(ValueError, match="1 topics but 0 roles"):
        call([[0], [1]], [[1], []], [[], []])
    with pytest.raises(ValueError, match="one entry per person"):
        call([[0]], [[1]], [[], []])

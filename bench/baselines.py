"""The methods Funkel is measured against, and the references its quality is measured by.

Every method gets the raw input Funkel gets (people, history, blocks, a seed) and does all
its own preparation inside the timed call; each returns groups of person indices (people
in key order). They all solve Funkel's problem: blocks are never violated, and groups without
a common language or with people who met before are avoided (when the method knows how).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from bench.scoring import Scorer, neighbour_candidates
from bot.core.models import PastEncounter
from bot.core.pairing import Person

__all__ = [
    "Bound",
    "exact_networkx",
    "greedy_all_edges",
    "greedy_matching",
    "lp_upper_bound",
    "random_shuffle",
]

GREEDY_CHUNK = 1 << 16


def greedy_matching(
    n: int, i: np.ndarray, j: np.ndarray, w: np.ndarray, mate: np.ndarray | None = None
) -> np.ndarray:
    """Heaviest edge first, taken if both ends are free. Returns the mate array (-1: free).

    Edges are visited in chunks; before each chunk the edges with a taken end are dropped
    with one vectorised test, so the Python loop only sees edges that may still be taken.
    """
    mate = np.full(n, -1, dtype=np.int64) if mate is None else mate.copy()
    order = np.argsort(-w, kind="stable")
    free = mate < 0
    left = int(free.sum())
    for start in range(0, len(order), GREEDY_CHUNK):
        if left < 2:
            break
        idx = order[start : start + GREEDY_CHUNK]
        a, b = i[idx], j[idx]
        keep = free[a] & free[b]
        taken: list[int] = []
        fr = free  # numpy bools, read per element below only for the few candidates
        for x, y in zip(a[keep].tolist(), b[keep].tolist(), strict=True):
            if fr[x] and fr[y]:
                fr[x] = fr[y] = False
                mate[x], mate[y] = y, x
                taken.append(x)
        left -= 2 * len(taken)
    return mate


# --- leftovers: everyone placed, blocks respected -----------------------------------------------


def _place_leftovers(
    scorer: Scorer, groups: list[tuple[int, ...]], left: Sequence[int], rng: random.Random
) -> tuple[list[tuple[int, ...]], list[int]]:
    """Pair the people a method left over "arbitrarily": in a seeded random order, each with
    the first one they can be paired with cleanly (common language, never met, no block),
    then with anyone they do not block; one left over joins the group they add most to.
    Returns the groups and whoever blocks made impossible to place."""
    groups = list(groups)
    rest = list(left)
    rng.shuffle(rest)
    for clean in (True, False):
        waiting: list[int] = []
        while rest:
            u = rest.pop()
            if not rest:
                waiting.append(u)
                break
            others = np.asarray(rest, dtype=np.int64)
            mine = np.full(len(others), u, dtype=np.int64)
            fits = scorer.admissible(mine, others) if clean else ~scorer.is_blocked(mine, others)
            hit = np.flatnonzero(fits)
            if len(hit):
                groups.append((u, rest.pop(int(hit[0]))))
            else:
                waiting.append(u)
        rest = waiting
    unplaced: list[int] = []
    # Two or more who cannot be paired with each other: swap into existing pairs.
    while len(rest) >= 2:
        u, v = rest.pop(), rest.pop()
        for k, group in enumerate(groups):
            if len(group) != 2:
                continue
            a, b = group
            pairs = ((u, a), (v, b)) if not _blocked(scorer, v, b) else ((u, b), (v, a))
            if not any(_blocked(scorer, x, y) for x, y in pairs):
                groups[k] = pairs[0]
                groups.append(pairs[1])
                break
        else:
            unplaced.extend((u, v))
    if rest:
        (x,) = rest
        best = _best_group_for(scorer, groups, x)
        if best is None:
            unplaced.append(x)
        else:
            groups[best] = (*groups[best], x)
    return groups, unplaced


def _blocked(scorer: Scorer, a: int, b: int) -> bool:
    return bool(scorer.is_blocked(np.array([a]), np.array([b]))[0])


def _best_group_for(scorer: Scorer, groups: Sequence[tuple[int, ...]], x: int) -> int | None:
    """The pair ``x`` adds most to, among pairs where nobody blocks anyone (clean ones first)."""
    pair_at = [k for k, g in enumerate(groups) if len(g) == 2]
    if not pair_at:
        return None
    a = np.array([groups[k][0] for k in pair_at], dtype=np.int64)
    b = np.array([groups[k][1] for k in pair_at], dtype=np.int64)
    me = np.full(len(a), x, dtype=np.int64)
    allowed = ~scorer.is_blocked(me, a) & ~scorer.is_blocked(me, b)
    clean = scorer.admissible(me, a) & scorer.admissible(me, b)
    gain = scorer.score_pairs(me, a) + scorer.score_pairs(me, b)
    # Clean groups first, then by gain; never a blocked one.
    key = np.where(allowed, clean * 1e12 + gain, -np.inf)
    best = int(np.argmax(key))
    return pair_at[best] if allowed[best] else None


# --- 2. random shuffle with repeat avoidance (Donut-style) ----------------------------------------

SWAP_ATTEMPTS = 20


def random_shuffle(
    people: Sequence[Person],
    history: Sequence[PastEncounter],
    blocks: Sequence[frozenset[str]],
    seed: int,
) -> list[tuple[int, ...]]:
    """Shuffle, pair neighbours, then swap partners (a bounded number of random tries per
    bad pair) so that no pair met before, shares no language, or is blocked. The odd one
    joins a random pair they can join. Knows nothing about what people share."""
    n = len(people)
    index = {p.key: i for i, p in enumerate(people)}
    langs = [frozenset(x.strip().casefold() for x in p.languages) - {""} for p in people]
    met: set[tuple[int, int]] = set()
    for e in history:
        if e.a in index and e.b in index:
            i, j = index[e.a], index[e.b]
            met.add((min(i, j), max(i, j)))
    blocked: set[tuple[int, int]] = set()
    for block in blocks:
        members = sorted(index[k] for k in block if k in index)
        blocked.update(combinations(members, 2))

    def allowed(a: int, b: int) -> bool:
        return (min(a, b), max(a, b)) not in blocked

    def ok(a: int, b: int) -> bool:
        key = (min(a, b), max(a, b))
        la, lb = langs[a], langs[b]
        return key not in met and key not in blocked and (not la or not lb or bool(la & lb))

    rng = random.Random(seed)
    order = list(range(n))
    rng.shuffle(order)
    extra = order.pop() if n % 2 else None
    pairs = [[order[k], order[k + 1]] for k in range(0, len(order), 2)]

    def swap(k: int, fits: Callable[[int, int], bool], tries: int) -> bool:
        a, b = pairs[k]
        for _ in range(tries):
            m = rng.randrange(len(pairs))
            if m == k:
                continue
            c, d = pairs[m]
            if fits(a, c) and fits(b, d):
                pairs[k], pairs[m] = [a, c], [b, d]
                return True
            if fits(a, d) and fits(b, c):
                pairs[k], pairs[m] = [a, d], [b, c]
                return True
        return False

    for k in range(len(pairs)):
        if not ok(*pairs[k]):
            swap(k, ok, SWAP_ATTEMPTS)
    for k in range(len(pairs)):  # a block is a hard constraint: search until it is solved
        if not allowed(*pairs[k]):
            swap(k, allowed, 50 * len(pairs))
    groups: list[tuple[int, ...]] = [tuple(p) for p in pairs]
    if extra is not None:
        spots = list(range(len(groups)))
        rng.shuffle(spots)
        fit = next((k for k in spots if all(ok(extra, m) for m in groups[k])), None)
        if fit is None:
            fit = next((k for k in spots if all(allowed(extra, m) for m in groups[k])), None)
        if fit is not None:
            groups[fit] = (*groups[fit], extra)
    return groups


# --- 3. greedy on all candidate edges ----------------------------------------------------------


def greedy_all_edges(
    people: Sequence[Person],
    history: Sequence[PastEncounter],
    blocks: Sequence[frozenset[str]],
    seed: int,
) -> list[tuple[int, ...]]:
    """Every pair that shares something (and breaks nothing), heaviest first, taken when both
    are free; the rest paired arbitrarily (blocks respected). Edges are enumerated from an
    index of normalised phrases, so memory grows with the number of sharing pairs."""
    scorer = Scorer.build(people, history, blocks)
    parts = list(scorer.sharing_pairs())
    i = np.concatenate([p[0] for p in parts]).astype(np.int32)
    j = np.concatenate([p[1] for p in parts]).astype(np.int32)
    w = np.concatenate([p[2] for p in parts])
    del parts
    mate = greedy_matching(scorer.n, i, j, w)
    del i, j, w
    groups: list[tuple[int, ...]] = [(v, int(m)) for v, m in enumerate(mate.tolist()) if m > v]
    left = np.flatnonzero(mate < 0).tolist()
    groups, _ = _place_leftovers(scorer, groups, left, random.Random(seed))
    return groups


# --- 4. exact optimum (networkx), small pools only ----------------------------------------------

# Scores are made integers (micro-points) so that networkx's blossom is exact.
EXACT_UNITS = 1_000_000


def exact_networkx(
    people: Sequence[Person],
    history: Sequence[PastEncounter],
    blocks: Sequence[frozenset[str]],
    seed: int,
) -> list[tuple[int, ...]]:
    """A maximum-weight matching among the maximum-cardinality ones on the complete graph of
    clean pairs (all pairs with a common language, never met, not blocked; weight 0 for pairs
    that share nothing): for an even count, the best possible round without a repeat, a
    language mismatch or a block. n² edges: only for a few hundred people."""
    scorer = Scorer.build(people, history, blocks)
    i, j = np.triu_indices(scorer.n, 1)
    ok = scorer.admissible(i, j)
    i, j = i[ok], j[ok]
    w = np.rint(scorer.score_pairs(i, j) * EXACT_UNITS).astype(np.int64)
    graph = nx.Graph()
    graph.add_nodes_from(range(scorer.n))
    graph.add_weighted_edges_from(zip(i.tolist(), j.tolist(), w.tolist(), strict=True))
    matching = nx.max_weight_matching(graph, maxcardinality=True)
    groups: list[tuple[int, ...]] = [(min(a, b), max(a, b)) for a, b in matching]
    placed = {v for g in groups for v in g}
    left = [v for v in range(scorer.n) if v not in placed]
    groups, _ = _place_leftovers(scorer, groups, left, random.Random(seed))
    return groups


# --- 5. upper bound: the LP relaxation of the matching, priced over every sharing pair ----------


@dataclass
class Bound:
    """An upper bound of the score of any round without repeats, language mismatches or
    blocks (what the exact optimum would score, and what no clean round can beat)."""

    value: float | None
    status: str  # "optimal" (LP optimum over all pairs, certified), "bound", or "skipped: ..."
    lp_value: float | None = None  # last restricted LP's optimum (a lower bound of the LP)
    passes: int = 0  # pricing passes over all sharing pairs
    columns: int = 0  # edges in the last restricted LP
    violated: int = 0  # sharing pairs the last duals did not cover
    trio_term: float = 0.0  # added for an odd count (the trio's extra pairs)
    log: list[str] = field(default_factory=list)


# Each pricing pass adds, for every person, at most this many of their most violated pairs.
PRICE_PER_PERSON = 5
# Initial columns: per phrase, each holder with this many next holders in a random order ...
INITIAL_NEIGHBOURS = 2
# ... of which those unused by the first solve, with a reduced cost above this, are dropped.
INITIAL_KEEP_REDUCED_COST = 0.5
# Besides the LP's duals, averages of the last k solves' duals are tried as bounds.
AVERAGED_DUALS = (2, 4, 8)
VIOLATION_TOLERANCE = 1e-7
# Stop pricing once the valid bound is this close (relatively) to the restricted LP's value,
# which is at most the true LP optimum: the bound is then the LP optimum to that precision.
CLOSE_ENOUGH = 5e-4


def _solve_lp(
    n: int, i: np.ndarray, j: np.ndarray, w: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """max w·x subject to x(δ(v)) ≤ 1, x ≥ 0 (no odd-set constraints): value, duals y, x."""
    m = len(w)
    cols = np.repeat(np.arange(m), 2)
    rows = np.empty(2 * m, dtype=np.int64)
    rows[0::2], rows[1::2] = i, j
    a_ub = sp.csr_matrix((np.ones(2 * m), (rows, cols)), shape=(n, m))
    res = linprog(-w, A_ub=a_ub, b_ub=np.ones(n), bounds=(0, None), method="highs")
    if res.status != 0:
        raise RuntimeError(f"HiGHS failed: {res.message}")
    y = np.maximum(0.0, -np.asarray(res.ineqlin.marginals))
    return -float(res.fun), y, np.asarray(res.x)


def _top_per_person(i: np.ndarray, j: np.ndarray, key: np.ndarray, k: int) -> np.ndarray:
    """Indices of the edges that are among the ``k`` largest ``key`` of either endpoint."""
    ends = np.concatenate([i, j])
    edge = np.concatenate([np.arange(len(i)), np.arange(len(i))])
    order = np.lexsort((-np.concatenate([key, key]), ends))
    ends, edge = ends[order], edge[order]
    first = np.searchsorted(ends, ends, side="left")
    rank = np.arange(len(ends)) - first
    return np.unique(edge[rank < k])


def lp_upper_bound(scorer: Scorer, *, budget_s: float, seed: int = 0) -> Bound:
    """Column generation: solve the LP on a sparse set of edges, then *price* every pair that
    shares something (an inverted-index product, a block of rows at a time, nothing n x n)
    against the duals; add the most violated, solve again, until no pair is violated (then the
    LP optimum over all pairs is certified) or the time budget is spent.

    Whatever happens the reported value is a valid bound: for duals ``y ≥ 0`` of the last
    solve, ``Σ y + Σ max(0, w_e - y_i - y_j)`` over all clean sharing pairs bounds the LP
    (it is the dual objective with ``z_e`` for ``x_e ≤ 1``), hence the best matching. Pairs
    sharing nothing weigh 0 and never violate ``y ≥ 0``. An odd count has one trio {a, b, c}:
    without c it is a matching of everyone but c, bounded by the same sum without ``y_c``
    (y restricted to the others is feasible there), and c adds w(a, c) + w(b, c), at most
    the sum of c's two best pairs; so ``max_c (best_two(c) - y_c)`` is added.
    """
    start = time.perf_counter()
    n = scorer.n
    bound = Bound(value=None, status="bound")
    # An odd count: what the trio's third member can add at most (see the docstring).
    best_two = scorer.best_two() if n % 2 else None

    # Initial columns: every pair on a rare phrase, a few random co-holders on common ones.
    ci, cj = neighbour_candidates(np.random.default_rng(seed), scorer, INITIAL_NEIGHBOURS)
    ok = scorer.admissible(ci, cj)
    ci, cj = ci[ok], cj[ok]
    cw = scorer.score_pairs(ci, cj)
    bound.log.append(f"initial columns {len(cw):,} ({time.perf_counter() - start:.1f} s)")

    best = np.inf
    duals: list[np.ndarray] = []  # of every solve, for averaged duals
    while True:
        began = time.perf_counter()
        if len(cw):
            lp, y, x = _solve_lp(n, ci, cj, cw)
        else:
            lp, y, x = 0.0, np.zeros(n), np.zeros(0)
        solved = time.perf_counter() - began
        bound.lp_value, bound.columns = lp, len(cw)
        if bound.passes == 0 and len(cw):
            # The random initial columns are mostly useless: keep those the LP uses or nearly
            # would. Only once: later columns stay, or column generation could cycle (the
            # duals of a matching LP are very degenerate; a dropped column comes back).
            useful = (x > 1e-9) | (y[ci] + y[cj] - cw <= INITIAL_KEEP_REDUCED_COST)
            ci, cj, cw = ci[useful], cj[useful], cw[useful]
        duals.append(y)
        # The LP's own duals sit at an extreme point of a huge optimal face and violate a
        # few pairs somewhere else after every solve; averages of recent duals are dual
        # solutions too (for the columns all of them saw) and usually violate much less.
        # Every candidate gives a valid bound; pricing evaluates them all in one pass.
        candidates = [y] + [np.mean(duals[-k:], axis=0) for k in AVERAGED_DUALS if len(duals) >= k]
        began = time.perf_counter()
        violation = np.zeros(len(candidates))
        violated = 0
        new_i: list[np.ndarray] = []
        new_j: list[np.ndarray] = []
        new_v: list[np.ndarray] = []
        for pi, pj, pw in scorer.sharing_pairs(admissible_only=False):
            excess = [pw - c[pi] - c[pj] for c in candidates]
            hit = np.logical_or.reduce([e > VIOLATION_TOLERANCE for e in excess])
            pi, pj = pi[hit], pj[hit]
            ok = scorer.admissible(pi, pj)
            pi, pj = pi[ok], pj[ok]
            excess = [e[hit][ok] for e in excess]
            for k, e in enumerate(excess):
                violation[k] += float(e[e > 0].sum())
            viol = excess[0]
            mine = viol > VIOLATION_TOLERANCE
            if not mine.any():
                continue
            pi, pj, viol = pi[mine], pj[mine], viol[mine]
            violated += len(viol)
            keep = _top_per_person(pi, pj, viol, PRICE_PER_PERSON)
            new_i.append(pi[keep])
            new_j.append(pj[keep])
            new_v.append(viol[keep])
        priced = time.perf_counter() - began
        bound.passes += 1
        bound.violated = violated
        values = [float(c.sum()) + v for c, v in zip(candidates, violation, strict=True)]
        trio = [
            max(0.0, float((best_two - c).max())) if best_two is not None else 0.0
            for c in candidates
        ]
        k = int(np.argmin(np.add(values, trio)))
        if values[k] + trio[k] < best + bound.trio_term:
            best, bound.trio_term = values[k], trio[k]
        elapsed = time.perf_counter() - start
        bound.log.append(
            f"pass {bound.passes}: LP {lp:.3f} on {bound.columns:,} columns ({solved:.1f} s),"
            f" {violated:,} violated pairs ({priced:.1f} s), bound {values[0]:.3f}"
            + "".join(f" / {v:.3f}" for v in values[1:])
            + f" ({elapsed:.1f} s in all)"
        )
        if violated == 0:
            bound.status = "optimal"
            break
        if best - lp <= CLOSE_ENOUGH * lp:
            bound.log.append(f"stopped: the bound is within {CLOSE_ENOUGH:.0e} of the LP")
            bound.status = "optimal"
            break
        if elapsed * (bound.passes + 1) / bound.passes > budget_s:
            bound.log.append(f"stopped: the next pass would exceed the {budget_s:.0f} s budget")
            break
        # New columns: the most violated pairs of each person across the whole pass.
        vi, vj, vv = np.concatenate(new_i), np.concatenate(new_j), np.concatenate(new_v)
        keep = _top_per_person(vi, vj, vv, PRICE_PER_PERSON)
        keys = np.unique(np.concatenate([ci * n + cj, vi[keep] * n + vj[keep]]))
        ci, cj = keys // n, keys % n
        cw = scorer.score_pairs(ci, cj)
    bound.value = best + bound.trio_term
    return bound

"""One scoring function for every method: Funkel's pair score, vectorised with sparse matrices.

The score of a pair is exactly ``bot.core.pairing.explain_score(a, b, pool=people)``:
for every normalised topic ``t`` on both cards, ``SHARED_WEIGHT + RARE_SHARED_BONUS * r(t)``,
or ``COMPLEMENTARY_WEIGHT + RARE_SHARED_BONUS * r(t)`` when exactly one of the two is curious
about ``t`` and the other can tell about it. ``r(t)`` is the rarity of ``t`` in the pool
(1 when at most two hold it, 0 when everyone does, on a log scale). A trio scores the sum of
its three pairs, like ``Group.score``. Repeats, blocks and languages are not part of the
score; they are counted separately.

With incidence matrices (people x topics) ``A`` (holds the topic), ``C`` (curious about it),
``T`` (can tell about it) and ``B = C * T`` (both), the score of every pair at once is::

    W = A diag(SHARED + BONUS r) A' + (COMP - SHARED) (C T' + T C' - 2 B B')

because "exactly one asks" is ``x + y - 2xy`` with ``x = C_a T_b`` and ``y = C_b T_a``. This is
computed as one sparse product ``L @ R.T`` with ``L = [A diag(w), dC, dT, -2dB]`` and
``R = [A, T, C, B]``, a block of rows at a time, so that memory stays proportional to the
candidate graph (never n x n). ``check_against_funkel`` asserts that it agrees with
``explain_score``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import combinations

import numpy as np
import scipy.sparse as sp

from bot.core.models import PastEncounter
from bot.core.pairing import (
    COMPLEMENTARY_WEIGHT,
    RARE_SHARED_BONUS,
    SHARED_WEIGHT,
    Person,
    explain_score,
)
from bot.core.phrases import normalise_all

__all__ = [
    "Groups",
    "Quality",
    "Scorer",
    "check_against_funkel",
    "evaluate",
    "neighbour_candidates",
]

# A grouping: each group a tuple of person indices (pairs, at most one trio).
Groups = Sequence[tuple[int, ...]]

# Co-holder pairs produced per sparse product; bounds the temporary memory of enumeration
# (each pair costs about 40 bytes in the product and its filters).
PAIRS_PER_BLOCK = 4_000_000


def _incidence(rows: list[list[int]], n: int, m: int) -> sp.csr_matrix:
    indptr = np.zeros(n + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(r) for r in rows])
    indices = np.fromiter((t for r in rows for t in r), dtype=np.int32, count=int(indptr[-1]))
    data = np.ones(len(indices), dtype=np.float64)
    matrix = sp.csr_matrix((data, indices, indptr), shape=(n, m))
    matrix.sort_indices()
    return matrix


def _pair_keys(i: np.ndarray, j: np.ndarray, n: int) -> np.ndarray:
    lo, hi = np.minimum(i, j).astype(np.int64), np.maximum(i, j).astype(np.int64)
    return lo * n + hi


def _in_sorted(keys: np.ndarray, table: np.ndarray) -> np.ndarray:
    if len(table) == 0 or len(keys) == 0:
        return np.zeros(len(keys), dtype=bool)
    at = np.minimum(np.searchsorted(table, keys), len(table) - 1)
    return table[at] == keys


@dataclass
class Scorer:
    """The pool as sparse matrices: scores, languages, history and blocks, by person index."""

    n: int
    keys: list[str]
    topics: list[str]
    holders: np.ndarray  # people holding each topic
    rarity: np.ndarray  # per topic
    left: sp.csr_matrix  # L, see the module docstring
    right: sp.csr_matrix  # R
    incidence: sp.csc_matrix  # A, by topic: who holds it
    languages: np.ndarray  # uint64 bit set per person; 0 = unknown (fits anyone)
    met: np.ndarray  # sorted pair keys (i * n + j, i < j) of earlier encounters
    blocked: np.ndarray  # sorted pair keys of blocked pairs
    forbidden: sp.csr_matrix  # n x n, symmetric: 1 where a pair met before or is blocked

    @classmethod
    def build(
        cls,
        people: Sequence[Person],
        history: Iterable[PastEncounter] = (),
        blocks: Iterable[frozenset[str]] = (),
    ) -> Scorer:
        """Normalise every card (like Funkel does) and index the pool; people in given order."""
        n = len(people)
        keys = [p.key for p in people]
        topic_ids: dict[str, int] = {}

        def ids(phrases: Iterable[str]) -> set[int]:
            return {topic_ids.setdefault(t, len(topic_ids)) for t in normalise_all(phrases)}

        cur_rows: list[list[int]] = []
        tell_rows: list[list[int]] = []
        all_rows: list[list[int]] = []
        both_rows: list[list[int]] = []
        for p in people:
            cs, ts = ids(p.curious_about), ids(p.can_tell_about)
            cur_rows.append(sorted(cs))
            tell_rows.append(sorted(ts))
            all_rows.append(sorted(cs | ts))
            both_rows.append(sorted(cs & ts))
        m = len(topic_ids)
        a = _incidence(all_rows, n, m)
        c = _incidence(cur_rows, n, m)
        t = _incidence(tell_rows, n, m)
        b = _incidence(both_rows, n, m)
        holders = np.bincount(a.indices, minlength=m).astype(np.int64)
        if n <= 2:
            rarity = np.ones(m)
        else:
            scale = math.log(n / 2)
            rarity = np.clip(np.log(n / np.maximum(2, holders)) / scale, 0.0, 1.0)
        shared = SHARED_WEIGHT + RARE_SHARED_BONUS * rarity
        extra = COMPLEMENTARY_WEIGHT - SHARED_WEIGHT
        left = sp.hstack([a @ sp.diags(shared), extra * c, extra * t, (-2 * extra) * b])
        right = sp.hstack([a, t, c, b])

        codes: dict[str, int] = {}
        languages = np.zeros(n, dtype=np.uint64)
        for i, p in enumerate(people):
            bits = 0
            for lang in p.languages:
                code = lang.strip().casefold()
                if code:
                    bits |= 1 << codes.setdefault(code, len(codes))
            languages[i] = bits
        if len(codes) > 64:
            raise ValueError("more than 64 languages in one pool")
        languages = languages.astype(np.min_scalar_type(int(languages.max(initial=0))))

        scorer = cls(
            n=n,
            keys=keys,
            topics=list(topic_ids),
            holders=holders,
            rarity=rarity,
            left=left.tocsr(),
            right=right.tocsr(),
            incidence=a.tocsc(),
            languages=languages,
            met=np.zeros(0, dtype=np.int64),
            blocked=np.zeros(0, dtype=np.int64),
            forbidden=sp.csr_matrix((n, n)),
        )
        return scorer.with_constraints(history, blocks)

    def with_constraints(
        self, history: Iterable[PastEncounter], blocks: Iterable[frozenset[str]] = ()
    ) -> Scorer:
        """The same pool and scores with another history and other blocks."""
        n = self.n
        index = {key: i for i, key in enumerate(self.keys)}
        met: set[int] = set()
        for e in history:
            if e.a in index and e.b in index and e.a != e.b:
                i, j = sorted((index[e.a], index[e.b]))
                met.add(i * n + j)
        blocked: set[int] = set()
        for block in blocks:
            members = sorted(index[k] for k in block if k in index)
            blocked.update(i * n + j for i, j in combinations(members, 2))
        bad = np.array(sorted(met | blocked), dtype=np.int64)
        lo, hi = bad // max(n, 1), bad % max(n, 1)
        forbidden = sp.csr_matrix(
            (np.ones(2 * len(bad)), (np.concatenate([lo, hi]), np.concatenate([hi, lo]))),
            shape=(n, n),
        )
        return replace(
            self,
            met=np.array(sorted(met), dtype=np.int64),
            blocked=np.array(sorted(blocked), dtype=np.int64),
            forbidden=forbidden,
        )

    # --- facts about pairs, vectorised -----------------------------------------------------

    def score_pairs(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """The score of each pair ``(i[k], j[k])``."""
        i = np.asarray(i, dtype=np.int64)
        j = np.asarray(j, dtype=np.int64)
        out = np.empty(len(i))
        step = 1 << 18
        for s in range(0, len(i), step):
            prod = self.left[i[s : s + step]].multiply(self.right[j[s : s + step]])
            out[s : s + step] = np.asarray(prod.sum(axis=1)).ravel()
        return out

    def common_language(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        li, lj = self.languages[i], self.languages[j]
        return ((li & lj) != 0) | (li == 0) | (lj == 0)

    def is_repeat(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        return _in_sorted(_pair_keys(i, j, self.n), self.met)

    def is_blocked(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        return _in_sorted(_pair_keys(i, j, self.n), self.blocked)

    def admissible(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Pairs that break nothing: a common language, not met before, not blocked."""
        ok = self.common_language(i, j) & (i != j)
        keys = _pair_keys(i, j, self.n)
        return ok & ~_in_sorted(keys, self.met) & ~_in_sorted(keys, self.blocked)

    # --- every pair that shares something ----------------------------------------------------

    def coholder_pairs(self) -> int:
        """How many (person, person) incidences the sharing pairs have: sum of holders²/2.

        An upper bound of the number of pairs sharing a topic (pairs sharing k topics count
        k times), known before enumerating anything: the work and memory to expect.
        """
        h = self.holders.astype(np.float64)
        return int((h * (h - 1) / 2).sum())

    def best_two(self) -> np.ndarray:
        """Per person, the sum of their two best clean pairs (0 where they have none): what
        joining a pair as the third member of a trio can add at most."""
        top = np.zeros((2, self.n))
        for i, _, w in self.sharing_pairs(np.arange(self.n)):
            if not len(i):
                continue
            # Rows come in order, so each person's pairs are one contiguous run.
            starts = np.flatnonzero(np.r_[True, i[1:] != i[:-1]])
            people = i[starts]
            first = np.maximum.reduceat(w, starts)
            lengths = np.diff(np.r_[starts, len(w)])
            at = np.flatnonzero(w == np.repeat(first, lengths))
            # Remove one occurrence of each run's maximum, then the next maximum.
            run_of = np.searchsorted(starts, at, side="right") - 1
            _, once = np.unique(run_of, return_index=True)
            rest = w.copy()
            rest[at[once]] = -np.inf
            second = np.maximum(np.maximum.reduceat(rest, starts), 0.0)
            top[0, people], top[1, people] = first, second
        return top.sum(axis=0)

    def complementary_share(self, rows: np.ndarray) -> float:
        """Of the pairs sharing something that involve ``rows``, the share with at least one
        complementary match (one curious about what the other can tell about)."""
        m = len(self.topics)
        shared = (self.left[rows][:, :m] @ self.right[:, :m].T).tocoo()
        extra = (self.left[rows][:, m:] @ self.right[:, m:].T).tocoo()
        pairs = (shared.data > 0) & (rows[shared.row] != shared.col)
        hits = (extra.data > 1e-9) & (rows[extra.row] != extra.col)
        return float(hits.sum() / pairs.sum()) if pairs.any() else 0.0

    def sharing_pairs(
        self, rows: np.ndarray | None = None, *, admissible_only: bool = True
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Every pair ``i < j`` with a positive score (that is: sharing a topic), in blocks.

        Yields ``(i, j, w)`` arrays. ``rows`` restricts ``i`` (and then ``j`` is any person,
        not only ``j > i``). With ``admissible_only``, pairs without a common language,
        pairs that met before and blocked pairs are left out.
        """
        order = np.arange(self.n) if rows is None else np.asarray(rows, dtype=np.int64)
        upper = rows is None
        # Work per row: how many co-holder incidences its product has.
        work = np.asarray(self.right[:, : len(self.topics)] @ self.holders.astype(float)).ravel()
        if upper:
            work = work * (self.n - order) / self.n  # only columns j >= i are multiplied
            right_t = None
        else:
            right_t = self.right.T.tocsc()
        start = 0
        while start < len(order):
            stop = start + 1
            budget = work[order[start]]
            while stop < len(order) and budget + work[order[stop]] <= PAIRS_PER_BLOCK:
                budget += work[order[stop]]
                stop += 1
            if upper:
                first, last = int(order[start]), int(order[stop - 1])
                prod = self.left[first : last + 1] @ self.right[first:].T
                if admissible_only:
                    prod = prod - prod.multiply(self.forbidden[first : last + 1, first:])
                prod = prod.tocoo()
                i = prod.row.astype(np.int64) + first
                j = prod.col.astype(np.int64) + first
                keep = j > i
            else:
                sel = order[start:stop]
                prod = self.left[sel] @ right_t
                if admissible_only:
                    prod = prod - prod.multiply(self.forbidden[sel])
                prod = prod.tocoo()
                i = sel[prod.row]
                j = prod.col.astype(np.int64)
                keep = j != i
            w = prod.data
            # A shared topic adds at least SHARED_WEIGHT, and nothing else is ever non-zero;
            # the threshold drops the zeros left where forbidden pairs were subtracted.
            keep &= w > 0.5 * SHARED_WEIGHT
            if admissible_only:
                keep &= self.common_language(i, j)
            i, j, w = i[keep], j[keep], w[keep]
            yield i, j, w
            start = stop


def neighbour_candidates(
    rng: np.random.Generator, scorer: Scorer, k: int, present: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``i < j``: each (present) holder of a phrase with the next ``k`` holders of it in
    a random order. Every pair on a phrase with at most ``k + 1`` holders is included."""
    a = scorer.incidence  # csc: column t lists the holders of topic t
    topic = np.repeat(np.arange(a.shape[1]), np.diff(a.indptr))
    person = a.indices.astype(np.int64)
    if present is not None:
        topic, person = topic[present[person]], person[present[person]]
    order = np.lexsort((rng.random(len(person)), topic))
    topic, person = topic[order], person[order]
    start = np.searchsorted(topic, topic, side="left")
    size = np.searchsorted(topic, topic, side="right") - start
    rank = np.arange(len(person)) - start
    firsts: list[np.ndarray] = []
    seconds: list[np.ndarray] = []
    for step in range(1, k + 1):
        ok = size > step
        other = person[start[ok] + (rank[ok] + step) % size[ok]]
        firsts.append(person[ok])
        seconds.append(other)
    i = np.concatenate(firsts) if firsts else np.zeros(0, dtype=np.int64)
    j = np.concatenate(seconds) if seconds else np.zeros(0, dtype=np.int64)
    keys = np.unique(np.minimum(i, j) * scorer.n + np.maximum(i, j))
    return keys // scorer.n, keys % scorer.n


# --- quality of a round, the same for every method ----------------------------------------------


@dataclass
class Quality:
    score: float  # sum of group scores (a trio: its three pairs)
    groups: int
    trios: int
    shared: int  # groups where some pair shares a phrase or a complementary one
    repeats: int  # groups containing a pair that met before
    blocked_pairs: int  # pairs in groups that one of them blocked (must be 0)
    no_common_language: int  # groups without a language all members speak
    unplaced: int  # people in no group


def evaluate(scorer: Scorer, groups: Groups) -> Quality:
    """Score and count a round; raises if it is not a round (someone twice, a bad size)."""
    seen = np.zeros(scorer.n, dtype=np.int64)
    firsts: list[int] = []
    seconds: list[int] = []
    owner: list[int] = []
    for g, group in enumerate(groups):
        if not 2 <= len(group) <= 3:
            raise ValueError(f"group {group} has {len(group)} members")
        for x, y in combinations(group, 2):
            firsts.append(x)
            seconds.append(y)
            owner.append(g)
        seen[list(group)] += 1
    if (seen > 1).any():
        raise ValueError(f"person {int(np.argmax(seen))} is in {int(seen.max())} groups")
    i, j = np.asarray(firsts, dtype=np.int64), np.asarray(seconds, dtype=np.int64)
    by = np.asarray(owner, dtype=np.int64)
    w = scorer.score_pairs(i, j)
    per_group = np.bincount(by, weights=w, minlength=len(groups))
    repeat = np.bincount(by, weights=scorer.is_repeat(i, j), minlength=len(groups))
    common = 0
    for group in groups:
        bits = [int(scorer.languages[m]) for m in group if scorer.languages[m]]
        shared_bits = bits[0] if bits else 0
        for b in bits[1:]:
            shared_bits &= b
        common += (not bits) or shared_bits != 0
    return Quality(
        score=float(w.sum()),
        groups=len(groups),
        trios=sum(len(g) == 3 for g in groups),
        shared=int((per_group > 0).sum()),
        repeats=int((repeat > 0).sum()),
        blocked_pairs=int(scorer.is_blocked(i, j).sum()),
        no_common_language=len(groups) - common,
        unplaced=int((seen == 0).sum()),
    )


def check_against_funkel(
    scorer: Scorer, people: Sequence[Person], samples: int, seed: int = 0
) -> int:
    """Assert that the vectorised score equals ``explain_score(a, b, pool=people)`` on pairs
    that share phrases (and a few that do not). Returns how many pairs were checked."""
    rng = np.random.default_rng(seed)
    a = scorer.incidence.tocsr()
    col = scorer.incidence
    firsts: list[int] = []
    seconds: list[int] = []
    for k in range(samples):
        u = int(rng.integers(scorer.n))
        topics = a.indices[a.indptr[u] : a.indptr[u + 1]]
        v = int(rng.integers(scorer.n))
        if k % 4 and len(topics):  # most samples share something
            t = int(rng.choice(topics))
            holders = col.indices[col.indptr[t] : col.indptr[t + 1]]
            v = int(rng.choice(holders))
        if u != v:
            firsts.append(u)
            seconds.append(v)
    mine = scorer.score_pairs(np.asarray(firsts), np.asarray(seconds))
    for u, v, w in zip(firsts, seconds, mine.tolist(), strict=True):
        theirs, _ = explain_score(people[u], people[v], pool=people)
        assert math.isclose(theirs, w, rel_tol=1e-9, abs_tol=1e-9), (u, v, theirs, w)
    return len(firsts)

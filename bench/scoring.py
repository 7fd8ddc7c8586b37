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
from dataclasses import dataclass
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

__all__ = ["Groups", "Quality", "Scorer", "check_against_funkel"]

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
    max_topic_weight: np.ndarray  # per person: the most their topics can add to one pair
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
        index = {key: i for i, key in enumerate(keys)}
        topic_ids: dict[str, int] = {}
        cur_rows: list[list[int]] = []
        tell_rows: list[list[int]] = []
        all_rows: list[list[int]] = []
        both_rows: list[list[int]] = []
        for p in people:
            curious = [topic_ids.setdefault(t, len(topic_ids)) for t in normalise_all(p.curious_about)]
            tells = [topic_ids.setdefault(t, len(topic_ids)) for t in normalise_all(p.can_tell_about)]
            cs, ts = set(curious), set(tells)
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
        top = max(SHARED_WEIGHT, COMPLEMENTARY_WEIGHT) + RARE_SHARED_BONUS * rarity
        max_topic_weight = np.asarray(a @ top).ravel()

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

        met = set()
        for e in history:
            if e.a in index and e.b in index and e.a != e.b:
                i, j = sorted((index[e.a], index[e.b]))
                met.add(i * n + j)
        blocked = set()
        for block in blocks:
            members = sorted(index[k] for k in block if k in index)
            blocked.update(i * n + j for i, j in combinations(members, 2))
        bad = np.array(sorted(met | blocked), dtype=np.int64)
        lo, hi = bad // max(n, 1), bad % max(n, 1)
        forbidden = sp.csr_matrix(
            (np.ones(2 * len(bad)), (np.concatenate([lo, hi]), np.concatenate([hi, lo]))),
            shape=(n, n),
        )
        return cls(
            n=n,
            keys=keys,
            topics=list(topic_ids),
            holders=holders,
            rarity=rarity,
            left=left.tocsr(),
            right=right.tocsr(),
            incidence=a.tocsc(),
            languages=languages,
            met=np.array(sorted(met), dtype=np.int64),
            blocked=np.array(sorted(blocked), dtype=np.int64),
            max_topic_weight=max_topic_weight,
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

"""Who meets whom: a pure, seeded, explainable pairing of the people in a round.

The score of a pair is what the two *share*, never who they are:

- a phrase both have on their cards (either list) counts, more when it is rare in the room —
  two people who both wonder about Ulaanbaatar have more to say than two who "like travel";
- one person's *curious about* meeting the other's *can tell about* counts more still — the
  young founder curious about Shanghai and the lady who lived there forty years ago.

A round is chosen by these goals, most important first. Each goal outweighs everything below
it put together, so a lower goal only decides between groupings that tie on all higher ones:

1. a block is never violated (blocked pairs are simply not candidates);
2. as many people as possible are placed — everyone, unless blocks make it impossible;
   pairs, and exactly one trio when the number placed is odd;
3. as few groups as possible without a common language;
4. as few repeats as possible, the most recent ones avoided first;
5. as much shared as possible (the score above);
6. a tie-break drawn from the seed, so equally good rounds differ between seeds, while the
   same people, history, blocks and seed always give the same round.

Up to :data:`DENSE_POOL_LIMIT` people, goals 2–6 are one maximum-weight, maximum-cardinality
matching (``bot.core.matching``) over every pair, whose integer edge weights encode the goals
as tiers (:class:`_Tiers`). For an odd count the extra person joins the pair where they add
most. Who the extra is matters too: up to :data:`EXACT_TRIO_LIMIT` people every possible trio
is tried with an exact matching of the rest, so the round is optimal; above, the matching
itself picks the extra (a spare seat) and the most promising trios are tried.

Larger rooms (meetups of hundreds, communities of 100,000) run on the compiled library when
it is installed (``bot.core.fastmatch``, built by pip from ``_fastmatch.c``):
:meth:`_Pool.solve_fast`. The strict goals become the graph's shape: a candidate graph of
*clean* pairs only (allowed, a common language, never met) — each person's best partners
found through an inverted index of phrases and a pair index of popular ones — matched by an
auction algorithm (exactly up to :data:`FAST_EXACT_LIMIT` people). People left without a
partner are paired with each other and with the weakest pairs, and anyone still out gets an
exact, tiered matching of their neighbourhood, where a repeat or a language mismatch is the
last resort. Measured by ``bench/pairing.py``: 99.9 % of the exact optimum at 200 people,
above 99 % of an LP upper bound at 10,000 in well under a second, 100,000 people in seconds.
Without the compiled library, rooms above DENSE_POOL_LIMIT use a sparse graph and the exact
Python matcher (:meth:`_Pool.solve_large`): the same rules, slower, for a few hundred people.

Nothing here reads the clock, the network or a global random state: ``pair`` is a function of
its arguments. People are ordered by key first, so the order they are passed in is irrelevant.
"""

from __future__ import annotations

import gc
import hashlib
import itertools
import math
import random
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations, pairwise
from typing import NamedTuple

from bot.core import fastmatch
from bot.core.matching import max_weight_matching
from bot.core.models import Group, GroupFlag, PastEncounter, Reason, ReasonKind
from bot.core.phrases import normalise_all

__all__ = [
    "COMPLEMENTARY_WEIGHT",
    "DENSE_POOL_LIMIT",
    "EXACT_TRIO_LIMIT",
    "LANGUAGE_MISMATCH_PENALTY",
    "RARE_SHARED_BONUS",
    "RECENCY_HALF_LIFE_DAYS",
    "REPEAT_PENALTY",
    "REPEAT_RECENCY_PENALTY",
    "SHARED_WEIGHT",
    "PairingError",
    "PairingResult",
    "Person",
    "explain_score",
    "pair",
]

# --- what a pair shares: the score (goal 5) ------------------------------------------------

# Any phrase both have counts this much, however common: sharing "travel" is still something.
SHARED_WEIGHT = 1.0
# Added on top, times the phrase's rarity in the pool (1 when only these two have it, falling
# to 0 when everyone has it, on a log scale like idf). A rare shared phrase is worth three
# common ones: that is what makes "you both love Ulaanbaatar" beat "you both like travel".
RARE_SHARED_BONUS = 2.0
# Instead of SHARED_WEIGHT when one's "curious about" meets the other's "can tell about": a
# question with someone who can answer it is the best conversation starter there is, so it
# beats sharing the same phrase (of the same rarity) by a full point.
COMPLEMENTARY_WEIGHT = 2.0

# --- what should not happen (goals 3 and 4) ------------------------------------------------

# Each group without a language all its members speak counts this much in goal 3. It is its
# own tier because a conversation without a common language fails outright, which no amount
# of shared curiosity or freshness makes up for; so it only happens when unavoidable.
LANGUAGE_MISMATCH_PENALTY = 1
# Each pair in a group that met before counts this much in goal 4 (its own tier: a repeat is
# avoided whenever a repeat-free grouping exists, whatever it shares) ...
REPEAT_PENALTY = 1.0
# ... plus this much more for an encounter that happened "now", halving every
# RECENCY_HALF_LIFE_DAYS: when a repeat is unavoidable, last week's partner is avoided before
# last year's. A repeat from this week weighs about as much as two from long ago.
REPEAT_RECENCY_PENALTY = 1.0
# About a month: for a weekly coffee cadence, last month's partners still feel recent.
RECENCY_HALF_LIFE_DAYS = 30.0

# --- how hard to search --------------------------------------------------------------------

# Up to this many people every pair is a candidate edge and the matching is exact. Above, a
# complete graph makes the O(n³) matching too slow in pure Python (seconds at 200 people),
# while the sparse graph below measured within 0.5 % of the exact score at 40–100 people.
DENSE_POOL_LIMIT = 64
# Sparse graph: each person's best candidates sharing a phrase ...
CANDIDATES_PER_PERSON = 10
# ... plus this many random partners who are compatible (language, no repeat, no block), so
# that people who share nothing with anyone are still placed (a random graph of degree 3+
# almost surely has a perfect matching).
FALLBACKS_PER_PERSON = 4
# A phrase held by more people than this does not generate candidates (it would cost
# holders² work and, being common, adds little); it still counts in every score.
MAX_POSTING = 200
# Up to this many people, an odd count (or an unplaceable person) tries every possible trio
# with an exact matching of the rest: the result is optimal.
EXACT_TRIO_LIMIT = 11
# Above it, the extra one is chosen by the matching itself (a spare seat, see
# match_with_spare_seat). Only if their trio still has a repeat or no common language while
# every pair is fine (or the extra could not be placed), this many people who fit almost
# anywhere are tried as the extra too, one matching each.
EXTRA_CANDIDATES = 4
# And in rooms that are small enough, the best trios of a person with two of their
# TRIO_NEIGHBOURS best partners are tried outright, each with a matching of the rest: as many
# as TRIO_TRIAL_WORK / n³ (one matching costs about n³), i.e. hundreds at 15 people, a few at
# 100, none at 130 and more, where one trio matters little in the whole round.
TRIO_NEIGHBOURS = 5
TRIO_TRIAL_WORK = 2_000_000

# Large rooms (more than DENSE_POOL_LIMIT people) run on the compiled library when it is
# installed (bot.core.fastmatch): each person's FAST_CANDIDATES best partners by score ...
FAST_CANDIDATES = 12
# ... plus FAST_FALLBACKS random allowed ones (people who share nothing are still placed) ...
FAST_FALLBACKS = 3
# ... found by scanning at most FAST_SCAN_BUDGET co-holders of their rarest phrases in full;
# of a more popular phrase only FAST_WINDOW co-holders on each side in a seeded order.
FAST_SCAN_BUDGET = 1_000
FAST_WINDOW = 24
# Every edge is worth this on top of its score: a matching that places two more people beats
# one that shares a little more. The most one phrase can add to a score.
FAST_BASE = COMPLEMENTARY_WEIGHT + RARE_SHARED_BONUS
# Polishing passes of the compiled matcher: the first gains about 0.15 % of the score, a
# second 0.01 % for as much time again (1.5 s at 100,000 people), so one is enough.
FAST_POLISH_PASSES = 1
# In rooms up to FAST_EXACT_LIMIT with an odd count, this many promising trios are also
# tried outright, each with the pairs of everyone else (the matching picks the extra one well,
# but not always the best trio: measured 0.8 % of the score lost in a room of 121).
FAST_TRIO_TRIALS = 3
# Left-over people are paired together with the members of this many weakest pairs ...
WEAK_PAIRS = 30
# ... considering every pair among them when they are at most this many (else a candidate
# graph of their own).
LEFT_OVER_ALL_PAIRS = 100
# Up to this many people the candidate graph is matched exactly (pure Python, about 0.2 s at
# 200 people): the compiled matcher measured 99.6 % of the exact optimum there, which costs a
# small room a noticeably better pair or two; above, it is within 0.2 % and 100 times faster.
FAST_EXACT_LIMIT = 300
# When the neighbourhood of someone left out cannot place them, this many random people are
# added to it (only when blocks make a person hard to place).
REPAIR_SAMPLE = 200

# Resolution of the integer tiers: score points and repeat penalties are rounded to these.
_AFFINITY_UNITS = 1_000_000
_REPEAT_UNITS = 1_000
# Range of the seeded tie-break per pair (goal 6).
_JITTER = 1 << 10
_SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class Person:
    """Someone to pair: a member key, a name for debugging, their card and languages."""

    key: str  # opaque member key, e.g. "console:anna"
    name: str  # display name (for nothing but debugging/explanations)
    curious_about: tuple[str, ...] = ()
    can_tell_about: tuple[str, ...] = ()
    languages: frozenset[str] = frozenset()  # e.g. {"en"}; empty = speaks anything / unknown


@dataclass(frozen=True)
class PairingResult:
    """A round: the seed it was made with, its groups, and anyone blocks kept out."""

    seed: int
    groups: tuple[Group, ...]
    # Only when blocks make placing someone impossible; the caller must tell them.
    unplaced: tuple[str, ...] = ()


class PairingError(ValueError):
    """The input cannot be paired at all: fewer than 2 people, or a key given twice."""


# --- scoring ---------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Card:
    """A person's card as normalised keys (→ the phrase as written) and languages."""

    curious: Mapping[str, str]
    tells: Mapping[str, str]
    topics: frozenset[str]
    languages: frozenset[str]

    @classmethod
    def of(cls, person: Person, memo: dict[str, tuple[str, str]] | None = None) -> _Card:
        curious = normalise_all(person.curious_about, memo)
        tells = normalise_all(person.can_tell_about, memo)
        languages = frozenset(x.strip().casefold() for x in person.languages) - {""}
        return cls(curious, tells, frozenset(curious) | frozenset(tells), languages)

    def written(self, topic: str) -> str:
        return self.curious.get(topic) or self.tells[topic]


class _Why(NamedTuple):
    """A reason with its weight and normalised topic, for sorting and de-duplication.

    (Named tuples, here and in :class:`_PairFacts`: a large round makes tens of thousands,
    and they are several times cheaper to create than frozen dataclasses.)"""

    weight: float
    topic: str
    reason: Reason

    def sort_key(self) -> tuple[float, int, str, str, str]:
        # Heaviest (most specific) first; at equal weight a complementary match first.
        kind = 0 if self.reason.kind == ReasonKind.COMPLEMENTARY else 1
        return (-self.weight, kind, self.topic, self.reason.teller or "", self.reason.asker or "")


def _rarity_in(cards: Iterable[_Card]) -> Callable[[str], float]:
    """Rarity of a phrase in a pool: 1 when at most two people have it, 0 when all do."""
    counts: Counter[str] = Counter()
    size = 0
    for card in cards:
        size += 1
        counts.update(card.topics)
    if size <= 2:
        return lambda topic: 1.0
    scale = math.log(size / 2)
    known: dict[str, float] = {}

    def rarity(topic: str) -> float:
        value = known.get(topic)
        if value is None:
            holders = max(2, counts[topic])
            value = known[topic] = min(1.0, max(0.0, math.log(size / holders) / scale))
        return value

    return rarity


def _affinity(
    key_a: str, a: _Card, key_b: str, b: _Card, rarity: Callable[[str], float]
) -> tuple[float, tuple[_Why, ...]]:
    """What two people share: the score and its reasons, heaviest first."""
    whys: list[_Why] = []
    for topic in sorted(a.topics & b.topics):
        a_asks = topic in a.curious and topic in b.tells
        b_asks = topic in b.curious and topic in a.tells
        bonus = RARE_SHARED_BONUS * rarity(topic)
        if a_asks != b_asks:
            asker, asker_card, teller = (key_a, a, key_b) if a_asks else (key_b, b, key_a)
            reason = Reason(
                ReasonKind.COMPLEMENTARY,
                topic=asker_card.curious[topic],
                teller=teller,
                asker=asker,
            )
            whys.append(_Why(COMPLEMENTARY_WEIGHT + bonus, topic, reason))
        else:
            # Both curious and both able to tell, or the same list: a plain shared phrase,
            # quoted as the member whose key sorts first wrote it.
            first = a if key_a <= key_b else b
            reason = Reason(ReasonKind.SHARED, topic=first.written(topic))
            whys.append(_Why(SHARED_WEIGHT + bonus, topic, reason))
    whys.sort(key=_Why.sort_key)
    return sum(why.weight for why in whys), tuple(whys)


def explain_score(
    a: Person, b: Person, *, pool: Sequence[Person] | None = None
) -> tuple[float, tuple[Reason, ...]]:
    """The score of ``a`` and ``b`` as a pair, and its reasons, heaviest first.

    Rarity is measured in ``pool`` (the people in the round; ``a`` and ``b`` are counted even
    if absent). Without a pool every shared phrase counts as rare, since nothing is known to be
    common. ``pair`` scores groups exactly like ``explain_score(..., pool=people)``. Penalties
    (repeats, language) are not part of the score; they show up as group flags.
    """
    if a.key == b.key:
        raise PairingError(f"cannot score {a.key!r} with themselves")
    people = list(pool) if pool is not None else []
    present = {p.key for p in people}
    people.extend(p for p in (a, b) if p.key not in present)
    rarity = _rarity_in(_Card.of(p) for p in people)
    score, whys = _affinity(a.key, _Card.of(a), b.key, _Card.of(b), rarity)
    return score, tuple(why.reason for why in whys)


def _common_language(cards: Sequence[_Card]) -> bool:
    """Whether all of them share a language (unknown languages fit anyone)."""
    known = [card.languages for card in cards if card.languages]
    return len(known) < 2 or bool(frozenset.intersection(*known))


# --- the goals as integer tiers --------------------------------------------------------------


class _Tiers:
    """Encode goals 3–6 into one integer per pair, lexicographically.

    A grouping is valued as the sum over every pair of people in the same group ("terms": one
    per pair, three per trio). All groupings compared place the same number of people and
    therefore have the same number of terms, so each term can be valued by *goodness*
    (non-negative) and a tier's multiplier made larger than the most all lower tiers can add
    up to over a whole grouping. Python integers do not overflow, so this is exact.
    """

    def __init__(self, n: int, max_affinity: int, max_repeat: int) -> None:
        terms = (n + 3) // 2  # the most terms a grouping of n people has (pairs and a trio)
        self.max_repeat = max_repeat
        self.affinity = terms * _JITTER
        self.repeat = self.affinity * (terms * max_affinity + 1)
        self.language = self.repeat * (terms * max_repeat + 1)

    def value(self, language_good: int, repeat_good: int, affinity: int, jitter: int) -> int:
        return (
            language_good * self.language
            + repeat_good * self.repeat
            + affinity * self.affinity
            + jitter
        )


class _PairFacts(NamedTuple):
    """Everything the search needs about two people (indices ``i < j``)."""

    score: float
    whys: tuple[_Why, ...]
    repeat: bool
    language_ok: bool


@dataclass
class _Option:
    """A candidate round: groups of indices, plus its place count and value for comparing."""

    groups: Sequence[tuple[int, ...]]
    placed: int
    value: int

    def beats(self, other: _Option | None) -> bool:
        return other is None or (self.placed, self.value) > (other.placed, other.value)


class _Pool:
    """One pairing problem, with people indexed ``0..n-1`` in key order."""

    def __init__(
        self,
        people: Sequence[Person],
        seed: int,
        history: Iterable[PastEncounter],
        blocks: Iterable[frozenset[str]],
        now: datetime | None,
    ) -> None:
        self.n = len(people)
        self.keys = [p.key for p in people]
        index = {key: i for i, key in enumerate(self.keys)}
        memo: dict[str, tuple[str, str]] = {}
        self.cards = [_Card.of(p, memo) for p in people]
        self.rarity = _rarity_in(self.cards)
        self.facts: dict[tuple[int, int], _PairFacts] = {}
        self.values: dict[tuple[int, int], int] = {}

        self.blocked: set[tuple[int, int]] = set()
        for block in blocks:
            members = sorted(index[key] for key in block if key in index)
            self.blocked.update(combinations(members, 2))

        encounters = list(history)
        if now is None and encounters:
            now = max(e.at for e in encounters)
        self.now = now
        self.last_met: dict[tuple[int, int], datetime] = {}
        for e in encounters:
            if e.a in index and e.b in index and e.a != e.b:
                i, j = sorted((index[e.a], index[e.b]))
                if (i, j) not in self.last_met or e.at > self.last_met[i, j]:
                    self.last_met[i, j] = e.at

        # One seeded generator: a salt for the per-pair tie-break (so it does not depend on
        # the order pairs are looked at) and the draws for sparse fallback candidates.
        self.rng = random.Random(seed)
        self.salt: bytes = self.rng.getrandbits(64).to_bytes(8, "big")
        most_topics = max(len(card.topics) for card in self.cards)
        top_weight = max(SHARED_WEIGHT, COMPLEMENTARY_WEIGHT) + RARE_SHARED_BONUS
        self.tiers = _Tiers(
            self.n,
            max_affinity=math.ceil(most_topics * top_weight * _AFFINITY_UNITS) + 1,
            max_repeat=math.ceil((REPEAT_PENALTY + REPEAT_RECENCY_PENALTY) * _REPEAT_UNITS),
        )

    # --- facts about pairs and groups --------------------------------------------------

    def jitter(self, *keys: str) -> int:
        digest = hashlib.blake2b(self.salt + "\0".join(keys).encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") % _JITTER

    def allowed(self, i: int, j: int) -> bool:
        return i != j and (min(i, j), max(i, j)) not in self.blocked

    def repeat_units(self, i: int, j: int) -> int:
        met = self.last_met.get((i, j))
        if met is None:
            return 0
        assert self.now is not None  # set from the history that holds ``met``
        age_days = max(0.0, (self.now - met).total_seconds() / _SECONDS_PER_DAY)
        recency = math.pow(0.5, age_days / RECENCY_HALF_LIFE_DAYS)  # 1 now, ½ a half-life ago
        return round((REPEAT_PENALTY + REPEAT_RECENCY_PENALTY * recency) * _REPEAT_UNITS)

    def pair(self, i: int, j: int) -> _PairFacts:
        if i > j:
            i, j = j, i
        facts = self.facts.get((i, j))
        if facts is None:
            a, b = self.cards[i], self.cards[j]
            score, whys = _affinity(self.keys[i], a, self.keys[j], b, self.rarity)
            facts = _PairFacts(score, whys, (i, j) in self.last_met, _common_language((a, b)))
            self.facts[i, j] = facts
        return facts

    def value(self, i: int, j: int) -> int:
        """The pair as one term of the tiers (only the search needs it, so it is computed
        apart from the facts: a large room describes thousands of groups it never weighs)."""
        if i > j:
            i, j = j, i
        value = self.values.get((i, j))
        if value is None:
            facts = self.pair(i, j)
            value = self.tiers.value(
                language_good=LANGUAGE_MISMATCH_PENALTY if facts.language_ok else 0,
                repeat_good=self.tiers.max_repeat - self.repeat_units(i, j),
                affinity=round(facts.score * _AFFINITY_UNITS),
                jitter=self.jitter(self.keys[i], self.keys[j]),
            )
            self.values[i, j] = value
        return value

    def group_value(self, members: Sequence[int]) -> int:
        """A group's terms summed, except that the language goal counts per group: a trio
        without a common language is one mismatch, even if two of its pairs could talk."""
        pairs = list(combinations(members, 2))
        value = sum(self.value(i, j) for i, j in pairs)
        if len(pairs) > 1:
            per_pair = sum(self.pair(i, j).language_ok for i, j in pairs)
            common = _common_language([self.cards[m] for m in members])
            per_group = len(pairs) - (0 if common else 1)
            value += (per_group - per_pair) * LANGUAGE_MISMATCH_PENALTY * self.tiers.language
        return value

    def group_allowed(self, members: Sequence[int]) -> bool:
        return all(self.allowed(i, j) for i, j in combinations(members, 2))

    # --- search ----------------------------------------------------------------------------

    def match(self, vertices: Sequence[int], edges: Iterable[tuple[int, int]]) -> _Option:
        """Best pairs among ``vertices`` using only ``edges`` (a max-cardinality matching)."""
        local = {v: x for x, v in enumerate(vertices)}
        weighted = [
            (local[i], local[j], self.value(i, j) + 1)  # +1: every edge worth taking
            for i, j in edges
            if i in local and j in local
        ]
        mate = max_weight_matching(len(vertices), weighted, maxcardinality=True)
        groups = [(vertices[x], vertices[y]) for x, y in enumerate(mate) if y > x]
        value = sum(self.value(i, j) for i, j in groups)
        return _Option(groups, 2 * len(groups), value)

    def all_edges(self, vertices: Sequence[int]) -> list[tuple[int, int]]:
        return [(i, j) for i, j in combinations(vertices, 2) if self.allowed(i, j)]

    def with_trio(
        self, option: _Option, extra: int, positions: Iterable[int] | None = None
    ) -> _Option | None:
        """``extra`` joins the pair of ``option`` where the round gains most (None: nowhere);
        only the pairs at ``positions`` are tried if given."""
        best: tuple[int, int] | None = None
        if positions is None:
            positions = range(len(option.groups))
        for position in positions:
            a, b = option.groups[position]
            if not (self.allowed(extra, a) and self.allowed(extra, b)):
                continue
            gain = self.group_value(sorted((extra, a, b))) - self.value(a, b)
            if best is None or gain > best[0]:
                best = (gain, position)
        if best is None:
            return None
        gain, position = best
        groups = list(option.groups)
        groups[position] = tuple(sorted((extra, *groups[position])))
        return _Option(groups, option.placed + 1, option.value + gain)

    def solve(self) -> _Option:
        everyone = list(range(self.n))
        if self.n <= EXACT_TRIO_LIMIT:
            return self.solve_exactly(everyone)
        if self.n > DENSE_POOL_LIMIT and fastmatch.available():
            return self.solve_fast()
        return self.solve_large(everyone)

    def solve_exactly(self, everyone: list[int]) -> _Option:
        """Pairs only, or any trio plus the best pairs of the rest: provably the best round."""
        edges = self.all_edges(everyone)
        best = self.match(everyone, edges)
        if best.placed == self.n:
            return best
        for trio in combinations(everyone, 3):
            if self.group_allowed(trio):
                option = self.with_fixed_trio(trio, everyone, edges)
                if option.beats(best):
                    best = option
        return best

    def with_fixed_trio(
        self, trio: tuple[int, ...], everyone: list[int], edges: Sequence[tuple[int, int]]
    ) -> _Option:
        """``trio`` as a group and the best pairs of everyone else."""
        rest = [v for v in everyone if v not in trio]
        pairs = self.match(rest, edges)
        return _Option(
            [trio, *pairs.groups], pairs.placed + 3, pairs.value + self.group_value(trio)
        )

    def promising_trios(
        self, edges: Sequence[tuple[int, int]], limit: int
    ) -> list[tuple[int, ...]]:
        """Up to ``limit`` trios of a person with two of their best partners, best first."""
        if limit <= 0:
            return []
        near: dict[int, list[int]] = {v: [] for v in range(self.n)}
        for i, j in edges:
            near[i].append(j)
            near[j].append(i)
        trios: set[tuple[int, ...]] = set()
        for x, partners in near.items():
            best = sorted(partners, key=lambda j: (-self.value(x, j), j))[:TRIO_NEIGHBOURS]
            for a, b in combinations(sorted(best), 2):
                if self.allowed(a, b):
                    trios.add(tuple(sorted((x, a, b))))
        return sorted(trios, key=lambda t: (-self.group_value(t), t))[:limit]

    def solve_large(self, everyone: list[int]) -> _Option:
        """A candidate graph, repaired where it fell short; then a good choice of the extra."""
        dense = self.n <= DENSE_POOL_LIMIT
        edges = self.all_edges(everyone) if dense else self.candidate_edges()
        best = self.match(everyone, edges)
        if not dense:
            best, edges = self.repair(best, edges)
        if best.placed == self.n:
            return best

        placed = {m for g in best.groups for m in g}
        left = [v for v in everyone if v not in placed]
        pairs_only = best
        for extra in left:
            option = self.with_trio(pairs_only, extra)
            if option is not None and option.beats(best):
                best = option
        if len(left) % 2 == 0:
            return best  # blocks left out an even number: no single extra to choose

        # Who is the extra one matters as much as where they go. A seat that anyone may take
        # lets the matching choose the extra together with everybody else's partner.
        seated, extra = self.match_with_spare_seat(edges)
        if extra >= 0:
            option = self.with_trio(seated, extra)
            if option is not None and option.beats(best):
                best = option
        # In a small room one trio is a good part of the round: also try the most promising
        # trios outright, each with an optimal matching of everyone else, while it is cheap.
        for trio in self.promising_trios(edges, TRIO_TRIAL_WORK // self.n**3):
            option = self.with_fixed_trio(trio, everyone, edges)
            if option.beats(best):
                best = option
        if best.placed < self.n or self.only_the_trio_is_flawed(best):
            # Try people who fit in almost anywhere as the extra, one matching each.
            tried = {*left, extra}
            candidates = [v for v in self.flexible_people() if v not in tried]
            for extra in candidates[:EXTRA_CANDIDATES]:
                rest = [v for v in everyone if v != extra]
                option = self.with_trio(self.match(rest, edges), extra)
                if option is not None and option.beats(best):
                    best = option
        return best

    def match_with_spare_seat(self, edges: Sequence[tuple[int, int]]) -> tuple[_Option, int]:
        """Pairs for everyone plus one spare seat; whoever takes it becomes the extra.

        Taking the seat is worth what the person could add to a pair (their two best edges):
        an upper bound, made exact by :meth:`with_trio` afterwards. Returns the pairs (an
        optimal matching of everyone else) and the extra (-1 if nobody took the seat).
        """
        top_two: dict[int, list[int]] = {v: [] for v in range(self.n)}
        for i, j in edges:
            value = self.value(i, j)
            for v in (i, j):
                best = top_two[v]
                best.append(value)
                best.sort(reverse=True)
                del best[2:]
        seat = self.n
        weighted = [(i, j, self.value(i, j) + 1) for i, j in edges]
        weighted += [(v, seat, sum(best) + 1) for v, best in top_two.items() if len(best) == 2]
        mate = max_weight_matching(self.n + 1, weighted, maxcardinality=True)
        groups = [(i, j) for i, j in enumerate(mate[: self.n]) if j > i and j != seat]
        value = sum(self.value(i, j) for i, j in groups)
        return _Option(groups, 2 * len(groups), value), mate[seat]

    def only_the_trio_is_flawed(self, option: _Option) -> bool:
        """Whether the trio repeats an encounter or lacks a common language while every pair
        is fine: then another extra may fix it (if pairs are flawed too, the room is simply
        hard, and more tries would cost time for nothing)."""
        flawed = [self.flawed_group(g) for g in option.groups]
        trio = [f for g, f in zip(option.groups, flawed, strict=True) if len(g) == 3]
        pairs = [f for g, f in zip(option.groups, flawed, strict=True) if len(g) == 2]
        return any(trio) and not any(pairs)

    def flawed_group(self, group: Sequence[int]) -> bool:
        """Whether a group repeats an encounter or lacks a common language."""
        if any(self.pair(i, j).repeat for i, j in combinations(group, 2)):
            return True
        return not _common_language([self.cards[m] for m in group])

    def flexible_people(self) -> list[int]:
        """People ordered by how easily they fit into any group: many partners they can talk
        to, few they already met; the seed breaks ties."""
        speakers: Counter[str] = Counter()
        anyone = 0
        for card in self.cards:
            speakers.update(card.languages)
            anyone += not card.languages
        met: Counter[int] = Counter()
        for i, j in self.last_met:
            met[i] += 1
            met[j] += 1

        def reach(v: int) -> int:
            langs = self.cards[v].languages
            return self.n if not langs else anyone + sum(speakers[x] for x in sorted(langs))

        return sorted(
            range(self.n), key=lambda v: (-reach(v), met[v], self.jitter(self.keys[v]), v)
        )

    def candidate_edges(self) -> list[tuple[int, int]]:
        """A sparse graph: best candidates by shared phrases, plus compatible random ones."""
        postings: dict[str, list[int]] = {}
        for i, card in enumerate(self.cards):
            for topic in sorted(card.topics):
                postings.setdefault(topic, []).append(i)
        # Ranking candidates needs only the score, not reasons and tiers: computed inline,
        # because co-holders of phrases are many more than the edges finally kept.
        rare = {topic: RARE_SHARED_BONUS * self.rarity(topic) for topic in postings}
        order = list(range(self.n))
        self.rng.shuffle(order)
        rank = {v: position for position, v in enumerate(order)}  # seeded tie-break
        edges: set[tuple[int, int]] = set()
        for i, card in enumerate(self.cards):
            scores: dict[int, float] = {}
            for topic in sorted(card.topics):
                holders = postings[topic]
                if len(holders) > MAX_POSTING:
                    continue
                i_asks, i_tells = topic in card.curious, topic in card.tells
                for j in holders:
                    other = self.cards[j]
                    j_asks = i_tells and topic in other.curious
                    complementary = (i_asks and topic in other.tells) != j_asks
                    base = COMPLEMENTARY_WEIGHT if complementary else SHARED_WEIGHT
                    scores[j] = scores.get(j, 0.0) + base + rare[topic]
            scores.pop(i, None)
            ranked = sorted(
                (j for j in scores if self.allowed(i, j)),
                key=lambda j: (not self.clean(i, j), -scores[j], rank[j]),
            )
            edges.update((min(i, j), max(i, j)) for j in ranked[:CANDIDATES_PER_PERSON])

        for i in range(self.n):
            picked = 0
            sample = self.rng.sample(range(self.n), min(self.n, 4 * FALLBACKS_PER_PERSON))
            for j in sample:
                if self.allowed(i, j) and self.clean(i, j):
                    edges.add((min(i, j), max(i, j)))
                    picked += 1
                    if picked == FALLBACKS_PER_PERSON:
                        break
            if picked == 0:
                # Rare (a language few speak): look at everyone, in a seeded order.
                start = self.rng.randrange(self.n)
                order = [(start + k) % self.n for k in range(self.n)]
                fits = [j for j in order if self.allowed(i, j) and self.clean(i, j)]
                if not fits:
                    fits = [j for j in order if self.allowed(i, j)]
                edges.update((min(i, j), max(i, j)) for j in fits[:FALLBACKS_PER_PERSON])
        return sorted(edges)

    def clean(self, i: int, j: int) -> bool:
        """A pair that breaks no soft goal: a common language and no earlier encounter."""
        pair = (i, j) if i < j else (j, i)
        return pair not in self.last_met and _common_language((self.cards[i], self.cards[j]))

    def repair(
        self, option: _Option, edges: list[tuple[int, int]]
    ) -> tuple[_Option, list[tuple[int, int]]]:
        """Give everyone the sparse graph served badly (left out, a repeat, no common
        language) all their edges, and match again: any improvement that swaps such a
        person's partner is then within reach.

        If people are still left out, blocks (or a tiny pool) made the sparse graph too thin,
        and the complete graph decides: slow for hundreds of people, but it only happens
        when placing everyone is in doubt, and a person must never be dropped to save time.
        """
        placed = {m for g in option.groups for m in g}
        troubled = sorted(
            {v for v in range(self.n) if v not in placed}
            | {m for g in option.groups if not self.clean(*g) for m in g}
        )
        if len(troubled) <= self.n % 2:
            return option, edges
        extra = {
            (min(t, j), max(t, j)) for t in troubled for j in range(self.n) if self.allowed(t, j)
        }
        edges = sorted(set(edges) | extra)
        everyone = list(range(self.n))
        repaired = self.match(everyone, edges)
        if repaired.placed < self.n - self.n % 2:
            edges = self.all_edges(everyone)
            repaired = self.match(everyone, edges)
        return (repaired if repaired.beats(option) else option), edges

    # --- large rooms: the compiled candidate search and matcher ----------------------------

    def solve_fast(self) -> _Option:
        """Pairs from the compiled matcher on a clean candidate graph, repaired exactly where
        someone was left out, then the extra one (odd count) joins the pair that gains most.

        The strict goals become the graph's shape rather than tiers of weight (the C matcher
        works with doubles): blocked pairs, pairs who met before and pairs without a common
        language are not edges at all; every edge weighs its score plus :data:`FAST_BASE`.

        Anyone may also stay "left over" for half of :data:`FAST_BASE`: left-over people are
        paired with each other next, and two of them nearly always can be (a pair sharing
        nothing is worth FAST_BASE too). That is what lets the matcher give the few pairs
        with nothing in common to the people with the fewest options, as the exact optimum
        does, without n² fallback edges. Whoever is still left out then gets an exact,
        tiered matching (``match``) of their neighbourhood, where repeats and language
        mismatches are allowed as a last resort, in the order of the goals.
        """
        everyone = list(range(self.n))
        graph = self.fast_graph(everyone, base=0.0)
        mate, extra, free, near = self.fast_pairs(graph, frozenset(), seat=self.n % 2 == 1)
        if extra >= 0 and free:  # the seat kept someone from a partner only they could have
            mate, extra, free, near = self.fast_pairs(graph, frozenset(), seat=False)
        if extra >= 0:
            free.insert(0, extra)  # tried first as the trio's third: the seat chose them
        pairs = [(v, mate[v]) for v in everyone if mate[v] > v]
        best = _Option(pairs, 2 * len(pairs), 0)
        if not free:
            return best
        missing = [v for v in free if v not in near]
        if missing:
            near.update(self.neighbours(missing, graph))
        where = {v: x for x, pair in enumerate(pairs) for v in pair}
        pairs_only = best
        for extra in free:  # only one can join a trio; blocks keep any others out
            close = sorted({where[v] for v in near.get(extra, ()) if v in where})
            option = self.with_trio(pairs_only, extra, close) or self.with_trio(pairs_only, extra)
            if option is not None and option.beats(best):
                best = option
        if self.n <= FAST_EXACT_LIMIT and len(free) == 1:
            # In a small room one trio is a good part of the round: also try the most
            # promising trios outright, each with the pairs of everyone else.
            best.value = self.value_of(best.groups)
            edges = sorted(set(zip(graph.ei, graph.ej, strict=True)))
            for trio in self.promising_trios(edges, FAST_TRIO_TRIALS):
                rest, _, left, _ = self.fast_pairs(graph, frozenset(trio), seat=False)
                groups = [trio, *((v, rest[v]) for v in everyone if rest[v] > v)]
                option = _Option(groups, self.n - len(left), self.value_of(groups))
                if option.beats(best):
                    best = option
        return best

    def fast_pairs(
        self, graph: fastmatch.CandidateGraph, fixed: frozenset[int], seat: bool
    ) -> tuple[list[int], int, list[int], dict[int, set[int]]]:
        """Pairs for everyone but ``fixed``: the matcher, then the left-over people, then
        a repair of whoever is still out. Returns the mate array, who took the spare seat
        (-1: nobody), who is left out, and their neighbours in the graph."""
        if fixed:
            graph = graph.only(lambda i, j: i not in fixed and j not in fixed)
        mate, extra = self.fast_match(graph, self.n, seat=seat)
        out = fixed | {extra}
        left = [v for v in range(self.n) if mate[v] < 0 and v not in out]
        if len(left) > 1:
            self.pair_left_over(mate, left)
        free = [v for v in range(self.n) if mate[v] < 0 and v not in out]
        near: dict[int, set[int]] = {}
        if len(free) > 1:
            near = self.neighbours(free, graph)
            free = self.repair_fast(mate, free, near, out)
            if len(free) > 1:  # blocks (or a tiny room) left people out: widen the search
                everyone = range(self.n)
                for v in free:
                    near.setdefault(v, set()).update(
                        self.rng.sample(everyone, min(self.n, REPAIR_SAMPLE))
                    )
                free = self.repair_fast(mate, free, near, out)
        return mate, extra, free, near

    def pair_left_over(self, mate: list[int], left: list[int]) -> None:
        """Pair the left-over people, together with the members of the weakest pairs: two
        left-over people may not fit each other (no common language, met before), while
        with someone from a pair that shares nothing they do, and that pair's other member
        fits the second. ``mate`` is updated in place."""
        weak = sorted(
            (self.pair(v, mate[v]).score, v, mate[v]) for v in range(self.n) if mate[v] > v
        )[: max(WEAK_PAIRS, len(left))]
        members = sorted({*left, *(v for _, a, b in weak for v in (a, b))})
        for _, a, b in weak:
            mate[a] = mate[b] = -1
        if len(members) <= LEFT_OVER_ALL_PAIRS:
            local = {v: x for x, v in enumerate(members)}
            ei, ej, w = array("i"), array("i"), array("d")
            for i, j in combinations(members, 2):
                if self.fits(i, j):
                    ei.append(local[i])
                    ej.append(local[j])
                    w.append(self.pair(i, j).score + FAST_BASE)
            graph = fastmatch.CandidateGraph(ei, ej, w)
        else:
            graph = self.fast_graph(members, base=FAST_BASE)
        for x, y in enumerate(self.fast_match(graph, len(members))[0]):
            if y >= 0:
                mate[members[x]] = members[y]

    def fits(self, i: int, j: int) -> bool:
        """Whether two people make a clean pair: allowed, a common language, never met."""
        return self.allowed(i, j) and self.clean(i, j)

    def fast_match(
        self, graph: fastmatch.CandidateGraph, size: int, seat: bool = False
    ) -> tuple[list[int], int]:
        """The mate array for a graph on ``0..size-1``, by the compiled matcher (or exactly, in
        rooms up to :data:`FAST_EXACT_LIMIT` people), and who took the spare seat (-1: nobody).

        With ``seat`` there is one spare seat that anyone may take for what they could add
        to a pair as its third member (the weights of their two best edges): the extra one
        of an odd count is chosen together with everybody else's partner, as in
        :meth:`match_with_spare_seat`.
        """
        ei, ej, w = graph.ei, graph.ej, graph.w
        total = size
        if seat:
            total += 1
            worth = [(v, a + b) for v, (a, b) in enumerate(self.two_best(graph, size)) if b > 0]
            ei = ei + array(ei.typecode, (v for v, _ in worth))
            ej = ej + array(ej.typecode, [size]) * len(worth)
            w = w + array("d", (x for _, x in worth))
        mate, _ = fastmatch.matching_from_arrays(
            total,
            ei,
            ej,
            w,
            seed=self.rng.getrandbits(64),
            polish_passes=FAST_POLISH_PASSES,
            exact=self.n <= FAST_EXACT_LIMIT,
        )
        return [m if m < size else -1 for m in mate[:size]], mate[size] if seat else -1

    @staticmethod
    def two_best(graph: fastmatch.CandidateGraph, size: int) -> list[tuple[float, float]]:
        """The two heaviest edge weights at each vertex, to two different partners."""
        first = [0.0] * size
        second = [0.0] * size
        partner = [-1] * size
        for i, j, x in zip(graph.ei, graph.ej, graph.w, strict=True):
            for v, u in ((i, j), (j, i)):
                if x > first[v]:
                    if partner[v] != u:
                        second[v] = first[v]
                    first[v], partner[v] = x, u
                elif x > second[v] and partner[v] != u:
                    second[v] = x
        return list(zip(first, second, strict=True))

    def fast_graph(self, members: Sequence[int], base: float) -> fastmatch.CandidateGraph:
        """The candidate graph of clean pairs among ``members`` (vertex ``x`` is
        ``members[x]``; see ``fm_candidates`` in ``_fastmatch.c``); each edge weighs its
        score plus ``base``."""
        cards = [self.cards[v] for v in members]
        local = {v: x for x, v in enumerate(members)}
        # Topic ids in sorted order: they must not depend on hash order, or the same seed
        # could give another round in another process.
        names = sorted(frozenset().union(*(card.topics for card in cards)))
        ids = {key: t for t, key in enumerate(names)}
        topics: list[list[int]] = []
        roles: list[list[int]] = []
        for card in cards:
            held = sorted(card.topics)  # same order as the ids
            topics.append([ids[key] for key in held])
            roles.append([(key in card.curious) | (key in card.tells) << 1 for key in held])
        rarity = [RARE_SHARED_BONUS * self.rarity(key) for key in names]
        speakers: Counter[str] = Counter()
        for card in cards:
            speakers.update(card.languages)
        # One bit per language, the 63 most spoken first; any rarer ones share the last bit,
        # and edges that rely on it alone are checked exactly below.
        ranked = sorted(speakers, key=lambda code: (-speakers[code], code))
        bits = {code: 1 << min(position, 63) for position, code in enumerate(ranked)}
        languages = [sum({bits[code] for code in card.languages}) for card in cards]
        forbidden: list[list[int]] = [[] for _ in members]
        for i, j in itertools.chain(self.blocked, self.last_met):
            x, y = local.get(i), local.get(j)
            if x is not None and y is not None:
                forbidden[x].append(y)
                forbidden[y].append(x)
        graph = fastmatch.candidate_graph(
            len(members),
            topics,
            roles,
            [SHARED_WEIGHT + r for r in rarity],
            [COMPLEMENTARY_WEIGHT + r for r in rarity],
            languages,
            forbidden,
            k=FAST_CANDIDATES,
            fallbacks=FAST_FALLBACKS,
            scan_budget=FAST_SCAN_BUDGET,
            window=FAST_WINDOW,
            base=base,
            seed=self.rng.getrandbits(64),
        )
        if len(ranked) > 63:
            graph = self.without_false_language_matches(graph, languages, cards)
        return graph

    @staticmethod
    def without_false_language_matches(
        graph: fastmatch.CandidateGraph, languages: Sequence[int], cards: Sequence[_Card]
    ) -> fastmatch.CandidateGraph:
        shared_bit = 1 << 63
        return graph.only(
            lambda i, j: (
                languages[i] & languages[j] != shared_bit or _common_language((cards[i], cards[j]))
            )
        )

    def neighbours(
        self, people: Sequence[int], graph: fastmatch.CandidateGraph
    ) -> dict[int, set[int]]:
        """Each given person's partners in the candidate graph."""
        near: dict[int, set[int]] = {v: set() for v in people}
        for i, j in zip(graph.ei, graph.ej, strict=True):
            if i in near:
                near[i].add(j)
            if j in near:
                near[j].add(i)
        return near

    def repair_fast(
        self, mate: list[int], free: list[int], near: dict[int, set[int]], out: frozenset[int]
    ) -> list[int]:
        """Re-pair the left-out people, their neighbours and those neighbours' partners with an
        exact, tiered matching over every allowed pair among them; ``mate`` is updated in
        place. Any improving swap of partners within that neighbourhood is found, including
        a repeat or a language mismatch when nothing else places someone. People in ``out``
        (the trio) stay out of it. Returns who is still left out."""
        around = {*free, *(u for v in free for u in near.get(v, ()))} - out
        members = sorted(around | {mate[v] for v in around if mate[v] >= 0})
        before = [(v, mate[v]) for v in members if mate[v] > v]
        edges = self.all_edges(members)
        option = self.match(members, edges)
        if not option.beats(_Option(before, 2 * len(before), self.value_of(before))):
            return free
        for v in members:
            mate[v] = -1
        for i, j in option.groups:
            mate[i], mate[j] = j, i
        return [v for v in range(self.n) if mate[v] < 0 and v not in out]

    def value_of(self, groups: Iterable[Sequence[int]]) -> int:
        return sum(self.group_value(g) for g in groups)

    # --- the result ------------------------------------------------------------------------

    def group(self, members: tuple[int, ...]) -> Group:
        pairs = list(combinations(sorted(members), 2))
        if len(pairs) == 1:
            whys = list(self.pair(*pairs[0]).whys)  # already sorted, no duplicates
        else:
            best: dict[tuple[str, str, str, str], _Why] = {}
            for i, j in pairs:
                for why in self.pair(i, j).whys:
                    r = why.reason
                    key = (r.kind.value, why.topic, r.teller or "", r.asker or "")
                    if key not in best or why.weight > best[key].weight:
                        best[key] = why
            whys = sorted(best.values(), key=_Why.sort_key)
        flags: set[GroupFlag] = set()
        if any(self.pair(i, j).repeat for i, j in pairs):
            flags.add(GroupFlag.REPEAT)
        if not _common_language([self.cards[m] for m in members]):
            flags.add(GroupFlag.NO_COMMON_LANGUAGE)
        if not whys:
            flags.add(GroupFlag.NOTHING_SHARED)
        return Group(
            members=tuple(sorted(self.keys[m] for m in members)),
            reasons=tuple(why.reason for why in whys),
            flags=frozenset(flags),
            score=round(sum(self.pair(i, j).score for i, j in pairs), 6),
        )


def pair(
    people: Sequence[Person],
    *,
    seed: int,
    history: Iterable[PastEncounter] = (),
    blocks: Iterable[frozenset[str]] = (),
    now: datetime | None = None,
) -> PairingResult:
    """Group ``people`` into pairs (one trio when the count is odd) around what they share.

    ``history`` is who met whom and when; ``now`` dates it (default: the newest encounter, so
    this stays a pure function — pass the real time to age encounters properly). ``blocks``
    are pairs of keys that must never share a group; anyone they make impossible to place is
    returned in ``unplaced``, never silently dropped. Same arguments, same round.
    """
    if len(people) < 2:
        raise PairingError(f"pairing needs at least 2 people, got {len(people)}")
    ordered = sorted(people, key=lambda p: p.key)
    for first, second in pairwise(ordered):
        if first.key == second.key:
            raise PairingError(f"{first.key!r} is listed twice")
    # Pairing a large room allocates millions of small objects, none of them in reference
    # cycles; the cyclic garbage collector would re-scan the whole heap again and again
    # meanwhile (measured: a quarter of the time at 10,000 people). It is paused, not
    # skipped: anything cyclic is collected as usual once it is switched back on.
    collecting = gc.isenabled()
    gc.disable()
    try:
        pool = _Pool(ordered, seed, history, blocks, now)
        best = pool.solve()
        placed = {m for g in best.groups for m in g}
        groups = sorted((pool.group(g) for g in best.groups), key=lambda g: g.members)
    finally:
        if collecting:
            gc.enable()
    return PairingResult(
        seed=seed,
        groups=tuple(groups),
        unplaced=tuple(pool.keys[v] for v in range(pool.n) if v not in placed),
    )

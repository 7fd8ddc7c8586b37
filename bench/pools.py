"""Realistic synthetic pools, the same for every method, generated deterministically from a seed.

What a pool looks like (all numbers are parameters of :class:`PoolSpec`):

- a vocabulary of 4,000 phrases: 40 % places, 40 % hobbies, 20 % life changes. Their
  popularity is heavy-tailed (Zipf-Mandelbrot, ``p(rank) ∝ 1 / (rank + 2)``): the most popular
  phrase ("travel") is on about a quarter of all cards, half the phrases on a handful;
- every person has 3-8 distinct phrases, each on their *can tell about* list with a
  probability that depends on its kind (hobbies 80 %, places 45 %, life changes 35 %) and
  otherwise on *curious about*, so that places and life changes often meet as a question and
  an answer (complementary) while hobbies are mostly shared;
- phrases are written in varying ways ("place-12", "Place 12", "PLACE_12") that Funkel's
  normalisation must fold together, as people's spellings vary;
- languages: 20 % speak both "en" and "de", the others one of them (70 % "en");
- a history of 4 earlier rounds, 28, 21, 14 and 7 days ago, each of a random 85 % of the
  pool, paired greedily by score on a cheap sparse candidate graph while avoiding the earlier
  rounds' pairs — as a matching bot would have done, so the history holds exactly the pairs
  that look best (which is what makes repeat avoidance matter);
- blocks: 0.5 % of people block someone, mostly a person who shares their rarest phrase (a
  block nobody would ever run into measures nothing), some a past partner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from bench.baselines import greedy_matching
from bench.scoring import Scorer, neighbour_candidates
from bot.core.models import PastEncounter
from bot.core.pairing import Person

__all__ = ["NOW", "Pool", "PoolSpec", "make_pool"]

NOW = datetime(2026, 6, 4, 19, 0, tzinfo=UTC)
KINDS = ("place", "hobby", "life")
KIND_SHARE = (0.4, 0.4, 0.2)
TELL_PROBABILITY = (0.45, 0.8, 0.35)  # per kind: on "can tell about" rather than "curious"
SPELLINGS = ("{kind}-{rank}", "{Kind} {rank}", "{KIND}_{rank}")
SPELLING_SHARE = (0.6, 0.25, 0.15)
# Earlier rounds: candidates are each holder's next few co-holders in a random order per phrase.
HISTORY_NEIGHBOURS = 5


@dataclass(frozen=True)
class PoolSpec:
    n: int
    seed: int = 1
    vocabulary: int = 4000
    zipf_s: float = 1.0
    zipf_q: float = 2.0
    min_phrases: int = 3
    max_phrases: int = 8
    bilingual: float = 0.2
    english: float = 0.7  # of those who speak one language
    rounds: int = 4
    round_every_days: int = 7
    attendance: float = 0.85
    block_rate: float = 0.005


@dataclass
class Pool:
    spec: PoolSpec
    people: list[Person]  # in key order: index i is people[i]
    history: list[PastEncounter]
    blocks: list[frozenset[str]]
    now: datetime = NOW
    stats: dict[str, float] = field(default_factory=dict)


def _phrase_ranks(rng: np.random.Generator, spec: PoolSpec) -> list[list[int]]:
    """3-8 distinct phrase ranks per person, drawn by heavy-tailed popularity."""
    ranks = np.arange(1, spec.vocabulary + 1, dtype=np.float64)
    weights = 1.0 / (ranks + spec.zipf_q) ** spec.zipf_s
    cdf = np.cumsum(weights / weights.sum())
    counts = rng.integers(spec.min_phrases, spec.max_phrases + 1, size=spec.n)
    draws = 3 * spec.max_phrases
    picks = np.minimum(np.searchsorted(cdf, rng.random((spec.n, draws))), spec.vocabulary - 1)
    out: list[list[int]] = []
    for row, m in zip(picks.tolist(), counts.tolist(), strict=True):
        chosen = list(dict.fromkeys(row))[:m]
        while len(chosen) < m:  # almost never: the head phrases drawn over and over
            extra = int(np.searchsorted(cdf, rng.random()))
            if extra not in chosen and extra < spec.vocabulary:
                chosen.append(extra)
        out.append(chosen)
    return out


def _people(rng: np.random.Generator, spec: PoolSpec) -> list[Person]:
    kinds = rng.choice(len(KINDS), size=spec.vocabulary, p=KIND_SHARE)
    tell_p = np.asarray(TELL_PROBABILITY)[kinds]
    ranks = _phrase_ranks(rng, spec)
    langs_u = rng.random(spec.n)
    people: list[Person] = []
    for i, chosen in enumerate(ranks):
        tells = rng.random(len(chosen)) < tell_p[chosen]
        spell = rng.choice(len(SPELLINGS), size=len(chosen), p=SPELLING_SHARE)
        curious_about: list[str] = []
        can_tell_about: list[str] = []
        for rank, tell, how in zip(chosen, tells.tolist(), spell.tolist(), strict=True):
            kind = KINDS[kinds[rank]]
            text = SPELLINGS[how].format(
                kind=kind, Kind=kind.title(), KIND=kind.upper(), rank=rank + 1
            )
            (can_tell_about if tell else curious_about).append(text)
        u = langs_u[i]
        if u < spec.bilingual:
            languages = frozenset({"en", "de"})
        elif u < spec.bilingual + (1 - spec.bilingual) * spec.english:
            languages = frozenset({"en"})
        else:
            languages = frozenset({"de"})
        people.append(
            Person(
                key=f"bench:{i:06d}",
                name=f"Person {i}",
                curious_about=tuple(curious_about),
                can_tell_about=tuple(can_tell_about),
                languages=languages,
            )
        )
    return people


def _history(
    rng: np.random.Generator, spec: PoolSpec, people: list[Person], fresh: Scorer, now: datetime
) -> list[PastEncounter]:
    history: list[PastEncounter] = []
    keys = [p.key for p in people]
    for r in range(spec.rounds, 0, -1):
        at = now - timedelta(days=r * spec.round_every_days)
        scorer = fresh.with_constraints(history)
        present = rng.random(spec.n) < spec.attendance
        i, j = neighbour_candidates(rng, scorer, HISTORY_NEIGHBOURS, present)
        ok = scorer.admissible(i, j)
        i, j = i[ok], j[ok]
        mate = greedy_matching(spec.n, i, j, scorer.score_pairs(i, j))
        groups: list[tuple[int, ...]] = [(v, int(mate[v])) for v in range(spec.n) if mate[v] > v]
        left = [v for v in rng.permutation(spec.n).tolist() if present[v] and mate[v] < 0]
        groups.extend((left[k], left[k + 1]) for k in range(0, len(left) - 1, 2))
        if len(left) % 2 and groups:
            groups[-1] = (*groups[-1], left[-1])
        for group in groups:
            for x in range(len(group)):
                for y in range(x + 1, len(group)):
                    history.append(PastEncounter(keys[group[x]], keys[group[y]], at))
    return history


def _blocks(
    rng: np.random.Generator, spec: PoolSpec, scorer: Scorer, history: list[PastEncounter]
) -> list[frozenset[str]]:
    keys = scorer.keys
    partners: dict[str, list[str]] = {}
    for e in history:
        partners.setdefault(e.a, []).append(e.b)
        partners.setdefault(e.b, []).append(e.a)
    count = max(1, round(spec.block_rate * spec.n))
    a = scorer.incidence.tocsr()
    holders_by_topic = scorer.incidence
    blocks: list[frozenset[str]] = []
    for blocker in rng.choice(spec.n, size=min(count, spec.n), replace=False).tolist():
        target: str | None = None
        past = partners.get(keys[blocker], [])
        if past and rng.random() < 0.3:
            target = past[int(rng.integers(len(past)))]
        else:
            topics = a.indices[a.indptr[blocker] : a.indptr[blocker + 1]]
            rarest = int(topics[np.argmin(scorer.holders[topics])])
            col = holders_by_topic.indices[
                holders_by_topic.indptr[rarest] : holders_by_topic.indptr[rarest + 1]
            ]
            col = col[col != blocker]
            other = int(rng.choice(col)) if len(col) else int(rng.integers(spec.n))
            if other != blocker:
                target = keys[other]
        if target is not None and target != keys[blocker]:
            blocks.append(frozenset({keys[blocker], target}))
    return blocks


def make_pool(spec: PoolSpec) -> Pool:
    """The pool for ``spec``: the same spec always gives the same people, history and blocks."""
    rng = np.random.default_rng([spec.seed, spec.n])
    people = _people(rng, spec)
    fresh = Scorer.build(people)
    history = _history(rng, spec, people, fresh, NOW)
    blocks = _blocks(rng, spec, fresh, history)
    return Pool(spec, people, history, blocks, NOW)

"""The store contract: every Store implementation must pass these, unchanged.

Tests talk to the ``Store`` protocol only. ``make_store`` builds a store on fresh, empty
backing storage (parametrised by backend: SQLite today, PostgreSQL later); calling it again
gives a second store on the *same* storage, for reopen tests. Assertions never rely on one
engine's quirks. The one exception is ``stored_outbox``: what the port keeps but never hands
back (sent messages, delivery errors) is read from each backend's storage directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import closing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from bot.core.models import (
    Card,
    Group,
    GroupFlag,
    Meetup,
    MemberRef,
    NewOutboxMessage,
    Reason,
    ReasonKind,
    RoundState,
    TargetKind,
)
from bot.core.ports import Store, StoreTx
from bot.storage.sqlite import SqliteStore

ANN = MemberRef("matrix", "@ann:example.org")
BEN = MemberRef("matrix", "@ben:example.org")
CAT = MemberRef("matrix", "@cat:example.org")
DAN = MemberRef("matrix", "@dan:example.org")
EVE = MemberRef("matrix", "@eve:example.org")
NAMES = {ANN: "Ann", BEN: "Ben", CAT: "Cat", DAN: "Dan", EVE: "Eve"}
START = datetime(2026, 5, 1, 18, 0, tzinfo=UTC)


class TickingClock:
    """Each reading is one second after the previous one; tests may also set ``now``."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


StoreFactory = Callable[[], Store]


@pytest.fixture
def clock() -> TickingClock:
    return TickingClock()


@pytest.fixture(params=["sqlite"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path, clock: TickingClock) -> StoreFactory:
    if request.param == "sqlite":
        path = tmp_path / "funkel.sqlite3"
        return lambda: SqliteStore(path, clock=clock)
    raise AssertionError(f"unknown backend {request.param}")


@pytest.fixture
async def store(make_store: StoreFactory) -> AsyncIterator[Store]:
    opened = make_store()
    await opened.open()
    yield opened
    await opened.close()


async def lisbon_meetup(tx: StoreTx, *people: MemberRef) -> Meetup:
    """A community with one meetup; ``people`` get profiles and join in the given order."""
    await tx.ensure_community("guild-1", "en")
    meetup = await tx.ensure_meetup("guild-1", "room-1", "Lisbon Lovers")
    for ref in people:
        await tx.upsert_member(ref, NAMES[ref])
        await tx.join(meetup.id, ref)
    return meetup


def group(*refs: MemberRef, topics: tuple[str, ...] = ()) -> Group:
    reasons = tuple(Reason(ReasonKind.SHARED, topic) for topic in topics)
    return Group(members=tuple(ref.key for ref in refs), reasons=reasons, score=1.0)


def message(text: str = "Ann, meet Ben.", target: str = "room-1") -> NewOutboxMessage:
    return NewOutboxMessage("guild-1", TargetKind.ROOM, target, "pairing", text)


async def met(
    store: Store,
    *groups: Group,
    at: datetime = START,
    topics: Mapping[frozenset[str], Sequence[str]] | None = None,
) -> int:
    """Run a round with ``groups`` in the Lisbon meetup and record its encounters."""
    async with store.transaction() as tx:
        meetup = await lisbon_meetup(tx)
        round_ = await tx.create_round(meetup.id, 7, groups, RoundState.RUNNING)
        await tx.record_encounters(round_.id, at, topics)
    return round_.id


def pair(a: MemberRef, b: MemberRef) -> frozenset[str]:
    return frozenset((a.key, b.key))


async def round_created_at(
    store: Store, clock: TickingClock, when: datetime, state: RoundState, *groups: Group
) -> int:
    """A round of the Lisbon meetup created at ``when`` (by the store's clock)."""
    clock.now = when
    async with store.transaction() as tx:
        meetup = await lisbon_meetup(tx)
        round_ = await tx.create_round(meetup.id, 1, groups, state)
    return round_.id


def stored_outbox(store: Store) -> list[dict[str, Any]]:
    """Every outbox row as stored, sent or not: the port hands out pending messages only."""
    if isinstance(store, SqliteStore):
        with closing(sqlite3.connect(store.path)) as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute(
                "SELECT id, target, text, payload, sent_at, attempts, last_error"
                " FROM outbox ORDER BY id"
            ).fetchall()
        return [dict(row) for row in rows]
    raise AssertionError(f"no way to read the outbox of {type(store).__name__}")


# --- communities and members ---------------------------------------------------------------
async def test_community_is_created_once_and_keeps_its_language(store: Store) -> None:
    """ensure_community returns the stored community; a second call does not change it."""
    async with store.transaction() as tx:
        await tx.ensure_community("guild-1", "de")
        again = await tx.ensure_community("guild-1", "en")
    assert (again.id, again.language) == ("guild-1", "de")


async def test_community_language_can_be_changed(store: Store) -> None:
    """set_community_language is what get_community returns afterwards."""
    async with store.transaction() as tx:
        await tx.ensure_community("guild-1", "en")
        await tx.set_community_language("guild-1", "de")
        community = await tx.get_community("guild-1")
    assert community is not None and community.language == "de"


async def test_upsert_member_renames_but_keeps_language(store: Store) -> None:
    """A new display name replaces the old one; the chosen language stays."""
    async with store.transaction() as tx:
        await tx.upsert_member(ANN, "Ann")
        await tx.set_member_language(ANN, "de")
        member = await tx.upsert_member(ANN, "Annie")
    assert (member.ref, member.display_name, member.language) == (ANN, "Annie", "de")


async def test_get_members_leaves_out_unknown_keys(store: Store) -> None:
    """Only members the store knows are returned, by key."""
    async with store.transaction() as tx:
        await tx.upsert_member(ANN, "Ann")
        members = await tx.get_members([ANN.key, BEN.key])
    assert list(members) == [ANN.key]


async def test_find_members_by_name_ignores_case_on_one_platform(store: Store) -> None:
    """ "ÄNNE" finds "änne" on the asked platform, not a namesake elsewhere."""
    elsewhere = MemberRef("discord", "42")
    async with store.transaction() as tx:
        await tx.upsert_member(ANN, "änne")
        await tx.upsert_member(elsewhere, "änne")
        found = await tx.find_members("matrix", "ÄNNE")
    assert [member.ref for member in found] == [ANN]


# --- curiosity cards -----------------------------------------------------------------------
async def test_card_round_trip_keeps_every_character_literally(store: Store) -> None:
    """Emoji, right-to-left text, SQL and Markdown metacharacters come back unchanged."""
    card = Card(
        curious_about=("Lisbon 🇵🇹", "'; DROP TABLE cards; --", "**bold**", "_x_ `y` [z](q)"),
        can_tell_about=("תל אביב", "العربية", 'quote " and \\ backslash', "100% _ % ?"),
    )
    async with store.transaction() as tx:
        await tx.set_card(ANN, card)
    async with store.transaction() as tx:
        assert await tx.get_card(ANN) == card


async def test_member_without_card_gets_an_empty_card(store: Store) -> None:
    """get_card never fails; a stranger's card is empty."""
    async with store.transaction() as tx:
        card = await tx.get_card(ANN)
    assert card == Card() and card.is_empty


async def test_set_card_replaces_the_previous_card(store: Store) -> None:
    """The latest card wins, both lists at once."""
    async with store.transaction() as tx:
        await tx.set_card(ANN, Card(("climbing",), ("Shanghai",)))
        await tx.set_card(ANN, Card(("Ulaanbaatar",), ()))
        card = await tx.get_card(ANN)
    assert card == Card(("Ulaanbaatar",), ())


async def test_get_cards_gives_empty_cards_to_members_without_one(store: Store) -> None:
    """Every asked key is present; those without a card get Card()."""
    async with store.transaction() as tx:
        await tx.set_card(ANN, Card(("climbing",)))
        cards = await tx.get_cards([ANN.key, BEN.key])
    assert cards == {ANN.key: Card(("climbing",)), BEN.key: Card()}


# --- meetups and attendance ----------------------------------------------------------------
async def test_ensure_meetup_gives_one_meetup_per_room(store: Store) -> None:
    """The same room is the same meetup; another room is another meetup."""
    async with store.transaction() as tx:
        await tx.ensure_community("guild-1", "en")
        first = await tx.ensure_meetup("guild-1", "room-1", "Lisbon Lovers")
        same = await tx.ensure_meetup("guild-1", "room-1", "Lisbon Lovers")
        other = await tx.ensure_meetup("guild-1", "room-2", "Climbers")
        found = await tx.find_meetup("guild-1", "room-1")
        by_id = await tx.get_meetup(first.id)
    assert first == same == found == by_id
    assert other.id != first.id


async def test_join_is_idempotent_and_attendees_keep_join_order(store: Store) -> None:
    """Joining twice reports False and does not move the member to the end."""
    async with store.transaction() as tx:
        meetup = await lisbon_meetup(tx, CAT, ANN, BEN)
        assert await tx.join(meetup.id, CAT) is False
        attendees = await tx.attendees(meetup.id)
    assert attendees == [CAT.key, ANN.key, BEN.key]


async def test_leave_removes_the_member_and_says_whether_they_attended(store: Store) -> None:
    """leave is True once, then False; the others stay in order."""
    async with store.transaction() as tx:
        meetup = await lisbon_meetup(tx, ANN, BEN, CAT)
        assert await tx.leave(meetup.id, BEN) is True
        assert await tx.leave(meetup.id, BEN) is False
        attendees = await tx.attendees(meetup.id)
    assert attendees == [ANN.key, CAT.key]


async def test_meetups_of_lists_only_meetups_attended_now(store: Store) -> None:
    """After leaving one of two meetups, only the other is listed."""
    async with store.transaction() as tx:
        lisbon = await lisbon_meetup(tx, ANN)
        climbers = await tx.ensure_meetup("guild-1", "room-2", "Climbers")
        await tx.join(climbers.id, ANN)
        await tx.leave(lisbon.id, ANN)
        meetups = await tx.meetups_of(ANN)
    assert meetups == [climbers]


# --- rounds --------------------------------------------------------------------------------
async def test_rounds_are_numbered_per_meetup(store: Store) -> None:
    """Each meetup counts its own rounds from 1."""
    async with store.transaction() as tx:
        lisbon = await lisbon_meetup(tx)
        climbers = await tx.ensure_meetup("guild-1", "room-2", "Climbers")
        numbers = [
            (await tx.create_round(meetup.id, 1, [], RoundState.DONE)).number
            for meetup in (lisbon, lisbon, climbers, lisbon)
        ]
    assert numbers == [1, 2, 1, 3]


async def test_round_keeps_groups_with_reasons_flags_score_and_seed(store: Store) -> None:
    """A round reads back exactly as created: members in order, reasons, flags, score, seed."""
    trio = Group(
        members=(CAT.key, ANN.key, BEN.key),
        reasons=(
            Reason(ReasonKind.COMPLEMENTARY, "Shanghai", teller=CAT.key, asker=ANN.key),
            Reason(ReasonKind.SHARED, "climbing"),
        ),
        flags=frozenset({GroupFlag.REPEAT, GroupFlag.NO_COMMON_LANGUAGE}),
        score=2.75,
        icebreaker_id="shared.place.1",
    )
    fallback = Group((DAN.key, EVE.key), flags=frozenset({GroupFlag.NOTHING_SHARED}))
    async with store.transaction() as tx:
        meetup = await lisbon_meetup(tx)
        created = await tx.create_round(meetup.id, 2**63 - 1, [trio, fallback], RoundState.PREVIEW)
    async with store.transaction() as tx:
        loaded = await tx.get_round(created.id)
    assert loaded == created
    assert (loaded.seed, loaded.state, loaded.groups) == (
        2**63 - 1,
        RoundState.PREVIEW,
        (trio, fallback),
    )


async def test_preview_groups_are_replaced_with_the_new_seed(store: Store) -> None:
    """A fresh preview replaces all groups and the seed; the round keeps its number."""
    async with store.transaction() as tx:
        meetup = await lisbon_meetup(tx)
        preview = await tx.create_round(
            meetup.id, 1, [group(ANN, BEN), group(CAT, DAN)], RoundState.PREVIEW
        )
        fresh = await tx.replace_round_groups(preview.id, 2, [group(ANN, CAT, BEN)])
        loaded = await tx.get_round(preview.id)
    assert loaded == fresh
    assert (fresh.number, fresh.seed, fresh.groups) == (1, 2, (group(ANN, CAT, BEN),))


async def test_groups_of_a_running_round_cannot_be_replaced(store: Store) -> None:
    """Only a preview may be reshuffled; people already talk in a running round."""
    async with store.transaction() as tx:
        meetup = await lisbon_meetup(tx)
        running = await tx.create_round(meetup.id, 1, [group(ANN, BEN)], RoundState.RUNNING)
        with pytest.raises(ValueError):
            await tx.replace_round_groups(running.id, 2, [group(ANN, CAT)])


async def test_latest_round_is_the_highest_numbered_whatever_its_state(store: Store) -> None:
    """latest_round follows numbers, and is None before the first round."""
    async with store.transaction() as tx:
        meetup = await lisbon_meetup(tx)
        assert await tx.latest_round(meetup.id) is None
        await tx.create_round(meetup.id, 1, [], RoundState.RUNNING)
        second = await tx.create_round(meetup.id, 2, [], RoundState.PREVIEW)
        latest = await tx.latest_round(meetup.id)
    assert latest == second


async def test_running_round_is_found_beside_a_newer_preview(store: Store) -> None:
    """running_round finds the round people are in, even when the next one is previewed."""
    async with store.transaction() as tx:
        meetup = await lisbon_meetup(tx)
        assert await tx.running_round(meetup.id) is None
        first = await tx.create_round(meetup.id, 1, [], RoundState.RUNNING)
        await tx.create_round(meetup.id, 2, [], RoundState.PREVIEW)
        assert await tx.running_round(meetup.id) == first
        await tx.set_round_state(first.id, RoundState.DONE)
        assert await tx.running_round(meetup.id) is None


async def test_round_state_changes_are_stored(store: Store) -> None:
    """preview → running → done reads back each time."""
    async with store.transaction() as tx:
        meetup = await lisbon_meetup(tx)
        round_ = await tx.create_round(meetup.id, 1, [], RoundState.PREVIEW)
        states = []
        for state in (RoundState.RUNNING, RoundState.DONE):
            await tx.set_round_state(round_.id, state)
            loaded = await tx.get_round(round_.id)
            assert loaded is not None
            states.append(loaded.state)
    assert states == [RoundState.RUNNING, RoundState.DONE]


async def test_current_group_is_from_the_latest_running_round(store: Store) -> None:
    """A member's current group comes from the running round, not a preview or a done one."""
    async with store.transaction() as tx:
        meetup = await lisbon_meetup(tx, ANN, BEN, CAT)
        await tx.create_round(meetup.id, 1, [group(ANN, CAT)], RoundState.DONE)
        running = await tx.create_round(meetup.id, 2, [group(ANN, BEN)], RoundState.RUNNING)
        await tx.create_round(meetup.id, 3, [group(ANN, CAT)], RoundState.PREVIEW)
        current = await tx.current_group(ANN)
    assert current is not None
    assert (current[0].id, current[1]) == (running.id, group(ANN, BEN))


async def test_no_current_group_after_leaving_the_meetup(store: Store) -> None:
    """Once a member left, their running round is no longer theirs."""
    async with store.transaction() as tx:
        meetup = await lisbon_meetup(tx, ANN, BEN)
        await tx.create_round(meetup.id, 1, [group(ANN, BEN)], RoundState.RUNNING)
        await tx.leave(meetup.id, ANN)
        assert await tx.current_group(ANN) is None
        assert await tx.current_group(BEN) is not None


# --- encounters ----------------------------------------------------------------------------
async def test_record_encounters_writes_every_pair_of_a_trio(store: Store) -> None:
    """A trio is three encounters; a pair in the same round is one more."""
    await met(store, group(ANN, BEN, CAT), group(DAN, EVE))
    async with store.transaction() as tx:
        pairs = {
            frozenset((e.a, e.b))
            for e in await tx.past_encounters([r.key for r in (ANN, BEN, CAT, DAN, EVE)])
        }
    assert pairs == {
        frozenset((ANN.key, BEN.key)),
        frozenset((ANN.key, CAT.key)),
        frozenset((BEN.key, CAT.key)),
        frozenset((DAN.key, EVE.key)),
    }


async def test_record_encounters_gives_each_pair_of_a_trio_only_what_it_shares(
    store: Store,
) -> None:
    """In a trio, a topic two of them share is recorded for that pair, not for all three."""
    trio = group(ANN, BEN, CAT, topics=("sourdough", "Lisbon"))
    await met(store, trio, topics={pair(ANN, BEN): ["sourdough"], pair(CAT, ANN): ("Lisbon",)})
    async with store.transaction() as tx:
        encounters = await tx.encounters_of(ANN)
    assert {(e.other, e.topics) for e in encounters} == {
        (BEN.key, ("sourdough",)),
        (CAT.key, ("Lisbon",)),
    }


async def test_record_encounters_gives_no_topics_to_a_pair_missing_from_topics(
    store: Store,
) -> None:
    """A pair the mapping leaves out shares nothing, even when the group has reason topics."""
    trio = group(ANN, BEN, CAT, topics=("sourdough",))
    await met(store, trio, topics={pair(ANN, BEN): ["sourdough"]})
    async with store.transaction() as tx:
        encounters = await tx.encounters_of(CAT)
    assert {(e.other, e.topics) for e in encounters} == {(ANN.key, ()), (BEN.key, ())}


async def test_record_encounters_refuses_a_bare_string_as_a_pairs_topics(store: Store) -> None:
    """A string is not a list of phrases; it would be recorded letter by letter."""
    with pytest.raises(ValueError):
        await met(store, group(ANN, BEN), topics={pair(ANN, BEN): "sourdough"})


async def test_recording_a_round_twice_does_not_double_its_encounters(store: Store) -> None:
    """record_encounters is safe to repeat after a crash."""
    round_id = await met(store, group(ANN, BEN))
    async with store.transaction() as tx:
        await tx.record_encounters(round_id, START)
        encounters = await tx.encounters_of(ANN)
    assert len(encounters) == 1


async def test_past_encounters_only_among_given_keys(store: Store) -> None:
    """Pairs with someone outside the asked keys are left out."""
    await met(store, group(ANN, BEN), group(CAT, DAN))
    async with store.transaction() as tx:
        past = await tx.past_encounters([ANN.key, BEN.key, CAT.key])
    assert [frozenset((e.a, e.b)) for e in past] == [frozenset((ANN.key, BEN.key))]
    assert past[0].at == START


async def test_encounters_of_newest_first_with_names_and_topics(store: Store) -> None:
    """Recall shows the meetup, the other's name and what the group shared, newest first."""
    async with store.transaction() as tx:
        await lisbon_meetup(tx, ANN, BEN, CAT)
    await met(store, group(ANN, BEN, topics=("Lisbon",)), at=START)
    await met(store, group(CAT, ANN, topics=("climbing", "Shanghai")), at=START + timedelta(days=7))
    async with store.transaction() as tx:
        encounters = await tx.encounters_of(ANN)
    assert [(e.other, e.other_name, e.topics, e.meetup_name) for e in encounters] == [
        (CAT.key, "Cat", ("climbing", "Shanghai"), "Lisbon Lovers"),
        (BEN.key, "Ben", ("Lisbon",), "Lisbon Lovers"),
    ]
    assert [e.member for e in encounters] == [ANN.key, ANN.key]
    assert encounters[0].at == START + timedelta(days=7)


async def test_encounter_keeps_the_name_from_the_time_of_meeting(store: Store) -> None:
    """A later rename does not rewrite whom I met."""
    async with store.transaction() as tx:
        await lisbon_meetup(tx, ANN, BEN)
    await met(store, group(ANN, BEN))
    async with store.transaction() as tx:
        await tx.upsert_member(BEN, "Benjamin")
        (encounter,) = await tx.encounters_of(ANN)
    assert encounter.other_name == "Ben"


async def test_have_met_in_either_order(store: Store) -> None:
    """have_met is symmetric and False for strangers."""
    await met(store, group(ANN, BEN))
    async with store.transaction() as tx:
        assert await tx.have_met(BEN, ANN)
        assert await tx.have_met(ANN, BEN)
        assert not await tx.have_met(ANN, CAT)


# --- icebreakers ---------------------------------------------------------------------------
async def test_icebreaker_shown_to_a_group_counts_as_used_by_those_people(store: Store) -> None:
    """The same set of people, in any round or order, has used the prompt; others have not."""
    async with store.transaction() as tx:
        meetup = await lisbon_meetup(tx)
        first = await tx.create_round(meetup.id, 1, [group(ANN, BEN)], RoundState.RUNNING)
        await tx.set_group_icebreaker(first.id, group(BEN, ANN).key, "shared.city.1")
        loaded = await tx.get_round(first.id)
        used = await tx.used_icebreakers(group(BEN, ANN).key)
        others = await tx.used_icebreakers(group(ANN, CAT).key)
    assert loaded is not None and loaded.groups[0].icebreaker_id == "shared.city.1"
    assert (used, others) == ({"shared.city.1"}, set())


async def test_running_round_counts_its_groups_icebreakers_as_used(store: Store) -> None:
    """Prompts chosen at pairing time count once the round runs, not while it is a preview."""
    chosen = Group((ANN.key, BEN.key), icebreaker_id="shared.hobby.2")
    async with store.transaction() as tx:
        meetup = await lisbon_meetup(tx)
        round_ = await tx.create_round(meetup.id, 1, [chosen], RoundState.PREVIEW)
        assert await tx.used_icebreakers(chosen.key) == set()
        await tx.set_round_state(round_.id, RoundState.RUNNING)
        assert await tx.used_icebreakers(chosen.key) == {"shared.hobby.2"}


# --- blocks --------------------------------------------------------------------------------
async def test_blocks_count_in_either_direction(store: Store) -> None:
    """A block by Ann of Ben shows as the pair {Ann, Ben} among any keys holding both."""
    async with store.transaction() as tx:
        await tx.add_block(BEN, ANN)
        among = await tx.blocks_among([ANN.key, BEN.key, CAT.key])
        without_ben = await tx.blocks_among([ANN.key, CAT.key])
    assert among == {frozenset((ANN.key, BEN.key))}
    assert without_ben == set()


async def test_blocks_are_added_and_removed_once(store: Store) -> None:
    """add_block and remove_block report whether anything changed; blocked_by lists mine."""
    async with store.transaction() as tx:
        assert await tx.add_block(ANN, BEN) is True
        assert await tx.add_block(ANN, BEN) is False
        await tx.add_block(ANN, CAT)
        assert set(await tx.blocked_by(ANN)) == {BEN.key, CAT.key}
        assert await tx.blocked_by(BEN) == []
        assert await tx.remove_block(ANN, BEN) is True
        assert await tx.remove_block(ANN, BEN) is False
        assert await tx.blocked_by(ANN) == [CAT.key]


# --- notes ---------------------------------------------------------------------------------
async def test_notes_are_private_to_their_author(store: Store) -> None:
    """notes_by never returns a note someone else wrote, even one about the author."""
    async with store.transaction() as tx:
        await tx.add_note(ANN, BEN, "told me about Shanghai", again=True)
        await tx.add_note(BEN, ANN, "climbs in Lisbon", again=False)
        await tx.add_note(CAT, ANN, "lovely", again=True)
        notes = await tx.notes_by(ANN)
    assert [(n.author, n.about, n.text) for n in notes] == [
        (ANN.key, BEN.key, "told me about Shanghai")
    ]


async def test_notes_by_newest_first(store: Store) -> None:
    """A later note about the same person is kept too, and listed first."""
    async with store.transaction() as tx:
        first = await tx.add_note(ANN, BEN, "first", again=False)
        second = await tx.add_note(ANN, BEN, "second", again=True)
        notes = await tx.notes_by(ANN)
    assert notes == [second, first]
    assert second.created_at > first.created_at


async def test_wants_again_follows_the_latest_note(store: Store) -> None:
    """Changing one's mind in a later note changes the wish; no note means no wish."""
    async with store.transaction() as tx:
        assert await tx.wants_again(ANN, BEN) is False
        await tx.add_note(ANN, BEN, "nice", again=True)
        assert await tx.wants_again(ANN, BEN) is True
        await tx.add_note(ANN, BEN, "on second thought", again=False)
        assert await tx.wants_again(ANN, BEN) is False
        assert await tx.wants_again(BEN, ANN) is False


async def test_mutual_wish_is_revealed_only_once(store: Store) -> None:
    """mark_again_revealed is True the first time only, whichever of the two asks."""
    async with store.transaction() as tx:
        assert await tx.mark_again_revealed(ANN, BEN) is True
        assert await tx.mark_again_revealed(BEN, ANN) is False
        assert await tx.mark_again_revealed(ANN, CAT) is True


# --- privacy -------------------------------------------------------------------------------
async def test_export_contains_card_notes_by_me_and_encounters(store: Store) -> None:
    """The export holds my profile, card, attendance, blocks, notes and encounters."""
    async with store.transaction() as tx:
        await lisbon_meetup(tx, ANN, BEN)
        await tx.set_card(ANN, Card(("Ulaanbaatar",), ("Lisbon",)))
        await tx.add_note(ANN, BEN, "told me about Shanghai", again=True)
        await tx.add_block(ANN, CAT)
    await met(store, group(ANN, BEN, topics=("Lisbon",)))
    async with store.transaction() as tx:
        exported = json.loads(json.dumps(await tx.export_member(ANN)))
    text = json.dumps(exported, ensure_ascii=False)
    for expected in ("Ann", "Ulaanbaatar", "told me about Shanghai", BEN.key, CAT.key):
        assert expected in text
    assert exported["card"] == {"curious_about": ["Ulaanbaatar"], "can_tell_about": ["Lisbon"]}
    assert [n["text"] for n in exported["notes"]] == ["told me about Shanghai"]
    assert [e["other"] for e in exported["encounters"]] == [BEN.key]


async def test_export_leaves_out_notes_others_wrote_about_me(store: Store) -> None:
    """A note about me is its author's; my export does not show it."""
    async with store.transaction() as tx:
        await tx.add_note(BEN, ANN, "secret impression of Ann", again=True)
        exported = await tx.export_member(ANN)
    assert "secret impression" not in json.dumps(exported, ensure_ascii=False)


async def test_forget_member_deletes_card_notes_blocks_attendance_and_profile(
    store: Store,
) -> None:
    """After "forget me" nothing by or about the member is left but anonymous encounters."""
    async with store.transaction() as tx:
        meetup = await lisbon_meetup(tx, ANN, BEN)
        await tx.set_card(ANN, Card(("Lisbon",)))
        await tx.add_note(ANN, BEN, "by Ann", again=True)
        await tx.add_note(BEN, ANN, "about Ann", again=True)
        await tx.add_block(ANN, CAT)
        await tx.add_block(CAT, ANN)
        await tx.mark_again_revealed(ANN, BEN)
        await tx.forget_member(ANN)
    async with store.transaction() as tx:
        assert await tx.get_member(ANN) is None
        assert await tx.get_card(ANN) == Card()
        assert await tx.notes_by(ANN) == []
        assert await tx.notes_by(BEN) == []
        assert await tx.wants_again(BEN, ANN) is False
        assert await tx.blocks_among([ANN.key, CAT.key]) == set()
        assert await tx.attendees(meetup.id) == [BEN.key]
        assert await tx.meetups_of(ANN) == []
        assert await tx.mark_again_revealed(ANN, BEN) is True


async def test_forget_member_leaves_the_other_side_a_meeting_with_someone(store: Store) -> None:
    """Ben still sees that he met someone, when and over what, but not who."""
    async with store.transaction() as tx:
        await lisbon_meetup(tx, ANN, BEN)
    await met(store, group(ANN, BEN, topics=("Lisbon",)))
    async with store.transaction() as tx:
        await tx.forget_member(ANN)
    async with store.transaction() as tx:
        (encounter,) = await tx.encounters_of(BEN)
        mine = await tx.encounters_of(ANN)
        past = await tx.past_encounters([ANN.key, BEN.key])
        assert not await tx.have_met(ANN, BEN)
        exported = await tx.export_member(BEN)
    assert (encounter.other, encounter.other_name, encounter.topics) == (
        None,
        "someone",
        ("Lisbon",),
    )
    assert (encounter.at, encounter.meetup_name) == (START, "Lisbon Lovers")
    assert (mine, past) == ([], [])
    assert ANN.key not in json.dumps(exported) and "Ann" not in json.dumps(exported)


async def test_forget_member_takes_them_out_of_round_groups(store: Store) -> None:
    """The others keep their group; the forgotten member's key is gone from rounds."""
    trio = Group(
        (ANN.key, BEN.key, CAT.key),
        reasons=(
            Reason(ReasonKind.COMPLEMENTARY, "Shanghai", teller=ANN.key, asker=BEN.key),
            Reason(ReasonKind.SHARED, "climbing"),
        ),
        icebreaker_id="shared.hobby.1",
    )
    async with store.transaction() as tx:
        meetup = await lisbon_meetup(tx, ANN, BEN, CAT)
        round_ = await tx.create_round(meetup.id, 1, [trio], RoundState.RUNNING)
        await tx.forget_member(ANN)
        loaded = await tx.get_round(round_.id)
        current = await tx.current_group(BEN)
        used = await tx.used_icebreakers(trio.key)
    assert loaded is not None
    (remaining,) = loaded.groups
    assert remaining.members == (BEN.key, CAT.key)
    assert remaining.reasons == (Reason(ReasonKind.SHARED, "climbing"),)
    assert current is not None and current[1] == remaining
    assert used == set()


async def test_forget_member_drops_messages_addressed_to_them(store: Store) -> None:
    """Pending private messages to a forgotten member are not delivered."""
    async with store.transaction() as tx:
        await tx.enqueue(NewOutboxMessage("guild-1", TargetKind.MEMBER, ANN.key, "dm", "Hi Ann"))
        room_id = await tx.enqueue(message())
        await tx.forget_member(ANN)
        pending = await tx.pending_outbox()
    assert [m.id for m in pending] == [room_id]


async def test_forget_member_drops_sent_messages_to_others_that_name_them(store: Store) -> None:
    """After "forget me", no sent message keeps their key or name, whoever it went to."""
    payload = {"group": [BEN.key, CAT.key], "partners": [BEN.key], "partner_names": ["Ben"]}
    async with store.transaction() as tx:
        to_cat = await tx.enqueue(
            NewOutboxMessage("guild-1", TargetKind.MEMBER, CAT.key, "pairing", "Meet Ben", payload)
        )
        to_room = await tx.enqueue(
            NewOutboxMessage("guild-1", TargetKind.ROOM, "room-1", "x", "Ben", {"who": BEN.key})
        )
        unrelated = await tx.enqueue(message("Round 1 started"))
        for message_id in (to_cat, to_room, unrelated):
            await tx.mark_sent(message_id, START)
        await tx.forget_member(BEN)
    rows = stored_outbox(store)
    assert [row["id"] for row in rows] == [unrelated]
    assert not any(BEN.key in row["payload"] or "Ben" in row["payload"] for row in rows)


async def test_forget_member_keeps_pending_messages_to_others_that_name_them(
    store: Store,
) -> None:
    """A message still due to someone else is delivered, even if it names them."""
    payload = {"partners": [BEN.key], "partner_names": ["Ben"]}
    async with store.transaction() as tx:
        due = await tx.enqueue(
            NewOutboxMessage("guild-1", TargetKind.MEMBER, CAT.key, "pairing", "Meet Ben", payload)
        )
        await tx.forget_member(BEN)
        pending = await tx.pending_outbox()
    assert [m.id for m in pending] == [due]


async def test_forget_member_drops_only_messages_naming_exactly_them(store: Store) -> None:
    """Their key matches as a whole and literally: no prefix match, no LIKE wildcards."""
    wildcard = MemberRef("console", "b_n%")
    others = ("console:ben", "console:b_n%2", "x:b_n%", "x:console:b_n%")
    async with store.transaction() as tx:
        ids = [
            await tx.enqueue(
                NewOutboxMessage("guild-1", TargetKind.ROOM, "room-1", "x", "hi", {"who": key})
            )
            for key in others
        ]
        for message_id in ids:
            await tx.mark_sent(message_id, START)
        await tx.forget_member(wildcard)
    assert [row["id"] for row in stored_outbox(store)] == ids


async def test_purge_older_than_removes_old_notes_encounters_and_sent_messages(
    store: Store, clock: TickingClock
) -> None:
    """Retention deletes what is older than the cutoff, keeps the rest, and counts rows."""
    old, new = START, START + timedelta(days=400)
    cutoff = START + timedelta(days=365)
    await met(store, group(ANN, BEN), at=old)
    await met(store, group(ANN, CAT), at=new)
    async with store.transaction() as tx:
        clock.now = old
        await tx.add_note(ANN, BEN, "old note", again=False)
        sent_old = await tx.enqueue(message("old"))
        await tx.mark_sent(sent_old, old)
        unsent_old = await tx.enqueue(message("old but never sent"))
        clock.now = new
        await tx.add_note(ANN, CAT, "new note", again=False)
        sent_new = await tx.enqueue(message("new"))
        await tx.mark_sent(sent_new, new)
    async with store.transaction() as tx:
        removed = await tx.purge_older_than(cutoff)
        notes = await tx.notes_by(ANN)
        encounters = await tx.encounters_of(ANN)
        pending = await tx.pending_outbox()
    assert removed == 3
    assert [n.text for n in notes] == ["new note"]
    assert [e.other for e in encounters] == [CAT.key]
    assert [m.id for m in pending] == [unsent_old]


OLD, CUTOFF, NEW = START, START + timedelta(days=365), START + timedelta(days=400)


async def test_purge_older_than_removes_old_done_rounds(store: Store, clock: TickingClock) -> None:
    """A round that ended before the cutoff is gone, groups and all."""
    old_done = await round_created_at(store, clock, OLD, RoundState.DONE, group(ANN, BEN))
    clock.now = NEW
    async with store.transaction() as tx:
        await tx.purge_older_than(CUTOFF)
        assert await tx.get_round(old_done) is None


async def test_purge_older_than_keeps_previews_running_and_newer_done_rounds(
    store: Store, clock: TickingClock
) -> None:
    """Only old DONE rounds go: an old preview or running round stays, as does a new one."""
    kept = [
        await round_created_at(store, clock, OLD, RoundState.PREVIEW, group(ANN, BEN)),
        await round_created_at(store, clock, OLD, RoundState.RUNNING, group(CAT, DAN)),
        await round_created_at(store, clock, NEW, RoundState.DONE, group(ANN, CAT)),
    ]
    async with store.transaction() as tx:
        await tx.purge_older_than(CUTOFF)
        rounds = [await tx.get_round(round_id) for round_id in kept]
    assert [r.id if r else None for r in rounds] == kept
    assert [len(r.groups) if r else 0 for r in rounds] == [1, 1, 1]


async def test_purge_older_than_counts_a_round_with_its_groups_and_memberships(
    store: Store, clock: TickingClock
) -> None:
    """A DONE round of a trio and a pair is 1 round + 2 groups + 5 memberships = 8 rows."""
    await round_created_at(
        store, clock, OLD, RoundState.DONE, group(ANN, BEN, CAT), group(DAN, EVE)
    )
    async with store.transaction() as tx:
        assert await tx.purge_older_than(CUTOFF) == 8
        assert await tx.purge_older_than(CUTOFF) == 0


async def test_purge_older_than_removes_an_encounter_with_its_round(
    store: Store, clock: TickingClock
) -> None:
    """An encounter of a purged round goes with it, even if recorded after the cutoff."""
    round_id = await round_created_at(store, clock, OLD, RoundState.DONE, group(ANN, BEN))
    async with store.transaction() as tx:
        await tx.record_encounters(round_id, NEW)
    async with store.transaction() as tx:
        await tx.purge_older_than(CUTOFF)
        encounters = await tx.encounters_of(ANN)
        met_before = await tx.have_met(ANN, BEN)
    assert (encounters, met_before) == ([], False)


async def test_purge_older_than_removes_old_icebreaker_uses(
    store: Store, clock: TickingClock
) -> None:
    """A prompt a group was given before the cutoff may be given to them again."""
    old_pair = Group((ANN.key, BEN.key), icebreaker_id="shared.city.1")
    new_pair = Group((CAT.key, DAN.key), icebreaker_id="shared.city.2")
    await round_created_at(store, clock, OLD, RoundState.RUNNING, old_pair)
    await round_created_at(store, clock, NEW, RoundState.RUNNING, new_pair)
    async with store.transaction() as tx:
        await tx.purge_older_than(CUTOFF)
        old_used = await tx.used_icebreakers(old_pair.key)
        new_used = await tx.used_icebreakers(new_pair.key)
    assert (old_used, new_used) == (set(), {"shared.city.2"})


# --- outbox --------------------------------------------------------------------------------
async def test_pending_outbox_is_oldest_first(store: Store) -> None:
    """Messages come out in the order they were enqueued, up to the limit."""
    async with store.transaction() as tx:
        ids = [await tx.enqueue(message(f"message {n}")) for n in range(3)]
        pending = await tx.pending_outbox()
        first_two = await tx.pending_outbox(limit=2)
    assert [m.id for m in pending] == ids
    assert [m.text for m in pending] == ["message 0", "message 1", "message 2"]
    assert [m.id for m in first_two] == ids[:2]


async def test_pending_outbox_of_one_platform(store: Store) -> None:
    """An adapter sees only its platform's messages, oldest first; the limit counts those."""
    async with store.transaction() as tx:
        for community in ("discord:1", "matrix:@bot:x.org", "discord:2", "discordx:3"):
            await tx.enqueue(
                NewOutboxMessage(community, TargetKind.ROOM, "room", "test", community)
            )
        discord = await tx.pending_outbox(platform="discord")
        one = await tx.pending_outbox(limit=1, platform="matrix")
        everything = await tx.pending_outbox()
    assert [m.text for m in discord] == ["discord:1", "discord:2"]
    assert [m.text for m in one] == ["matrix:@bot:x.org"]
    assert len(everything) == 4


async def test_outbox_message_reads_back_as_enqueued(store: Store) -> None:
    """Target, kind, literal text and payload survive; it is unsent with a creation time."""
    new = NewOutboxMessage(
        "guild-1",
        TargetKind.MEMBER,
        ANN.key,
        "reveal",
        "**Ben** wants to talk again 🎉 '; DROP TABLE outbox; --",
        {"round_id": 3, "members": [ANN.key, BEN.key], "note": None},
    )
    async with store.transaction() as tx:
        message_id = await tx.enqueue(new)
        (stored,) = await tx.pending_outbox()
    assert stored.id == message_id
    assert (stored.community_id, stored.target_kind, stored.target, stored.kind) == (
        "guild-1",
        TargetKind.MEMBER,
        ANN.key,
        "reveal",
    )
    assert (stored.text, stored.payload, stored.sent_at) == (new.text, new.payload, None)
    assert stored.created_at is not None and stored.created_at.utcoffset() == timedelta(0)


async def test_mark_sent_removes_a_message_from_pending(store: Store) -> None:
    """A sent message is never handed out again."""
    async with store.transaction() as tx:
        sent = await tx.enqueue(message("one"))
        kept = await tx.enqueue(message("two"))
        await tx.mark_sent(sent, START)
        pending = await tx.pending_outbox()
    assert [m.id for m in pending] == [kept]


async def test_record_failure_counts_the_attempts(store: Store) -> None:
    """Each failed attempt adds one; the count is per message."""
    async with store.transaction() as tx:
        first = await tx.enqueue(message("one"))
        second = await tx.enqueue(message("two"))
        counts = [
            await tx.record_failure(first, "timeout"),
            await tx.record_failure(first, "timeout"),
            await tx.record_failure(second, "timeout"),
        ]
    assert counts == [1, 2, 1]


async def test_record_failure_on_a_message_that_is_gone_returns_zero(store: Store) -> None:
    """A message deleted meanwhile (forgotten, purged) is no error; nothing is counted."""
    async with store.transaction() as tx:
        await tx.enqueue(NewOutboxMessage("guild-1", TargetKind.MEMBER, ANN.key, "dm", "Hi"))
        (gone,) = await tx.pending_outbox()
        await tx.forget_member(ANN)
        assert await tx.record_failure(gone.id, "forbidden") == 0


async def test_a_failed_message_stays_pending_until_marked_sent(store: Store) -> None:
    """A failure does not drop a message; the delivery worker gives up by marking it sent."""
    async with store.transaction() as tx:
        message_id = await tx.enqueue(message())
        await tx.record_failure(message_id, "timeout")
        still_pending = [m.id for m in await tx.pending_outbox()]
        await tx.mark_sent(message_id, START)
        after_giving_up = await tx.pending_outbox()
    assert (still_pending, after_giving_up) == ([message_id], [])


async def test_record_failure_keeps_the_latest_error_cut_short(store: Store) -> None:
    """The last error is kept, at most 300 characters of it."""
    async with store.transaction() as tx:
        message_id = await tx.enqueue(message())
        await tx.record_failure(message_id, "first")
        await tx.record_failure(message_id, "é" * 299 + "🎉" + "overflow")
    (row,) = stored_outbox(store)
    assert (row["attempts"], row["last_error"]) == (2, "é" * 299 + "🎉")


# --- adapter state ---------------------------------------------------------------------------
async def test_adapter_state_reads_back_what_was_set_and_is_replaced(store: Store) -> None:
    """A key starts empty, reads back its value, and a second set replaces it."""
    async with store.transaction() as tx:
        assert await tx.get_state("matrix.sync_token") is None
        await tx.set_state("matrix.sync_token", "s1_2_3")
        await tx.set_state("matrix.dm.@ann:example.org", "!dm:example.org")
    async with store.transaction() as tx:
        assert await tx.get_state("matrix.sync_token") == "s1_2_3"
        await tx.set_state("matrix.sync_token", "s4_5_6 🎉")
    async with store.transaction() as tx:
        assert await tx.get_state("matrix.sync_token") == "s4_5_6 🎉"
        assert await tx.get_state("matrix.dm.@ann:example.org") == "!dm:example.org"


async def test_adapter_state_delete_removes_only_that_key(store: Store) -> None:
    """Deleting says whether there was something; other keys stay."""
    async with store.transaction() as tx:
        await tx.set_state("a", "1")
        await tx.set_state("b", "2")
        assert await tx.delete_state("a") is True
        assert await tx.delete_state("a") is False
    async with store.transaction() as tx:
        assert await tx.get_state("a") is None
        assert await tx.get_state("b") == "2"


async def test_adapter_state_rolls_back_with_its_transaction(store: Store) -> None:
    """A sync token written in a failed transaction is not kept (no event is skipped)."""
    with pytest.raises(Boom):
        async with store.transaction() as tx:
            await tx.set_state("matrix.sync_token", "s9")
            raise Boom
    async with store.transaction() as tx:
        assert await tx.get_state("matrix.sync_token") is None


async def test_adapter_state_survives_closing_and_reopening(
    store: Store, make_store: StoreFactory
) -> None:
    """The sync token is there after a restart: old commands are not replayed."""
    async with store.transaction() as tx:
        await tx.set_state("matrix.sync_token", "s42")
    await store.close()
    reopened = make_store()
    await reopened.open()
    try:
        async with reopened.transaction() as tx:
            assert await tx.get_state("matrix.sync_token") == "s42"
    finally:
        await reopened.close()


# --- transactions and durability -----------------------------------------------------------
class Boom(Exception):
    pass


async def test_a_transaction_that_raises_leaves_no_state_and_no_message(store: Store) -> None:
    """Nothing lost, nothing sent twice: a failed use case writes neither state nor outbox."""
    with pytest.raises(Boom):
        async with store.transaction() as tx:
            meetup = await lisbon_meetup(tx, ANN)
            await tx.set_card(ANN, Card(("Lisbon",)))
            await tx.enqueue(message("Welcome, Ann!"))
            raise Boom
    async with store.transaction() as tx:
        assert await tx.get_community("guild-1") is None
        assert await tx.get_meetup(meetup.id) is None
        assert await tx.get_card(ANN) == Card()
        assert await tx.pending_outbox() == []


async def test_the_store_works_again_after_a_failed_transaction(store: Store) -> None:
    """A rollback does not poison the next transaction."""
    with pytest.raises(Boom):
        async with store.transaction() as tx:
            await tx.set_card(ANN, Card(("Lisbon",)))
            raise Boom
    async with store.transaction() as tx:
        await tx.set_card(ANN, Card(("Porto",)))
    async with store.transaction() as tx:
        assert await tx.get_card(ANN) == Card(("Porto",))


async def test_concurrent_transactions_do_not_interleave(store: Store) -> None:
    """Two use cases running at once each see and write a consistent state."""
    order: list[str] = []

    async def use_case(name: str, ref: MemberRef) -> None:
        async with store.transaction() as tx:
            order.append(f"{name} begins")
            meetup = await lisbon_meetup(tx)
            await asyncio.sleep(0.01)
            await tx.join(meetup.id, ref)
            order.append(f"{name} ends")

    await asyncio.gather(use_case("ann", ANN), use_case("ben", BEN))
    async with store.transaction() as tx:
        meetup = await lisbon_meetup(tx)
        assert set(await tx.attendees(meetup.id)) == {ANN.key, BEN.key}
    assert order in (
        ["ann begins", "ann ends", "ben begins", "ben ends"],
        ["ben begins", "ben ends", "ann begins", "ann ends"],
    )


async def test_data_survives_closing_and_reopening(store: Store, make_store: StoreFactory) -> None:
    """What was committed is there after a restart."""
    async with store.transaction() as tx:
        meetup = await lisbon_meetup(tx, ANN, BEN)
        await tx.set_card(ANN, Card(("Lisbon 🇵🇹",)))
        await tx.add_note(ANN, BEN, "climbs", again=True)
        message_id = await tx.enqueue(message())
    await store.close()
    reopened = make_store()
    await reopened.open()
    try:
        async with reopened.transaction() as tx:
            assert await tx.attendees(meetup.id) == [ANN.key, BEN.key]
            assert await tx.get_card(ANN) == Card(("Lisbon 🇵🇹",))
            assert [n.text for n in await tx.notes_by(ANN)] == ["climbs"]
            assert [m.id for m in await tx.pending_outbox()] == [message_id]
    finally:
        await reopened.close()


async def test_timestamps_come_back_as_the_same_utc_instant(store: Store) -> None:
    """An aware datetime in any zone reads back as the same instant, in UTC."""
    berlin = datetime(2026, 5, 1, 20, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    await met(store, group(ANN, BEN), at=berlin)
    async with store.transaction() as tx:
        (encounter,) = await tx.encounters_of(ANN)
    assert encounter.at == berlin
    assert encounter.at.utcoffset() == timedelta(0)


async def test_a_transaction_cancelled_at_any_point_is_all_or_nothing(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """A shutdown cancels tasks mid-transaction, even while COMMIT runs: the message is then
    stored or not, never half, the store stays usable, and nothing is logged as an error."""
    caplog.set_level(logging.WARNING)
    for steps in range(40):

        async def write(n: int = steps) -> None:
            async with store.transaction() as tx:
                await tx.enqueue(message(f"cancelled after {n} steps"))
                await tx.enqueue(message(f"second of {n}"))

        task = asyncio.create_task(write())
        for _ in range(steps):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    async with store.transaction() as tx:
        texts = [m.text for m in await tx.pending_outbox(limit=1000)]
    for steps in range(40):
        assert (f"cancelled after {steps} steps" in texts) == (f"second of {steps}" in texts)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []

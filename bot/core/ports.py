"""The Store port: what the core needs from persistence, and nothing about how.

Every use case runs inside one transaction::

    async with store.transaction() as tx:
        await tx.set_card(ref, card)
        await tx.enqueue(message)

so a state change and the messages it causes are written together or not at all.
Implementations live in ``bot.storage`` (SQLite today, PostgreSQL later) and are checked by one
contract test suite.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Protocol

from bot.core.models import (
    Card,
    Community,
    Encounter,
    Group,
    Meetup,
    Member,
    MemberRef,
    NewOutboxMessage,
    Note,
    OutboxMessage,
    PastEncounter,
    Round,
    RoundState,
)


class StoreError(Exception):
    """A storage problem the user or operator must act on; the message says what to do."""


class StoreTx(Protocol):
    """One transaction. Member arguments are ``MemberRef``; results use member keys.

    Datetimes go in timezone-aware (a naive one raises ``ValueError``) and come out in UTC.
    Changing something by an id or key the store does not know raises ``LookupError``; a
    request that breaks a rule below raises ``ValueError``. Both are caller bugs, not
    ``StoreError``.
    """

    # --- communities and members -------------------------------------------------------
    async def ensure_community(self, community_id: str, language: str) -> Community:
        """Create the community if new (with ``language``); return it as stored."""

    async def get_community(self, community_id: str) -> Community | None: ...

    async def set_community_language(self, community_id: str, language: str) -> None:
        """``LookupError`` for an unknown community."""

    async def upsert_member(self, ref: MemberRef, display_name: str) -> Member:
        """Create or update the member's display name; keeps their language."""

    async def get_member(self, ref: MemberRef) -> Member | None: ...

    async def get_members(self, keys: Iterable[str]) -> dict[str, Member]:
        """Members by key; unknown keys are simply absent."""

    async def find_members(self, platform: str, name: str) -> list[Member]:
        """Members on ``platform`` whose display name equals ``name`` (case-insensitive)."""

    async def set_member_language(self, ref: MemberRef, language: str | None) -> None:
        """``LookupError`` for a member without a profile (``upsert_member`` first)."""

    # --- curiosity cards -----------------------------------------------------------------
    async def get_card(self, ref: MemberRef) -> Card:
        """The member's card; an empty ``Card()`` when they have none."""

    async def get_cards(self, keys: Iterable[str]) -> dict[str, Card]:
        """Cards by member key (members without a card get ``Card()``)."""

    async def set_card(self, ref: MemberRef, card: Card) -> None: ...

    # --- meetups and attendance ----------------------------------------------------------
    async def ensure_meetup(self, community_id: str, room: str, name: str) -> Meetup:
        """The meetup held in ``room`` of the community, created on first use (it keeps its
        first name). The community must exist (``ensure_community`` first)."""

    async def get_meetup(self, meetup_id: int) -> Meetup | None: ...

    async def find_meetup(self, community_id: str, room: str) -> Meetup | None: ...

    async def join(self, meetup_id: int, ref: MemberRef) -> bool:
        """Record consent to be paired in this meetup. False if already joined (their place
        in the join order stays)."""

    async def leave(self, meetup_id: int, ref: MemberRef) -> bool:
        """False if the member was not attending."""

    async def attendees(self, meetup_id: int) -> list[str]:
        """Member keys attending, in join order."""

    async def meetups_of(self, ref: MemberRef) -> list[Meetup]:
        """Meetups the member currently attends."""

    # --- rounds and encounters -----------------------------------------------------------
    async def create_round(
        self, meetup_id: int, seed: int, groups: Sequence[Group], state: RoundState
    ) -> Round:
        """A new round numbered after the meetup's last one, with its groups.

        ``seed`` must fit a signed 64-bit integer and a member may be in one group only
        (``ValueError``). Created RUNNING or DONE, its groups' ``icebreaker_id`` count as used.
        """

    async def replace_round_groups(
        self, round_id: int, seed: int, groups: Sequence[Group]
    ) -> Round:
        """Replace a PREVIEW round's groups and seed (a fresh preview); ``ValueError`` for a
        round that is no longer a preview."""

    async def get_round(self, round_id: int) -> Round | None: ...

    async def latest_round(self, meetup_id: int) -> Round | None:
        """The meetup's highest-numbered round, whatever its state."""

    async def running_round(self, meetup_id: int) -> Round | None:
        """The meetup's RUNNING round, if any (a newer PREVIEW may exist beside it)."""

    async def set_round_state(self, round_id: int, state: RoundState) -> None:
        """Moving to RUNNING or DONE counts the groups' ``icebreaker_id`` as used."""

    async def record_encounters(
        self,
        round_id: int,
        at: datetime,
        topics: Mapping[frozenset[str], Sequence[str]] | None = None,
    ) -> None:
        """Write every pair within every group of the round as an encounter at ``at``, with
        the members' display names now. ``topics`` gives what each pair (a frozenset of two
        member keys) shares; a pair missing from it gets no topics. Without ``topics``, the
        group's reason topics are used. Repeating it for the same round adds nothing."""

    async def past_encounters(self, keys: Iterable[str]) -> list[PastEncounter]:
        """Encounters where both members are among ``keys`` (what repeat-avoidance reads),
        oldest first; one per pair and round."""

    async def encounters_of(self, ref: MemberRef) -> list[Encounter]:
        """The member's encounters, newest first, with meetup name, other's name, topics.
        When the other person used "forget me", ``other`` is None (``other_name`` "someone";
        render it from ``other is None`` in the reader's language)."""

    async def have_met(self, a: MemberRef, b: MemberRef) -> bool: ...

    async def current_group(self, ref: MemberRef) -> tuple[Round, Group] | None:
        """The member's group in the latest RUNNING round of any meetup they attend."""

    async def set_group_icebreaker(self, round_id: int, group_key: str, prompt_id: str) -> None:
        """Remember the prompt now shown to the group (and count it as used by them).
        ``LookupError`` if the round has no group with that key."""

    async def used_icebreakers(self, group_key: str) -> set[str]:
        """Prompt ids this exact set of people has already been given, in any round."""

    # --- blocks --------------------------------------------------------------------------
    async def add_block(self, who: MemberRef, whom: MemberRef) -> bool:
        """False if it already existed. ``ValueError`` if ``who`` is ``whom``."""

    async def remove_block(self, who: MemberRef, whom: MemberRef) -> bool:
        """False if there was none."""

    async def blocks_among(self, keys: Iterable[str]) -> set[frozenset[str]]:
        """Pairs (either direction) among ``keys`` where one blocked the other."""

    async def blocked_by(self, ref: MemberRef) -> list[str]:
        """Member keys this member blocked."""

    # --- notes ---------------------------------------------------------------------------
    async def add_note(self, author: MemberRef, about: MemberRef, text: str, again: bool) -> Note:
        """Store a note. A later note by the same author about the same person is kept too;
        ``again`` is the latest wish."""

    async def notes_by(self, author: MemberRef) -> list[Note]:
        """The author's notes, newest first. Nobody else's notes are ever returned."""

    async def wants_again(self, author: MemberRef, about: MemberRef) -> bool:
        """Whether ``author``'s latest note about ``about`` says "I'd like to talk again"."""

    async def mark_again_revealed(self, a: MemberRef, b: MemberRef) -> bool:
        """Remember that a mutual wish was revealed; False if it had been already."""

    # --- privacy -------------------------------------------------------------------------
    async def export_member(self, ref: MemberRef) -> dict[str, Any]:
        """Everything stored about the member that is theirs to see, JSON-serialisable:
        profile, card, attendance, blocks they made, notes they wrote, encounters.
        Notes others wrote about them are not included (private to their authors)."""

    async def forget_member(self, ref: MemberRef) -> None:
        """Delete card, attendance, blocks by and of them, notes by and about them; anonymise
        their encounters (the other side keeps "met someone"); drop their profile.

        Also: "again" reveals with them, private outbox messages to them (sent or not), their
        place in past rounds' groups (the others keep the group, minus reasons naming them) and
        the prompt history of every group they were in."""

    async def purge_older_than(self, cutoff: datetime) -> int:
        """Retention: delete notes (by ``created_at``), encounters (by ``at``), sent outbox
        rows (by ``sent_at``), DONE rounds with their groups (by ``created_at``) and
        icebreaker uses (by ``used_at``) older than ``cutoff``; unsent messages and
        preview/running rounds are kept. Returns the number of rows removed."""

    # --- outbox --------------------------------------------------------------------------
    async def enqueue(self, message: NewOutboxMessage) -> int:
        """Store the message (``payload`` must be JSON-serialisable); return its id."""

    async def pending_outbox(
        self, limit: int = 100, platform: str | None = None
    ) -> list[OutboxMessage]:
        """Unsent messages, oldest first; with ``platform``, only those of its communities
        (community ids start with ``"<platform>:"``), so two adapters in one process never
        take each other's messages."""

    async def record_failure(self, message_id: int, error: str) -> int:
        """A delivery attempt failed: count it and keep a short reason (never the message
        text). Returns the number of failed attempts so far (0 if the id is gone)."""

    async def mark_sent(self, message_id: int, at: datetime) -> None:
        """Idempotent: a second call keeps the first ``sent_at``; an id that is gone (purged,
        forgotten) is ignored."""

    # --- adapter state -------------------------------------------------------------------
    # Small values a chat adapter must remember across restarts (a sync token, the direct
    # room of a member, the id of its "join" message). Keys are namespaced by the adapter
    # ("matrix.sync_token"); values are short text, never message bodies, notes or cards.
    async def get_state(self, key: str) -> str | None:
        """The value stored under ``key``, or None."""

    async def set_state(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``, replacing any earlier value."""

    async def delete_state(self, key: str) -> bool:
        """Remove ``key``; False if there was nothing under it."""


class Store(Protocol):
    async def open(self) -> None:
        """Connect and migrate; raise ``StoreError`` with a clear message on failure."""

    async def close(self) -> None: ...

    def transaction(self) -> AbstractAsyncContextManager[StoreTx]:
        """One transaction at a time; any exception inside rolls back everything, outbox
        messages included, and propagates. Opening one inside another (same task) raises
        ``RuntimeError`` instead of waiting forever; the ``StoreTx`` is unusable afterwards."""

"""The domain's nouns. Plain, immutable data; no I/O.

Words follow ../DESIGN: community, meetup, member, curiosity card, round, group,
encounter, icebreaker, note, block. Ids are strings on every platform.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

# Limits users see in messages; the command layer and the store both rely on them.
MAX_PHRASE_CHARS = 60
MAX_PHRASES_PER_LIST = 8
MAX_NOTE_CHARS = 500
MAX_NAME_CHARS = 80
LANGUAGES = ("en", "de")


@dataclass(frozen=True, order=True)
class MemberRef:
    """A person on one platform. ``user_id`` is the platform's id as a string."""

    platform: str
    user_id: str

    @property
    def key(self) -> str:
        """A stable string form, ``platform:user_id``, used in stores and as pairing keys."""
        return f"{self.platform}:{self.user_id}"

    @classmethod
    def from_key(cls, key: str) -> MemberRef:
        platform, _, user_id = key.partition(":")
        return cls(platform, user_id)


@dataclass(frozen=True)
class Member:
    ref: MemberRef
    display_name: str
    # Languages the member speaks, comma-separated, the first one preferred for messages
    # ("de,en"); None: follow the community's language.
    language: str | None = None

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(code for code in (self.language or "").split(",") if code)


@dataclass(frozen=True)
class Card:
    """What a member offers for matching. Job titles are never asked for."""

    curious_about: tuple[str, ...] = ()
    can_tell_about: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.curious_about and not self.can_tell_about


@dataclass(frozen=True)
class Community:
    """A Discord guild, a Matrix space or set of rooms, or the console's one community."""

    id: str
    language: str = "en"


@dataclass(frozen=True)
class Meetup:
    id: int
    community_id: str
    room: str  # the platform's channel/room id
    name: str


class RoundState(StrEnum):
    PREVIEW = "preview"
    RUNNING = "running"
    DONE = "done"


class ReasonKind(StrEnum):
    SHARED = "shared"  # both have the phrase (either list)
    COMPLEMENTARY = "complementary"  # asker's curious-about meets teller's can-tell-about


@dataclass(frozen=True)
class Reason:
    """Why a group was formed: one thing its members share."""

    kind: ReasonKind
    topic: str  # the phrase as one of the members wrote it (display form)
    # For COMPLEMENTARY: who can tell and who is curious. For SHARED: None.
    teller: str | None = None  # member key
    asker: str | None = None  # member key


class GroupFlag(StrEnum):
    REPEAT = "repeat"  # some members met before (only when nothing better existed)
    NO_COMMON_LANGUAGE = "no_common_language"  # only when nobody else was left
    NOTHING_SHARED = "nothing_shared"  # a fallback group; the icebreaker is generic


@dataclass(frozen=True)
class Group:
    """A pair, or a trio when the count is odd. ``members`` are member keys."""

    members: tuple[str, ...]
    reasons: tuple[Reason, ...] = ()
    flags: frozenset[GroupFlag] = frozenset()
    score: float = 0.0
    icebreaker_id: str | None = None  # the prompt id chosen for this group

    @property
    def key(self) -> str:
        """Order-independent identity of the group (for "never the same prompt twice")."""
        return "|".join(sorted(self.members))


@dataclass(frozen=True)
class Round:
    id: int
    meetup_id: int
    number: int  # 1, 2, 3 ... within the meetup
    seed: int
    state: RoundState
    created_at: datetime
    groups: tuple[Group, ...] = ()


@dataclass(frozen=True)
class Encounter:
    """Seen from one member's side: whom they met, where, when, and what they shared."""

    round_id: int
    meetup_id: int
    meetup_name: str
    at: datetime
    member: str  # member key of the viewer
    other: str | None  # member key; None once the other person used "forget me"
    other_name: str  # display name at the time ("someone" once forgotten)
    topics: tuple[str, ...] = ()


@dataclass(frozen=True)
class PastEncounter:
    """What the pairing engine reads: two member keys met ``at``."""

    a: str
    b: str
    at: datetime


@dataclass(frozen=True)
class Note:
    id: int
    author: str  # member key
    about: str  # member key
    text: str
    again: bool  # "I'd like to talk again"
    created_at: datetime


class TargetKind(StrEnum):
    ROOM = "room"
    MEMBER = "member"  # a private message


@dataclass(frozen=True)
class OutboxMessage:
    """A message the bot must deliver, written in the same transaction as its cause.

    ``text`` is fully rendered plain text in the recipient's language; adapters escape and
    format it for their platform. ``kind`` and ``payload`` let an adapter add platform
    extras (e.g. a "Leave a note" button on a pairing message).
    """

    id: int
    community_id: str
    target_kind: TargetKind
    target: str  # room id for ROOM, member key for MEMBER
    kind: str  # "pairing", "announcement", "reveal", ...
    text: str
    payload: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    sent_at: datetime | None = None


@dataclass(frozen=True)
class NewOutboxMessage:
    """An outbox message before the store has given it an id."""

    community_id: str
    target_kind: TargetKind
    target: str
    kind: str
    text: str
    payload: dict[str, Any] = field(default_factory=dict)

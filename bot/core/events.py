"""Neutral events in and replies out: the only language adapters and the core share.

Adapters convert platform events to these at the edge and render replies back; nothing
platform-specific crosses this line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.core.models import MemberRef


@dataclass(frozen=True)
class CommandReceived:
    """Someone typed a command (the adapter has already removed its prefix)."""

    community_id: str
    member: MemberRef
    display_name: str
    text: str
    room: str | None = None  # None: a private message to the bot
    room_name: str | None = None
    # The platform says this person may organise (a role, a power level, a permission).
    # Organizers listed in the config are added by the service.
    is_organizer: bool = False
    # Mention tokens the adapter could resolve ("<@123>" -> discord member), if any.
    mentions: Mapping[str, MemberRef] = field(default_factory=dict)


@dataclass(frozen=True)
class MemberLeft:
    """Someone left (or was removed from) a meetup room: they are not paired there any more."""

    community_id: str
    member: MemberRef
    room: str


Event = CommandReceived | MemberLeft


@dataclass(frozen=True)
class Reply:
    """An immediate answer to the person who sent the event.

    ``private``: only they should see it (a DM, or an ephemeral reply where the platform
    has one). Messages to others go through the outbox instead.
    """

    text: str
    private: bool = False

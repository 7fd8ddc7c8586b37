"""Shared fixtures: an in-process chat with the real service on a real SQLite file."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.delivery import Deliverer
from bot.core.events import CommandReceived, MemberLeft
from bot.core.models import MemberRef, OutboxMessage, TargetKind
from bot.core.service import Service, Settings
from bot.storage.sqlite import SqliteStore

COMMUNITY = "console:test"
ROOM = "meetup"


@dataclass
class Chat:
    """Talk to the bot like people in a meetup room: ``await chat("@anna", "join")``."""

    store: SqliteStore
    service: Service
    delivered: list[OutboxMessage] = field(default_factory=list)
    organizers: set[str] = field(default_factory=set)
    now: datetime = datetime(2026, 11, 26, 19, 0, tzinfo=UTC)

    async def __call__(self, who: str, text: str, *, dm: bool = False) -> str:
        """Send ``text`` as ``who``; return the bot's immediate replies joined as text."""
        handle = who.removeprefix("@")
        event = CommandReceived(
            community_id=COMMUNITY,
            member=MemberRef("console", handle.casefold()),
            display_name=handle,
            text=text,
            room=None if dm else ROOM,
            room_name=None if dm else "Test meetup",
        )
        replies = await self.service.handle(event)
        await self.deliver()
        return "\n".join(r.text for r in replies)

    async def leave_room(self, who: str) -> None:
        ref = MemberRef("console", who.removeprefix("@").casefold())
        await self.service.handle(MemberLeft(COMMUNITY, ref, ROOM))

    async def deliver(self) -> None:
        await Deliverer(self.store, self._collect).deliver_pending()

    async def _collect(self, message: OutboxMessage) -> None:
        self.delivered.append(message)

    def inbox(self, who: str) -> list[str]:
        """Private messages delivered to ``who`` so far."""
        key = "console:" + who.removeprefix("@").casefold()
        return [
            m.text for m in self.delivered if m.target_kind is TargetKind.MEMBER and m.target == key
        ]

    def room(self) -> list[str]:
        return [m.text for m in self.delivered if m.target_kind is TargetKind.ROOM]

    def tick(self, minutes: int = 15) -> None:
        self.now += timedelta(minutes=minutes)


@pytest.fixture
async def chat(tmp_path: Path) -> AsyncIterator[Chat]:
    store = SqliteStore(tmp_path / "funkel.sqlite3")
    await store.open()
    seeds = itertools.count(1)
    holder: dict[str, Chat] = {}
    service = Service(
        store,
        settings=lambda _c: Settings(organizers=frozenset({"console:orga"}), round_minutes=10),
        new_seed=lambda: next(seeds),
        clock=lambda: holder["chat"].now,
    )
    c = Chat(store, service)
    holder["chat"] = c
    try:
        yield c
    finally:
        await store.close()


async def fill(chat: Chat, who: str, curious: str, tell: str) -> None:
    """``who`` joins the room and fills their card."""
    await chat(who, "join")
    if curious:
        await chat(who, f"card curious {curious}")
    if tell:
        await chat(who, f"card tell {tell}")

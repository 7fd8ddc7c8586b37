"""Attendees and the bot for end-to-end tests: real nio clients against the test Synapse.

``Person`` wraps a logged-in ``AsyncClient`` with a background sync loop that joins every
room it is invited to and records every message the bot sends, so tests can say
``await ann.wait_for(lambda m: m.body.startswith("Round 1"))`` instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nio import (
    AsyncClient,
    JoinResponse,
    MegolmEvent,
    RoomCreateResponse,
    RoomMessageNotice,
    RoomMessagesResponse,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
)

from bot.adapters.matrix import exchange_keys

SYNC_FILTER = {"room": {"timeline": {"limit": 200}}}
WAIT = 30.0  # seconds; generous for a loaded 2-core machine, never slept through


@dataclass(frozen=True)
class Message:
    room_id: str
    event_id: str
    sender: str
    msgtype: str
    body: str
    formatted_body: str | None
    content: dict[str, Any]
    was_encrypted: bool = False  # arrived encrypted and was decrypted by this client

    @classmethod
    def of(cls, room_id: str, event: Any, *, was_encrypted: bool = False) -> Message:
        """A text or notice event as the attendee read it."""
        content = event.source.get("content", {})
        return cls(
            room_id,
            event.event_id,
            event.sender,
            content.get("msgtype", ""),
            event.body,
            event.formatted_body,
            content,
            was_encrypted,
        )


@dataclass
class Person:
    client: AsyncClient
    name: str
    bot_id: str
    messages: list[Message] = field(default_factory=list)
    # What this person typed ("> ...") and what the bot sent them ("< ..."), in order.
    transcript: list[str] = field(default_factory=list)
    rooms_joined: set[str] = field(default_factory=set)
    direct_rooms: set[str] = field(default_factory=set)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    @property
    def user_id(self) -> str:
        return str(self.client.user_id)

    async def start(self) -> None:
        await self.client.set_displayname(self.name)
        first = await self.client.sync(timeout=0, sync_filter={"room": {"timeline": {"limit": 0}}})
        assert isinstance(first, SyncResponse), first
        await self._crypto()
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                resp = await self.client.sync(timeout=500, sync_filter=SYNC_FILTER)
            except Exception:  # the homeserver may be restarting in a test
                await asyncio.sleep(0.2)
                continue
            if not isinstance(resp, SyncResponse):
                await asyncio.sleep(0.2)
                continue
            for room_id in resp.rooms.invite:
                await self.client.join(room_id)  # invites are direct rooms from the bot
                self.direct_rooms.add(room_id)
            for room_id, info in resp.rooms.join.items():
                for event in info.timeline.events:
                    self._record(room_id, event)
            with contextlib.suppress(Exception):
                await self._crypto()
            self._changed.set()

    async def _crypto(self) -> None:
        """Key exchange, as nio's sync_forever does it (only for encrypted clients)."""
        await exchange_keys(self.client)

    def _record(self, room_id: str, event: Any) -> None:
        if getattr(event, "sender", None) != self.bot_id:
            return
        if isinstance(event, MegolmEvent):
            body = "(a message from the bot that could not be decrypted)"
            self.messages.append(Message(room_id, event.event_id, event.sender, "", body, None, {}))
            return
        if isinstance(event, (RoomMessageNotice, RoomMessageText)):
            decrypted = bool(getattr(event, "decrypted", False))
            self.messages.append(Message.of(room_id, event, was_encrypted=decrypted))
            self.transcript.append(f"{self._where(room_id)} funkel: " + event.body)

    def _where(self, room_id: str) -> str:
        room = self.client.rooms.get(room_id)
        if room_id in self.direct_rooms or room is None or room.member_count <= 2:
            return "[direct]"
        return f"[{room.display_name}]"

    async def wait_for(
        self, found: Callable[[Message], bool], within: float = WAIT, *, after: int = 0
    ) -> Message:
        """The first message from the bot (from index ``after``) that matches."""
        deadline = time.monotonic() + within
        while True:
            for message in self.messages[after:]:
                if found(message):
                    return message
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                bodies = "\n---\n".join(m.body for m in self.messages[after:]) or "(none)"
                raise AssertionError(
                    f"{self.name} got no matching message within {within:.0f} s; got:\n{bodies}"
                )
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 1.0))

    async def wait_for_text(
        self, fragment: str, *, after: int = 0, room: str | None = None, within: float = WAIT
    ) -> Message:
        return await self.wait_for(
            lambda m: fragment in m.body and (room is None or m.room_id == room),
            within,
            after=after,
        )

    def dm_messages(self, meetup_rooms: set[str]) -> list[Message]:
        return [m for m in self.messages if m.room_id not in meetup_rooms]

    async def say(self, room_id: str, text: str, formatted: str | None = None) -> str:
        content: dict[str, Any] = {"msgtype": "m.text", "body": text}
        if formatted is not None:
            content |= {"format": "org.matrix.custom.html", "formatted_body": formatted}
        resp = await self.client.room_send(
            room_id, "m.room.message", content, ignore_unverified_devices=True
        )
        assert isinstance(resp, RoomSendResponse), resp
        self.transcript.append(f"{self._where(room_id)} {self.name}: " + text)
        return str(resp.event_id)

    async def join(self, room_id: str) -> None:
        resp = await self.client.join(room_id)
        assert isinstance(resp, JoinResponse), resp
        self.rooms_joined.add(room_id)
        # nio sends to a room only once a sync has shown it (needed for encrypted rooms).
        deadline = time.monotonic() + WAIT
        while room_id not in self.client.rooms:
            assert time.monotonic() < deadline, f"{self.name} never saw {room_id} in a sync"
            await asyncio.sleep(0.05)

    async def react(self, room_id: str, event_id: str, key: str) -> str:
        content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}}
        resp = await self.client.room_send(room_id, "m.reaction", content)
        assert isinstance(resp, RoomSendResponse), resp
        return str(resp.event_id)

    async def history(self, room_id: str) -> list[Message]:
        """The room's whole timeline as the server has it (not what the sync loop saw)."""
        out: list[Message] = []
        start: str | None = None
        while True:
            resp = await self.client.room_messages(room_id, start=start, limit=100)
            assert isinstance(resp, RoomMessagesResponse), resp
            for event in resp.chunk:
                if isinstance(event, (RoomMessageNotice, RoomMessageText)):
                    out.append(Message.of(room_id, event))
            if not resp.chunk or not resp.end:
                return list(reversed(out))
            start = resp.end


async def create_meetup_room(
    owner: AsyncClient, version: str, name: str, invite: list[str], *, encrypted: bool = False
) -> str:
    """A public meetup room of ``version`` owned by ``owner``, the bot invited."""
    from nio import RoomPreset
    from nio.event_builders import EnableEncryptionBuilder

    initial_state = [EnableEncryptionBuilder().as_dict()] if encrypted else []
    resp = await owner.room_create(
        room_version=version,
        name=name,
        preset=RoomPreset.public_chat,
        invite=invite,
        initial_state=initial_state,
    )
    assert isinstance(resp, RoomCreateResponse), resp
    return str(resp.room_id)

"""The Matrix adapter: matrix-nio in, neutral events to the service, m.notice messages out.

What it does, in the order a meetup sees it:

* logs in (an access token, or a password once: the device and its token are kept in the
  database so that restarts reuse the device and its encryption keys under ``store_path``);
* syncs. The very first sync asks for no timeline at all, so history is never replayed; the
  sync token is stored *after* the events of a response were handled, so a crash replays a
  few events rather than losing them, and the ids of events already handled in that batch are
  stored too, so a replay skips them;
* accepts invites (direct-message invites from anyone; meetup rooms when listed in
  ``matrix.rooms``, or, with ``rooms: invited``, when an organizer from the config invites it),
  and posts a "join this meetup" notice in each meetup room: ✋ on it = ``join``, taking the
  reaction back = ``leave``;
* turns ``!funkel <command>`` (in meetup rooms and in direct rooms) into ``CommandReceived``,
  a member leaving or being kicked into ``MemberLeft``, and sends the replies;
* delivers the outbox: to rooms, and to each member's direct room (created on first use, marked
  ``is_direct`` and in the bot's ``m.direct``), or to a thread per group in the meetup room.
  Each message is sent with the transaction id ``funkel-outbox-<id>``, so a resend after a
  crash is dropped by the homeserver instead of reaching people twice.

Every bot message is an ``m.notice`` with a plain body and escaped HTML, and an empty
``m.mentions`` so that it never pings anyone. Nothing here logs a message body.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from nio import (
    Api,
    AsyncClient,
    AsyncClientConfig,
    DirectRoomsResponse,
    InviteMemberEvent,
    JoinResponse,
    LoginResponse,
    MatrixRoom,
    MessageDirection,
    ReactionEvent,
    RedactionEvent,
    RoomCreateResponse,
    RoomGetStateResponse,
    RoomMemberEvent,
    RoomMessagesResponse,
    RoomMessageText,
    RoomResolveAliasResponse,
    RoomSendResponse,
    SyncResponse,
    WhoamiResponse,
)
from nio.crypto import ENCRYPTION_ENABLED

from bot.adapters import StartupError, cancel_and_wait
from bot.config import MATRIX_DEFAULTS, Config
from bot.core.delivery import Deliverer, DeliveryFailed
from bot.core.events import CommandReceived, MemberLeft, Reply
from bot.core.i18n import t_in, use_prefix
from bot.core.models import MemberRef, OutboxMessage, TargetKind
from bot.core.ports import Store
from bot.core.render import join_names
from bot.core.service import Service
from bot.core.text import neutralise_mentions

log = logging.getLogger(__name__)
T = TypeVar("T")

PLATFORM = "matrix"
# ✋ with and without the emoji variation selector: clients send either.
RAISED_HAND = frozenset({"\u270b", "\u270b\ufe0f"})
# Room versions in which creators are ordinary users with a power level (v12 changed that).
_CLASSIC_ROOM_VERSIONS = frozenset(str(v) for v in range(1, 12))
# Typing notices, read receipts and presence are of no use to the bot: never fetched.
_QUIET: dict[str, Any] = {
    "presence": {"not_types": ["*"]},
    "room": {"ephemeral": {"not_types": ["*"]}},
}
# The very first sync: room state only, never old messages.
FIRST_SYNC_FILTER: dict[str, Any] = {**_QUIET, "room": {**_QUIET["room"], "timeline": {"limit": 0}}}
# Later syncs: enough timeline per room that a burst of commands is rarely cut short (and
# when it is, the rest is fetched: see _missed_events).
SYNC_FILTER: dict[str, Any] = {**_QUIET, "room": {**_QUIET["room"], "timeline": {"limit": 500}}}
MAX_BACKOFF_SECONDS = 30.0
MAX_GAP_PAGES = 50  # of 100 events: how far back a cut-short sync is filled in
RATE_LIMIT_RETRIES = 5
MAX_RATE_LIMIT_WAIT_SECONDS = 60.0
# Errors after which a send is pointless to retry (the homeserver said no, for good).
_PERMANENT = frozenset(
    {"M_FORBIDDEN", "M_NOT_FOUND", "M_UNKNOWN", "M_INVALID_PARAM", "M_BAD_JSON", "M_TOO_LARGE"}
)
_PILL = re.compile(
    r"<a\s[^>]*href=[\"']https://matrix\.to/#/(?P<id>@[^\"'?/]+)[^\"']*[\"'][^>]*>.*?</a>",
    re.IGNORECASE | re.DOTALL,
)
_TAG = re.compile(r"<[^>]+>")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_REPLY_FALLBACK = re.compile(r"<mx-reply>.*?</mx-reply>", re.IGNORECASE | re.DOTALL)


class MatrixStartupError(StartupError):
    """Funkel cannot log in or reach its rooms; the message says what to change."""


class MatrixSendError(Exception):
    """The homeserver refused a send; ``code`` is its errcode (e.g. ``M_FORBIDDEN``)."""

    def __init__(self, code: str | None, message: str | None) -> None:
        super().__init__(f"{code or 'error'}: {message or ''}".strip())
        self.code = code or ""


@dataclass(frozen=True)
class MatrixSettings:
    """The ``matrix:`` config section with its defaults applied."""

    homeserver: str
    user_id: str
    access_token: str | None = None
    password: str | None = None
    device_id: str | None = None
    device_name: str = "funkel"
    store_path: Path = Path("funkel-matrix-store")
    command_prefix: str = "!funkel"
    organizer_power_level: int = 50
    rooms: tuple[str, ...] | None = None  # None: rooms an organizer invites Funkel to
    pairing_delivery: str = "dm"  # or "thread"
    organizers: frozenset[str] = frozenset()  # member keys from community.organizers

    @classmethod
    def from_config(cls, config: Config) -> MatrixSettings:
        section = config.matrix
        if not section:
            raise StartupError(
                f"{config.source} has no matrix: section — add homeserver, user_id and "
                "access_token (see config.example.yaml) to run Funkel on Matrix"
            )
        merged: dict[str, Any] = {**MATRIX_DEFAULTS, **section}
        store = Path(merged["store_path"])
        if not store.is_absolute():
            base = Path(config.source).parent if config.source != "<defaults>" else Path.cwd()
            store = base / store
        rooms = merged["rooms"]
        return cls(
            homeserver=merged["homeserver"],
            user_id=merged["user_id"],
            access_token=merged.get("access_token"),
            password=merged.get("password"),
            device_id=merged.get("device_id"),
            device_name=merged["device_name"],
            store_path=store,
            command_prefix=merged["command_prefix"],
            organizer_power_level=merged["organizer_power_level"],
            rooms=None if rooms == "invited" else tuple(rooms),
            pairing_delivery=merged["pairing_delivery"],
            organizers=frozenset(k for k in config.community.organizers if k.startswith("matrix:")),
        )


def client_config() -> AsyncClientConfig:
    """nio retries 429s and connection errors forever by default; Funkel decides itself."""
    if not ENCRYPTION_ENABLED:
        log.warning(
            "python-olm is not installed: encrypted rooms will not work "
            "(install funkel[matrix], which includes matrix-nio[e2e])"
        )
    return AsyncClientConfig(
        max_limit_exceeded=0,
        max_timeouts=2,
        max_timeout_retry_wait_time=2,
        request_timeout=60,
        encryption_enabled=ENCRYPTION_ENABLED,
        store_sync_tokens=True,
    )


def render_html(text: str) -> str:
    """The core's plain text as HTML: everything escaped, line breaks kept."""
    return html.escape(text, quote=False).replace("\n", "<br>")


def notice_content(text: str, *, thread_root: str | None = None) -> dict[str, Any]:
    """An m.notice that shows ``text`` literally and pings nobody."""
    text = neutralise_mentions(text)
    content: dict[str, Any] = {
        "msgtype": "m.notice",
        "body": text,
        "format": "org.matrix.custom.html",
        "formatted_body": render_html(text),
        "m.mentions": {},
    }
    if thread_root is not None:
        content["m.relates_to"] = {
            "rel_type": "m.thread",
            "event_id": thread_root,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": thread_root},
        }
    return content


def command_text(body: str, formatted: str | None, prefix: str) -> str | None:
    """What follows the prefix (``!funkel``, any case), or None if this is no command.

    Pills (mentions) in the HTML become Matrix ids, so ``note <pill>Ann</pill> …`` reads
    ``note @ann:server.org …`` and names exactly that person.
    """
    text = body
    if formatted and "matrix.to/#/@" in formatted:
        with_ids = _PILL.sub(lambda m: m.group("id"), _REPLY_FALLBACK.sub("", formatted))
        text = html.unescape(_TAG.sub("", _BR.sub("\n", with_ids)))
    stripped = text.strip()
    head = stripped[: len(prefix)]
    if head.casefold() != prefix.casefold():
        return None
    rest = stripped[len(prefix) :]
    if rest and not rest[0].isspace():
        return None  # "!funkelx" is someone else's command
    return rest.strip()


def _is_join_of(event: Any, user_id: str) -> bool:
    """The event is ``user_id`` joining (not a profile change of someone already in)."""
    return (
        isinstance(event, RoomMemberEvent)
        and event.state_key == user_id
        and event.membership == "join"
        and event.prev_membership != "join"
    )


async def exchange_keys(c: AsyncClient) -> None:
    """Keep device and room keys flowing after a sync, as nio's sync_forever does (a no-op
    for a client without encryption)."""
    if c.olm is None:
        return
    if c.should_upload_keys:
        await c.keys_upload()
    if c.should_query_keys:
        await c.keys_query()
    if c.should_claim_keys:
        await c.keys_claim(c.get_users_for_key_claiming())
    await c.send_to_device_messages()


def _localpart(user_id: str) -> str:
    return user_id.removeprefix("@").partition(":")[0]


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class MatrixAdapter:
    """One bot account on one homeserver, serving the configured rooms."""

    def __init__(
        self,
        settings: MatrixSettings,
        service: Service,
        store: Store,
        *,
        language: str = "en",
        config: AsyncClientConfig | None = None,
        sync_timeout_ms: int = 30_000,
        deliver_poll_seconds: float = 5.0,
    ) -> None:
        self.settings = settings
        self.service = service
        self.store = store
        self.language = language
        self.sync_timeout_ms = sync_timeout_ms
        self.deliver_poll_seconds = deliver_poll_seconds
        self.community_id = f"{PLATFORM}:{settings.user_id}"
        self.client = AsyncClient(
            settings.homeserver,
            settings.user_id,
            store_path=str(settings.store_path),
            config=config or client_config(),
        )
        self.deliverer = Deliverer(store, self.send, platform=PLATFORM)
        self.ready = asyncio.Event()  # set once the first sync was handled
        self._served: set[str] = set()  # meetup rooms (ids)
        self._dm_rooms: dict[str, str] = {}  # room id -> the member it is the direct room of
        self._direct: dict[str, list[str]] = {}  # the bot's m.direct account data
        self._creators: dict[str, frozenset[str]] = {}
        self._handled: list[str] = []  # event ids handled since the last stored sync token
        self._dm_lock = asyncio.Lock()
        self._thread_lock = asyncio.Lock()
        self._outage_since: float | None = None
        self._backoff = 0.5
        self._token: str | None = None  # the sync token the next response continues from

    # ------------------------------------------------------------------ state
    async def _get(self, key: str) -> str | None:
        async with self.store.transaction() as tx:
            return await tx.get_state(f"{PLATFORM}.{key}")

    async def _set(self, key: str, value: str) -> None:
        async with self.store.transaction() as tx:
            await tx.set_state(f"{PLATFORM}.{key}", value)

    async def _delete(self, key: str) -> None:
        async with self.store.transaction() as tx:
            await tx.delete_state(f"{PLATFORM}.{key}")

    async def _save_served(self) -> None:
        await self._set("served_rooms", json.dumps(sorted(self._served)))

    # ------------------------------------------------------------------ running
    async def run(self) -> None:
        """Log in and serve until cancelled."""
        with use_prefix(self.settings.command_prefix + " "):
            deliver: asyncio.Task[None] | None = None
            try:
                await self.login()
                await self._first_sync()
                deliver = asyncio.create_task(self.deliverer.run(self.deliver_poll_seconds))
                await self._sync_forever()
            finally:
                if deliver is not None:
                    await cancel_and_wait(deliver)
                await self.client.close()

    async def login(self) -> None:
        s = self.settings
        c = self.client
        s.store_path.mkdir(parents=True, exist_ok=True)
        if s.access_token is not None:
            device = s.device_id
            if device is None:
                c.access_token = s.access_token
                who = await self._reachable(c.whoami)
                if not isinstance(who, WhoamiResponse):
                    raise MatrixStartupError(
                        f"the homeserver {s.homeserver} refused matrix.access_token "
                        f"({getattr(who, 'status_code', '')} {getattr(who, 'message', '')}) — "
                        "get a new token (see the README) and set it"
                    )
                if who.user_id != s.user_id:
                    raise MatrixStartupError(
                        f"matrix.access_token belongs to {who.user_id}, not to matrix.user_id "
                        f"{s.user_id} — use the bot account's token"
                    )
                device = who.device_id or ""
            c.restore_login(s.user_id, device, s.access_token)
        else:
            saved = await self._get("login")
            if saved is not None:
                data = json.loads(saved)
                c.restore_login(data["user_id"], data["device_id"], data["access_token"])
            else:
                resp = await self._reachable(
                    lambda: c.login(password=s.password, device_name=s.device_name)
                )
                if not isinstance(resp, LoginResponse):
                    raise MatrixStartupError(
                        f"logging in as {s.user_id} failed: {getattr(resp, 'message', resp)} — "
                        "check matrix.user_id and matrix.password"
                    )
                await self._set(
                    "login",
                    json.dumps(
                        {
                            "user_id": resp.user_id,
                            "device_id": resp.device_id,
                            "access_token": resp.access_token,
                        }
                    ),
                )
                log.info("logged in as %s, new device %s", resp.user_id, resp.device_id)
        who = await self._reachable(c.whoami)
        if not isinstance(who, WhoamiResponse):
            if s.password is not None:
                await self._delete("login")  # the saved token was revoked: log in anew
            raise MatrixStartupError(
                f"the homeserver {s.homeserver} refused the bot's login "
                f"({getattr(who, 'status_code', '')}) — check the token or password"
            )
        if c.olm is not None and c.should_upload_keys:
            await c.keys_upload()
        log.info("Matrix: serving as %s (device %s)", c.user_id, c.device_id)

    async def _first_sync(self) -> None:
        """Load what the adapter remembers, then the rooms' state (without old messages)."""
        served = await self._get("served_rooms")
        self._served = set(json.loads(served)) if served else set()
        handled = await self._get("handled")
        self._handled = json.loads(handled) if handled else []
        direct = await self._reachable(self.client.list_direct_rooms)
        if isinstance(direct, DirectRoomsResponse):
            self._direct = {user: list(rooms) for user, rooms in direct.rooms.items()}
            for user, rooms in direct.rooms.items():
                for room in rooms:
                    self._dm_rooms[room] = user
        self._token = await self._get("sync_token")
        while True:
            # full_state: nio keeps rooms in memory only, so rebuild them after a restart;
            # the timeline still starts at the stored token (or is empty on the first start).
            resp = await self._sync_once(
                since=self._token,
                sync_filter=FIRST_SYNC_FILTER if self._token is None else SYNC_FILTER,
                full_state=True,
                timeout=0,
            )
            if resp is None:
                continue
            try:
                await self._join_configured_rooms()
                await self._handle_sync(resp)
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                await self._outage(type(exc).__name__)
                continue
            break
        self.ready.set()

    async def _join_configured_rooms(self) -> None:
        for entry in self.settings.rooms or ():
            room_id = entry
            if entry.startswith("#"):
                resolved = await self.client.room_resolve_alias(entry)
                if not isinstance(resolved, RoomResolveAliasResponse):
                    log.warning("matrix.rooms: the alias %s does not resolve; skipped", entry)
                    continue
                room_id = resolved.room_id
            self._served.add(room_id)
            if room_id not in self.client.rooms:
                joined = await self.client.join(room_id)
                if not isinstance(joined, JoinResponse):
                    log.warning(
                        "matrix.rooms: cannot join %s (%s); invite the bot to it",
                        entry,
                        getattr(joined, "status_code", ""),
                    )

    async def _sync_forever(self) -> None:
        while True:
            resp = await self._sync_once(
                since=self._token,
                sync_filter=SYNC_FILTER,
                full_state=False,
                timeout=self.sync_timeout_ms,
            )
            if resp is None:
                continue
            try:
                await self._handle_sync(resp)
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                # The token was not stored: the next sync repeats this batch, and what was
                # already handled in it is skipped.
                await self._outage(type(exc).__name__)

    async def _sync_once(
        self, *, since: str | None, sync_filter: dict[str, Any], full_state: bool, timeout: int
    ) -> SyncResponse | None:
        """One /sync; None after a failure (already logged and waited for)."""
        try:
            resp = await self.client.sync(
                timeout=timeout, sync_filter=sync_filter, since=since, full_state=full_state
            )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            await self._outage(type(exc).__name__)
            return None
        if isinstance(resp, SyncResponse):
            self._back_online()
            return resp
        code = getattr(resp, "status_code", None)
        if code in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"):
            raise MatrixStartupError(
                "the homeserver no longer accepts the bot's access token — set a new one"
            )
        if code == "M_LIMIT_EXCEEDED":
            await asyncio.sleep(self._retry_after(resp))
            return None
        await self._outage(f"{code or 'error'} {getattr(resp, 'message', '')}".strip())
        return None

    async def _reachable(self, call: Callable[[], Awaitable[T]]) -> T:
        """``call()``, retried with back-off while the homeserver cannot be reached (so the
        bot may start before its homeserver does)."""
        while True:
            try:
                result = await call()
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                await self._outage(type(exc).__name__)
                continue
            self._back_online()
            return result

    def _back_online(self) -> None:
        if self._outage_since is not None:
            log.warning(
                "homeserver reachable again after %.0f s; continuing",
                time.monotonic() - self._outage_since,
            )
            self._outage_since = None
            self._backoff = 0.5

    async def _outage(self, reason: str) -> None:
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            log.warning("cannot reach the homeserver (%s); retrying with back-off", reason)
        await asyncio.sleep(self._backoff)
        self._backoff = min(self._backoff * 2, MAX_BACKOFF_SECONDS)

    @staticmethod
    def _retry_after(resp: Any) -> float:
        ms = getattr(resp, "retry_after_ms", None) or 1000
        return float(min(ms / 1000, MAX_RATE_LIMIT_WAIT_SECONDS))

    # ------------------------------------------------------------------ a sync response
    async def _handle_sync(self, resp: SyncResponse) -> None:
        for room_id, info in resp.rooms.invite.items():
            await self._on_invite(room_id, info.invite_state)
        for room_id in resp.rooms.leave:
            await self._on_removed(room_id)
        handled = set(self._handled)
        for room_id, info in resp.rooms.join.items():
            room = self.client.rooms.get(room_id)
            if room is None:
                continue
            missed = await self._missed_events(room_id, info.timeline)
            events = [*missed, *info.timeline.events]
            me = self.client.user_id
            joined_at = [i for i, e in enumerate(events) if _is_join_of(e, me)]
            if joined_at:
                # The bot joined in this batch: what came before is history, never answered.
                events = events[joined_at[-1] + 1 :]
            for event in events:
                event_id = getattr(event, "event_id", None)
                if event_id is None or event_id in handled:
                    continue
                try:
                    changed = await self._on_event(room, event)
                except (MatrixStartupError, asyncio.CancelledError):
                    raise
                except Exception as exc:
                    # One event must never stop the bot; the log names it, never its text.
                    log.error(
                        "could not handle event %s in %s: %s",
                        event_id,
                        room_id,
                        type(exc).__name__,
                        exc_info=log.isEnabledFor(logging.DEBUG),
                    )
                    continue
                if changed:
                    handled.add(event_id)
                    self._handled.append(event_id)
                    await self._set("handled", json.dumps(self._handled))
        await self._post_join_notices()
        # Only now: a crash before this line replays this batch (minus what was handled).
        async with self.store.transaction() as tx:
            await tx.set_state(f"{PLATFORM}.sync_token", resp.next_batch)
            await tx.set_state(f"{PLATFORM}.handled", "[]")
        self._handled = []
        self._token = resp.next_batch
        await self._crypto_housekeeping()

    async def _missed_events(self, room_id: str, timeline: Any) -> list[Any]:
        """A busy room's sync timeline is cut short ("limited"): fetch what lies between the
        previous sync and the events we got, so no command in a burst is lost.

        Never reaches back before the bot joined the room: a newly joined room's history is
        not replayed."""
        me = self.client.user_id
        if not timeline.limited or self._token is None or not timeline.prev_batch:
            return []
        if any(_is_join_of(e, me) for e in timeline.events):
            return []  # the bot joined in this batch: what came before is history
        missed: list[Any] = []
        start = timeline.prev_batch
        for _ in range(MAX_GAP_PAGES):
            resp = await self.client.room_messages(
                room_id, start=start, end=self._token, direction=MessageDirection.back, limit=100
            )
            if not isinstance(resp, RoomMessagesResponse):
                log.warning(
                    "could not fetch missed events in %s: %s",
                    room_id,
                    getattr(resp, "status_code", ""),
                )
                break
            joined_here = next((i for i, e in enumerate(resp.chunk) if _is_join_of(e, me)), None)
            if joined_here is not None:
                missed.extend(resp.chunk[:joined_here])
                break
            missed.extend(resp.chunk)
            if not resp.chunk or not resp.end or resp.end == start:
                break
            start = resp.end
        if missed:
            log.info("fetched %d events a busy sync left out in %s", len(missed), room_id)
        return list(reversed(missed))

    async def _crypto_housekeeping(self) -> None:
        """What nio's sync_forever would do: keep device keys and room keys flowing."""
        try:
            await exchange_keys(self.client)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("encryption key exchange failed (%s); retrying after the next sync", exc)
        except Exception as exc:  # nio's crypto layer raises its own errors; never fatal
            log.warning("encryption key exchange failed: %s", type(exc).__name__)

    async def _on_invite(self, room_id: str, invite_state: Iterable[Any]) -> None:
        me = self.client.user_id
        invite = next(
            (
                e
                for e in invite_state
                if isinstance(e, InviteMemberEvent)
                and e.state_key == me
                and e.membership == "invite"
            ),
            None,
        )
        if invite is None:
            return
        inviter = invite.sender
        direct = bool(invite.content.get("is_direct"))
        configured = self.settings.rooms is not None and room_id in self.settings.rooms
        by_organizer = (
            self.settings.rooms is None and f"{PLATFORM}:{inviter}" in self.settings.organizers
        )
        if not (direct or configured or by_organizer):
            log.info("declining an invite to %s from %s (not a configured room)", room_id, inviter)
            await self.client.room_leave(room_id)
            return
        joined = await self.client.join(room_id)
        if not isinstance(joined, JoinResponse):
            log.warning("cannot join %s: %s", room_id, getattr(joined, "status_code", ""))
            return
        if direct:
            self._dm_rooms[room_id] = inviter
            if await self._get(f"dm.{inviter}") is None:
                await self._set(f"dm.{inviter}", room_id)
        else:
            self._served.add(room_id)
            await self._save_served()
        log.info("joined %s (%s)", room_id, "direct room" if direct else "meetup room")

    async def _on_removed(self, room_id: str) -> None:
        """The bot left or was kicked: forget the room (nio keeps it otherwise)."""
        if self.client.rooms.pop(room_id, None) is not None:
            log.info("no longer in %s", room_id)
        self._creators.pop(room_id, None)
        if self.settings.rooms is None and room_id in self._served:
            # Invited mode: serving it again takes a new invitation from an organizer.
            self._served.discard(room_id)
            await self._save_served()

    def _is_served(self, room_id: str) -> bool:
        return room_id in self._served and room_id not in self._dm_rooms

    def _is_direct(self, room: MatrixRoom) -> bool:
        if room.room_id in self._dm_rooms:
            return True
        return not self._is_served(room.room_id) and room.member_count <= 2

    async def _on_event(self, room: MatrixRoom, event: Any) -> bool:
        """Handle one timeline event; True if it changed something (so it must not repeat)."""
        if getattr(event, "sender", None) == self.client.user_id:
            return False
        if isinstance(event, RoomMessageText):
            relates = event.source.get("content", {}).get("m.relates_to", {})
            if relates.get("rel_type") == "m.replace":
                return False  # an edit: the original was the command
            text = command_text(event.body, event.formatted_body, self.settings.command_prefix)
            if text is None:
                return False
            await self._command(room, event.sender, event.event_id, text)
            return True
        if isinstance(event, ReactionEvent):
            return await self._on_reaction(room, event)
        if isinstance(event, RedactionEvent):
            return await self._on_redaction(room, event)
        if isinstance(event, RoomMemberEvent):
            return await self._on_membership(room, event)
        return False

    async def _command(self, room: MatrixRoom, sender: str, event_id: str, text: str) -> None:
        served = self._is_served(room.room_id)
        direct = not served and self._is_direct(room)
        if not served and not direct:
            return
        if direct and room.room_id not in self._dm_rooms:
            self._dm_rooms[room.room_id] = sender
            if await self._get(f"dm.{sender}") is None:
                await self._set(f"dm.{sender}", room.room_id)
        event = CommandReceived(
            community_id=self.community_id,
            member=MemberRef(PLATFORM, sender),
            display_name=room.user_name(sender) or _localpart(sender),
            text=text,
            room=room.room_id if served else None,
            room_name=room.display_name if served else None,
            is_organizer=served and await self.is_organizer(room, sender),
        )
        replies = await self.service.handle(event)
        await self._reply(room, sender, event_id, replies, direct=direct)
        self.deliverer.poke()

    async def _reply(
        self, room: MatrixRoom, sender: str, event_id: str, replies: list[Reply], *, direct: bool
    ) -> None:
        for i, reply in enumerate(replies):
            # Derived from the command's event: if a crash makes us handle it again, the
            # homeserver drops the second answer.
            tx_id = f"funkel-reply-{_short_hash(event_id)}-{i}"
            try:
                if reply.private and not direct:
                    target = await self.dm_room(sender)
                else:
                    target = room.room_id
                await self._send_notice(target, reply.text, tx_id)
            except (MatrixSendError, DeliveryFailed, aiohttp.ClientError, OSError) as exc:
                log.warning("could not answer a command in %s: %s", room.room_id, exc)

    async def _on_reaction(self, room: MatrixRoom, event: ReactionEvent) -> bool:
        if event.key not in RAISED_HAND or not self._is_served(room.room_id):
            return False
        notice = await self._get(f"join_notice.{room.room_id}")
        if notice is None or event.reacts_to != notice:
            return False
        await self._set(f"reaction.{event.event_id}", json.dumps([room.room_id, event.sender]))
        await self._command(room, event.sender, event.event_id, "join")
        return True

    async def _on_redaction(self, room: MatrixRoom, event: RedactionEvent) -> bool:
        key = f"reaction.{event.redacts}"
        saved = await self._get(key)
        if saved is None:
            return False
        room_id, sender = json.loads(saved)
        await self._delete(key)
        if room_id != room.room_id or sender != event.sender:
            return False  # a moderator removed someone's ✋: not their wish to leave
        await self._command(room, sender, event.event_id, "leave")
        return True

    async def _on_membership(self, room: MatrixRoom, event: RoomMemberEvent) -> bool:
        if event.state_key == self.client.user_id or not self._is_served(room.room_id):
            return False
        if event.membership not in ("leave", "ban") or event.prev_membership != "join":
            return False
        await self.service.handle(
            MemberLeft(self.community_id, MemberRef(PLATFORM, event.state_key), room.room_id)
        )
        return True

    # ------------------------------------------------------------------ organizers
    async def is_organizer(self, room: MatrixRoom, user_id: str) -> bool:
        """Power level at least the configured one, or a creator of a v12+ room."""
        if f"{PLATFORM}:{user_id}" in self.settings.organizers:
            return True
        levels = room.power_levels
        if levels.get_user_level(user_id) >= self.settings.organizer_power_level:
            return True
        return user_id in await self._room_creators(room)

    async def _room_creators(self, room: MatrixRoom) -> frozenset[str]:
        """Room version 12 creators have unlimited power but no entry in the power levels
        (and nio reports level 0 for them): read them from m.room.create."""
        if room.room_version in _CLASSIC_ROOM_VERSIONS:
            return frozenset()
        cached = self._creators.get(room.room_id)
        if cached is not None:
            return cached
        resp = await self.client.room_get_state(room.room_id)
        if not isinstance(resp, RoomGetStateResponse):
            return frozenset()
        creators: set[str] = set()
        for ev in resp.events:
            if ev.get("type") == "m.room.create" and ev.get("state_key", "") == "":
                creators.add(ev["sender"])
                extra = ev.get("content", {}).get("additional_creators", [])
                creators.update(u for u in extra if isinstance(u, str))
        self._creators[room.room_id] = frozenset(creators)
        return self._creators[room.room_id]

    # ------------------------------------------------------------------ sending
    async def _send_notice(
        self, room_id: str, text: str, tx_id: str, *, thread_root: str | None = None
    ) -> str:
        """Send one notice (waiting out 429s); the event id. ``MatrixSendError`` if refused."""
        content = notice_content(text, thread_root=thread_root)
        for _ in range(RATE_LIMIT_RETRIES + 1):
            resp = await self.client.room_send(
                room_id,
                "m.room.message",
                content,
                tx_id=tx_id,
                ignore_unverified_devices=True,
            )
            if isinstance(resp, RoomSendResponse):
                return str(resp.event_id)
            if getattr(resp, "status_code", None) != "M_LIMIT_EXCEEDED":
                raise MatrixSendError(
                    getattr(resp, "status_code", None), getattr(resp, "message", None)
                )
            wait = self._retry_after(resp)
            log.info("rate-limited by the homeserver; sending again in %.1f s", wait)
            await asyncio.sleep(wait)
        raise MatrixSendError("M_LIMIT_EXCEEDED", "still rate-limited; will retry later")

    async def send(self, message: OutboxMessage) -> None:
        """The Deliverer's send: one outbox message to its room, person or group thread."""
        tx_id = f"funkel-outbox-{message.id}"
        if message.target_kind is TargetKind.ROOM:
            if message.target not in self.client.rooms:
                raise DeliveryFailed(f"not in room {message.target}")
            await self._send_or_fail(message.target, message.text, tx_id)
            return
        ref = MemberRef.from_key(message.target)
        if ref.platform != PLATFORM:
            raise DeliveryFailed(f"not a Matrix member: {ref.platform}")
        if self.settings.pairing_delivery == "thread" and message.kind in (
            "pairing",
            "icebreaker",
        ):
            root = await self._thread_root(message)
            if root is not None:
                room_id, event_id = root
                await self._send_or_fail(room_id, message.text, tx_id, thread_root=event_id)
                return
        room_id = await self.dm_room(ref.user_id)
        try:
            await self._send_notice(room_id, message.text, tx_id)
        except MatrixSendError as exc:
            if exc.code != "M_FORBIDDEN":
                raise _delivery_error(exc) from exc
            # The bot is no longer in that direct room: open a new one, once.
            await self._forget_dm(ref.user_id, room_id)
            room_id = await self.dm_room(ref.user_id)
            await self._send_or_fail(room_id, message.text, tx_id)

    async def _send_or_fail(
        self, room_id: str, text: str, tx_id: str, *, thread_root: str | None = None
    ) -> None:
        try:
            await self._send_notice(room_id, text, tx_id, thread_root=thread_root)
        except MatrixSendError as exc:
            raise _delivery_error(exc) from exc

    async def dm_room(self, user_id: str) -> str:
        """The member's direct room with the bot, created (and remembered) on first use."""
        async with self._dm_lock:
            room_id = await self._get(f"dm.{user_id}")
            if room_id is not None:
                room = self.client.rooms.get(room_id)
                if room is not None and (user_id in room.users or user_id in room.invited_users):
                    return room_id
                await self._forget_dm(user_id, room_id)
            resp = None
            for _ in range(RATE_LIMIT_RETRIES + 1):
                resp = await self.client.room_create(is_direct=True, invite=[user_id])
                if getattr(resp, "status_code", None) != "M_LIMIT_EXCEEDED":
                    break
                await asyncio.sleep(self._retry_after(resp))
            if not isinstance(resp, RoomCreateResponse):
                code = getattr(resp, "status_code", None)
                error = MatrixSendError(code, getattr(resp, "message", None))
                if code in _PERMANENT:
                    raise DeliveryFailed(f"cannot open a direct room with {user_id}: {error}")
                raise error
            room_id = str(resp.room_id)
            # nio only knows rooms it has synced; this one is ours and unencrypted.
            if room_id not in self.client.rooms:
                self.client.rooms[room_id] = MatrixRoom(room_id, self.client.user_id, False)
            self.client.rooms[room_id].add_member(user_id, None, None, True)
            self._dm_rooms[room_id] = user_id
            await self._set(f"dm.{user_id}", room_id)
            await self._mark_direct(user_id, room_id)
            return room_id

    async def _forget_dm(self, user_id: str, room_id: str) -> None:
        await self._delete(f"dm.{user_id}")
        self._dm_rooms.pop(room_id, None)

    async def _mark_direct(self, user_id: str, room_id: str) -> None:
        """Add the room to the bot's m.direct account data (nio has no setter)."""
        rooms = self._direct.setdefault(user_id, [])
        if room_id not in rooms:
            rooms.append(room_id)
        mapping = self._direct
        path = Api._build_path(["user", self.client.user_id, "account_data", "m.direct"])
        try:
            resp = await self.client.send(
                "PUT",
                path,
                json.dumps(mapping),
                headers={
                    "Authorization": f"Bearer {self.client.access_token}",
                    "Content-Type": "application/json",
                },
            )
            resp.release()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("could not update m.direct: %s", exc)

    async def _thread_root(self, message: OutboxMessage) -> tuple[str, str] | None:
        """The group's thread in the meetup room (its root notice is sent once)."""
        payload: Mapping[str, Any] = message.payload
        if "round_id" not in payload or "group" not in payload:
            return None
        round_id, group = int(payload["round_id"]), [str(k) for k in payload["group"]]
        async with self.store.transaction() as tx:
            meetup = await tx.get_meetup(int(payload["meetup_id"]))
            rnd = await tx.get_round(round_id)
            members = await tx.get_members(group)
        if meetup is None or rnd is None or meetup.room not in self.client.rooms:
            return None
        group_key = "|".join(sorted(group))
        key = f"thread.{round_id}.{_short_hash(group_key)}"
        async with self._thread_lock:
            root = await self._get(key)
            if root is None:
                names = join_names(
                    [members[k].display_name if k in members else "?" for k in group]
                )
                with use_prefix(self.settings.command_prefix + " "):
                    text = t_in(
                        self.language, "messages.matrix.thread_root", number=rnd.number, names=names
                    )
                try:
                    root = await self._send_notice(
                        meetup.room, text, f"funkel-thread-{round_id}-{_short_hash(group_key)}"
                    )
                except MatrixSendError as exc:
                    raise _delivery_error(exc) from exc
                await self._set(key, root)
        return meetup.room, root

    async def _post_join_notices(self) -> None:
        """Each meetup room gets one "join this meetup" notice, the first time Funkel is in it."""
        for room_id in sorted(self._served):
            if room_id not in self.client.rooms:
                continue
            if await self._get(f"join_notice.{room_id}") is not None:
                continue
            text = t_in(self.language, "messages.matrix.join_notice")
            try:
                event_id = await self._send_notice(
                    room_id, text, f"funkel-join-notice-{_short_hash(room_id)}"
                )
            except (MatrixSendError, aiohttp.ClientError, OSError) as exc:
                log.warning("could not post the join notice in %s: %s", room_id, exc)
                continue
            await self._set(f"join_notice.{room_id}", event_id)

    async def join_notice(self, room_id: str) -> str | None:
        """The event id of the room's "join this meetup" notice (for tests and tools)."""
        return await self._get(f"join_notice.{room_id}")


def _delivery_error(exc: MatrixSendError) -> Exception:
    """Permanent refusals end delivery of that message; others are retried by the Deliverer."""
    if exc.code in _PERMANENT:
        return DeliveryFailed(str(exc))
    return exc

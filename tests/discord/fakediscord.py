"""A local fake of Discord's gateway and REST API for offline tests of discord.py bots.

The fake listens on 127.0.0.1 only. discord.py is pointed at it by patching two class
attributes (see ``conftest.py``)::

    discord.http.Route.BASE                          -> http://127.0.0.1:PORT/api/v10
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY -> ws://127.0.0.1:PORT/gateway

Everything else in discord.py runs for real: its aiohttp session and rate-limit handling,
the zlib-compressed websocket, the gateway state parsers, CommandTree routing, the view
store and modals. The fake owns a small *world* (guilds, roles, channels, users, members,
threads, DM channels, messages, application commands, interactions) kept as plain dicts
shaped like Discord's API objects, with snowflake ids as strings.

Ways a test fails fast instead of timing out:

* REST routes the fake does not know answer 404 and land in ``fake.unhandled``;
* every 400 answer (invalid form body, empty message, double acknowledgement, …) and
  every bug inside the fake land in ``fake.errors``;
* ``capture_logs("discord", "bot")`` turns ERROR log records into ``fake.errors`` too;
* ``wait_for`` re-raises as soon as ``fake.errors`` is non-empty or a watched client task
  died.

Discord behaviour the fake models on purpose (each is a place where a bot can be wrong):
permissions from @everyone + roles + channel overwrites (ADMINISTRATOR and the owner get
everything), the bot's own permissions on sends and thread creation, closed DMs (403
50007), ``enforce_nonce`` deduplication, interaction acknowledgement rules (one callback
per interaction, 40060 on the second; followups only after a callback; the first followup
after a "thinking" defer edits the loading message), component ids Discord assigns, the
GUILD_CREATE member list that depends on intents, and 429 answers shaped so discord.py
waits them out.

Not modelled: voice, reactions, presence, audit logs, gateway rate limits, interaction
token expiry (15 min) and the 3 s response deadline, message history listing.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import enum
import itertools
import json
import logging
import math
import re
import secrets
import time
import traceback
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, NamedTuple

import aiohttp
from aiohttp import web

try:  # discord.py asks for zstd-stream instead of zlib-stream when zstandard is installed
    import zstandard
except ImportError:  # the normal case in this project
    zstandard = None

Json = dict[str, Any]

API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1_420_070_400_000
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024  # what Discord sends for unboosted guilds and DMs


class Permission(enum.IntFlag):
    """Discord permission bits (only the ones this fake reasons about, plus neighbours).

    The contract test checks every value against ``discord.Permissions``.
    """

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_AUDIT_LOG = 1 << 7
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    SEND_TTS_MESSAGES = 1 << 12
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    MANAGE_ROLES = 1 << 28
    USE_APPLICATION_COMMANDS = 1 << 31
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    CREATE_PRIVATE_THREADS = 1 << 36
    SEND_MESSAGES_IN_THREADS = 1 << 38


P = Permission
#: Every permission bit Discord defines (equals ``discord.Permissions.all()`` in discord.py 2.7.1).
ALL_PERMISSIONS = 8866461766385663
#: What the fake gives @everyone in each guild: modest, like a sensibly configured server.
EVERYONE_PERMISSIONS = (
    P.VIEW_CHANNEL
    | P.SEND_MESSAGES
    | P.READ_MESSAGE_HISTORY
    | P.USE_APPLICATION_COMMANDS
    | P.SEND_MESSAGES_IN_THREADS
)
#: The managed role the bot gets when invited with the permissions Funkel asks for.
BOT_INVITE_PERMISSIONS = (
    P.VIEW_CHANNEL
    | P.SEND_MESSAGES
    | P.SEND_MESSAGES_IN_THREADS
    | P.CREATE_PRIVATE_THREADS
    | P.EMBED_LINKS
    | P.READ_MESSAGE_HISTORY
    | P.USE_APPLICATION_COMMANDS
)
#: ``app_permissions`` in a DM with the bot (an approximation of what Discord sends there).
DM_APP_PERMISSIONS = (
    P.VIEW_CHANNEL
    | P.SEND_MESSAGES
    | P.EMBED_LINKS
    | P.ATTACH_FILES
    | P.READ_MESSAGE_HISTORY
    | P.ADD_REACTIONS
    | P.USE_EXTERNAL_EMOJIS
    | P.USE_APPLICATION_COMMANDS
)


class Intent(enum.IntFlag):
    """Gateway intent bits the fake looks at."""

    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_PRESENCES = 1 << 8
    GUILD_MESSAGES = 1 << 9
    DIRECT_MESSAGES = 1 << 12
    MESSAGE_CONTENT = 1 << 15


class ChannelType(enum.IntEnum):
    GUILD_TEXT = 0
    DM = 1
    GUILD_ANNOUNCEMENT = 5
    ANNOUNCEMENT_THREAD = 10
    PUBLIC_THREAD = 11
    PRIVATE_THREAD = 12


THREAD_TYPES = (
    ChannelType.ANNOUNCEMENT_THREAD,
    ChannelType.PUBLIC_THREAD,
    ChannelType.PRIVATE_THREAD,
)
MESSAGE_FLAG_EPHEMERAL = 1 << 6
MESSAGE_FLAG_LOADING = 1 << 7
MESSAGE_FLAG_COMPONENTS_V2 = 1 << 15

# ----------------------------------------------------------------------------- small helpers

_counter = itertools.count(1)
_last_snowflake = 0


def snowflake() -> str:
    """A fresh, strictly increasing Discord-style snowflake (ms since the Discord epoch << 22)."""
    global _last_snowflake
    candidate = ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | (next(_counter) & 0xFFF)
    _last_snowflake = max(candidate, _last_snowflake + 1)
    return str(_last_snowflake)


def iso_now() -> str:
    return datetime.now(UTC).isoformat()


def json_response(
    payload: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A JSON answer with exactly ``Content-Type: application/json``.

    discord.py's ``json_or_text`` only decodes the body when the header is exactly that
    (aiohttp's ``web.json_response`` appends ``; charset=utf-8``, which makes discord.py see
    a str and crash later with ``string indices must be integers``).
    """
    return web.Response(
        body=json.dumps(payload).encode(),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def _id(obj: Any) -> str:
    """The snowflake of an API dict (``{"id": ...}``) or of an id given as str/int."""
    if isinstance(obj, Mapping):
        return str(obj["id"])
    return str(obj)


def walk_components(
    components: Sequence[Json], path: str = "components"
) -> Iterator[tuple[Json, str]]:
    """Yield every component (depth first, parents before children) with its form-error path."""
    for i, comp in enumerate(components):
        here = f"{path}.{i}"
        yield comp, here
        if isinstance(comp.get("components"), list):
            yield from walk_components(comp["components"], f"{here}.components")
        for key in ("component", "accessory"):
            if isinstance(comp.get(key), Mapping):
                yield comp[key], f"{here}.{key}"
                if isinstance(comp[key].get("components"), list):
                    yield from walk_components(comp[key]["components"], f"{here}.{key}.components")


def with_component_ids(components: Sequence[Json]) -> list[Json]:
    """A copy of ``components`` where every component has an ``id``.

    Discord numbers components the app left without an id sequentially (depth first,
    skipping ids already in use) and returns them in message objects and modal submits.
    """
    comps = copy.deepcopy(list(components))
    used = {c["id"] for c, _ in walk_components(comps) if isinstance(c.get("id"), int)}
    n = 0
    for comp, _ in walk_components(comps):
        if comp.get("id") is None:
            n += 1
            while n in used:
                n += 1
            comp["id"] = n
            used.add(n)
    return comps


# ----------------------------------------------------------------------------- errors


class ApiError(Exception):
    """A Discord error answer: HTTP status plus Discord's JSON error body."""

    def __init__(self, status: int, code: int, message: str, errors: Json | None = None) -> None:
        super().__init__(f"{status} {message} (code {code})")
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def payload(self) -> Json:
        body: Json = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


class FormErrors:
    """Collects Discord's nested "Invalid Form Body" (code 50035) errors."""

    def __init__(self) -> None:
        self.tree: Json = {}

    def add(self, path: str, code: str, message: str) -> None:
        node = self.tree
        for part in path.split("."):
            node = node.setdefault(part, {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def max_len(self, path: str, value: Any, limit: int) -> None:
        if isinstance(value, str | list) and len(value) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def raise_if_any(self) -> None:
        if self.tree:
            raise ApiError(400, 50035, "Invalid Form Body", self.tree)


class UnknownRoute(Exception):
    """No route of the fake matches (answered 404, recorded in ``fake.unhandled``)."""


class FakeUsageError(Exception):
    """The test asked for something a Discord user could not do (click a missing button…)."""


class CannotInvoke(FakeUsageError):
    """Discord would not let this user run this command (permissions, context, not synced)."""


class LoggedError(Exception):
    """An ERROR log record without exception info, turned into an exception."""


class BotSentBadRequest(Exception):
    """The fake answered 400: the bot sent something Discord rejects."""


class FakeDiscordFailure(AssertionError):
    """Raised by ``wait_for`` when the bot or the fake failed; ``__cause__`` is the real error."""


# ----------------------------------------------------------------------------- records


class Request(NamedTuple):
    """One REST call as the fake saw it (``at`` is ``time.monotonic()`` on arrival)."""

    method: str
    path: str  # relative to /api/v10, without the query
    query: dict[str, str]
    body: Any  # decoded JSON, or payload_json (+ "_files") for multipart, or None
    at: float
    status: int


class RateLimitHit(NamedTuple):
    method: str
    path: str
    at: float
    retry_after: float


class SyncCall(NamedTuple):
    """One bulk overwrite of application commands (``guild_id`` None = global)."""

    guild_id: str | None
    at: float
    changed: bool


@dataclass
class _RateLimitRule:
    method: str
    pattern: re.Pattern[str]
    retry_after: float
    count: int
    is_global: bool


class Hold:
    """A request held by the fake: stored and recorded, but answered only on ``release()``.

    ``arrived`` is set once the matching request was processed (the message exists on the
    "Discord" side), which lets a test kill the bot between "Discord stored it" and "the
    bot heard back".
    """

    def __init__(self, method: str, pattern: re.Pattern[str]) -> None:
        self.method = method
        self.pattern = pattern
        self.arrived = asyncio.Event()
        self.request: Request | None = None
        self.response: Any = None
        self._released = asyncio.Event()
        self._taken = False

    def release(self) -> None:
        self._released.set()


@dataclass
class UserPrefs:
    dms_open: bool = True
    locale: str = "en-US"


@dataclass
class InteractionState:
    """What the fake remembers about one interaction it sent to the bot."""

    payload: Json
    callback_type: int | None = None
    original_id: str | None = None  # message id behind .../messages/@original
    deferred_pending: bool = False  # a "thinking" defer whose first followup has not come yet
    followup_ids: list[str] = field(default_factory=list)
    modal: Json | None = None  # the modal (with component ids) if the callback was type 9

    @property
    def id(self) -> str:
        return str(self.payload["id"])

    @property
    def token(self) -> str:
        return str(self.payload["token"])

    @property
    def user(self) -> Json:
        return self.payload["member"]["user"] if "member" in self.payload else self.payload["user"]


@dataclass
class _Call:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    files: list[Json]
    params: dict[str, str]


# ----------------------------------------------------------------------------- gateway session


class GatewaySession:
    """One websocket connection of the bot to ``/gateway``.

    Everything sent goes through one queue and one writer task, so events keep their order
    and the zlib stream (one compressor per connection, ``Z_SYNC_FLUSH`` after each message,
    as discord.py's ``zlib-stream`` decoder expects) is never interleaved.
    """

    def __init__(self, ws: web.WebSocketResponse, compress: str | None) -> None:
        self.ws = ws
        self.compress = compress
        self.session_id = secrets.token_hex(16)
        self.seq = 0
        self.identified = False
        self.intents = 0
        self.shard: tuple[int, int] = (0, 1)
        self.closed = False
        self.history: collections.deque[tuple[int, str, Json]] = collections.deque(maxlen=500)
        self.backlog: list[tuple[str, Json]] = []  # events produced while disconnected
        self._zlib = zlib.compressobj() if compress == "zlib-stream" else None
        self._zstd = (
            zstandard.ZstdCompressor().compressobj()
            if compress == "zstd-stream" and zstandard is not None
            else None
        )
        self._queue: asyncio.Queue[tuple[Json, asyncio.Future[None]] | None] = asyncio.Queue()
        self._writer = asyncio.get_running_loop().create_task(self._write_loop())

    def owns(self, guild_id: str | None) -> bool:
        """Whether this shard receives events of ``guild_id`` (DMs go to shard 0)."""
        shard_id, count = self.shard
        if guild_id is None:
            return shard_id == 0
        return (int(guild_id) >> 22) % count == shard_id

    def send(self, payload: Json) -> asyncio.Future[None]:
        """Queue ``payload``; the returned future resolves once it was written."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.closed:
            fut.set_exception(ConnectionResetError("gateway connection is closed"))
        else:
            self._queue.put_nowait((payload, fut))
        return fut

    def dispatch(self, event: str, data: Json) -> asyncio.Future[None]:
        return self.send({"op": 0, "t": event, "d": data})

    async def _write_loop(self) -> None:
        while (item := await self._queue.get()) is not None:
            payload, fut = item
            try:
                if payload.get("op") == 0:
                    self.seq += 1
                    payload = {**payload, "s": self.seq}
                    self.history.append((self.seq, payload["t"], payload["d"]))
                else:
                    payload = {"s": None, "t": None, **payload}
                text = json.dumps(payload)
                if self._zlib is not None:
                    data = self._zlib.compress(text.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
                    await self.ws.send_bytes(data)
                elif self._zstd is not None:
                    data = self._zstd.compress(text.encode())
                    data += self._zstd.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
                    await self.ws.send_bytes(data)
                else:
                    await self.ws.send_str(text)
            except Exception as exc:  # the bot went away while we were writing
                if not fut.done():
                    fut.set_exception(exc)
            else:
                if not fut.done():
                    fut.set_result(None)

    async def close(self, code: int = 1000, message: bytes = b"") -> None:
        self.mark_closed()
        if not self.ws.closed:
            await self.ws.close(code=code, message=message)

    def mark_closed(self) -> None:
        if self.closed:
            return
        self.closed = True
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None and not item[1].done():
                item[1].set_exception(ConnectionResetError("gateway connection closed"))
        self._queue.put_nowait(None)  # stops the writer


# ----------------------------------------------------------------------------- the fake


class FakeDiscord:
    """A fake Discord: world model, gateway websocket, REST API and test-side actions.

    Create it, ``await start()``, build the world (``add_guild``/``add_channel``/
    ``add_user``/``add_member``/``add_role``), point discord.py at ``rest_base`` and
    ``gateway_url``, start the bot with ``token``, then act as users (``slash``, ``click``,
    ``submit_modal``, ``user_message``) and observe (``messages``, ``callbacks``,
    ``followups``, ``requests``, ``wait_for``).
    """

    def __init__(
        self,
        *,
        token: str = "fake-bot-token",
        bot_name: str = "Funkel",
        heartbeat_interval_ms: int = 41250,
        guild_create_members: str = "intents",
        echo_own_messages: bool = True,
        resume_policy: str = "resume",
    ) -> None:
        """
        ``guild_create_members``: ``"intents"`` (default) sends, like Discord, only the bot's
        own member in GUILD_CREATE unless the bot has the GUILD_PRESENCES intent; ``"all"``
        always sends every member.
        ``echo_own_messages``: send MESSAGE_CREATE/UPDATE/DELETE for the bot's own
        non-ephemeral messages over the gateway (Discord does, given the message intents).
        ``resume_policy``: ``"resume"`` (default) resumes a dropped session like Discord:
        replays the events after the client's ``seq`` (including ones produced while it was
        away), then RESUMED; ``"invalidate"`` answers RESUME with INVALID_SESSION(false), so
        the bot re-identifies (discord.py waits 5 s before a non-initial IDENTIFY).
        A session the client closed with 1000/1001 is never resumable (as on Discord).
        """
        if guild_create_members not in ("intents", "all"):
            raise ValueError("guild_create_members must be 'intents' or 'all'")
        if resume_policy not in ("invalidate", "resume"):
            raise ValueError("resume_policy must be 'invalidate' or 'resume'")
        self.token = token
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.guild_create_members = guild_create_members
        self.echo_own_messages = echo_own_messages
        self.resume_policy = resume_policy

        self.application_id = snowflake()
        self.bot_user: Json = self._user_payload(self.application_id, bot_name, bot=True)
        self._owner = self._user_payload(snowflake(), "app-owner")  # owns app and guilds

        # world
        self.users: dict[str, Json] = {self.application_id: self.bot_user}
        self.user_prefs: dict[str, UserPrefs] = {}
        self.guilds: dict[str, Json] = {}
        self.roles: dict[str, list[Json]] = {}  # guild id -> roles (first is @everyone)
        self.channels: dict[str, Json] = {}  # every channel by id: guild text, threads, DMs
        self.members: dict[str, dict[str, Json]] = {}  # guild id -> user id -> member
        self.dm_channels: dict[str, str] = {}  # user id -> DM channel id
        self.thread_members: dict[str, list[str]] = {}  # thread id -> user ids (creator first)
        self.messages: dict[str, list[Json]] = {}  # channel id -> messages, oldest first
        self.global_commands: list[Json] = []
        self.guild_commands: dict[str, list[Json]] = {}
        self.sync_calls: list[SyncCall] = []
        #: The bytes of every uploaded file, by attachment id (what a user would download).
        self.uploads: dict[str, bytes] = {}

        # interactions
        self.interactions: dict[str, InteractionState] = {}
        self.callbacks: dict[str, Json] = {}  # interaction id -> callback body as the bot sent it
        self.followups: dict[str, list[Json]] = {}  # interaction token -> followup messages

        # observation
        self.requests: list[Request] = []
        self.unhandled: list[Request] = []
        self.errors: list[BaseException] = []
        self.rate_limited: list[RateLimitHit] = []
        self.identify: Json | None = None
        self.identifies: list[Json] = []
        self.resumes: list[Json] = []
        self.presence: Json | None = None
        self.heartbeats = 0
        self.sessions: list[GatewaySession] = []

        self._message_index: dict[str, Json] = {}
        self._ephemeral_owner: dict[str, str] = {}  # ephemeral message id -> user id
        self._by_token: dict[str, InteractionState] = {}
        self._rate_limits: list[_RateLimitRule] = []
        self._holds: list[Hold] = []
        self._resumable: dict[str, GatewaySession] = {}
        self._waiters: list[asyncio.Future[None]] = []
        self._watched: list[tuple[Any, asyncio.Task[Any]]] = []
        self._log_handler: _ErrorLogHandler | None = None
        self._log_targets: list[logging.Logger] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._routes = self._route_table()

    # ================================================================== server lifecycle

    async def start(self) -> None:
        """Listen on 127.0.0.1 on a free port."""
        self._loop = asyncio.get_running_loop()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        """Release held requests, close gateway connections, stop listening."""
        for hold in self._holds:
            hold.release()
        for session in list(self.sessions):
            await session.close(1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.release_logs()

    @property
    def rest_base(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def connected(self) -> bool:
        """Whether a bot connection has identified (or resumed) and is open."""
        return any(s.identified and not s.closed for s in self.sessions)

    # ================================================================== failure plumbing

    def capture_logs(self, *logger_names: str) -> None:
        """Record ERROR (and worse) records of these logger hierarchies in ``fake.errors``.

        discord.py logs exceptions from commands, views, modals and events instead of
        raising them; without this a broken callback shows up as a timeout. Use
        ``capture_logs("discord", "bot")`` so the bot's own ``bot.adapters.discord`` logger
        counts too (a logger with ``propagate = False`` below these would escape).
        """
        if self._log_handler is None:
            self._log_handler = _ErrorLogHandler(self)
        for name in logger_names:
            logger = logging.getLogger(name)
            logger.addHandler(self._log_handler)
            self._log_targets.append(logger)

    def release_logs(self) -> None:
        for logger in self._log_targets:
            if self._log_handler is not None:
                logger.removeHandler(self._log_handler)
        self._log_targets.clear()

    def loop_exception_handler(self, loop: asyncio.AbstractEventLoop, context: Json) -> None:
        """For ``loop.set_exception_handler``: exceptions nobody retrieved fail the test too."""
        exc = context.get("exception")
        self.record_error(
            exc if isinstance(exc, BaseException) else LoggedError(context["message"])
        )
        loop.default_exception_handler(context)

    def record_error(self, exc: BaseException) -> None:
        """Add ``exc`` to ``fake.errors`` and wake ``wait_for`` (safe from any thread)."""
        self.errors.append(exc)
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._notify)

    def watch(self, client: Any, task: asyncio.Task[Any]) -> None:
        """Make ``wait_for`` fail when ``task`` (usually ``client.start()``) dies with an error."""
        self._watched.append((client, task))

    def unwatch(self, client: Any) -> None:
        self._watched = [(c, t) for c, t in self._watched if c is not client]

    @property
    def watched_clients(self) -> list[tuple[Any, asyncio.Task[Any]]]:
        return list(self._watched)

    def describe_errors(self) -> str:
        """``fake.errors`` with their tracebacks, for assertion messages."""
        parts = []
        for n, exc in enumerate(self.errors, 1):
            text = "".join(traceback.format_exception(exc)).rstrip()
            parts.append(f"--- error {n} of {len(self.errors)} ---\n{text}")
        return "\n".join(parts)

    def raise_if_failed(self) -> None:
        """Raise now if the bot logged/raised an error, the fake broke, or a watched task died."""
        if self.errors:
            raise FakeDiscordFailure(
                f"{len(self.errors)} error(s) while the bot ran:\n{self.describe_errors()}"
            ) from self.errors[0]
        for client, task in self._watched:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise FakeDiscordFailure(f"{client!r} stopped: {task.exception()!r}") from (
                    task.exception()
                )

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def wait_for(
        self,
        predicate: Callable[[], Any],
        timeout: float = 5.0,
        *,
        fail_on_errors: bool = True,
        poll: float = 0.05,
    ) -> Any:
        """Wait until ``predicate()`` returns something truthy and return it.

        Re-checked after every REST call, gateway message and recorded error, and every
        ``poll`` seconds (for predicates on the bot's own state). A ``LookupError`` from the
        predicate (``fake.messages[cid]`` not there yet) counts as "not yet". Fails at once
        with :class:`FakeDiscordFailure` when ``fake.errors`` gets an entry (unless
        ``fail_on_errors=False``, for tests that expect errors), and with ``TimeoutError``
        (listing the last requests) after ``timeout``.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if fail_on_errors:
                self.raise_if_failed()
            try:
                value = predicate()
            except LookupError:
                value = None
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = "\n".join(
                    f"  {r.method} {r.path} -> {r.status}" for r in self.requests[-10:]
                )
                raise TimeoutError(
                    f"condition not met within {timeout}s; last requests:\n{recent or '  (none)'}"
                )
            fut = loop.create_future()
            self._waiters.append(fut)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(fut, min(remaining, poll))

    async def wait_callback(self, interaction_id: str, timeout: float = 5.0) -> Json:
        """The callback body the bot sent for this interaction (waits for it)."""
        result: Json = await self.wait_for(lambda: self.callbacks.get(interaction_id), timeout)
        return result

    # ================================================================== world building

    @staticmethod
    def _user_payload(uid: str, name: str, *, bot: bool = False) -> Json:
        return {
            "id": uid,
            "username": name,
            "global_name": None if bot else name,
            "discriminator": "0",
            "avatar": None,
            "banner": None,
            "accent_color": None,
            "bot": bot,
            "system": False,
            "public_flags": 0,
            "flags": 0,
            "avatar_decoration_data": None,
        }

    def add_user(self, name: str, *, dms_open: bool = True, locale: str = "en-US") -> Json:
        """A Discord user. ``dms_open=False``: sending them a DM answers 403 (code 50007)."""
        user = self._user_payload(snowflake(), name)
        self.users[user["id"]] = user
        self.user_prefs[user["id"]] = UserPrefs(dms_open=dms_open, locale=locale)
        return user

    def set_dms_open(self, user: Json | str, dms_open: bool) -> None:
        self._prefs(_id(user)).dms_open = dms_open

    def add_guild(self, name: str, *, preferred_locale: str = "en-US") -> Json:
        """A guild the bot is in, with @everyone, the bot's managed role and the bot member.

        If a bot is connected, it receives GUILD_CREATE (the bot "joined" the guild).
        """
        gid = snowflake()
        guild = {
            "id": gid,
            "name": name,
            "preferred_locale": preferred_locale,
            "owner_id": self._owner["id"],
            "features": [],
            "icon": None,
            "description": None,
            "joined_at": iso_now(),
        }
        self.guilds[gid] = guild
        self.roles[gid] = [self._role_payload(gid, "@everyone", int(EVERYONE_PERMISSIONS), 0)]
        self.members[gid] = {}
        bot_role = self._role_payload(snowflake(), self.bot_user["username"], 0, 1)
        bot_role.update(managed=True, tags={"bot_id": self.application_id})
        bot_role["permissions"] = str(int(BOT_INVITE_PERMISSIONS))
        self.roles[gid].append(bot_role)
        self._add_member(gid, self.bot_user, [bot_role["id"]])
        self._emit_to_guild(gid, "GUILD_CREATE", lambda s: self.guild_create_payload(gid, s))
        return guild

    @staticmethod
    def _role_payload(rid: str, name: str, permissions: int, position: int) -> Json:
        return {
            "id": rid,
            "name": name,
            "permissions": str(int(permissions)),
            "position": position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }

    def add_role(self, guild: Json | str, name: str, permissions: int) -> Json:
        """A role in ``guild`` (emits GUILD_ROLE_CREATE to a connected bot)."""
        gid = _id(guild)
        role = self._role_payload(snowflake(), name, int(permissions), len(self.roles[gid]))
        self.roles[gid].append(role)
        self._emit_to_guild(
            gid, "GUILD_ROLE_CREATE", {"guild_id": gid, "role": role}, Intent.GUILDS
        )
        return role

    def everyone_role(self, guild: Json | str) -> Json:
        return self.roles[_id(guild)][0]

    def bot_role(self, guild: Json | str) -> Json:
        """The bot's managed role (edit its ``"permissions"`` to take rights away)."""
        return self.roles[_id(guild)][1]

    def add_channel(
        self,
        guild: Json | str,
        name: str,
        *,
        overwrites: Sequence[Json] = (),
        type: int = ChannelType.GUILD_TEXT,
    ) -> Json:
        """A text channel. ``overwrites``: Discord permission overwrites
        (``{"id", "type": 0 role | 1 member, "allow": str, "deny": str}``)."""
        gid = _id(guild)
        position = sum(1 for c in self.channels.values() if c.get("guild_id") == gid)
        channel = {
            "id": snowflake(),
            "type": int(type),
            "guild_id": gid,
            "name": name,
            "position": position,
            "permission_overwrites": [dict(o) for o in overwrites],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
            "default_auto_archive_duration": 1440,
            "default_thread_rate_limit_per_user": 0,
        }
        self.channels[channel["id"]] = channel
        self._emit_to_guild(gid, "CHANNEL_CREATE", channel, Intent.GUILDS)
        return channel

    def add_member(
        self, guild: Json | str, user: Json | str, roles: Sequence[Json | str] = ()
    ) -> Json:
        """Make ``user`` a member of ``guild`` with ``roles`` (dicts or ids)."""
        gid = _id(guild)
        member = self._add_member(gid, self._user(user), [_id(r) for r in roles])
        payload = {**member, "guild_id": gid}
        self._emit_to_guild(gid, "GUILD_MEMBER_ADD", payload, Intent.GUILD_MEMBERS)
        return member

    def _add_member(self, gid: str, user: Json, role_ids: list[str]) -> Json:
        known = {r["id"] for r in self.roles[gid]}
        unknown = [r for r in role_ids if r not in known]
        if unknown:
            raise FakeUsageError(f"roles {unknown} are not roles of guild {gid}")
        member = {
            "user": user,
            "roles": role_ids,
            "joined_at": iso_now(),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "nick": None,
            "avatar": None,
            "banner": None,
            "communication_disabled_until": None,
        }
        self.members[gid][user["id"]] = member
        return member

    # ------------------------------------------------------------------ permissions

    def permissions_for(
        self, guild: Json | str, user: Json | str, channel: Json | str | None = None
    ) -> int:
        """Discord's permission computation: @everyone | roles, owner/ADMINISTRATOR = all,
        then channel overwrites (@everyone, roles, member); no VIEW_CHANNEL = nothing; no
        SEND_MESSAGES drops the send-dependent bits. Threads use their parent's overwrites.
        Returns 0 for non-members."""
        gid, uid = _id(guild), _id(user)
        member = self.members.get(gid, {}).get(uid)
        if member is None:
            return 0
        if uid == self.guilds[gid]["owner_id"]:
            return ALL_PERMISSIONS
        roles = {r["id"]: r for r in self.roles[gid]}
        perms = int(roles[gid]["permissions"])
        for rid in member["roles"]:
            perms |= int(roles[rid]["permissions"])
        if perms & P.ADMINISTRATOR:
            return ALL_PERMISSIONS
        if channel is None:
            return perms
        chan = self.channels[_id(channel)]
        if chan["type"] in THREAD_TYPES:
            chan = self.channels[chan["parent_id"]]
        overwrites = {o["id"]: o for o in chan.get("permission_overwrites", [])}

        def apply(ow: Json | None, value: int) -> int:
            if ow is None:
                return value
            return (value & ~int(ow.get("deny", 0))) | int(ow.get("allow", 0))

        perms = apply(overwrites.get(gid), perms)
        allow = deny = 0
        for rid in member["roles"]:
            if rid in overwrites:
                allow |= int(overwrites[rid].get("allow", 0))
                deny |= int(overwrites[rid].get("deny", 0))
        perms = (perms & ~deny) | allow
        perms = apply(overwrites.get(uid), perms)
        if not perms & P.VIEW_CHANNEL:
            return 0
        if not perms & P.SEND_MESSAGES:
            perms &= ~(P.SEND_TTS_MESSAGES | P.MENTION_EVERYONE | P.EMBED_LINKS | P.ATTACH_FILES)
        return perms

    def _can_see_thread(self, thread: Json, uid: str) -> bool:
        perms = self.permissions_for(thread["guild_id"], uid, thread)
        if not perms & P.VIEW_CHANNEL:
            return False
        if thread["type"] == ChannelType.PRIVATE_THREAD:
            return uid in self.thread_members.get(thread["id"], []) or bool(
                perms & P.MANAGE_THREADS
            )
        return True

    # ------------------------------------------------------------------ lookups

    def _user(self, user: Json | str) -> Json:
        try:
            return self.users[_id(user)]
        except KeyError:
            raise FakeUsageError(f"unknown user {_id(user)}; create it with add_user()") from None

    def _prefs(self, uid: str) -> UserPrefs:
        return self.user_prefs.setdefault(uid, UserPrefs())

    def _channel(self, channel: Json | str) -> Json:
        try:
            return self.channels[_id(channel)]
        except KeyError:
            raise FakeUsageError(f"unknown channel {_id(channel)}") from None

    def message(self, message: Json | str) -> Json:
        """The current state of a stored message (by dict or id)."""
        try:
            return self._message_index[_id(message)]
        except KeyError:
            raise FakeUsageError(f"unknown message {_id(message)}") from None

    def dm_channel_of(self, user: Json | str) -> Json | None:
        cid = self.dm_channels.get(_id(user))
        return None if cid is None else self.channels[cid]

    def dm_messages(self, user: Json | str) -> list[Json]:
        """Messages in the bot's DM with ``user`` (empty if the DM was never opened)."""
        cid = self.dm_channels.get(_id(user))
        return list(self.messages.get(cid, [])) if cid else []

    def channel_messages(self, channel: Json | str) -> list[Json]:
        """Messages in a guild channel or thread, ephemeral ones included (flags & 64)."""
        return list(self.messages.get(_id(channel), []))

    def followups_of(self, interaction_id: str) -> list[Json]:
        """Followup messages of an interaction, in their current (possibly edited) state."""
        state = self.interactions[interaction_id]
        return [
            self._message_index[m["id"]]
            for m in self.followups.get(state.token, [])
            if m["id"] in self._message_index
        ]

    def original_message(self, interaction_id: str) -> Json | None:
        state = self.interactions[interaction_id]
        return None if state.original_id is None else self._message_index.get(state.original_id)

    def command(self, name: str, guild: Json | str | None = None) -> Json | None:
        """A synced CHAT_INPUT command (guild commands first, then global)."""
        pools = ([self.guild_commands.get(_id(guild), [])] if guild is not None else []) + [
            self.global_commands
        ]
        for pool in pools:
            for cmd in pool:
                if cmd["name"] == name and cmd.get("type", 1) == 1:
                    return cmd
        return None

    # ------------------------------------------------------------------ payload builders

    def guild_create_payload(self, gid: str, session: GatewaySession | None = None) -> Json:
        """GUILD_CREATE as Discord sends it to ``session`` (member list depends on intents)."""
        guild = self.guilds[gid]
        intents = session.intents if session is not None else 0
        if self.guild_create_members == "all" or intents & Intent.GUILD_PRESENCES:
            members = list(self.members[gid].values())
        else:  # Discord: without GUILD_PRESENCES only the bot itself (and voice members)
            members = [self.members[gid][self.application_id]]
        channels = [
            c
            for c in self.channels.values()
            if c.get("guild_id") == gid and c["type"] not in THREAD_TYPES
        ]
        threads = [
            c
            for c in self.channels.values()
            if c.get("guild_id") == gid
            and c["type"] in THREAD_TYPES
            and not c["thread_metadata"]["archived"]
            and self._can_see_thread(c, self.application_id)
        ]
        return {
            **guild,
            "unavailable": False,
            "large": False,
            "member_count": len(self.members[gid]),
            "roles": self.roles[gid],
            "channels": channels,
            "threads": threads,
            "members": members,
            "emojis": [],
            "stickers": [],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "verification_level": 0,
            "explicit_content_filter": 0,
            "default_message_notifications": 0,
            "system_channel_flags": 0,
            "system_channel_id": None,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "application_id": None,
            "banner": None,
            "splash": None,
            "discovery_splash": None,
            "vanity_url_code": None,
            "max_members": 500000,
            "max_video_channel_users": 25,
            "premium_progress_bar_enabled": False,
            "incidents_data": None,
            "lazy": True,
        }

    def _dm_channel_payload(self, uid: str) -> Json:
        cid = self.dm_channels.get(uid)
        if cid is None:
            cid = snowflake()
            self.dm_channels[uid] = cid
            self.channels[cid] = {
                "id": cid,
                "type": int(ChannelType.DM),
                "recipients": [self.users[uid]],
                "last_message_id": None,
                "flags": 0,
            }
        return self.channels[cid]

    def _member_payload(self, gid: str, uid: str, channel: Json | None) -> Json:
        """A member as embedded in interactions: with ``permissions`` in the channel."""
        member = self.members[gid][uid]
        return {**member, "permissions": str(self.permissions_for(gid, uid, channel))}

    # ================================================================== gateway

    def _sessions_for(
        self, guild_id: str | None, intent: int | None = None
    ) -> list[GatewaySession]:
        return [
            s
            for s in self.sessions
            if s.identified
            and not s.closed
            and s.owns(guild_id)
            and (intent is None or s.intents & intent)
        ]

    def _emit_to_guild(
        self,
        guild_id: str | None,
        event: str,
        data: Json | Callable[[GatewaySession], Json],
        intent: int | None = None,
    ) -> None:
        """Queue an event for every connected session that should see it (order kept), and
        keep it for dropped sessions that may still resume."""
        for session in self._sessions_for(guild_id, intent):
            payload = data(session) if callable(data) else data
            session.dispatch(event, payload).add_done_callback(_ignore_result)
        for session in self._resumable.values():
            if session.owns(guild_id) and (intent is None or session.intents & intent):
                session.backlog.append((event, data(session) if callable(data) else data))

    async def dispatch(self, event: str, data: Json, *, guild_id: str | None = None) -> None:
        """Send a dispatch event to the bot and wait until it was written to the socket."""
        sessions = self._sessions_for(guild_id)
        if not sessions:
            raise FakeUsageError(
                f"cannot send {event}: no bot is connected to the fake gateway (not started, "
                "not identified yet, or closed)"
            )
        for session in sessions:
            await session.dispatch(event, data)

    async def drop_gateway(self, code: int = 4000) -> None:
        """Close the bot's gateway connections with ``code`` (4000 = "unknown error", which
        discord.py answers by reconnecting and sending RESUME)."""
        for session in list(self.sessions):
            if session.identified and code not in (1000, 1001):
                self._resumable[session.session_id] = session
            await session.close(code)

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        session = GatewaySession(ws, request.query.get("compress"))
        self.sessions.append(session)
        try:
            session.send({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
            async for msg in ws:
                if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    continue
                try:
                    data = json.loads(msg.data)
                    op = data["op"]
                except (ValueError, KeyError, TypeError):
                    await session.close(4002, b"Error while decoding payload.")
                    break
                await self._on_gateway_op(session, op, data.get("d"))
                self._notify()
        except Exception as exc:  # a bug in the fake
            self.record_error(exc)
        finally:
            if session.identified and ws.close_code not in (1000, 1001):
                self._resumable[session.session_id] = session
            session.mark_closed()
            self.sessions.remove(session)
            self._notify()
        return ws

    async def _on_gateway_op(self, session: GatewaySession, op: int, d: Any) -> None:
        if op == 1:  # HEARTBEAT
            self.heartbeats += 1
            session.send({"op": 11})
        elif op == 2:  # IDENTIFY
            await self._identify(session, d)
        elif op == 6:  # RESUME
            self.resumes.append(d)
            old = self._resumable.pop(d.get("session_id"), None) or next(
                (s for s in self.sessions if s.session_id == d.get("session_id") and s.ws.closed),
                None,
            )
            if self.resume_policy == "resume" and old is not None and d.get("token") == self.token:
                session.session_id, session.intents, session.shard = (
                    old.session_id,
                    old.intents,
                    old.shard,
                )
                session.seq = old.seq
                session.identified = True
                client_seq = d.get("seq") or 0
                missed = [(ev, data) for seq, ev, data in old.history if seq > client_seq]
                for event, data in missed + old.backlog:
                    session.dispatch(event, data)
                session.dispatch("RESUMED", {})
            else:
                session.send({"op": 9, "d": False})  # INVALID_SESSION, not resumable
        elif op == 8:  # REQUEST_GUILD_MEMBERS
            self._guild_members_chunk(session, d)
        elif op == 3:  # PRESENCE_UPDATE
            self.presence = d
        elif op == 4:  # VOICE_STATE_UPDATE: no voice in this fake
            pass
        else:
            await session.close(4001, b"Unknown opcode.")

    async def _identify(self, session: GatewaySession, d: Json) -> None:
        self.identify = d
        self.identifies.append(d)
        if d.get("token") != self.token:
            await session.close(4004, b"Authentication failed.")
            return
        if session.identified:
            await session.close(4005, b"Already authenticated.")
            return
        session.intents = int(d.get("intents", 0))
        shard = d.get("shard") or [0, 1]
        session.shard = (int(shard[0]), int(shard[1]))
        session.identified = True
        guild_ids = [gid for gid in self.guilds if session.owns(gid)]
        session.dispatch(
            "READY",
            {
                "v": 10,
                "user": self.bot_user,
                "guilds": [{"id": gid, "unavailable": True} for gid in guild_ids],
                "session_id": session.session_id,
                "resume_gateway_url": self.gateway_url,
                "shard": list(session.shard),
                "application": {"id": self.application_id, "flags": 0},
                "private_channels": [],
                "relationships": [],
                "presences": [],
                "user_settings": {},
                "guild_join_requests": [],
                "geo_ordered_rtc_regions": [],
            },
        )
        for gid in guild_ids:
            session.dispatch("GUILD_CREATE", self.guild_create_payload(gid, session))

    def _guild_members_chunk(self, session: GatewaySession, d: Json) -> None:
        guild_ids = d["guild_id"] if isinstance(d["guild_id"], list) else [d["guild_id"]]
        for gid in map(str, guild_ids):
            members = list(self.members.get(gid, {}).values())
            if d.get("user_ids") is not None:
                wanted = {
                    str(u)
                    for u in (d["user_ids"] if isinstance(d["user_ids"], list) else [d["user_ids"]])
                }
                members = [m for m in members if m["user"]["id"] in wanted]
            elif d.get("query"):
                q = d["query"].lower()
                members = [m for m in members if m["user"]["username"].lower().startswith(q)]
            if d.get("limit"):
                members = members[: int(d["limit"])]
            chunk: Json = {
                "guild_id": gid,
                "members": members,
                "chunk_index": 0,
                "chunk_count": 1,
                "not_found": [],
            }
            if d.get("nonce") is not None:
                chunk["nonce"] = d["nonce"]
            session.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    # ================================================================== REST plumbing

    def rate_limit_next(
        self,
        method: str,
        path_regex: str,
        retry_after: float = 0.5,
        count: int = 1,
        *,
        is_global: bool = False,
    ) -> None:
        """Answer the next ``count`` requests matching ``method`` and ``path_regex``
        (``re.fullmatch`` on the path after /api/v10, e.g. ``r"/channels/\\d+/messages"``)
        with 429 as Discord does: JSON ``retry_after`` and the X-RateLimit headers plus
        ``Via: 1.1 google`` (discord.py treats a 429 without ``Via`` as a Cloudflare ban and
        raises instead of waiting)."""
        self._rate_limits.append(
            _RateLimitRule(method.upper(), re.compile(path_regex), retry_after, count, is_global)
        )

    def hold(self, method: str, path_regex: str) -> Hold:
        """Hold the answer to the next matching request until ``.release()`` (see :class:`Hold`)."""
        hold = Hold(method.upper(), re.compile(path_regex))
        self._holds.append(hold)
        return hold

    def _take(self, rules: list[Any], method: str, path: str) -> Any:
        for rule in rules:
            if rule.method == method and rule.pattern.fullmatch(path):
                return rule
        return None

    async def _read_body(self, request: web.Request) -> tuple[Any, list[Json]]:
        if not request.can_read_body:
            return None, []
        if request.content_type == "application/json":
            return await request.json(), []
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            payload = form.get("payload_json")
            body = json.loads(payload) if isinstance(payload, str) else {}
            files = []
            for name, value in form.items():
                if isinstance(value, web.FileField):
                    data = value.file.read()
                    files.append(
                        {
                            "field": name,
                            "filename": value.filename,
                            "size": len(data),
                            "content_type": value.content_type,
                            "data": data,
                        }
                    )
            body["_files"] = [f["filename"] for f in files]
            return body, files
        raw = await request.read()
        return raw.decode(errors="replace"), []

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        at = time.monotonic()
        method = request.method
        path = "/" + request.match_info["tail"]
        query = dict(request.query)
        hold: Hold | None = None
        unknown_route = False
        try:
            body, files = await self._read_body(request)
        except Exception as exc:
            body, files = None, []
            self.record_error(exc)
        try:
            if (
                not path.startswith(("/interactions/", "/webhooks/"))
                and request.headers.get("Authorization") != f"Bot {self.token}"
            ):
                raise ApiError(401, 0, "401: Unauthorized")
            rule = self._take(self._rate_limits, method, path)
            if rule is not None:
                rule.count -= 1
                if rule.count <= 0:
                    self._rate_limits.remove(rule)
                self.rate_limited.append(RateLimitHit(method, path, at, rule.retry_after))
                self.requests.append(Request(method, path, query, body, at, 429))
                self._notify()
                return self._too_many_requests(rule)
            hold = self._take([h for h in self._holds if not h._taken], method, path)
            if hold is not None:
                hold._taken = True
            status, payload = self._route(_Call(method, path, query, body, files, {}))
        except ApiError as err:
            status, payload = err.status, err.payload()
            if err.status == 400:
                self.record_error(BotSentBadRequest(f"{method} {path}: {json.dumps(payload)}"))
        except UnknownRoute:
            unknown_route = True
            status, payload = (
                404,
                {"message": "404: Not Found (not a route of the fake)", "code": 0},
            )
        except Exception as exc:  # a bug in the fake: 400, never 5xx (discord.py retries 5xx)
            self.record_error(exc)
            status, payload = 400, {"message": f"fake Discord crashed: {exc!r}", "code": 0}
        record = Request(method, path, query, body, at, status)
        self.requests.append(record)
        if unknown_route:
            self.unhandled.append(record)
        self._notify()
        if hold is not None:
            hold.request, hold.response = record, payload
            hold.arrived.set()
            await hold._released.wait()
        if status == 204:
            return web.Response(status=204)
        return json_response(payload, status)

    @staticmethod
    def _too_many_requests(rule: _RateLimitRule) -> web.Response:
        headers = {
            "Retry-After": str(math.ceil(rule.retry_after)),
            "X-RateLimit-Limit": "1",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{time.time() + rule.retry_after:.3f}",
            "X-RateLimit-Reset-After": f"{rule.retry_after:.3f}",
            "X-RateLimit-Bucket": "fake-bucket",
            "X-RateLimit-Scope": "global" if rule.is_global else "user",
            "Via": "1.1 google",
        }
        if rule.is_global:
            headers["X-RateLimit-Global"] = "true"
        body = {
            "message": "You are being rate limited.",
            "retry_after": rule.retry_after,
            "global": rule.is_global,
        }
        return json_response(body, 429, headers)

    def _route_table(self) -> list[tuple[str, re.Pattern[str], Callable[[_Call], tuple[int, Any]]]]:
        """(method, path template, handler); ``{name}`` matches a snowflake, ``{token}`` an
        interaction token, ``{message}`` a snowflake or ``@original``."""
        table: list[tuple[str, str, Callable[[_Call], tuple[int, Any]]]] = [
            ("GET", "/users/@me", lambda c: (200, self.bot_user)),
            ("GET", "/users/{user}", self._r_get_user),
            ("GET", "/oauth2/applications/@me", self._r_app_info),
            ("GET", "/applications/@me", self._r_app_info),
            ("GET", "/gateway", lambda c: (200, {"url": self.gateway_url})),
            ("GET", "/gateway/bot", self._r_gateway_bot),
            ("GET", "/applications/{app}/commands", self._r_get_commands),
            ("PUT", "/applications/{app}/commands", self._r_put_commands),
            ("GET", "/applications/{app}/guilds/{guild}/commands", self._r_get_commands),
            ("PUT", "/applications/{app}/guilds/{guild}/commands", self._r_put_commands),
            ("GET", "/guilds/{guild}/members/{user}", self._r_get_member),
            ("POST", "/users/@me/channels", self._r_open_dm),
            ("GET", "/channels/{channel}", self._r_get_channel),
            ("POST", "/channels/{channel}/messages", self._r_create_message),
            ("GET", "/channels/{channel}/messages/{message}", self._r_get_message),
            ("PATCH", "/channels/{channel}/messages/{message}", self._r_edit_message),
            ("DELETE", "/channels/{channel}/messages/{message}", self._r_delete_message),
            ("POST", "/channels/{channel}/threads", self._r_create_thread),
            ("PUT", "/channels/{channel}/thread-members/{user}", self._r_add_thread_member),
            ("POST", "/interactions/{interaction}/{token}/callback", self._r_callback),
            ("POST", "/webhooks/{app}/{token}", self._r_followup),
            ("GET", "/webhooks/{app}/{token}/messages/{message}", self._r_webhook_message),
            ("PATCH", "/webhooks/{app}/{token}/messages/{message}", self._r_webhook_message),
            ("DELETE", "/webhooks/{app}/{token}/messages/{message}", self._r_webhook_message),
        ]

        def compile_template(template: str) -> re.Pattern[str]:
            def group(m: re.Match[str]) -> str:
                name = m.group(1)
                if name == "token":
                    return r"(?P<token>[^/]+)"
                if name == "message" and template.startswith("/webhooks/"):
                    return r"(?P<message>@original|\d+)"
                return rf"(?P<{name}>\d+)"

            return re.compile(re.sub(r"\{(\w+)\}", group, template))

        return [(m, compile_template(t), h) for m, t, h in table]

    def _route(self, call: _Call) -> tuple[int, Any]:
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(call.path)
            if match and method == call.method:
                call.params = match.groupdict()
                return handler(call)
        raise UnknownRoute(f"{call.method} {call.path}")

    # ================================================================== REST: identity, commands

    def _r_get_user(self, call: _Call) -> tuple[int, Any]:
        user = self.users.get(call.params["user"])
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return 200, user

    def _r_app_info(self, call: _Call) -> tuple[int, Any]:
        return 200, {
            "id": self.application_id,
            "name": self.bot_user["username"],
            "icon": None,
            "description": "",
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self._owner,
            "team": None,
            "verify_key": "0" * 64,
            "flags": 0,
            "bot": self.bot_user,
            "approximate_guild_count": len(self.guilds),
        }

    def _r_gateway_bot(self, call: _Call) -> tuple[int, Any]:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return 200, {"url": self.gateway_url, "shards": 1, "session_start_limit": limit}

    def _check_app(self, call: _Call) -> None:
        if call.params["app"] != self.application_id:
            raise ApiError(403, 50001, "Missing Access")

    def _r_get_commands(self, call: _Call) -> tuple[int, Any]:
        self._check_app(call)
        gid = call.params.get("guild")
        if gid is not None:
            if gid not in self.guilds:
                raise ApiError(403, 50001, "Missing Access")
            return 200, self.guild_commands.get(gid, [])
        return 200, self.global_commands

    def _r_put_commands(self, call: _Call) -> tuple[int, Any]:
        """Bulk overwrite: ids survive for the same (name, type), as on Discord."""
        self._check_app(call)
        gid = call.params.get("guild")
        if gid is not None and gid not in self.guilds:
            raise ApiError(403, 50001, "Missing Access")
        body = call.body
        if not isinstance(body, list):
            raise ApiError(400, 50035, "Invalid Form Body")
        _validate_commands(body)
        old = self.guild_commands.get(gid, []) if gid else self.global_commands
        by_key = {(c["name"], c.get("type", 1)): c for c in old}
        new: list[Json] = []
        for cmd in body:
            prev = by_key.get((cmd["name"], cmd.get("type", 1)))
            stored = {"type": 1, "nsfw": False, "default_member_permissions": None, **cmd}
            stored["application_id"] = self.application_id
            if gid is not None:
                stored["guild_id"] = gid
            stored["id"] = prev["id"] if prev else snowflake()
            same = prev is not None and _command_key(prev) == _command_key(stored)
            stored["version"] = prev["version"] if same and prev else snowflake()
            new.append(stored)
        changed = [_command_key(c) for c in old] != [_command_key(c) for c in new]
        if gid is not None:
            self.guild_commands[gid] = new
        else:
            self.global_commands = new
        self.sync_calls.append(SyncCall(gid, time.monotonic(), changed))
        return 200, new

    def _r_get_member(self, call: _Call) -> tuple[int, Any]:
        gid, uid = call.params["guild"], call.params["user"]
        if gid not in self.guilds:
            raise ApiError(404, 10004, "Unknown Guild")
        member = self.members[gid].get(uid)
        if member is None:
            raise ApiError(404, 10007, "Unknown Member")
        return 200, member

    # ================================================================== REST: channels, messages

    def _r_open_dm(self, call: _Call) -> tuple[int, Any]:
        uid = str((call.body or {}).get("recipient_id"))  # discord.py sends an int
        if uid not in self.users or uid == self.application_id:
            raise ApiError(400, 50033, "Invalid Recipient(s)")
        return 200, self._dm_channel_payload(uid)

    def _visible_channel(self, cid: str) -> Json:
        channel = self.channels.get(cid)
        if channel is None:
            raise ApiError(404, 10003, "Unknown Channel")
        if channel["type"] == ChannelType.DM:
            return channel
        if channel["type"] in THREAD_TYPES:
            if not self._can_see_thread(channel, self.application_id):
                raise ApiError(403, 50001, "Missing Access")
        elif (
            not self.permissions_for(channel["guild_id"], self.application_id, channel)
            & P.VIEW_CHANNEL
        ):
            raise ApiError(403, 50001, "Missing Access")
        return channel

    def _r_get_channel(self, call: _Call) -> tuple[int, Any]:
        return 200, self._visible_channel(call.params["channel"])

    def _check_can_send(self, channel: Json) -> None:
        if channel["type"] == ChannelType.DM:
            uid = channel["recipients"][0]["id"]
            shares_guild = any(uid in members for members in self.members.values())
            if not self._prefs(uid).dms_open or not shares_guild:
                raise ApiError(403, 50007, "Cannot send messages to this user")
            return
        perms = self.permissions_for(channel["guild_id"], self.application_id, channel)
        needed = P.SEND_MESSAGES_IN_THREADS if channel["type"] in THREAD_TYPES else P.SEND_MESSAGES
        if not perms & needed:
            raise ApiError(403, 50013, "Missing Permissions")
        if channel["type"] in THREAD_TYPES and channel["thread_metadata"]["archived"]:
            raise ApiError(400, 50083, "Thread is archived")

    def _r_create_message(self, call: _Call) -> tuple[int, Any]:
        channel = self._visible_channel(call.params["channel"])
        self._check_can_send(channel)
        body = call.body if isinstance(call.body, dict) else {}
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            for existing in self.messages.get(channel["id"], []):
                if (
                    existing.get("nonce") == nonce
                    and existing["author"]["id"] == self.application_id
                ):
                    return 200, existing  # Discord: same nonce within minutes -> same message
        _validate_message_body(body, call.files, creating=True)
        msg = self._store_message(channel, body, call.files)
        return 200, msg

    def _find_in_channel(self, cid: str, mid: str) -> Json:
        msg = self._message_index.get(mid)
        if msg is None or msg["channel_id"] != cid:
            raise ApiError(404, 10008, "Unknown Message")
        return msg

    def _r_get_message(self, call: _Call) -> tuple[int, Any]:
        self._visible_channel(call.params["channel"])
        msg = self._find_in_channel(call.params["channel"], call.params["message"])
        if msg["flags"] & MESSAGE_FLAG_EPHEMERAL:
            raise ApiError(404, 10008, "Unknown Message")
        return 200, msg

    def _r_edit_message(self, call: _Call) -> tuple[int, Any]:
        self._visible_channel(call.params["channel"])
        msg = self._find_in_channel(call.params["channel"], call.params["message"])
        if msg["flags"] & MESSAGE_FLAG_EPHEMERAL:
            raise ApiError(404, 10008, "Unknown Message")
        if msg["author"]["id"] != self.application_id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        self._apply_edit(msg, call.body if isinstance(call.body, dict) else {}, call.files)
        return 200, msg

    def _r_delete_message(self, call: _Call) -> tuple[int, Any]:
        channel = self._visible_channel(call.params["channel"])
        msg = self._find_in_channel(channel["id"], call.params["message"])
        if msg["author"]["id"] != self.application_id and channel["type"] != ChannelType.DM:
            perms = self.permissions_for(channel["guild_id"], self.application_id, channel)
            if not perms & P.MANAGE_MESSAGES:
                raise ApiError(403, 50013, "Missing Permissions")
        self._delete_message(msg)
        return 204, None

    # ------------------------------------------------------------------ message store

    def _attachments(self, body: Json, files: list[Json], keep: Sequence[Json] = ()) -> list[Json]:
        """Attachments after a create/edit: the kept ones (listed by id in ``attachments``)
        plus the uploaded ``files[n]`` (described by ``{"id": n, ...}``)."""
        described = {str(a.get("id")): a for a in body.get("attachments") or []}
        result = [a for a in keep if str(a["id"]) in described]
        for n, f in enumerate(files):
            meta = described.get(str(n), {})
            aid = snowflake()
            self.uploads[aid] = f.get("data", b"")
            result.append(
                {
                    "id": aid,
                    "filename": meta.get("filename") or f["filename"],
                    "description": meta.get("description"),
                    "size": f["size"],
                    "content_type": f["content_type"],
                    "url": f"https://cdn.fake.invalid/attachments/{aid}/{f['filename']}",
                    "proxy_url": f"https://media.fake.invalid/attachments/{aid}/{f['filename']}",
                }
            )
        return result

    def _store_message(
        self,
        channel: Json,
        body: Json,
        files: list[Json],
        *,
        author: Json | None = None,
        interaction: InteractionState | None = None,
        flags: int | None = None,
    ) -> Json:
        """Create a message the way Discord would store and return it."""
        cid = channel["id"]
        msg: Json = {
            "id": snowflake(),
            "channel_id": cid,
            "author": author or self.bot_user,
            "content": body.get("content") or "",
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts")),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "mention_channels": [],
            "attachments": self._attachments(body, files),
            "embeds": body.get("embeds") or [],
            "reactions": [],
            "pinned": False,
            "type": 0,
            "flags": int(body.get("flags") or 0) if flags is None else flags,
            "components": with_component_ids(body.get("components") or []),
            "nonce": body.get("nonce"),
            # not part of Discord's message object: kept so tests can check what was asked
            "allowed_mentions": body.get("allowed_mentions"),
        }
        if author is not None and author["id"] != self.application_id:
            ids = re.findall(r"<@!?(\d+)>", msg["content"])
            msg["mentions"] = [self.users[i] for i in dict.fromkeys(ids) if i in self.users]
        if body.get("message_reference"):
            msg["message_reference"] = body["message_reference"]
            msg["type"] = 19  # REPLY
        if interaction is not None:
            ip = interaction.payload
            msg["webhook_id"] = self.application_id
            msg["application_id"] = self.application_id
            msg["type"] = 20 if ip["type"] == 2 else 0  # CHAT_INPUT_COMMAND for slash replies
            meta: Json = {
                "id": ip["id"],
                "type": ip["type"],
                "user": interaction.user,
                "authorizing_integration_owners": ip["authorizing_integration_owners"],
            }
            if ip["type"] == 3 and "message" in ip:
                meta["interacted_message_id"] = ip["message"]["id"]
            if interaction.original_id is not None:
                meta["original_response_message_id"] = interaction.original_id
            msg["interaction_metadata"] = meta
            if msg["flags"] & MESSAGE_FLAG_EPHEMERAL:
                self._ephemeral_owner[msg["id"]] = interaction.user["id"]
        self.messages.setdefault(cid, []).append(msg)
        self._message_index[msg["id"]] = msg
        channel["last_message_id"] = msg["id"]
        if channel["type"] in THREAD_TYPES:
            channel["message_count"] += 1
            channel["total_message_sent"] += 1
        self._echo("MESSAGE_CREATE", msg)
        return msg

    def _apply_edit(self, msg: Json, body: Json, files: list[Json]) -> None:
        """Edit semantics: only the given fields change; ``attachments`` lists what stays."""
        _validate_message_body(body, files, creating=False)
        updated = dict(msg)
        for key in ("content", "embeds", "allowed_mentions"):
            if key in body:
                updated[key] = (
                    body[key] if body[key] is not None else ("" if key == "content" else [])
                )
        if "components" in body:
            updated["components"] = with_component_ids(body["components"] or [])
        if "flags" in body and body["flags"] is not None:
            keep = msg["flags"] & (MESSAGE_FLAG_EPHEMERAL | MESSAGE_FLAG_LOADING)
            updated["flags"] = keep | (
                int(body["flags"]) & ~(MESSAGE_FLAG_EPHEMERAL | MESSAGE_FLAG_LOADING)
            )
        if "attachments" in body:
            updated["attachments"] = self._attachments(body, files, msg["attachments"])
        elif files:  # new uploads without an attachments list keep the old ones
            keep_all = {"attachments": [{"id": a["id"]} for a in msg["attachments"]]}
            updated["attachments"] = (
                msg["attachments"] + self._attachments(keep_all, files)[len(msg["attachments"]) :]
            )
        if not (
            updated["content"]
            or updated["embeds"]
            or updated["components"]
            or updated["attachments"]
        ):
            raise ApiError(400, 50006, "Cannot send an empty message")
        updated["edited_timestamp"] = iso_now()
        msg.update(updated)
        self._echo("MESSAGE_UPDATE", msg)

    def _delete_message(self, msg: Json) -> None:
        self.messages[msg["channel_id"]].remove(msg)
        del self._message_index[msg["id"]]
        channel = self.channels[msg["channel_id"]]
        data: Json = {"id": msg["id"], "channel_id": msg["channel_id"]}
        if "guild_id" in channel:
            data["guild_id"] = channel["guild_id"]
        if not msg["flags"] & MESSAGE_FLAG_EPHEMERAL and self.echo_own_messages:
            self._emit_message_event("MESSAGE_DELETE", channel, data)

    def _echo(self, event: str, msg: Json) -> None:
        """MESSAGE_CREATE/UPDATE over the gateway, as Discord sends them given the intents
        (never for ephemeral messages; the bot's own ones only with ``echo_own_messages``)."""
        own = msg["author"]["id"] == self.application_id
        if msg["flags"] & MESSAGE_FLAG_EPHEMERAL or (own and not self.echo_own_messages):
            return
        channel = self.channels[msg["channel_id"]]
        data = {k: v for k, v in msg.items() if k != "allowed_mentions"}
        if "guild_id" in channel:
            data["guild_id"] = channel["guild_id"]
            member = self.members[channel["guild_id"]].get(msg["author"]["id"])
            if member is not None and "webhook_id" not in msg:
                data["member"] = {k: v for k, v in member.items() if k != "user"}
        if own or channel["type"] == ChannelType.DM:
            self._emit_message_event(event, channel, data)
            return
        mentioned = any(u["id"] == self.application_id for u in msg["mentions"])
        hidden = {**data, "content": "", "embeds": [], "attachments": [], "components": []}
        self._emit_message_event(
            event,
            channel,
            lambda s: data if mentioned or s.intents & Intent.MESSAGE_CONTENT else hidden,
        )

    def _emit_message_event(
        self, event: str, channel: Json, data: Json | Callable[[GatewaySession], Json]
    ) -> None:
        if channel["type"] == ChannelType.DM:
            self._emit_to_guild(None, event, data, Intent.DIRECT_MESSAGES)
        else:
            self._emit_to_guild(channel["guild_id"], event, data, Intent.GUILD_MESSAGES)

    # ------------------------------------------------------------------ threads

    def _r_create_thread(self, call: _Call) -> tuple[int, Any]:
        parent = self._visible_channel(call.params["channel"])
        if parent["type"] not in (ChannelType.GUILD_TEXT, ChannelType.GUILD_ANNOUNCEMENT):
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        body = call.body if isinstance(call.body, dict) else {}
        errors = FormErrors()
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            errors.add("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        ttype = body.get("type")
        if ttype not in (ChannelType.PUBLIC_THREAD, ChannelType.PRIVATE_THREAD):
            errors.add("type", "BASE_TYPE_CHOICES", "Value must be one of {11, 12}.")
        archive = body.get("auto_archive_duration") or 1440
        if archive not in (60, 1440, 4320, 10080):
            errors.add(
                "auto_archive_duration",
                "BASE_TYPE_CHOICES",
                "Value must be one of {60, 1440, 4320, 10080}.",
            )
        errors.raise_if_any()
        perms = self.permissions_for(parent["guild_id"], self.application_id, parent)
        needed = (
            P.CREATE_PRIVATE_THREADS
            if ttype == ChannelType.PRIVATE_THREAD
            else P.CREATE_PUBLIC_THREADS
        )
        if not perms & needed:
            raise ApiError(403, 50013, "Missing Permissions")
        now = iso_now()
        metadata: Json = {
            "archived": False,
            "auto_archive_duration": archive,
            "archive_timestamp": now,
            "locked": False,
            "create_timestamp": now,
        }
        if ttype == ChannelType.PRIVATE_THREAD:
            metadata["invitable"] = bool(body.get("invitable", True))
        thread: Json = {
            "id": snowflake(),
            "type": int(ttype),
            "guild_id": parent["guild_id"],
            "parent_id": parent["id"],
            "owner_id": self.application_id,
            "name": name,
            "last_message_id": None,
            "rate_limit_per_user": body.get("rate_limit_per_user") or 0,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "flags": 0,
            "thread_metadata": metadata,
        }
        self.channels[thread["id"]] = thread
        self.thread_members[thread["id"]] = [self.application_id]
        me = {"id": thread["id"], "user_id": self.application_id, "join_timestamp": now, "flags": 0}
        self._emit_to_guild(
            thread["guild_id"],
            "THREAD_CREATE",
            {**thread, "newly_created": True, "member": me},
            Intent.GUILDS,
        )
        return 200, {**thread, "member": me}

    def _r_add_thread_member(self, call: _Call) -> tuple[int, Any]:
        thread = self._visible_channel(call.params["channel"])
        if thread["type"] not in THREAD_TYPES:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        uid = call.params["user"]
        if uid not in self.members[thread["guild_id"]]:
            raise ApiError(404, 10007, "Unknown Member")
        if thread["thread_metadata"]["archived"]:
            raise ApiError(400, 50083, "Thread is archived")
        perms = self.permissions_for(thread["guild_id"], self.application_id, thread)
        if not perms & P.SEND_MESSAGES_IN_THREADS:
            raise ApiError(403, 50013, "Missing Permissions")
        members = self.thread_members.setdefault(thread["id"], [])
        if uid not in members:
            members.append(uid)
            thread["member_count"] = len(members)
        return 204, None

    # ================================================================== REST: interactions

    #: interaction type -> callback types Discord accepts (2 command, 3 component,
    #: 4 autocomplete, 5 modal submit)
    _ALLOWED_CALLBACKS: ClassVar[dict[int, set[int]]] = {
        2: {4, 5, 9},
        3: {4, 5, 6, 7, 9},
        4: {8},
        5: {4, 5},
    }

    def _r_callback(self, call: _Call) -> tuple[int, Any]:
        state = self.interactions.get(call.params["interaction"])
        if state is None or state.token != call.params["token"]:
            raise ApiError(404, 10062, "Unknown interaction")
        if state.callback_type is not None:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        body = call.body if isinstance(call.body, dict) else {}
        ctype = body.get("type")
        ip = state.payload
        allowed = set(self._ALLOWED_CALLBACKS.get(ip["type"], set()))
        if ip["type"] == 5 and "message" in ip:
            allowed |= {6, 7}  # modal opened from a component: may update that message
        if ctype not in allowed:
            errors = FormErrors()
            errors.add(
                "type",
                "INTERACTION_RESPONSE_TYPE_INVALID",
                f"Callback type {ctype} is not valid for interaction type {ip['type']}.",
            )
            errors.raise_if_any()
        data = body.get("data") or {}
        channel = self.channels[ip["channel_id"]]
        if ctype in (4, 7):
            _validate_message_body(data, call.files, creating=ctype == 4, path="data")
        if ctype == 9:
            _validate_modal(data)
        info: Json = {
            "id": state.id,
            "type": ip["type"],
            "response_message_loading": ctype == 5,
            "response_message_ephemeral": False,
        }
        response: Json = {"interaction": info}
        msg: Json | None = None
        if ctype == 4:
            msg = self._store_message(channel, data, call.files, interaction=state)
        elif ctype == 5:
            flags = MESSAGE_FLAG_LOADING | (int(data.get("flags") or 0) & MESSAGE_FLAG_EPHEMERAL)
            msg = self._store_message(channel, {}, [], interaction=state, flags=flags)
            state.deferred_pending = True
        elif ctype in (6, 7):
            msg = self._message_index.get(ip["message"]["id"])
            if msg is None:
                raise ApiError(404, 10008, "Unknown Message")
            if ctype == 7:
                self._apply_edit(msg, data, call.files)
            else:
                msg = None  # deferred update: nothing created or changed yet
            state.original_id = ip["message"]["id"]
        elif ctype == 9:
            state.modal = {**data, "components": with_component_ids(data.get("components") or [])}
        if msg is not None:
            state.original_id = msg["id"]
            info["response_message_id"] = msg["id"]
            info["response_message_ephemeral"] = bool(msg["flags"] & MESSAGE_FLAG_EPHEMERAL)
            response["resource"] = {"type": ctype, "message": msg}
        state.callback_type = ctype
        self.callbacks[state.id] = body  # only once Discord accepted it
        return 200, response

    def _webhook_interaction(self, call: _Call) -> InteractionState:
        state = self._by_token.get(call.params["token"])
        if (
            call.params["app"] != self.application_id
            or state is None
            or state.callback_type is None
        ):
            raise ApiError(404, 10015, "Unknown Webhook")
        return state

    def _r_followup(self, call: _Call) -> tuple[int, Any]:
        """POST /webhooks/{app}/{token}: the first followup after a "thinking" defer edits the
        loading message (keeping the defer's ephemerality); later ones are new messages."""
        state = self._webhook_interaction(call)
        body = call.body if isinstance(call.body, dict) else {}
        _validate_message_body(body, call.files, creating=True)
        if state.deferred_pending and state.original_id in self._message_index:
            msg = self._message_index[state.original_id]
            state.deferred_pending = False
            edit = {
                k: v
                for k, v in body.items()
                if k in ("content", "embeds", "components", "allowed_mentions", "attachments")
            }
            msg["flags"] &= ~MESSAGE_FLAG_LOADING
            self._apply_edit(msg, edit, call.files)
        else:
            channel = self.channels[state.payload["channel_id"]]
            flags = int(body.get("flags") or 0)
            msg = self._store_message(channel, body, call.files, interaction=state, flags=flags)
        state.followup_ids.append(msg["id"])
        self.followups.setdefault(state.token, []).append(msg)
        if call.query.get("wait", "false").lower() in ("1", "true"):
            return 200, msg
        return 204, None

    def _r_webhook_message(self, call: _Call) -> tuple[int, Any]:
        """GET/PATCH/DELETE of ``@original`` or a followup of an interaction."""
        state = self._webhook_interaction(call)
        mid = state.original_id if call.params["message"] == "@original" else call.params["message"]
        if mid is None or (mid != state.original_id and mid not in state.followup_ids):
            raise ApiError(404, 10008, "Unknown Message")
        msg = self._message_index.get(mid)
        if msg is None:
            raise ApiError(404, 10008, "Unknown Message")
        if call.method == "GET":
            return 200, msg
        if call.method == "DELETE":
            self._delete_message(msg)
            return 204, None
        body = call.body if isinstance(call.body, dict) else {}
        if mid == state.original_id and state.deferred_pending:
            state.deferred_pending = False  # editing the loading message completes the defer
            msg["flags"] &= ~MESSAGE_FLAG_LOADING
        self._apply_edit(msg, body, call.files)
        return 200, msg

    # ================================================================== test-side actions

    def _new_interaction(
        self,
        itype: int,
        data: Json,
        user: Json | str,
        channel: Json | str,
        *,
        message: Json | None = None,
        locale: str | None = None,
    ) -> InteractionState:
        """Build an INTERACTION_CREATE payload as Discord sends it for ``user`` in ``channel``."""
        user = self._user(user)
        chan = self._channel(channel)
        iid = snowflake()
        payload: Json = {
            "id": iid,
            "application_id": self.application_id,
            "type": itype,
            "data": data,
            "token": f"fake-token-{iid}-{secrets.token_hex(8)}",
            "version": 1,
            "locale": locale or self._prefs(user["id"]).locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
            "channel_id": chan["id"],
        }
        if chan["type"] == ChannelType.DM:
            if chan["recipients"][0]["id"] != user["id"]:
                raise FakeUsageError("only the DM's recipient can interact in the bot's DM")
            payload.update(
                user=user,
                channel=dict(chan),
                context=1,  # BOT_DM
                authorizing_integration_owners={"0": "0"},
                app_permissions=str(int(DM_APP_PERMISSIONS)),
            )
        else:
            gid = chan["guild_id"]
            if user["id"] not in self.members[gid]:
                raise FakeUsageError(f"{user['username']} is not a member of guild {gid}")
            perms = self.permissions_for(gid, user["id"], chan)
            if not perms & P.VIEW_CHANNEL or (
                chan["type"] in THREAD_TYPES and not self._can_see_thread(chan, user["id"])
            ):
                raise FakeUsageError(f"{user['username']} cannot see channel {chan['id']}")
            guild = self.guilds[gid]
            payload.update(
                guild_id=gid,
                guild={
                    "id": gid,
                    "locale": guild["preferred_locale"],
                    "features": guild["features"],
                },
                guild_locale=guild["preferred_locale"],
                member=self._member_payload(gid, user["id"], chan),
                channel={**chan, "permissions": str(perms)},
                app_permissions=str(self.permissions_for(gid, self.application_id, chan)),
                context=0,  # GUILD
                authorizing_integration_owners={"0": gid},
            )
        if message is not None:
            payload["message"] = copy.deepcopy(message)
        state = InteractionState(payload)
        self.interactions[iid] = state
        self._by_token[state.token] = state
        return state

    async def _send_interaction(self, state: InteractionState) -> str:
        await self.dispatch(
            "INTERACTION_CREATE", state.payload, guild_id=state.payload.get("guild_id")
        )
        return state.id

    async def slash(
        self,
        guild: Json | str | None,
        channel: Json | str | None,
        user: Json | str,
        name: str,
        path: Sequence[str] = (),
        options: Mapping[str, Any] | None = None,
        *,
        locale: str | None = None,
    ) -> str:
        """``user`` runs ``/name path... options`` in ``channel``; returns the interaction id.

        The command is looked up among the commands the bot synced (guild commands of
        ``guild`` first, then global), so ``data.id`` is right and a command that was never
        synced raises :class:`CannotInvoke`. ``path`` walks subcommand groups/subcommands
        (``["round", "start"]``). Option values are checked against the registered option
        types (3 str, 4 int, 5 bool, 6 user dict/id, 7 channel, 8 role, 10 number) and
        choices; user options get ``data.resolved.users`` and, in guilds, ``resolved.members``.
        ``guild=None, channel=None`` runs it in the bot's DM. ``locale`` defaults to the
        user's locale. Discord's client-side rules are enforced: ``default_member_permissions``,
        ``contexts``/``dm_permission``, USE_APPLICATION_COMMANDS.
        """
        user_d = self._user(user)
        if channel is None:
            if guild is not None:
                raise FakeUsageError("a guild slash command needs a channel")
            chan = self._dm_channel_payload(user_d["id"])
        else:
            chan = self._channel(channel)
            if guild is not None and chan.get("guild_id") != _id(guild):
                raise FakeUsageError(f"channel {chan['id']} is not in guild {_id(guild)}")
        gid = chan.get("guild_id")
        cmd = self.command(name, gid)
        if cmd is None:
            raise CannotInvoke(f"/{name} was not synced by the bot (guild {gid} or global)")
        self._check_can_invoke(cmd, user_d["id"], chan)
        options_out, resolved = self._build_options(cmd, list(path), dict(options or {}), chan)
        data: Json = {"id": cmd["id"], "name": cmd["name"], "type": 1}
        if options_out:
            data["options"] = options_out
        if resolved:
            data["resolved"] = resolved
        if "guild_id" in cmd:
            data["guild_id"] = cmd["guild_id"]
        state = self._new_interaction(2, data, user_d, chan, locale=locale)
        return await self._send_interaction(state)

    def _check_can_invoke(self, cmd: Json, uid: str, chan: Json) -> None:
        in_dm = chan["type"] == ChannelType.DM
        contexts = cmd.get("contexts")
        if in_dm and (
            "guild_id" in cmd
            or cmd.get("dm_permission") is False
            or (contexts is not None and 1 not in contexts)
        ):
            raise CannotInvoke(f"/{cmd['name']} cannot be used in DMs")
        if not in_dm and contexts is not None and 0 not in contexts:
            raise CannotInvoke(f"/{cmd['name']} cannot be used in guilds")
        if in_dm:
            return
        perms = self.permissions_for(chan["guild_id"], uid, chan)
        if not perms & P.USE_APPLICATION_COMMANDS:
            raise CannotInvoke("the user lacks USE_APPLICATION_COMMANDS here")
        required = cmd.get("default_member_permissions")
        if required is not None and not perms & P.ADMINISTRATOR:
            need = int(required)
            if need == 0 or perms & need != need:
                raise CannotInvoke(f"/{cmd['name']} needs permissions {need} (user has {perms})")

    def _build_options(
        self, cmd: Json, path: list[str], options: dict[str, Any], chan: Json
    ) -> tuple[list[Json], Json]:
        out: list[Json] = []
        target = out
        node = cmd
        for part in path:
            sub = next(
                (o for o in node.get("options") or [] if o["name"] == part and o["type"] in (1, 2)),
                None,
            )
            if sub is None:
                raise FakeUsageError(f"/{cmd['name']} has no subcommand (group) {part!r}")
            entry: Json = {"type": sub["type"], "name": part, "options": []}
            target.append(entry)
            target = entry["options"]
            node = sub
        schema = node.get("options") or []
        if any(o["type"] in (1, 2) for o in schema):
            raise FakeUsageError(f"{' '.join([cmd['name'], *path])} needs a subcommand")
        resolved: Json = {}
        by_name = {o["name"]: o for o in schema}
        for opt_name, value in options.items():
            spec = by_name.get(opt_name)
            if spec is None:
                raise FakeUsageError(f"unknown option {opt_name!r}; registered: {sorted(by_name)}")
            target.append(
                {
                    "name": opt_name,
                    "type": spec["type"],
                    "value": self._option_value(spec, value, chan, resolved),
                }
            )
        missing = [o["name"] for o in schema if o.get("required") and o["name"] not in options]
        if missing:
            raise FakeUsageError(f"required options missing: {missing}")
        return out, resolved

    def _option_value(self, spec: Json, value: Any, chan: Json, resolved: Json) -> Any:
        otype = spec["type"]
        checks: dict[int, Callable[[Any], bool]] = {
            3: lambda v: isinstance(v, str),
            4: lambda v: isinstance(v, int) and not isinstance(v, bool),
            5: lambda v: isinstance(v, bool),
            10: lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        }
        if otype in checks:
            if not checks[otype](value):
                raise FakeUsageError(f"option {spec['name']!r} (type {otype}) got {value!r}")
            choices = spec.get("choices")
            if choices and value not in [c["value"] for c in choices]:
                raise FakeUsageError(f"{value!r} is not a choice of option {spec['name']!r}")
            return value
        if otype == 6 and _id(value) not in self.users:
            raise FakeUsageError(f"option {spec['name']!r}: unknown user {_id(value)}")
        if otype in (6, 9) and _id(value) in self.users:
            user = self._user(value)
            resolved.setdefault("users", {})[user["id"]] = user
            gid = chan.get("guild_id")
            if gid is not None and user["id"] in self.members[gid]:
                member = self._member_payload(gid, user["id"], chan)
                resolved.setdefault("members", {})[user["id"]] = {
                    k: v for k, v in member.items() if k != "user"
                }
            return user["id"]
        if otype in (8, 9):
            rid = _id(value)
            role = next(
                (r for r in self.roles.get(chan.get("guild_id", ""), []) if r["id"] == rid), None
            )
            if role is None:
                raise FakeUsageError(f"option {spec['name']!r}: unknown role {rid}")
            resolved.setdefault("roles", {})[rid] = role
            return rid
        if otype == 7:
            target = self._channel(value)
            perms = self.permissions_for(target["guild_id"], self.application_id, target)
            resolved.setdefault("channels", {})[target["id"]] = {
                **target,
                "permissions": str(perms),
            }
            return target["id"]
        raise FakeUsageError(f"option type {otype} is not supported by the fake")

    async def click(
        self,
        message: Json | str,
        custom_id: str,
        user: Json | str,
        *,
        values: Sequence[str] | None = None,
        locale: str | None = None,
    ) -> str:
        """``user`` clicks the button (or picks ``values`` in the select) ``custom_id`` on a
        stored message, in a guild channel, thread or DM; returns the interaction id.

        Uses the message as it is now (after edits). Raises :class:`FakeUsageError` when no
        such enabled component is on the message, the values are not allowed, or the user
        cannot see the message (ephemeral messages belong to one user).
        """
        msg = self.message(message)
        user_d = self._user(user)
        owner = self._ephemeral_owner.get(msg["id"])
        if owner is not None and owner != user_d["id"]:
            raise FakeUsageError("only the user who got an ephemeral message can click on it")
        comp = next(
            (c for c, _ in walk_components(msg["components"]) if c.get("custom_id") == custom_id),
            None,
        )
        if comp is None or comp["type"] not in (2, 3, 5, 6, 7, 8):
            raise FakeUsageError(f"message {msg['id']} has no button/select {custom_id!r}")
        if comp.get("disabled"):
            raise FakeUsageError(f"component {custom_id!r} is disabled")
        data: Json = {"custom_id": custom_id, "component_type": comp["type"]}
        if comp["type"] == 2:
            if values is not None:
                raise FakeUsageError("a button takes no values")
        else:
            picked = list(values or [])
            low, high = comp.get("min_values", 1), comp.get("max_values", 1)
            if not low <= len(picked) <= high:
                raise FakeUsageError(f"select {custom_id!r} takes {low}..{high} values")
            if comp["type"] == 3:
                allowed = {o["value"] for o in comp.get("options", [])}
                if not set(picked) <= allowed:
                    raise FakeUsageError(f"{picked} not among the options {sorted(allowed)}")
            elif comp["type"] == 5:
                data["resolved"] = self._resolve_users(picked, self.channels[msg["channel_id"]])
            else:
                raise FakeUsageError("role/mentionable/channel selects are not supported yet")
            data["values"] = picked
        state = self._new_interaction(
            3, data, user_d, msg["channel_id"], message=msg, locale=locale
        )
        return await self._send_interaction(state)

    def _resolve_users(self, user_ids: Sequence[str], chan: Json) -> Json:
        resolved: Json = {}
        for uid in user_ids:
            self._option_value({"name": "values", "type": 6}, uid, chan, resolved)
        return resolved

    def find_modal(self, modal: Json | str) -> InteractionState:
        """The interaction whose type-9 callback showed ``modal`` (an interaction id, the
        callback body, or its ``data``)."""
        if isinstance(modal, str | int):
            state = self.interactions.get(str(modal))
            if state is None or state.modal is None:
                raise FakeUsageError(f"interaction {modal} did not open a modal")
            return state
        data = modal.get("data", modal) if modal.get("type") == 9 else modal
        shown = [s for s in self.interactions.values() if s.modal is not None]
        for state in reversed(shown):
            body = self.callbacks[state.id]
            if body is modal or body.get("data") is data:
                return state
        for state in reversed(shown):
            if state.modal is not None and state.modal.get("custom_id") == data.get("custom_id"):
                return state
        raise FakeUsageError("this modal was never shown by the bot (no type-9 callback)")

    async def submit_modal(
        self,
        modal: Json | str,
        values: Mapping[str, str | bool | list[str] | None],
        user: Json | str,
        guild: Json | str | None = None,
        channel: Json | str | None = None,
        *,
        locale: str | None = None,
    ) -> str:
        """``user`` fills in and submits a modal the bot showed; returns the interaction id.

        ``modal``: the type-9 callback body (as from ``wait_callback``), its ``data``, or the
        id of the interaction that opened it. ``values`` maps custom_id -> str (text input,
        radio group), bool (checkbox) or list[str] (selects, checkbox group). The submit
        mirrors the modal's layout like Discord: Label (18) -> ``{"type": 18, "id",
        "component": {...}}``, legacy ActionRow (1) -> ``{"type": 1, "components": [...]}``,
        TextDisplay (10) -> ``{"type": 10, "id"}``. The context (guild channel or DM, and
        the message of a component that opened it) is the opening interaction's unless
        ``channel`` is given. Required inputs, lengths and select options are checked.
        """
        opener = self.find_modal(modal)
        assert opener.modal is not None
        user_d = self._user(user)
        if user_d["id"] != opener.user["id"]:
            raise FakeUsageError("a modal can only be submitted by the user it was shown to")
        chan = (
            self._channel(channel)
            if channel is not None
            else self.channels[opener.payload["channel_id"]]
        )
        if guild is not None and chan.get("guild_id") != _id(guild):
            raise FakeUsageError(f"channel {chan['id']} is not in guild {_id(guild)}")
        remaining = dict(values)
        resolved: Json = {}
        components = [
            self._submit_component(c, remaining, chan, resolved)
            for c in opener.modal.get("components", [])
        ]
        if remaining:
            raise FakeUsageError(f"the modal has no inputs {sorted(remaining)}")
        data: Json = {"custom_id": opener.modal["custom_id"], "components": components}
        if resolved:
            data["resolved"] = resolved
        message = opener.payload.get("message") if opener.payload["type"] == 3 else None
        if message is not None:
            message = self._message_index.get(message["id"], message)
        state = self._new_interaction(5, data, user_d, chan, message=message, locale=locale)
        return await self._send_interaction(state)

    def _submit_component(
        self, comp: Json, values: dict[str, Any], chan: Json, resolved: Json
    ) -> Json:
        ctype = comp["type"]
        if ctype == 1:
            return {
                "type": 1,
                "id": comp["id"],
                "components": [
                    self._submit_component(c, values, chan, resolved) for c in comp["components"]
                ],
            }
        if ctype == 18:
            return {
                "type": 18,
                "id": comp["id"],
                "component": self._submit_component(comp["component"], values, chan, resolved),
            }
        if ctype == 10:
            return {"type": 10, "id": comp["id"], "content": comp.get("content", "")}
        cid = comp.get("custom_id")
        required = comp.get("required", True)
        out: Json = {"type": ctype, "id": comp["id"], "custom_id": cid}
        if ctype == 4:  # text input
            value = values.pop(cid, comp.get("value") or "")
            if not isinstance(value, str):
                raise FakeUsageError(f"text input {cid!r} takes a str, got {value!r}")
            if required and not value:
                raise FakeUsageError(f"text input {cid!r} is required")
            if value and not comp.get("min_length", 0) <= len(value) <= comp.get(
                "max_length", 4000
            ):
                raise FakeUsageError(f"text input {cid!r}: length {len(value)} out of bounds")
            out["value"] = value
        elif ctype == 23:  # checkbox
            value = values.pop(cid, bool(comp.get("default", False)))
            if not isinstance(value, bool):
                raise FakeUsageError(f"checkbox {cid!r} takes a bool, got {value!r}")
            out["value"] = value
        elif ctype == 21:  # radio group
            value = values.pop(cid, None)
            if required and value is None:
                raise FakeUsageError(f"radio group {cid!r} is required")
            out["value"] = value
        elif ctype in (3, 5, 6, 7, 8, 22):  # selects, checkbox group
            picked = values.pop(cid, [])
            if not isinstance(picked, list):
                raise FakeUsageError(f"{cid!r} takes a list of values, got {picked!r}")
            low = comp.get("min_values", 1 if required else 0)
            if not low <= len(picked) <= comp.get("max_values", 1 if ctype != 22 else 25):
                raise FakeUsageError(f"{cid!r}: {len(picked)} values out of bounds")
            if ctype in (3, 22):
                allowed = {o["value"] for o in comp.get("options", [])}
                if not set(picked) <= allowed:
                    raise FakeUsageError(f"{picked} not among the options {sorted(allowed)}")
            elif ctype == 5:
                for uid in picked:
                    self._option_value({"name": cid, "type": 6}, uid, chan, resolved)
            else:
                raise FakeUsageError(f"component type {ctype} in modals is not supported yet")
            out["values"] = picked
        else:
            raise FakeUsageError(f"component type {ctype} in modals is not supported by the fake")
        return out

    async def user_message(self, channel: Json | str, user: Json | str, content: str) -> Json:
        """``user`` posts ``content`` in a guild channel, thread or the bot's DM; the bot gets
        MESSAGE_CREATE (given GUILD_MESSAGES / DIRECT_MESSAGES), with the content blanked in
        guilds unless it has MESSAGE_CONTENT or is mentioned, as on Discord."""
        chan = self._channel(channel)
        user_d = self._user(user)
        if chan["type"] == ChannelType.DM:
            if chan["recipients"][0]["id"] != user_d["id"]:
                raise FakeUsageError("only the DM's recipient can write in the bot's DM")
        elif not self.permissions_for(chan["guild_id"], user_d["id"], chan) & (
            P.SEND_MESSAGES_IN_THREADS if chan["type"] in THREAD_TYPES else P.SEND_MESSAGES
        ):
            raise FakeUsageError(f"{user_d['username']} cannot write in channel {chan['id']}")
        return self._store_message(chan, {"content": content}, [], author=user_d)


def _ignore_result(fut: asyncio.Future[None]) -> None:
    if not fut.cancelled():
        fut.exception()  # mark retrieved: a closed socket is not an error for background events


class _ErrorLogHandler(logging.Handler):
    """Turns ERROR log records into entries of ``fake.errors`` (with the real exception)."""

    def __init__(self, fake: FakeDiscord) -> None:
        super().__init__(logging.ERROR)
        self.fake = fake

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None:
            exc = LoggedError(f"{record.name}: {message}")
        else:
            exc.add_note(f"logged at {record.levelname} by {record.name!r}: {message}")
        self.fake.record_error(exc)


# ----------------------------------------------------------------------------- client helpers


async def start_client(
    client: Any,
    token: str,
    *,
    fake: FakeDiscord | None = None,
    timeout: float = 5.0,
) -> asyncio.Task[None]:
    """Run ``client.start(token)`` in a task and wait until the client is ready.

    If ``start()`` ends first (bad token, a payload discord.py cannot parse, …) its real
    exception is raised here. With ``fake`` given, the task is watched: ``fake.wait_for``
    fails as soon as it dies, and the ``fake`` fixture closes the client at teardown.
    """
    task = asyncio.create_task(client.start(token), name=f"start {client!r}")
    ready = asyncio.create_task(client.wait_until_ready())
    done, _ = await asyncio.wait(
        {task, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
    )
    if task in done:
        ready.cancel()
        task.result()  # raises why start() died
        raise AssertionError("client.start() returned before the client became ready")
    if ready not in done:
        ready.cancel()
        await client.close()
        await _settle(task)
        raise TimeoutError(f"{client!r} was not ready within {timeout}s")
    if fake is not None:
        fake.watch(client, task)
    return task


async def stop_client(
    client: Any,
    task: asyncio.Task[Any],
    *,
    fake: FakeDiscord | None = None,
    timeout: float = 5.0,
) -> None:
    """Close the client and wait for its ``start()`` task (re-raising its error, if any)."""
    if fake is not None:
        fake.unwatch(client)
    await client.close()
    await asyncio.wait_for(task, timeout)


async def _settle(task: asyncio.Task[Any]) -> None:
    with contextlib.suppress(Exception):  # the timeout is the error we report
        await asyncio.wait_for(task, 5)


# ----------------------------------------------------------------------------- validation


def _command_key(cmd: Json) -> str:
    ignore = {"id", "version", "application_id", "guild_id"}
    return json.dumps({k: v for k, v in cmd.items() if k not in ignore}, sort_keys=True)


_NAME_RE = re.compile(r"[-_\w]{1,32}")


def _validate_commands(commands: list[Json]) -> None:
    """Discord's rules for command definitions that a bot can get wrong."""
    errors = FormErrors()
    seen: set[tuple[str, int]] = set()

    def check_options(options: list[Json], path: str, depth: int) -> None:
        errors.max_len(path, options, 25)
        optional_seen = False
        names: set[str] = set()
        for i, opt in enumerate(options):
            p = f"{path}.{i}"
            name = opt.get("name", "")
            if not _NAME_RE.fullmatch(name) or name != name.lower():
                errors.add(
                    f"{p}.name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"
                )
            if name in names:
                errors.add(
                    f"{p}.name",
                    "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                    "Option names must be unique",
                )
            names.add(name)
            if not 1 <= len(opt.get("description", "")) <= 100:
                errors.add(
                    f"{p}.description",
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 100 in length.",
                )
            if opt.get("type") in (1, 2):
                if depth >= 2 or (opt["type"] == 2 and depth >= 1):
                    errors.add(
                        f"{p}.type",
                        "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                        "Subcommands nest at most two levels",
                    )
                check_options(opt.get("options") or [], f"{p}.options", depth + 1)
            elif opt.get("required"):
                if optional_seen:
                    errors.add(
                        f"{p}.required",
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    )
            else:
                optional_seen = True
            errors.max_len(f"{p}.choices", opt.get("choices") or [], 25)

    if len(commands) > 100:
        errors.add("_", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
    for i, cmd in enumerate(commands):
        ctype = cmd.get("type", 1)
        name = cmd.get("name", "")
        key = (name, ctype)
        if key in seen:
            errors.add(
                f"{i}.name",
                "APPLICATION_COMMAND_ALREADY_EXISTS",
                "Application command names must be unique",
            )
        seen.add(key)
        if ctype == 1:
            if not _NAME_RE.fullmatch(name) or name != name.lower():
                errors.add(
                    f"{i}.name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"
                )
            if not 1 <= len(cmd.get("description", "")) <= 100:
                errors.add(
                    f"{i}.description",
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 100 in length.",
                )
            check_options(cmd.get("options") or [], f"{i}.options", 0)
    errors.raise_if_any()


_INTERACTIVE = {2, 3, 4, 5, 6, 7, 8, 19, 21, 22, 23}


def _validate_interactive(comp: Json, path: str, errors: FormErrors, custom_ids: set[str]) -> None:
    ctype = comp.get("type")
    needs_id = ctype in _INTERACTIVE and not (ctype == 2 and comp.get("style") in (5, 6))
    cid = comp.get("custom_id")
    if needs_id:
        if not isinstance(cid, str) or not 1 <= len(cid) <= 100:
            errors.add(
                f"{path}.custom_id", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
            )
        elif cid in custom_ids:
            errors.add(
                f"{path}.custom_id",
                "COMPONENT_CUSTOM_ID_DUPLICATED",
                "Component custom id cannot be duplicated",
            )
        else:
            custom_ids.add(cid)
    if ctype == 2:
        errors.max_len(f"{path}.label", comp.get("label"), 80)
        if comp.get("style") == 5 and not comp.get("url"):
            errors.add(f"{path}.url", "BASE_TYPE_REQUIRED", "This field is required")
    elif ctype == 3:
        options = comp.get("options") or []
        if not 1 <= len(options) <= 25:
            errors.add(
                f"{path}.options", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 25 in length."
            )
        for j, opt in enumerate(options):
            errors.max_len(f"{path}.options.{j}.label", opt.get("label"), 100)
            errors.max_len(f"{path}.options.{j}.value", opt.get("value"), 100)
            errors.max_len(f"{path}.options.{j}.description", opt.get("description"), 100)
        errors.max_len(f"{path}.placeholder", comp.get("placeholder"), 150)
    elif ctype == 4:
        errors.max_len(f"{path}.label", comp.get("label"), 45)
        errors.max_len(f"{path}.placeholder", comp.get("placeholder"), 100)
        errors.max_len(f"{path}.value", comp.get("value"), 4000)
    elif ctype == 18:
        errors.max_len(f"{path}.label", comp.get("label"), 45)
        errors.max_len(f"{path}.description", comp.get("description"), 100)


def _validate_message_body(
    body: Json, files: list[Json], *, creating: bool, path: str = ""
) -> None:
    """Limits Discord enforces on message payloads (400 50035 / 50006)."""
    prefix = f"{path}." if path else ""
    errors = FormErrors()
    errors.max_len(f"{prefix}content", body.get("content"), 2000)
    errors.max_len(f"{prefix}embeds", body.get("embeds"), 10)
    components = body.get("components") or []
    v2 = bool(int(body.get("flags") or 0) & MESSAGE_FLAG_COMPONENTS_V2)
    custom_ids: set[str] = set()
    if not v2:
        errors.max_len(f"{prefix}components", components, 5)
        for i, row in enumerate(components):
            rp = f"{prefix}components.{i}"
            children = row.get("components") or []
            if row.get("type") != 1:
                errors.add(
                    f"{rp}.type", "UNION_TYPE_CHOICES", "Top-level components must be action rows"
                )
            elif not 1 <= len(children) <= 5:
                errors.add(
                    f"{rp}.components", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."
                )
            elif len(children) > 1 and any(c.get("type") != 2 for c in children):
                errors.add(
                    f"{rp}.components",
                    "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                    "The specified component exceeds the maximum width",
                )
    elif body.get("content") or body.get("embeds"):
        errors.add(
            f"{prefix}content",
            "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
            "The 'content' and 'embeds' fields cannot be used with components v2",
        )
    for comp, cpath in walk_components(components, f"{prefix}components"):
        _validate_interactive(comp, cpath, errors, custom_ids)
    errors.raise_if_any()
    if creating and not (
        body.get("content")
        or body.get("embeds")
        or components
        or files
        or body.get("sticker_ids")
        or body.get("poll")
    ):
        raise ApiError(400, 50006, "Cannot send an empty message")


def _validate_modal(data: Json) -> None:
    """Limits Discord enforces on modals (title, 1-5 top-level components, allowed types)."""
    errors = FormErrors()
    title = data.get("title")
    if not isinstance(title, str) or not 1 <= len(title) <= 45:
        errors.add("data.title", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 45 in length.")
    components = data.get("components") or []
    if not 1 <= len(components) <= 5:
        errors.add("data.components", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
    custom_id = data.get("custom_id")
    if not isinstance(custom_id, str) or not 1 <= len(custom_id) <= 100:
        errors.add("data.custom_id", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
    for i, comp in enumerate(components):
        p = f"data.components.{i}"
        ctype = comp.get("type")
        if ctype == 1:
            children = comp.get("components") or []
            if len(children) != 1 or children[0].get("type") != 4:
                errors.add(
                    f"{p}.components",
                    "MODAL_ACTION_ROW_INVALID",
                    "An action row in a modal holds exactly one text input",
                )
        elif ctype == 18:
            inner = comp.get("component") or {}
            if inner.get("type") not in {3, 4, 5, 6, 7, 8, 19, 21, 22, 23}:
                errors.add(
                    f"{p}.component.type",
                    "UNION_TYPE_CHOICES",
                    "A label holds a text input, select, file upload, radio or checkbox",
                )
        elif ctype != 10:
            errors.add(
                f"{p}.type",
                "UNION_TYPE_CHOICES",
                "Modals take labels, text displays or action rows",
            )
    custom_ids: set[str] = set()
    for comp, cpath in walk_components(components, "data.components"):
        _validate_interactive(comp, cpath, errors, custom_ids)
    errors.raise_if_any()

"""The Discord adapter: slash commands, buttons and forms in, replies and DMs out.

One Discord application serves many servers (guilds); each server is a community
(``discord:<guild id>``) and each channel a meetup. Everything people do arrives as an
*interaction* (a slash command, a button, a submitted form), so Funkel needs no privileged
gateway intent: no message content, no member list. Replies are ephemeral (only the person
sees them); what others must see goes through the outbox: the round announcement into the
channel, pairings by DM with a "Leave a note" button, or, for people whose DMs are closed, in a
private thread of the meetup channel. The organizer who started a round sees the delivery
progress and who could not be reached.

Nothing is ever pinged by accident: the client sends with ``AllowedMentions.none()`` and
only the private-thread fallback mentions its one member. Outbox messages carry a nonce that
Discord enforces, so a message resent after a crash is not posted twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Self, cast

import aiohttp
import discord
from discord import app_commands
from discord.app_commands import locale_str

from bot.adapters import StartupError, cancel_and_wait
from bot.config import Config
from bot.core.commands import parse as parse_command
from bot.core.delivery import Deliverer, DeliveryFailed
from bot.core.events import CommandReceived, Reply
from bot.core.i18n import catalog, t_in, use_prefix
from bot.core.models import (
    MAX_NOTE_CHARS,
    MAX_PHRASE_CHARS,
    MAX_PHRASES_PER_LIST,
    MemberRef,
    OutboxMessage,
    TargetKind,
)
from bot.core.ports import Store, StoreError
from bot.core.service import Service

log = logging.getLogger(__name__)

PLATFORM = "discord"
PREFIX = "/funkel "
# Gateway intents: server structure only (channels, roles, threads). No message content,
# no member list: every command, button and form arrives as an interaction with its member.
INTENTS = discord.Intents.none()
INTENTS.guilds = True
MAX_MESSAGE_CHARS = 2000
# Replies longer than this many messages go out as a text file instead (a big preview).
MAX_REPLY_MESSAGES = 3
CANNOT_DM = 50007  # Discord's error code: the user's DMs are closed to the bot
PROGRESS_EVERY_SECONDS = 2.0
# Discord locales that get a translation, by Funkel language.
LOCALES: Mapping[discord.Locale, str] = {discord.Locale.german: "de"}
NO_PINGS = discord.AllowedMentions.none()
Handler = Callable[..., Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class GuildSettings:
    """The adapter's part of a server's ``discord.guilds`` entry (its language and round
    length go to the service, see ``bot.app.settings_from``)."""

    organizer_role: str | None = None


@dataclass(frozen=True)
class DiscordSettings:
    token: str
    guild_ids: frozenset[int] = frozenset()  # empty: every server the bot is in
    organizer_role: str | None = None  # role name or id; Manage Events always counts
    guilds: Mapping[int, GuildSettings] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Config) -> DiscordSettings:
        section = config.discord or {}
        guilds = {
            int(gid): GuildSettings(organizer_role=values.get("organizer_role"))
            for gid, values in (section.get("guilds") or {}).items()
        }
        ids = {int(g) for g in section.get("guild_ids") or ()} | set(guilds)
        return cls(
            token=str(section["token"]),
            guild_ids=frozenset(ids),
            organizer_role=section.get("organizer_role"),
            guilds=guilds,
        )

    def organizer_role_for(self, guild_id: int) -> str | None:
        own = self.guilds.get(guild_id)
        if own is not None and own.organizer_role is not None:
            return own.organizer_role
        return self.organizer_role


def community_of(guild_id: int) -> str:
    return f"{PLATFORM}:{guild_id}"


def render(text: str) -> str:
    """Core text (plain, may echo what people typed) as Discord markdown that shows it as is."""
    return discord.utils.escape_markdown(text)


def split_message(text: str, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut at line ends where possible."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        if cut <= 0:
            cut = text.rfind(" ", 0, limit)
        if cut <= 0:
            cut = limit
        pieces.append(text[:cut])
        text = text[cut:].lstrip("\n")
    if text or not pieces:
        pieces.append(text)
    return pieces


def nonce_of(message_id: int, salt: str = "") -> str:
    """The nonce of an outbox message: Discord drops a second message with the same nonce.

    ``salt`` is random per database: an outbox id SQLite hands out again (after the newest
    row was deleted by "forget me") must not look like the message it replaced.
    """
    return f"f{salt}-{message_id}"


def _s(key: str) -> locale_str:
    """A command name or description: English from the catalog, translated at sync time."""
    return locale_str(catalog("en")[key], key=key)


def _phrases(field_text: str) -> str:
    """A form field as one phrase list: new lines separate phrases like ";" does."""
    return "; ".join(p.strip() for p in re.split(r"[;\n]", field_text) if p.strip())


# The overview of /funkel help: the slash commands as people see them in their language.
_HELP_FOR_ATTENDEES = (
    "join",
    "card",
    "leave",
    "icebreaker",
    "note",
    "met",
    "language",
    "block",
    "unblock",
    "export",
    "forget",
    "help",
)
_HELP_FOR_ORGANIZERS = ("round preview", "round start", "round end", "signup")


def overview(language: str, client: discord.Locale | None = None) -> str:
    """``/funkel help``: every slash command with its description, in ``language``; the
    command names as the reader's Discord (``client`` locale) shows them."""
    names = LOCALES.get(client, "en") if client is not None else "en"

    def line(path: str) -> str:
        words = path.split()
        name = " ".join(t_in(names, f"discord.command.{w}.name") for w in words)
        return t_in(
            language,
            "discord.help.line",
            group=t_in(names, "discord.command.funkel.name"),
            name=name,
            description=t_in(language, f"discord.command.{words[-1]}.description"),
        )

    lines = [t_in(language, "discord.help.intro"), ""]
    lines += [line(c) for c in _HELP_FOR_ATTENDEES]
    lines += ["", t_in(language, "discord.help.organizers")]
    lines += [line(c) for c in _HELP_FOR_ORGANIZERS]
    lines += ["", t_in(language, "discord.help.footer")]
    return "\n".join(lines)


class _Translator(app_commands.Translator):
    """Slash command names and descriptions from the content files (``discord.command.*``)."""

    async def translate(
        self,
        string: locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        key = string.extras.get("key")
        language = LOCALES.get(locale)
        if key is None or language is None:
            return None
        return catalog(language).get(key)


# ---------------------------------------------------------------------- persistent buttons
class _Button(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"funkel:(?P<action>join|leave|card|forget|note)(?::(?P<round>[0-9]{1,18}))?",
):
    """Funkel's buttons: the sign-up message's (join, card, leave), the forget confirmation,
    and "Leave a note" under a pairing DM (``funkel:note:<round id>``).

    Dynamic items work on any message carrying their custom id, also after a restart.
    """

    def __init__(
        self,
        action: str,
        round_id: int | None = None,
        label: str = "",
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
    ) -> None:
        custom_id = f"funkel:{action}" if round_id is None else f"funkel:{action}:{round_id}"
        super().__init__(discord.ui.Button(label=label or action, style=style, custom_id=custom_id))
        self.action = action
        self.round_id = round_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        return cls(match["action"], int(match["round"]) if match["round"] else None)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        adapter = _adapter(interaction)
        if self.action == "note" and self.round_id is not None:
            await adapter.on_note_button(interaction, self.round_id)
        else:
            await adapter.on_action(interaction, self.action)


def _view(*items: discord.ui.Item[Any]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for item in items:
        view.add_item(item)
    return view


def _button(action: str, language: str, style: discord.ButtonStyle) -> _Button:
    return _Button(action, None, t_in(language, f"discord.button.{action}"), style)


def signup_view(language: str) -> discord.ui.View:
    return _view(
        _button("join", language, discord.ButtonStyle.success),
        _button("card", language, discord.ButtonStyle.primary),
        _button("leave", language, discord.ButtonStyle.secondary),
    )


def note_view(round_id: int, language: str) -> discord.ui.View:
    label = t_in(language, "discord.button.note")
    return _view(_Button("note", round_id, label, discord.ButtonStyle.primary))


# ---------------------------------------------------------------------- forms
class _Form(discord.ui.Modal):
    """A Funkel form: its title from ``discord.form.<name>_title``; errors go to the adapter."""

    def __init__(self, adapter: DiscordAdapter, language: str, name: str) -> None:
        super().__init__(
            title=t_in(language, f"discord.form.{name}_title"),
            custom_id=f"funkel:{name}-form",
            timeout=900,
        )
        self.adapter = adapter

    async def on_error(  # type: ignore[override]  # Modal narrows BaseView's signature
        self, interaction: discord.Interaction[Any], error: Exception, /
    ) -> None:
        await self.adapter.on_error(interaction, error)


class CardForm(_Form):
    """The curiosity card: two fields, prefilled with what the card holds now."""

    def __init__(self, adapter: DiscordAdapter, language: str, curious: str, tell: str) -> None:
        super().__init__(adapter, language, "card")
        self.before = (curious, tell)
        self.curious = self._list_field(language, "curious", curious)
        self.tell = self._list_field(language, "tell", tell)

    def _list_field(self, language: str, name: str, value: str) -> discord.ui.TextInput[CardForm]:
        """One list of the card as a text field, with its label and hint."""
        field: discord.ui.TextInput[CardForm] = discord.ui.TextInput(
            style=discord.TextStyle.paragraph,
            custom_id=name,
            default=value or None,
            placeholder=t_in(language, f"discord.form.{name}_placeholder"),
            required=False,
            max_length=1000,
        )
        self.add_item(
            discord.ui.Label(
                text=t_in(language, f"discord.form.{name}_label"),
                description=t_in(language, f"discord.form.{name}_description"),
                component=field,
            )
        )
        return field

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await self.adapter.on_card_form(
            interaction, _phrases(self.curious.value), _phrases(self.tell.value), self
        )


class NoteForm(_Form):
    """A private note about a partner, with the "I'd like to talk again" checkbox."""

    def __init__(
        self,
        adapter: DiscordAdapter,
        language: str,
        community_id: str,
        partners: Sequence[tuple[str, str]],  # (user id, display name)
    ) -> None:
        super().__init__(adapter, language, "note")
        self.community_id = community_id
        self.partners = list(partners)
        self.about: discord.ui.Select[NoteForm] | None = None
        if len(self.partners) > 1:
            self.about = discord.ui.Select(
                custom_id="about",
                options=[
                    discord.SelectOption(label=name[:100] or uid, value=uid)
                    for uid, name in self.partners[:25]
                ],
            )
            self.add_item(
                discord.ui.Label(
                    text=t_in(language, "discord.form.note_about_label"), component=self.about
                )
            )
        self.text: discord.ui.TextInput[NoteForm] = discord.ui.TextInput(
            style=discord.TextStyle.paragraph,
            custom_id="text",
            placeholder=t_in(language, "discord.form.note_text_placeholder"),
            max_length=MAX_NOTE_CHARS,
        )
        self.add_item(
            discord.ui.Label(
                text=t_in(language, "discord.form.note_text_label"),
                description=t_in(language, "discord.form.note_text_description"),
                component=self.text,
            )
        )
        self.again: discord.ui.Checkbox[NoteForm] = discord.ui.Checkbox(custom_id="again")
        self.add_item(
            discord.ui.Label(
                text=t_in(language, "discord.form.again_label"),
                description=t_in(language, "discord.form.again_description"),
                component=self.again,
            )
        )

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        about = self.about.values[0] if self.about and self.about.values else self.partners[0][0]
        await self.adapter.note(
            interaction, self.community_id, about, self.text.value, self.again.value
        )


# ---------------------------------------------------------------------- client
class _Tree(app_commands.CommandTree["FunkelClient"]):
    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        return await self.client.adapter.allowed(interaction)

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        if isinstance(error, app_commands.CheckFailure):
            return  # already answered by ``allowed``
        await self.client.adapter.on_error(interaction, error)


class FunkelClient(discord.Client):
    def __init__(self, adapter: DiscordAdapter, **options: Any) -> None:
        super().__init__(intents=INTENTS, allowed_mentions=NO_PINGS, **options)
        self.adapter = adapter
        self.tree = _Tree(self)

    async def setup_hook(self) -> None:
        await self.adapter.setup()

    async def on_ready(self) -> None:
        await self.adapter.on_ready()


def _adapter(interaction: discord.Interaction[Any]) -> DiscordAdapter:
    client = interaction.client
    assert isinstance(client, FunkelClient)
    return client.adapter


@dataclass
class _RoundReport:
    """Delivery of one round's pairings, shown to the organizer who started it."""

    round_id: int
    total: int
    language: str
    message: discord.WebhookMessage | None = None
    delivered: int = 0
    threads: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)
    last_shown: float = 0.0

    @property
    def done(self) -> int:
        return self.delivered + len(self.unreachable)

    def text(self) -> str:
        lang = self.language
        if self.done < self.total:
            return t_in(lang, "discord.progress.sending", sent=self.done, total=self.total)
        if self.unreachable:
            lines = [
                t_in(lang, "discord.progress.done_partly", sent=self.delivered, total=self.total)
            ]
        else:
            lines = [t_in(lang, "discord.progress.done", total=self.total, count=self.total)]
        if self.threads:
            names = _some(self.threads, lang)
            lines.append(
                t_in(lang, "discord.progress.threads", count=len(self.threads), names=names)
            )
        if self.unreachable:
            names = _some(self.unreachable, lang)
            lines.append(
                t_in(lang, "discord.progress.unreachable", count=len(self.unreachable), names=names)
            )
        # One message, whatever the names: a cut report beats none.
        return split_message(render("\n".join(lines)))[0]


REPORT_NAMES = 10  # names listed per line of the delivery report; the rest are counted


def _some(names: Sequence[str], language: str) -> str:
    shown = ", ".join(names[:REPORT_NAMES])
    if len(names) <= REPORT_NAMES:
        return shown
    more = t_in(language, "discord.progress.more", count=len(names) - REPORT_NAMES)
    return f"{shown} {more}"


# ---------------------------------------------------------------------- the adapter
class DiscordAdapter:
    """One Discord application serving the configured servers until cancelled."""

    def __init__(
        self,
        settings: DiscordSettings,
        service: Service,
        store: Store,
        *,
        deliver_poll_seconds: float = 2.0,
        **client_options: Any,
    ) -> None:
        self.settings = settings
        self.service = service
        self.store = store
        self.deliver_poll_seconds = deliver_poll_seconds
        self.client = FunkelClient(self, **client_options)
        self.deliverer = Deliverer(store, self.send, given_up=self._given_up, platform=PLATFORM)
        self.ready = asyncio.Event()
        self._reports: dict[int, _RoundReport] = {}
        # Held while a round starts until its report exists, so no pairing goes uncounted.
        self._report_lock = asyncio.Lock()
        self._thread_lock = asyncio.Lock()
        self._salt = ""
        self._build_commands()

    # ------------------------------------------------------------------ running
    async def run(self) -> None:
        """Log in, sync the commands, serve and deliver until cancelled."""
        with use_prefix(PREFIX):
            deliver: asyncio.Task[None] | None = None
            try:
                try:
                    await self.client.login(self.settings.token)
                except discord.LoginFailure:
                    raise StartupError(
                        "Discord refused the bot token (discord.token): copy it again from the "
                        "developer portal (your application → Bot → Reset Token) into the "
                        "environment variable the config names"
                    ) from None
                except (aiohttp.ClientError, OSError, discord.HTTPException) as exc:
                    raise StartupError(
                        f"could not log in to Discord or register the /funkel commands ({exc}); "
                        "check this machine's connection to discord.com and "
                        "https://discordstatus.com, then start again"
                    ) from None
                connection = asyncio.create_task(self.client.connect(reconnect=True))
                ready = asyncio.create_task(self.ready.wait())
                done, _ = await asyncio.wait(
                    {connection, ready}, return_when=asyncio.FIRST_COMPLETED
                )
                if connection in done:
                    ready.cancel()
                    connection.result()  # the reason it stopped
                    return
                deliver = asyncio.create_task(self.deliverer.run(self.deliver_poll_seconds))
                await connection
            finally:
                if deliver is not None:
                    await cancel_and_wait(deliver)
                await self.client.close()

    async def setup(self) -> None:
        """After login: register the buttons and sync the commands if they changed."""
        self.client.add_dynamic_items(_Button)
        async with self.store.transaction() as tx:
            salt = await tx.get_state(f"{PLATFORM}.nonce_salt")
            if salt is None:
                salt = secrets.token_hex(2)
                await tx.set_state(f"{PLATFORM}.nonce_salt", salt)
        self._salt = salt
        await self.client.tree.set_translator(_Translator())
        targets: list[discord.Object | None] = (
            [discord.Object(g) for g in sorted(self.settings.guild_ids)]
            if self.settings.guild_ids
            else [None]
        )
        for guild in targets:
            await self._sync(guild)
        if self.settings.guild_ids:
            await self._drop_global_commands()

    async def _sync(self, guild: discord.Object | None) -> None:
        tree = self.client.tree
        payload = json.dumps(
            [c.to_dict(tree) for c in tree.get_commands(guild=guild)]
            + [
                {
                    k: v
                    for k, v in catalog(lang).items()
                    if k.startswith(("discord.command", "discord.option"))
                }
                for lang in ("en", *LOCALES.values())
            ],
            sort_keys=True,
        )
        digest = hashlib.sha256(payload.encode()).hexdigest()[:16]
        key = f"{PLATFORM}.commands.{guild.id if guild else 'global'}"
        async with self.store.transaction() as tx:
            if await tx.get_state(key) == digest:
                return
        try:
            await tree.sync(guild=guild)
        except discord.Forbidden:
            raise StartupError(
                "Discord did not let Funkel register its commands"
                + (f" in server {guild.id}" if guild else "")
                + ": invite the bot with the applications.commands scope (see the README's "
                "invite link) or remove that id from discord.guild_ids"
            ) from None
        async with self.store.transaction() as tx:
            await tx.set_state(key, digest)
        log.info("synced the /funkel commands %s", f"to server {guild.id}" if guild else "globally")

    async def _drop_global_commands(self) -> None:
        """Commands once registered globally would show twice beside the per-server ones."""
        key = f"{PLATFORM}.commands.global"
        async with self.store.transaction() as tx:
            if await tx.get_state(key) is None:
                return
        await self.client.tree.sync()  # the tree has no global commands: removes them
        async with self.store.transaction() as tx:
            await tx.delete_state(key)
        log.info("removed the global /funkel commands: servers are listed in discord.guild_ids")

    async def on_ready(self) -> None:
        guilds = self.client.guilds
        log.info("connected to Discord as %s, in %d server(s)", self.client.user, len(guilds))
        present = {g.id for g in guilds}
        for missing in sorted(self.settings.guild_ids - present):
            log.warning(
                "Funkel is not in server %s from discord.guild_ids: invite it with the link "
                "from the README (scopes bot and applications.commands)",
                missing,
            )
        self.ready.set()

    # ------------------------------------------------------------------ commands
    def _build_commands(self) -> None:
        adapter = self
        group = app_commands.Group(
            name=_s("discord.command.funkel.name"),
            description=_s("discord.command.funkel.description"),
            guild_only=True,
        )
        rounds = app_commands.Group(
            name=_s("discord.command.round.name"),
            description=_s("discord.command.round.description"),
            parent=group,
        )

        def command(key: str, parent: app_commands.Group = group) -> Callable[[Handler], object]:
            decorate = parent.command(
                name=_s(f"discord.command.{key}.name"),
                description=_s(f"discord.command.{key}.description"),
            )
            return cast(Callable[[Handler], object], decorate)

        def options(*names: str) -> Callable[[Handler], Handler]:
            rename = app_commands.rename(**{n: _s(f"discord.option.{n}.name") for n in names})
            describe = app_commands.describe(
                **{n: _s(f"discord.option.{n}.description") for n in names}
            )

            def apply(f: Handler) -> Handler:
                return rename(describe(f))

            return apply

        @command("join")
        async def join(interaction: discord.Interaction[Any]) -> None:
            await adapter.join(interaction)

        @command("leave")
        async def leave(interaction: discord.Interaction[Any]) -> None:
            await adapter.command(interaction, "leave")

        @command("card")
        @options("curious", "tell")
        async def card(
            interaction: discord.Interaction[Any],
            curious: str | None = None,
            tell: str | None = None,
        ) -> None:
            if curious is None and tell is None:
                await adapter.open_card_form(interaction)
                return
            texts = [
                f"card {name} {_phrases(v)}"
                for name, v in (("curious", curious), ("tell", tell))
                if v
            ]
            await adapter.commands(interaction, texts)

        @command("language")
        @options("codes")
        async def language(interaction: discord.Interaction[Any], codes: str) -> None:
            await adapter.command(interaction, f"language {codes}")

        @command("preview", rounds)
        async def preview(interaction: discord.Interaction[Any]) -> None:
            await adapter.command(interaction, "round preview", slow=True)

        @command("start", rounds)
        async def start(interaction: discord.Interaction[Any]) -> None:
            await adapter.round_start(interaction)

        @command("end", rounds)
        async def end(interaction: discord.Interaction[Any]) -> None:
            await adapter.command(interaction, "round end")

        @command("icebreaker")
        async def icebreaker(interaction: discord.Interaction[Any]) -> None:
            await adapter.command(interaction, "icebreaker")

        @command("note")
        @options("person", "text", "again")
        async def note(
            interaction: discord.Interaction[Any],
            person: discord.User,
            text: str | None = None,
            again: bool = False,
        ) -> None:
            community = community_of(interaction.guild_id or 0)
            if text is None:
                language = await adapter.language_of(community, interaction.user.id)
                form = NoteForm(
                    adapter, language, community, [(str(person.id), person.display_name)]
                )
                await interaction.response.send_modal(form)
                return
            await adapter.note(interaction, community, str(person.id), text, again)

        @command("met")
        @options("search")
        async def met(interaction: discord.Interaction[Any], search: str | None = None) -> None:
            await adapter.command(interaction, f"met {search or ''}".strip())

        @command("block")
        @options("person")
        async def block(interaction: discord.Interaction[Any], person: discord.User) -> None:
            await adapter.about_person(interaction, "block", person)

        @command("unblock")
        @options("person")
        async def unblock(interaction: discord.Interaction[Any], person: discord.User) -> None:
            await adapter.about_person(interaction, "unblock", person)

        @command("export")
        async def export(interaction: discord.Interaction[Any]) -> None:
            await adapter.export(interaction)

        @command("forget")
        async def forget(interaction: discord.Interaction[Any]) -> None:
            await adapter.confirm_forget(interaction)

        @command("help")
        @options("topic")
        async def help_(interaction: discord.Interaction[Any], topic: str | None = None) -> None:
            language = await adapter.language_of(
                community_of(interaction.guild_id or 0), interaction.user.id
            )
            if not topic:
                await adapter.answer(interaction, [overview(language, interaction.locale)])
                return
            # Where the slash command differs from the typed grammar, Discord's own help.
            parsed = parse_command(f"help {topic}")
            key = f"discord.help.topic.{getattr(parsed, 'topic', '')}"
            if key in catalog("en"):
                limits = {
                    "phrase_limit": MAX_PHRASES_PER_LIST,
                    "phrase_chars": MAX_PHRASE_CHARS,
                    "note_chars": MAX_NOTE_CHARS,
                }
                await adapter.answer(interaction, [t_in(language, key, **limits)])
                return
            await adapter.command(interaction, f"help {topic}")

        @command("signup")
        async def signup(interaction: discord.Interaction[Any]) -> None:
            await adapter.signup(interaction)

        guilds = [discord.Object(g) for g in sorted(self.settings.guild_ids)]
        if guilds:
            self.client.tree.add_command(group, guilds=guilds)
        else:
            self.client.tree.add_command(group)

    # ------------------------------------------------------------------ helpers
    def is_organizer(self, interaction: discord.Interaction[Any]) -> bool:
        """Manage Events (or Administrator) in this channel, or the configured role."""
        perms = interaction.permissions
        if perms.administrator or perms.manage_events:
            return True
        role = self.settings.organizer_role_for(interaction.guild_id or 0)
        user = interaction.user
        if role is None or not isinstance(user, discord.Member):
            return False
        wanted = role.strip().casefold()
        return any(str(r.id) == wanted or r.name.casefold() == wanted for r in user.roles)

    def _room(self, interaction: discord.Interaction[Any]) -> tuple[str | None, str | None]:
        """The meetup channel (a thread counts as its parent channel) and its name."""
        channel = interaction.channel
        if interaction.guild_id is None or channel is None:
            return None, None
        if isinstance(channel, discord.Thread) and channel.parent is not None:
            channel = channel.parent
        name = getattr(channel, "name", None)
        return str(channel.id), (f"#{name}" if name else None)

    def _event(
        self,
        interaction: discord.Interaction[Any],
        text: str,
        *,
        community_id: str | None = None,
        mentions: Mapping[str, MemberRef] | None = None,
    ) -> CommandReceived:
        user = interaction.user
        room, room_name = self._room(interaction)
        return CommandReceived(
            community_id=community_id or community_of(interaction.guild_id or 0),
            member=MemberRef(PLATFORM, str(user.id)),
            display_name=user.display_name,
            text=text,
            room=room,
            room_name=room_name,
            is_organizer=interaction.guild_id is not None and self.is_organizer(interaction),
            mentions=mentions or {},
        )

    async def language_of(self, community_id: str, user_id: int) -> str:
        """The language Funkel writes to this person in: theirs, else their community's."""
        async with self.store.transaction() as tx:
            member = await tx.get_member(MemberRef(PLATFORM, str(user_id)))
        if member is not None and member.languages:
            return member.languages[0]
        return self.service.settings(community_id).language

    async def _handle(
        self, interaction: discord.Interaction[Any], event: CommandReceived
    ) -> list[Reply]:
        try:
            replies = await self.service.handle(event)
        except StoreError as exc:
            log.warning("a command could not use the database: %s", exc)
            language = await self._safe_language(event.community_id, interaction.user.id)
            replies = [Reply(t_in(language, "discord.busy"), private=True)]
        self.deliverer.poke()
        return replies

    async def _safe_language(self, community_id: str, user_id: int) -> str:
        try:
            return await self.language_of(community_id, user_id)
        except StoreError:
            return self.service.settings(community_id).language

    async def answer(
        self,
        interaction: discord.Interaction[Any],
        texts: Sequence[str],
        *,
        view: discord.ui.View | None = None,
        file: discord.File | None = None,
    ) -> None:
        """Ephemeral answer: split at 2,000 characters; very long ones as a text file."""
        whole = "\n\n".join(t for t in texts if t)
        pieces = split_message(render(whole))
        if len(pieces) > MAX_REPLY_MESSAGES and file is None:
            file = discord.File(io.BytesIO(whole.encode()), filename="funkel.txt")
            pieces = pieces[:1]
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            extras: dict[str, Any] = {}
            if last and view is not None:
                extras["view"] = view
            if last and file is not None:
                extras["file"] = file
            if not interaction.response.is_done():
                await interaction.response.send_message(piece, ephemeral=True, **extras)
            else:
                await interaction.followup.send(piece, ephemeral=True, **extras)

    async def command(
        self, interaction: discord.Interaction[Any], text: str, *, slow: bool = False
    ) -> list[Reply]:
        """Run one command for the person who used it and answer them privately."""
        return await self.commands(interaction, [text], slow=slow)

    async def commands(
        self, interaction: discord.Interaction[Any], texts: Sequence[str], *, slow: bool = False
    ) -> list[Reply]:
        if slow:
            await interaction.response.defer(ephemeral=True, thinking=True)
        replies: list[Reply] = []
        for text in texts:
            replies += await self._handle(interaction, self._event(interaction, text))
        await self.answer(interaction, _without_repeats([r.text for r in replies]))
        return replies

    # ------------------------------------------------------------------ guards and errors
    async def allowed(self, interaction: discord.Interaction[Any]) -> bool:
        """Commands only in the configured servers; a clear answer anywhere else."""
        if interaction.guild_id is None:
            language = self.service.settings(community_of(0)).language
            await interaction.response.send_message(
                t_in(language, "discord.only_in_server"), ephemeral=True
            )
            return False
        if self.settings.guild_ids and interaction.guild_id not in self.settings.guild_ids:
            language = self.service.settings(community_of(interaction.guild_id)).language
            await interaction.response.send_message(
                t_in(language, "discord.not_here"), ephemeral=True
            )
            return False
        return True

    async def on_error(self, interaction: discord.Interaction[Any], error: Exception) -> None:
        """A bug: log it with its traceback, tell the person something went wrong."""
        if self.client.is_closed():  # stopping: requests in flight fail, nothing to tell
            log.info("an interaction was cut short by the shutdown: %s", type(error).__name__)
            return
        community = community_of(interaction.guild_id or 0)
        language = self.service.settings(community).language
        cause = error.__cause__ if isinstance(error, app_commands.AppCommandError) else error
        if isinstance(cause, StoreError):  # e.g. the database is locked: not a bug
            log.warning("an interaction could not use the database: %s", cause)
            text = t_in(language, "discord.busy")
        else:
            log.error("an interaction failed", exc_info=error)
            text = t_in(language, "discord.error")
        with contextlib.suppress(discord.HTTPException):
            await self.answer(interaction, [text])

    # ------------------------------------------------------------------ use cases
    async def join(self, interaction: discord.Interaction[Any]) -> None:
        """Join this channel's meetup; people without a card get the card button."""
        community = community_of(interaction.guild_id or 0)
        replies = await self._handle(interaction, self._event(interaction, "join"))
        async with self.store.transaction() as tx:
            card = await tx.get_card(MemberRef(PLATFORM, str(interaction.user.id)))
        view = None
        if not card.curious_about and not card.can_tell_about:
            language = await self.language_of(community, interaction.user.id)
            view = _view(_button("card", language, discord.ButtonStyle.primary))
        await self.answer(interaction, [r.text for r in replies], view=view)

    async def open_card_form(self, interaction: discord.Interaction[Any]) -> None:
        community = community_of(interaction.guild_id or 0)
        language = await self.language_of(community, interaction.user.id)
        async with self.store.transaction() as tx:
            card = await tx.get_card(MemberRef(PLATFORM, str(interaction.user.id)))
        form = CardForm(
            self, language, "; ".join(card.curious_about), "; ".join(card.can_tell_about)
        )
        await interaction.response.send_modal(form)

    async def on_card_form(
        self, interaction: discord.Interaction[Any], curious: str, tell: str, form: CardForm
    ) -> None:
        texts = []
        for name, value, before in (
            ("curious", curious, form.before[0]),
            ("tell", tell, form.before[1]),
        ):
            if value == before:
                continue
            texts.append(f"card {name} {value}" if value else f"card clear {name}")
        await self.commands(interaction, texts or ["card"])

    async def on_action(self, interaction: discord.Interaction[Any], action: str) -> None:
        try:
            if interaction.guild_id is not None and not await self.allowed(interaction):
                return
            if action == "join":
                await self.join(interaction)
            elif action == "leave":
                await self.command(interaction, "leave")
            elif action == "card":
                await self.open_card_form(interaction)
            elif action == "forget":
                replies = await self._handle(interaction, self._event(interaction, "forget me"))
                await interaction.response.edit_message(
                    content=render("\n\n".join(r.text for r in replies)), view=None
                )
        except Exception as exc:
            await self.on_error(interaction, exc)

    async def round_start(self, interaction: discord.Interaction[Any]) -> None:
        """Start the round, then show its organizer the delivery: "sent 120/480"."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        event = self._event(interaction, "round start")
        async with self._report_lock:
            before = await self._running_round(event)
            replies = await self._handle(interaction, event)
            report = None
            after = await self._running_round(event)
            if after is not None and after[0] != (before or (None,))[0]:
                language = await self.language_of(event.community_id, interaction.user.id)
                report = _RoundReport(after[0], after[1], language)
                self._reports[after[0]] = report
        texts = [r.text for r in replies]
        if report is not None and not interaction.app_permissions.send_messages:
            texts.append(t_in(report.language, "discord.cannot_announce"))
        await self.answer(interaction, texts)
        if report is not None and report.total:
            report.message = await interaction.followup.send(
                report.text(), ephemeral=True, wait=True
            )
            report.last_shown = time.monotonic()
            await self._show(report, force=True)

    async def _running_round(self, event: CommandReceived) -> tuple[int, int] | None:
        """The running round of the event's meetup: (id, people in its groups)."""
        if event.room is None:
            return None
        async with self.store.transaction() as tx:
            meetup = await tx.find_meetup(event.community_id, event.room)
            rnd = await tx.running_round(meetup.id) if meetup else None
        if rnd is None:
            return None
        return rnd.id, sum(len(g.members) for g in rnd.groups)

    async def note(
        self,
        interaction: discord.Interaction[Any],
        community_id: str,
        about: str,
        text: str,
        again: bool,
    ) -> None:
        mention = f"<@{about}>"
        body = " ".join(text.split())
        command = f"note {mention} {body}" + (" --again" if again else "")
        event = self._event(
            interaction,
            command,
            community_id=community_id,
            mentions={mention: MemberRef(PLATFORM, about)},
        )
        replies = await self._handle(interaction, event)
        await self.answer(interaction, [r.text for r in replies])

    async def about_person(
        self, interaction: discord.Interaction[Any], verb: str, person: discord.User
    ) -> None:
        mention = f"<@{person.id}>"
        event = self._event(
            interaction,
            f"{verb} {mention}",
            mentions={mention: MemberRef(PLATFORM, str(person.id))},
        )
        replies = await self._handle(interaction, event)
        await self.answer(interaction, [r.text for r in replies])

    async def on_note_button(self, interaction: discord.Interaction[Any], round_id: int) -> None:
        """The note form about the partners of that round (from a pairing DM)."""
        try:
            me = MemberRef(PLATFORM, str(interaction.user.id))
            async with self.store.transaction() as tx:
                rnd = await tx.get_round(round_id)
                meetup = await tx.get_meetup(rnd.meetup_id) if rnd else None
                group = next((g for g in rnd.groups if me.key in g.members), None) if rnd else None
                others = [k for k in group.members if k != me.key] if group else []
                members = await tx.get_members(others)
            community = meetup.community_id if meetup else community_of(interaction.guild_id or 0)
            language = await self.language_of(community, interaction.user.id)
            if rnd is None or meetup is None:
                await self.answer(interaction, [t_in(language, "discord.round_gone")])
                return
            partners = [
                (MemberRef.from_key(k).user_id, members[k].display_name)
                for k in others
                if k in members
            ]
            if not partners:
                await self.answer(interaction, [t_in(language, "discord.not_in_round")])
                return
            await interaction.response.send_modal(NoteForm(self, language, community, partners))
        except Exception as exc:
            await self.on_error(interaction, exc)

    async def export(self, interaction: discord.Interaction[Any]) -> None:
        """The export as a JSON file in an ephemeral message."""
        event = self._event(interaction, "export")
        replies = await self._handle(interaction, event)
        text = replies[0].text if replies else ""
        _, _, body = text.partition("\n")
        if not body.lstrip().startswith("{"):
            await self.answer(interaction, [r.text for r in replies])
            return
        language = await self.language_of(event.community_id, interaction.user.id)
        file = discord.File(io.BytesIO(body.encode()), filename="funkel-export.json")
        await interaction.response.send_message(
            t_in(language, "discord.export_file"), file=file, ephemeral=True
        )

    async def confirm_forget(self, interaction: discord.Interaction[Any]) -> None:
        community = community_of(interaction.guild_id or 0)
        language = await self.language_of(community, interaction.user.id)
        view = _view(_button("forget", language, discord.ButtonStyle.danger))
        await self.answer(interaction, [t_in(language, "discord.forget_confirm")], view=view)

    async def signup(self, interaction: discord.Interaction[Any]) -> None:
        """Post the sign-up message with its buttons (organizers only)."""
        community = community_of(interaction.guild_id or 0)
        settings = self.service.settings(community)
        me = MemberRef(PLATFORM, str(interaction.user.id))
        room, _ = self._room(interaction)
        if not (self.is_organizer(interaction) or me.key in settings.organizers):
            member_language = await self.language_of(community, interaction.user.id)
            await self.answer(
                interaction, [t_in(member_language, "messages.round.organizers_only")]
            )
            return
        if room is None:  # pragma: no cover - guild_only commands always have a channel
            return
        language = settings.language
        await interaction.response.defer(ephemeral=True, thinking=True)
        channel = self.client.get_partial_messageable(int(room))
        try:
            await channel.send(t_in(language, "discord.signup"), view=signup_view(language))
        except discord.Forbidden:
            await self.answer(interaction, [t_in(language, "discord.cannot_post")])
            return
        await self.answer(interaction, [t_in(language, "discord.signup_posted")])

    # ------------------------------------------------------------------ outbox
    async def send(self, message: OutboxMessage) -> None:
        """The Deliverer's send: a channel message, or a DM (private thread if DMs are closed)."""
        async with self._report_lock:
            pass  # a round that is starting registers its report first
        text = render(message.text)
        nonce = nonce_of(message.id, self._salt)
        if message.target_kind is TargetKind.ROOM:
            channel = self.client.get_partial_messageable(int(message.target))
            try:
                await _send(channel, text, nonce)
            except (discord.Forbidden, discord.NotFound) as exc:
                raise DeliveryFailed(f"channel {message.target}: {exc.status} {exc.code}") from exc
            return
        ref = MemberRef.from_key(message.target)
        if ref.platform != PLATFORM:
            raise DeliveryFailed(f"not a Discord member: {ref.platform}")
        view = None
        round_id = message.payload.get("round_id")
        if message.kind == "pairing" and round_id is not None:
            language = await self.language_of(message.community_id, int(ref.user_id))
            view = note_view(int(round_id), language)
        try:
            dm = await self.client.create_dm(discord.Object(int(ref.user_id)))
            await _send(dm, text, nonce, view=view)
        except discord.Forbidden as exc:
            if exc.code != CANNOT_DM:
                await self._track(message, "unreachable")
                raise DeliveryFailed(f"DM refused: {exc.status} {exc.code}") from exc
            if await self._via_thread(message, ref, text, nonce, view):
                await self._track(message, "thread")
                return
            await self._track(message, "unreachable")
            raise DeliveryFailed("DMs closed and no private thread possible") from exc
        except discord.NotFound as exc:
            await self._track(message, "unreachable")
            raise DeliveryFailed(f"unknown user: {exc.code}") from exc
        await self._track(message, "dm")

    async def _meetup_channel(self, message: OutboxMessage, ref: MemberRef) -> int | None:
        meetup_id = message.payload.get("meetup_id")
        async with self.store.transaction() as tx:
            if meetup_id is not None:
                meetup = await tx.get_meetup(int(meetup_id))
                return int(meetup.room) if meetup else None
            mine = [m for m in await tx.meetups_of(ref) if m.community_id == message.community_id]
        return int(mine[-1].room) if mine else None

    async def _via_thread(
        self,
        message: OutboxMessage,
        ref: MemberRef,
        text: str,
        nonce: str,
        view: discord.ui.View | None,
    ) -> bool:
        """For closed DMs: the member's private thread in the meetup channel.

        The thread is reused; one that is gone or archived (after a week without messages)
        is replaced by a new one.
        """
        channel_id = await self._meetup_channel(message, ref)
        if channel_id is None:
            return False
        key = f"{PLATFORM}.thread.{channel_id}.{ref.user_id}"
        language = await self.language_of(message.community_id, int(ref.user_id))
        intro = t_in(language, "discord.thread_message", mention=f"<@{ref.user_id}>")
        body = intro + "\n\n" + text
        async with self._thread_lock:
            async with self.store.transaction() as tx:
                stored = await tx.get_state(key)
            if stored is not None:
                try:
                    await self._post_in_thread(int(stored), ref, body, nonce, view)
                    return True
                except discord.HTTPException as exc:
                    log.info(
                        "private thread %s unusable (%s %s); opening a new one",
                        stored,
                        exc.status,
                        exc.code,
                    )
                async with self.store.transaction() as tx:
                    await tx.delete_state(key)
            try:
                thread_id = await self._open_thread(channel_id, ref, language)
                if thread_id is None:
                    return False
                async with self.store.transaction() as tx:
                    await tx.set_state(key, str(thread_id))
                await self._post_in_thread(thread_id, ref, body, nonce, view)
            except discord.HTTPException as exc:
                log.warning(
                    "could not use a private thread in channel %s: %s %s",
                    channel_id,
                    exc.status,
                    exc.code,
                )
                return False
        return True

    async def _open_thread(self, channel_id: int, ref: MemberRef, language: str) -> int | None:
        parent = self.client.get_channel(channel_id)
        if not isinstance(parent, discord.TextChannel):
            log.warning("no private thread possible in channel %s", channel_id)
            return None
        async with self.store.transaction() as tx:
            member = await tx.get_member(ref)
        name = member.display_name if member else ref.user_id
        thread = await parent.create_thread(
            name=t_in(language, "discord.thread_name", name=name)[:100],
            type=discord.ChannelType.private_thread,
            invitable=False,
            auto_archive_duration=10080,
        )
        return thread.id

    async def _post_in_thread(
        self,
        thread_id: int,
        ref: MemberRef,
        body: str,
        nonce: str,
        view: discord.ui.View | None,
    ) -> None:
        # Every time: they may have left the thread since (adding is idempotent).
        await self.client.http.add_user_to_thread(thread_id, int(ref.user_id))
        user = discord.Object(int(ref.user_id))
        await _send(
            self.client.get_partial_messageable(thread_id),
            body,
            nonce,
            view=view,
            mentions=discord.AllowedMentions(everyone=False, roles=False, users=[user]),
        )

    async def _given_up(self, message: OutboxMessage) -> None:
        await self._track(message, "unreachable")

    async def _track(self, message: OutboxMessage, outcome: str) -> None:
        """Count a pairing towards its round's report, and show progress now and then."""
        if message.kind != "pairing":
            return
        report = self._reports.get(int(message.payload.get("round_id", -1)))
        if report is None:
            return
        if outcome == "unreachable" or outcome == "thread":
            async with self.store.transaction() as tx:
                member = await tx.get_member(MemberRef.from_key(message.target))
            name = member.display_name if member else MemberRef.from_key(message.target).user_id
            (report.unreachable if outcome == "unreachable" else report.threads).append(name)
        if outcome != "unreachable":
            report.delivered += 1
        await self._show(report)

    async def _show(self, report: _RoundReport, *, force: bool = False) -> None:
        finished = report.done >= report.total
        if finished:
            self._reports.pop(report.round_id, None)
        if report.message is None:
            return
        now = time.monotonic()
        if not (force or finished or now - report.last_shown >= PROGRESS_EVERY_SECONDS):
            return
        report.last_shown = now
        try:
            await report.message.edit(content=report.text())
        except discord.HTTPException as exc:
            # The organizer's interaction expired (15 minutes); delivery goes on regardless.
            log.info("could not update the delivery report: %s %s", exc.status, exc.code)
            report.message = None


async def _send(
    target: discord.abc.Messageable,
    text: str,
    nonce: str,
    *,
    view: discord.ui.View | None = None,
    mentions: discord.AllowedMentions = NO_PINGS,
) -> None:
    """One outbox message, in pieces of 2,000 characters (the view under the last one); each
    piece has its own nonce, so a resend after a crash repeats none of them."""
    pieces = split_message(text)
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1
        await target.send(
            piece,
            nonce=nonce if i == 0 else f"{nonce}-{i}",
            view=view if last and view is not None else discord.utils.MISSING,
            allowed_mentions=mentions,
        )


def _without_repeats(texts: Sequence[str]) -> list[str]:
    """Replies of several commands at once (a card form), without repeating a first line."""
    out: list[str] = []
    for text in texts:
        first = text.split("\n", 1)[0]
        out = [o for o in out if o.split("\n", 1)[0] != first]
        out.append(text)
    return out

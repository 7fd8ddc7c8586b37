"""Contract tests: the fake's payloads go through discord.py's own parsing and dispatch.

A tiny plain ``discord.Client`` with an ``app_commands.CommandTree`` (not Funkel's adapter)
connects to the fake; each test drives one Discord feature end to end and checks both
sides: what discord.py handed to the callback and what the fake stored.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from fakediscord import (
    ALL_PERMISSIONS,
    BOT_INVITE_PERMISSIONS,
    EVERYONE_PERMISSIONS,
    CannotInvoke,
    FakeDiscord,
    FakeDiscordFailure,
    Json,
    Permission,
    start_client,
    stop_client,
)

# ----------------------------------------------------------------------------- the test bot


class FeedbackModal(discord.ui.Modal, title="Feedback"):
    """discord.py 2.7 style modal: Labels wrapping a TextInput and a Checkbox."""

    text: discord.ui.Label[FeedbackModal] = discord.ui.Label(
        text="Your feedback", component=discord.ui.TextInput(custom_id="fb_text", max_length=200)
    )
    share: discord.ui.Label[FeedbackModal] = discord.ui.Label(
        text="Share it", component=discord.ui.Checkbox(custom_id="fb_share")
    )

    def __init__(self, seen: dict[str, Any]) -> None:
        super().__init__(custom_id="contract:feedback")
        self.seen = seen

    async def on_submit(self, interaction: discord.Interaction) -> None:
        assert isinstance(self.text.component, discord.ui.TextInput)
        assert isinstance(self.share.component, discord.ui.Checkbox)
        self.seen["modal"] = (self.text.component.value, self.share.component.value)
        self.seen["modal_interaction"] = interaction
        await interaction.response.send_message("thanks", ephemeral=interaction.guild is not None)


class DMButtons(discord.ui.View):
    """A persistent view (timeout=None, fixed custom_ids) as used for buttons in DMs."""

    def __init__(self, seen: dict[str, Any]) -> None:
        super().__init__(timeout=None)
        self.seen = seen

    @discord.ui.button(label="Ack", custom_id="contract:ack", style=discord.ButtonStyle.success)
    async def ack(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        self.seen["ack"] = interaction
        await interaction.response.send_message("acked")

    @discord.ui.button(label="Note", custom_id="contract:note")
    async def note(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        await interaction.response.send_modal(FeedbackModal(self.seen))

    @discord.ui.button(label="Done", custom_id="contract:done")
    async def done(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        await interaction.response.edit_message(content="done", view=None)  # callback type 7

    @discord.ui.button(label="Later", custom_id="contract:later")
    async def later(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        await interaction.response.defer()  # callback type 6: edit the message later
        await interaction.edit_original_response(content="later")
        temporary = await interaction.followup.send("temporary", wait=True)
        await temporary.delete()
        self.seen["later"] = True


class LegacyModal(discord.ui.Modal, title="Old style"):
    """A TextInput added directly: discord.py wraps it in an ActionRow (type 1)."""

    name: discord.ui.TextInput[LegacyModal] = discord.ui.TextInput(
        label="Name", custom_id="legacy_name"
    )

    def __init__(self, seen: dict[str, Any]) -> None:
        super().__init__(custom_id="contract:legacy")
        self.seen = seen

    async def on_submit(self, interaction: discord.Interaction) -> None:
        self.seen["legacy"] = self.name.value
        await interaction.response.send_message(f"hi {self.name.value}")


class ContractClient(discord.Client):
    def __init__(self) -> None:
        super().__init__(intents=discord.Intents.default(), guild_ready_timeout=0.05)
        self.tree = app_commands.CommandTree(self)
        self.seen: dict[str, Any] = {}
        seen = self.seen
        funkel = app_commands.Group(name="funkel", description="Funkel test commands")
        round_ = app_commands.Group(name="round", description="Rounds", parent=funkel)

        @round_.command(name="start", description="Start a round")
        async def start(
            interaction: discord.Interaction, partner: discord.Member, note: str | None = None
        ) -> None:
            seen["start"] = (interaction, partner, note)
            await interaction.response.send_message("started", ephemeral=True)

        @funkel.command(name="feedback", description="Give feedback")
        async def feedback(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(FeedbackModal(seen))

        @funkel.command(name="slow", description="Defer, then follow up")
        async def slow(interaction: discord.Interaction) -> None:
            await interaction.response.defer(thinking=True)
            await interaction.followup.send("first")
            second = await interaction.followup.send("second", wait=True)
            seen["second"] = await second.edit(content="second, edited")

        @funkel.command(name="legacy", description="Old-style modal")
        async def legacy(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(LegacyModal(seen))

        @funkel.command(name="boom", description="Fails")
        async def boom(interaction: discord.Interaction) -> None:
            raise RuntimeError("boom in a command callback")

        @funkel.command(name="twice", description="Acknowledges twice")
        async def twice(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("one")
            state = interaction._state  # bypass discord.py's own double-ack guard
            await state.http.request(
                discord.http.Route(
                    "POST",
                    "/interactions/{webhook_id}/{webhook_token}/callback",
                    webhook_id=interaction.id,
                    webhook_token=interaction.token,
                ),
                json={"type": 4, "data": {"content": "two"}},
            )

        self.tree.add_command(funkel)

    async def setup_hook(self) -> None:
        self.add_view(DMButtons(self.seen))

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py sleeps 5 s here before every non-initial IDENTIFY; tests need not."""


# ----------------------------------------------------------------------------- fixtures


@dataclass
class World:
    guild: Json
    other_guild: Json
    general: Json
    organizer_role: Json
    alice: Json  # organizer
    bob: Json
    closed: Json  # member with DMs closed
    outsider: Json  # not in the guild


@pytest.fixture
def world(fake: FakeDiscord) -> World:
    guild = fake.add_guild("Meetup Berlin", preferred_locale="de")
    other = fake.add_guild("Meetup Lisbon")
    general = fake.add_channel(guild, "general")
    fake.add_channel(other, "geral")
    organizer = fake.add_role(guild, "Organizer", Permission.MANAGE_GUILD)
    alice = fake.add_user("alice", locale="de")
    bob = fake.add_user("bob")
    closed = fake.add_user("carol", dms_open=False)
    outsider = fake.add_user("dave")
    fake.add_member(guild, alice, roles=[organizer])
    fake.add_member(guild, bob)
    fake.add_member(guild, closed)
    fake.add_member(other, bob)
    return World(guild, other, general, organizer, alice, bob, closed, outsider)


@pytest.fixture
async def client(fake: FakeDiscord, world: World) -> AsyncIterator[ContractClient]:
    c = ContractClient()
    task = await start_client(c, fake.token, fake=fake)
    await c.tree.sync()
    yield c
    await stop_client(c, task, fake=fake)


# ----------------------------------------------------------------------------- tests


def test_permission_bits_match_discord_py() -> None:
    for perm in Permission:
        assert getattr(discord.Permissions, perm.name.lower()).flag == perm.value, perm.name
    assert discord.Permissions.all().value == ALL_PERMISSIONS


async def test_connect_fills_guild_cache(fake: FakeDiscord, world: World, client: ContractClient):
    assert fake.identify is not None and fake.identify["intents"] == client.intents.value
    assert fake.heartbeats >= 1  # discord.py beats right after HELLO
    assert {g.id for g in client.guilds} == {int(world.guild["id"]), int(world.other_guild["id"])}
    guild = client.get_guild(int(world.guild["id"]))
    assert guild is not None
    assert guild.name == "Meetup Berlin" and str(guild.preferred_locale) == "de"
    assert [c.name for c in guild.text_channels] == ["general"]
    assert guild.default_role.permissions.value == EVERYONE_PERMISSIONS
    assert guild.get_role(int(world.organizer_role["id"])).permissions.manage_guild
    me = guild.me
    assert me is not None and me.id == client.user.id == int(fake.application_id)
    assert me.guild_permissions.value == BOT_INVITE_PERMISSIONS | EVERYONE_PERMISSIONS
    assert not me.guild_permissions.manage_threads
    # Discord sends only the bot's own member without the presences intent
    assert guild.get_member(int(world.alice["id"])) is None


async def test_dm_send_round_trips_with_components(
    fake: FakeDiscord, world: World, client: ContractClient
):
    user = await client.fetch_user(int(world.alice["id"]))
    msg = await user.send("Your pairing is ready", view=DMButtons(client.seen))
    assert isinstance(msg, discord.Message) and isinstance(msg.channel, discord.DMChannel)
    assert [c.custom_id for c in msg.components[0].children][:2] == [
        "contract:ack",
        "contract:note",
    ]
    stored = fake.dm_messages(world.alice)[-1]
    assert stored["content"] == "Your pairing is ready" and stored["id"] == str(msg.id)
    button = stored["components"][0]["components"][0]
    assert button["custom_id"] == "contract:ack" and button["id"] == 2  # ids as Discord numbers
    assert stored["nonce"] is not None  # discord.py always sends one, with enforce_nonce
    # the same DM channel on the next open
    again = await (await client.fetch_user(int(world.alice["id"]))).create_dm()
    assert again.id == msg.channel.id == int(fake.dm_channels[world.alice["id"]])


async def test_slash_subcommand_group_with_user_option(
    fake: FakeDiscord, world: World, client: ContractClient
):
    cmd = fake.command("funkel")
    assert cmd is not None and cmd["options"][0]["name"] == "round"
    iid = await fake.slash(
        world.guild,
        world.general,
        world.alice,
        "funkel",
        ["round", "start"],
        {"partner": world.bob},
    )
    cb = await fake.wait_callback(iid)
    assert cb == {"type": 4, "data": {"content": "started", "flags": 64, "tts": False}}
    interaction, partner, note = client.seen["start"]
    assert isinstance(partner, discord.Member) and partner.id == int(world.bob["id"])
    assert note is None
    assert interaction.data["id"] == cmd["id"]
    assert str(interaction.locale) == "de" and str(interaction.guild_locale) == "de"
    assert isinstance(interaction.user, discord.Member)
    assert interaction.user.guild_permissions.manage_guild
    assert interaction.permissions.manage_guild and interaction.permissions.send_messages
    assert interaction.app_permissions.create_private_threads
    assert not interaction.app_permissions.manage_threads
    reply = fake.original_message(iid)
    assert (
        reply is not None and reply["flags"] == 64 and reply in fake.channel_messages(world.general)
    )

    iid = await fake.slash(
        world.guild, world.general, world.bob, "funkel", ["round", "start"],
        {"partner": world.alice, "note": "hi"},
    )  # fmt: skip
    await fake.wait_callback(iid)
    interaction, partner, note = client.seen["start"]
    assert not interaction.user.guild_permissions.manage_guild
    assert not interaction.permissions.manage_guild
    assert partner.guild_permissions.manage_guild and note == "hi"


async def test_slash_respects_discord_client_rules(
    fake: FakeDiscord, world: World, client: ContractClient
):
    with pytest.raises(CannotInvoke):
        await fake.slash(world.guild, world.general, world.alice, "nosuchcommand")
    fake.add_member(world.guild, world.outsider)
    fake.everyone_role(world.guild)["permissions"] = str(int(Permission.VIEW_CHANNEL))
    with pytest.raises(CannotInvoke):  # no USE_APPLICATION_COMMANDS
        await fake.slash(world.guild, world.general, world.outsider, "funkel", ["slow"])


async def test_persistent_view_button_in_dm_after_restart(fake: FakeDiscord, world: World):
    first = ContractClient()
    task = await start_client(first, fake.token, fake=fake)
    await first.tree.sync()
    user = await first.fetch_user(int(world.alice["id"]))
    await user.send("Your pairing is ready", view=DMButtons(first.seen))
    await stop_client(first, task, fake=fake)

    # the restarted bot knows the view only through add_view() in setup_hook (no message id)
    second = ContractClient()
    task = await start_client(second, fake.token, fake=fake)
    stored = fake.dm_messages(world.alice)[-1]
    iid = await fake.click(stored, "contract:ack", world.alice)
    cb = await fake.wait_callback(iid)
    assert cb["type"] == 4 and cb["data"]["content"] == "acked"
    interaction = second.seen["ack"]
    assert interaction.guild is None and isinstance(interaction.user, discord.User)
    assert isinstance(interaction.channel, discord.DMChannel)
    assert interaction.message.id == int(stored["id"])
    assert fake.dm_messages(world.alice)[-1]["content"] == "acked"
    assert fake.interactions[iid].payload["context"] == 1  # BOT_DM
    await stop_client(second, task, fake=fake)


async def test_modal_with_label_textinput_checkbox(
    fake: FakeDiscord, world: World, client: ContractClient
):
    iid = await fake.slash(world.guild, world.general, world.alice, "funkel", ["feedback"])
    cb = await fake.wait_callback(iid)
    assert cb["type"] == 9
    assert cb["data"] == {
        "custom_id": "contract:feedback",
        "title": "Feedback",
        "components": [
            {
                "type": 18,
                "label": "Your feedback",
                "component": {
                    "type": 4,
                    "style": 1,
                    "label": None,
                    "custom_id": "fb_text",
                    "required": True,
                    "max_length": 200,
                },
            },
            {
                "type": 18,
                "label": "Share it",
                "component": {"type": 23, "custom_id": "fb_share", "default": False},
            },
        ],
    }
    sid = await fake.submit_modal(cb, {"fb_text": "great bot", "fb_share": True}, world.alice)
    assert (await fake.wait_callback(sid))["data"]["content"] == "thanks"
    assert client.seen["modal"] == ("great bot", True)
    submitted = fake.interactions[sid].payload["data"]
    assert submitted["components"][0] == {
        "type": 18,
        "id": 1,
        "component": {"type": 4, "id": 2, "custom_id": "fb_text", "value": "great bot"},
    }
    assert submitted["components"][1]["component"] == {
        "type": 23,
        "id": 4,
        "custom_id": "fb_share",
        "value": True,
    }
    with pytest.raises(Exception, match="required"):
        await fake.submit_modal(cb, {"fb_share": True}, world.alice)


async def test_modal_opened_from_dm_button(fake: FakeDiscord, world: World, client: ContractClient):
    user = await client.fetch_user(int(world.bob["id"]))
    await user.send("Tell us", view=DMButtons(client.seen))
    iid = await fake.click(fake.dm_messages(world.bob)[-1], "contract:note", world.bob)
    cb = await fake.wait_callback(iid)
    assert cb["type"] == 9
    sid = await fake.submit_modal(iid, {"fb_text": "from a DM"}, world.bob)
    assert (await fake.wait_callback(sid))["data"]["content"] == "thanks"
    assert client.seen["modal"] == ("from a DM", False)
    submit = client.seen["modal_interaction"]
    assert submit.guild is None and isinstance(submit.channel, discord.DMChannel)
    assert submit.message is not None  # the DM message whose button opened the modal


async def test_429_is_waited_out(fake: FakeDiscord, world: World, client: ContractClient):
    fake.rate_limit_next("POST", r"/channels/\d+/messages", retry_after=0.5)
    channel = client.get_channel(int(world.general["id"]))
    assert isinstance(channel, discord.TextChannel)
    msg = await channel.send("after the rate limit")
    posts = [r for r in fake.requests if r.method == "POST" and r.path.endswith("/messages")]
    assert [r.status for r in posts] == [429, 200]
    assert posts[1].at - posts[0].at >= 0.5
    assert len(fake.rate_limited) == 1 and fake.rate_limited[0].retry_after == 0.5
    assert [m["id"] for m in fake.channel_messages(world.general)] == [str(msg.id)]


async def test_nonce_dedup_returns_the_same_message(
    fake: FakeDiscord, world: World, client: ContractClient
):
    channel = client.get_channel(int(world.general["id"]))
    assert isinstance(channel, discord.TextChannel)
    first = await channel.send("once", nonce="pairing-42")
    second = await channel.send("once", nonce="pairing-42")
    assert first.id == second.id
    assert len(fake.channel_messages(world.general)) == 1


async def test_closed_dms_raise_forbidden_50007(
    fake: FakeDiscord, world: World, client: ContractClient
):
    user = await client.fetch_user(int(world.closed["id"]))
    dm = await user.create_dm()  # opening the DM channel works, as on Discord
    with pytest.raises(discord.Forbidden) as info:
        await dm.send("hello")
    assert info.value.code == 50007 and info.value.status == 403
    with pytest.raises(discord.Forbidden):  # not sharing a guild with the bot: same error
        await (await client.fetch_user(int(world.outsider["id"]))).send("hi")
    assert fake.dm_messages(world.closed) == []


async def test_private_thread_with_member(fake: FakeDiscord, world: World, client: ContractClient):
    channel = client.get_channel(int(world.general["id"]))
    assert isinstance(channel, discord.TextChannel)
    thread = await channel.create_thread(
        name="alice & bob", type=discord.ChannelType.private_thread, invitable=False
    )
    assert isinstance(thread, discord.Thread)
    assert thread.type is discord.ChannelType.private_thread and thread.parent_id == channel.id
    assert thread.owner_id == client.user.id and not thread.invitable
    await thread.add_user(discord.Object(int(world.alice["id"])))
    await thread.add_user(discord.Object(int(world.bob["id"])))
    assert fake.thread_members[str(thread.id)] == [
        fake.application_id,
        world.alice["id"],
        world.bob["id"],
    ]
    sent = await thread.send("Say hi!")
    assert fake.channel_messages(str(thread.id))[-1]["id"] == str(sent.id)
    await fake.wait_for(lambda: client.get_guild(int(world.guild["id"])).get_thread(thread.id))
    # the bot cannot add someone who is not in the guild
    with pytest.raises(discord.NotFound):
        await thread.add_user(discord.Object(int(world.outsider["id"])))


async def test_thread_needs_create_private_threads(
    fake: FakeDiscord, world: World, client: ContractClient
):
    fake.bot_role(world.guild)["permissions"] = str(int(Permission.SEND_MESSAGES))
    channel = client.get_channel(int(world.general["id"]))
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.Forbidden) as info:
        await channel.create_thread(name="x", type=discord.ChannelType.private_thread)
    assert info.value.code == 50013


async def test_defer_followups_and_webhook_edit(
    fake: FakeDiscord, world: World, client: ContractClient
):
    iid = await fake.slash(world.guild, world.general, world.bob, "funkel", ["slow"])
    edited = await fake.wait_for(lambda: client.seen.get("second"))
    assert isinstance(edited, discord.WebhookMessage) and edited.content == "second, edited"
    assert fake.callbacks[iid] == {"type": 5}
    followups = fake.followups_of(iid)
    assert [m["content"] for m in followups] == ["first", "second, edited"]
    # Discord: the first followup after a "thinking" defer replaces the loading message
    original = fake.original_message(iid)
    assert original is not None and followups[0]["id"] == original["id"]
    assert original["flags"] == 0 and followups[1]["edited_timestamp"] is not None
    assert [m["content"] for m in fake.channel_messages(world.general)] == [
        "first",
        "second, edited",
    ]


async def test_restart_reidentifies(fake: FakeDiscord, world: World):
    first = ContractClient()
    task = await start_client(first, fake.token, fake=fake)
    await first.tree.sync()
    await stop_client(first, task, fake=fake)
    assert not fake.connected

    second = ContractClient()
    task = await start_client(second, fake.token, fake=fake)
    assert len(fake.identifies) == 2
    assert second.get_guild(int(world.guild["id"])) is not None
    await second.tree.sync()
    assert [c.changed for c in fake.sync_calls] == [True, False]  # same commands, same ids
    iid = await fake.slash(
        world.guild,
        world.general,
        world.alice,
        "funkel",
        ["round", "start"],
        {"partner": world.bob},
    )
    await fake.wait_callback(iid)
    assert second.seen["start"][1].id == int(world.bob["id"])
    await stop_client(second, task, fake=fake)


async def test_gateway_drop_resumes_and_replays(
    fake: FakeDiscord, world: World, client: ContractClient
):
    await fake.drop_gateway(4000)
    fake.add_channel(world.guild, "created-while-away")  # CHANNEL_CREATE kept for the resume
    await fake.wait_for(lambda: len(fake.resumes) == 1 and fake.connected)
    assert len(fake.identifies) == 1
    guild = client.get_guild(int(world.guild["id"]))
    await fake.wait_for(lambda: len(guild.text_channels) == 2)
    iid = await fake.slash(world.guild, world.general, world.bob, "funkel", ["slow"])
    await fake.wait_for(lambda: client.seen.get("second"))
    assert len(fake.followups_of(iid)) == 2


async def test_gateway_invalid_session_reidentifies(fake: FakeDiscord, world: World):
    fake.resume_policy = "invalidate"
    c = ContractClient()
    task = await start_client(c, fake.token, fake=fake)
    await fake.drop_gateway(4000)
    await fake.wait_for(lambda: len(fake.identifies) == 2 and fake.connected, timeout=10)
    assert len(fake.resumes) == 1
    assert c.get_guild(int(world.guild["id"])) is not None
    await stop_client(c, task, fake=fake)


async def test_gateway_speaks_zlib_stream(fake: FakeDiscord, world: World, client: ContractClient):
    (session,) = fake.sessions
    assert session.compress == "zlib-stream"
    # the payload discord.py sends is JSON text; what the fake sends back is compressed
    assert isinstance(session._zlib, type(zlib.compressobj()))


async def test_hold_lets_a_test_crash_between_store_and_answer(
    fake: FakeDiscord, world: World, client: ContractClient
):
    hold = fake.hold("POST", r"/channels/\d+/messages")
    channel = client.get_channel(int(world.general["id"]))
    assert isinstance(channel, discord.TextChannel)
    send = asyncio.create_task(channel.send("stored before the crash"))
    await asyncio.wait_for(hold.arrived.wait(), 5)
    assert fake.channel_messages(world.general)[-1]["content"] == "stored before the crash"
    assert not send.done()
    hold.release()
    msg = await asyncio.wait_for(send, 5)
    assert str(msg.id) == hold.response["id"]


async def test_unknown_route_is_recorded(fake: FakeDiscord, world: World, client: ContractClient):
    with pytest.raises(discord.NotFound):
        await client.http.request(discord.http.Route("GET", "/guilds/{guild_id}/audit-logs",
                                                     guild_id=int(world.guild["id"])))  # fmt: skip
    assert [(r.method, r.path) for r in fake.unhandled] == [
        ("GET", f"/guilds/{world.guild['id']}/audit-logs")
    ]
    fake.unhandled.clear()


async def test_exception_in_callback_fails_wait_for_at_once(
    fake: FakeDiscord, world: World, client: ContractClient
):
    iid = await fake.slash(world.guild, world.general, world.alice, "funkel", ["boom"])
    started = time.monotonic()
    with pytest.raises(FakeDiscordFailure) as info:
        await fake.wait_callback(iid, timeout=5)
    assert time.monotonic() - started < 2
    cause = info.value.__cause__
    assert isinstance(cause, app_commands.CommandInvokeError)
    assert isinstance(cause.original, RuntimeError)
    fake.errors.clear()


async def test_double_acknowledgement_is_a_400(
    fake: FakeDiscord, world: World, client: ContractClient
):
    iid = await fake.slash(world.guild, world.general, world.alice, "funkel", ["twice"])
    with pytest.raises(FakeDiscordFailure) as info:
        await fake.wait_for(lambda: False)
    assert "40060" in str(info.value)
    assert fake.callbacks[iid]["data"]["content"] == "one"
    # the 400 is recorded by the fake, then discord.py logs the failed command
    await fake.wait_for(lambda: len(fake.errors) == 2, fail_on_errors=False)
    fake.errors.clear()


async def test_bad_token_surfaces_the_real_error(fake: FakeDiscord, world: World):
    c = ContractClient()
    with pytest.raises(discord.LoginFailure):
        await start_client(c, "wrong-token")
    await c.close()


async def test_multipart_edit_fetch_and_own_message_echo(
    fake: FakeDiscord, world: World, client: ContractClient
):
    channel = client.get_channel(int(world.general["id"]))
    assert isinstance(channel, discord.TextChannel)
    echoed = asyncio.ensure_future(client.wait_for("message", timeout=5))
    msg = await channel.send("pairs", file=discord.File(io.BytesIO(b"a,b\n"), "pairs.csv"))
    assert [a.filename for a in msg.attachments] == ["pairs.csv"] and msg.attachments[0].size == 4
    assert (await echoed).id == msg.id  # MESSAGE_CREATE for the bot's own message
    assert fake.requests[-1].body["_files"] == ["pairs.csv"]
    edited = await msg.edit(content="pairs (updated)")
    assert edited.edited_at is not None
    fetched = await channel.fetch_message(msg.id)
    assert fetched.content == "pairs (updated)" and len(fetched.attachments) == 1
    stored = fake.message(str(msg.id))
    assert stored["content"] == "pairs (updated)"


async def test_component_update_and_deferred_update(
    fake: FakeDiscord, world: World, client: ContractClient
):
    user = await client.fetch_user(int(world.alice["id"]))
    first = await user.send("pick", view=DMButtons(client.seen))
    iid = await fake.click(str(first.id), "contract:done", world.alice)
    cb = await fake.wait_callback(iid)
    assert cb == {"type": 7, "data": {"tts": False, "content": "done", "components": []}}
    assert fake.message(str(first.id))["content"] == "done"
    assert fake.message(str(first.id))["components"] == []
    with pytest.raises(Exception, match="no button"):  # the buttons are gone now
        await fake.click(str(first.id), "contract:done", world.alice)

    second = await user.send("pick again", view=DMButtons(client.seen))
    iid = await fake.click(str(second.id), "contract:later", world.alice)
    await fake.wait_for(lambda: client.seen.get("later"))
    assert fake.callbacks[iid] == {"type": 6}
    assert fake.message(str(second.id))["content"] == "later"  # @original = the clicked message
    assert [m["content"] for m in fake.dm_messages(world.alice)] == ["done", "later"]
    assert fake.followups_of(iid) == []  # the temporary followup was deleted


async def test_legacy_action_row_modal_and_dm_slash(
    fake: FakeDiscord, world: World, client: ContractClient
):
    iid = await fake.slash(None, None, world.alice, "funkel", ["legacy"])
    cb = await fake.wait_callback(iid)
    row = cb["data"]["components"][0]
    assert row["type"] == 1 and row["components"][0]["custom_id"] == "legacy_name"
    assert fake.interactions[iid].payload["context"] == 1  # from the bot's DM
    sid = await fake.submit_modal(cb, {"legacy_name": "Ada"}, world.alice)
    assert (await fake.wait_callback(sid))["data"]["content"] == "hi Ada"
    assert client.seen["legacy"] == "Ada"
    row = fake.interactions[sid].payload["data"]["components"][0]
    assert row == {
        "type": 1,
        "id": 1,
        "components": [{"type": 4, "id": 2, "custom_id": "legacy_name", "value": "Ada"}],
    }
    assert fake.dm_messages(world.alice)[-1]["content"] == "hi Ada"


async def test_user_messages_respect_message_content_intent(
    fake: FakeDiscord, world: World, client: ContractClient
):
    got = asyncio.ensure_future(client.wait_for("message", timeout=5))
    await fake.user_message(world.general, world.alice, "hello everyone")
    assert (await got).content == ""  # no MESSAGE_CONTENT intent
    got = asyncio.ensure_future(client.wait_for("message", timeout=5))
    await fake.user_message(world.general, world.alice, f"hey <@{fake.application_id}>")
    assert (await got).content.startswith("hey")  # mentions of the bot are visible
    fake._dm_channel_payload(world.alice["id"])
    got = asyncio.ensure_future(client.wait_for("message", timeout=5))
    await fake.user_message(fake.dm_channels[world.alice["id"]], world.alice, "in private")
    msg = await got
    assert msg.content == "in private" and isinstance(msg.channel, discord.DMChannel)


async def test_bot_logger_errors_fail_wait_for(fake: FakeDiscord, world: World):
    logging.getLogger("bot.adapters.discord").error("could not deliver pairing %s", 42)
    with pytest.raises(FakeDiscordFailure, match="could not deliver pairing 42"):
        await fake.wait_for(lambda: False)
    fake.errors.clear()


async def test_invalid_payloads_are_400_and_recorded(
    fake: FakeDiscord, world: World, client: ContractClient
):
    channel = client.get_channel(int(world.general["id"]))
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.HTTPException) as info:
        await channel.send("x" * 2001)
    assert info.value.code == 50035 and "2000 or fewer" in str(info.value)
    assert len(fake.errors) == 1
    fake.errors.clear()


async def test_crash_between_store_and_answer(
    fake: FakeDiscord, world: World, client: ContractClient
):
    hold = fake.hold("POST", r"/channels/\d+/messages")
    channel = client.get_channel(int(world.general["id"]))
    assert isinstance(channel, discord.TextChannel)
    send = asyncio.create_task(channel.send("sent just before the crash", nonce="delivery-7"))
    await asyncio.wait_for(hold.arrived.wait(), 5)
    for c, task in fake.watched_clients:
        await stop_client(c, task, fake=fake)  # the bot "crashes" without the answer
    with pytest.raises(aiohttp.ClientError):  # ServerDisconnectedError: the answer never came
        await send
    hold.release()
    restarted = ContractClient()
    task = await start_client(restarted, fake.token, fake=fake)
    again = restarted.get_channel(int(world.general["id"]))
    assert isinstance(again, discord.TextChannel)
    resent = await again.send("sent just before the crash", nonce="delivery-7")
    assert fake.channel_messages(world.general) == [fake.message(str(resent.id))]
    await stop_client(restarted, task, fake=fake)

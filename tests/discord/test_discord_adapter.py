"""Funkel on Discord, end to end: the real discord.py client against the fake Discord.

Every scenario drives Funkel the way people do — slash commands, buttons, forms — and checks
what they would see: ephemeral replies, DMs, the channel, the organizer's delivery report.
The ``fake`` fixture fails a test on any route the fake does not know and on any ERROR that
discord.py or Funkel logs.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fakediscord import FakeDiscord, Json, Permission
from funkel_bot import FunkelBot

from bot.adapters import StartupError
from bot.core.models import MemberRef

MANAGE_EVENTS = 1 << 33

CARDS = {
    "Anna": ("Lisbon; bouldering", "sourdough"),
    "Ben": ("sourdough; jazz", "Lisbon"),
    "Chiara": ("beekeeping", "jazz; bouldering"),
    "Dev": ("jazz", "beekeeping"),
    "Emil": ("bouldering", "Lisbon; jazz"),
    "Fatma": ("sourdough", "beekeeping"),
    "Gus": ("Lisbon", "bouldering"),
}


@dataclass
class World:
    """One server with a meetup channel, an organizer and attendees."""

    fake: FakeDiscord
    tmp_path: Path
    guild: Json
    channel: Json
    orga: Json
    people: dict[str, Json] = field(default_factory=dict)
    bots: list[FunkelBot] = field(default_factory=list)

    def person(self, name: str, *, dms_open: bool = True, locale: str = "en-US") -> Json:
        user = self.fake.add_user(name, dms_open=dms_open, locale=locale)
        self.fake.add_member(self.guild, user)
        self.people[name] = user
        return user

    async def start(self, **options: Any) -> FunkelBot:
        options.setdefault("guild_ids", frozenset({int(self.guild["id"])}))
        bot = FunkelBot(database=self.tmp_path / "funkel.sqlite3", token=self.fake.token, **options)
        self.bots.append(bot)
        await bot.start()
        assert bot.adapter is not None and bot.task is not None
        self.fake.watch(bot.adapter.client, bot.task)
        return bot

    async def slash(
        self,
        user: Json,
        *path: str,
        options: dict[str, Any] | None = None,
        locale: str | None = None,
        guild: Json | None = None,
        channel: Json | None = None,
    ) -> tuple[str, Json]:
        iid = await self.fake.slash(
            guild or self.guild,
            channel or self.channel,
            user,
            "funkel",
            path,
            options or {},
            locale=locale,
        )
        return iid, await self.fake.wait_callback(iid)

    async def said(self, user: Json, *path: str, **kwargs: Any) -> str:
        """Run a slash command; everything the person saw in reply, as one text."""
        iid, callback = await self.slash(user, *path, **kwargs)
        return await self.reply_text(iid, callback)

    async def reply_text(self, iid: str, callback: Json) -> str:
        if callback["type"] == 5:  # "thinking…": the answer comes as followups
            await self.fake.wait_for(lambda: self.fake.followups_of(iid))
            return "\n".join(m["content"] for m in self.fake.followups_of(iid))
        data = callback.get("data") or {}
        assert data.get("flags", 0) & 64, f"reply not ephemeral: {callback}"
        return "\n".join(
            [data.get("content") or ""] + [m["content"] for m in self.fake.followups_of(iid)]
        )

    async def join_with_card(self, name: str) -> None:
        user = self.people[name]
        reply = await self.said(user, "join")
        assert "Welcome" in reply, reply
        curious, tell = CARDS[name]
        reply = await self.said(user, "card", options={"curious": curious, "tell": tell})
        assert "Saved your curiosity card" in reply, reply

    async def attend(self, *names: str, closed_dms: Collection[str] = ()) -> None:
        """Each of ``names`` joins the meetup and fills in their card (from CARDS)."""
        for name in names:
            self.person(name, dms_open=name not in closed_dms)
            await self.join_with_card(name)

    def pairings(self, user: Json) -> list[Json]:
        return [m for m in self.fake.dm_messages(user) if m["content"].startswith("Round ")]


@pytest.fixture
async def world(fake: FakeDiscord, tmp_path: Path) -> AsyncIterator[World]:
    guild = fake.add_guild("Berlin Curious")
    channel = fake.add_channel(guild, "meetup-night")
    orga_role = fake.add_role(guild, "Hosts", MANAGE_EVENTS)
    orga = fake.add_user("Olga")
    fake.add_member(guild, orga, roles=[orga_role])
    w = World(fake, tmp_path, guild, channel, orga)
    try:
        yield w
    finally:
        for bot in w.bots:
            await bot.stop()


def buttons(message: Json) -> list[Json]:
    return [c for row in message.get("components") or [] for c in row.get("components", [])]


def inputs(modal: Json) -> list[Json]:
    """The fields of a form the bot opened (Label components wrap them)."""
    return [c["component"] for c in modal["data"]["components"] if c.get("type") == 18]


def channel_denying_the_bot(world: World, name: str, permission: Permission) -> Json:
    """A channel where a permission overwrite takes ``permission`` from Funkel's role."""
    deny = {"id": world.fake.bot_role(world.guild)["id"], "type": 0, "allow": "0"}
    deny["deny"] = str(int(permission))
    return world.fake.add_channel(world.guild, name, overwrites=[deny])


async def wait_until(fake: FakeDiscord, check: Callable[[], Any], timeout: float = 10) -> Any:
    return await fake.wait_for(check, timeout=timeout)


# ---------------------------------------------------------------------- scenarios
async def test_connects_with_only_the_guilds_intent_and_registers_commands(
    world: World,
) -> None:
    """No privileged intent; /funkel is registered in the server, with German names."""
    await world.start()
    assert world.fake.identify["intents"] == 1  # GUILDS, nothing else
    command = world.fake.command("funkel", world.guild)
    assert command is not None
    subs = {o["name"]: o for o in command["options"]}
    assert {"join", "leave", "card", "round", "note", "met", "export", "forget", "help"} <= set(
        subs
    )
    assert subs["join"]["name_localizations"]["de"] == "beitreten"
    assert subs["round"]["name_localizations"]["de"] == "runde"
    starts = {o["name"]: o for o in subs["round"]["options"]}
    assert starts["start"]["name_localizations"]["de"] == "starten"
    assert command["dm_permission"] is False or command.get("contexts") == [0]


async def test_join_button_then_card_form(world: World) -> None:
    """Sign-up message → "I'm in" → "My curiosity card" → the two-field form → saved."""
    await world.start()
    anna = world.person("Anna")
    posted = await world.said(world.orga, "signup")
    assert "Posted the sign-up message" in posted
    signup = next(m for m in world.fake.channel_messages(world.channel) if buttons(m))
    assert [b["label"] for b in buttons(signup)] == ["I'm in", "My curiosity card", "Leave"]
    assert not signup["flags"] & 64  # everyone sees it

    iid = await world.fake.click(signup, "funkel:join", anna)
    joined = await world.fake.wait_callback(iid)
    assert joined["data"]["flags"] & 64
    assert "Welcome to #meetup-night, Anna!" in joined["data"]["content"]
    reply = world.fake.original_message(iid)
    assert reply is not None and [b["custom_id"] for b in buttons(reply)] == ["funkel:card"]

    iid = await world.fake.click(reply, "funkel:card", anna)
    form = await world.fake.wait_callback(iid)
    assert form["type"] == 9
    assert [f["custom_id"] for f in inputs(form)] == ["curious", "tell"]
    iid = await world.fake.submit_modal(
        form,
        {"curious": "Lisbon;\nbouldering", "tell": "*sourdough*"},
        anna,
        world.guild,
        world.channel,
    )
    saved = await world.fake.wait_callback(iid)
    text = saved["data"]["content"]
    assert "Saved your curiosity card" in text
    assert "Lisbon" in text and "bouldering" in text and r"\*sourdough\*" in text
    bot = world.bots[0]
    assert bot.store is not None
    async with bot.store.transaction() as tx:
        card = await tx.get_card(MemberRef("discord", anna["id"]))
    assert card.curious_about == ("Lisbon", "bouldering")
    assert card.can_tell_about == ("*sourdough*",)

    # Opening the form again shows what the card holds.
    iid = await world.fake.click(signup, "funkel:card", anna)
    form = await world.fake.wait_callback(iid)
    assert [f.get("value") for f in inputs(form)] == ["Lisbon; bouldering", "*sourdough*"]

    iid = await world.fake.click(signup, "funkel:leave", anna)
    left = await world.fake.wait_callback(iid)
    assert "You've left #meetup-night" in left["data"]["content"]


async def test_a_round_of_seven_gives_one_trio_and_a_dm_each(world: World) -> None:
    """Preview, start: one announcement without pings, one DM per person, organizer report."""
    await world.start()
    await world.attend(*CARDS)
    preview = await world.said(world.orga, "round", "preview")
    assert "Preview of round 1: 3 groups" in preview
    assert not any(world.fake.dm_messages(p) for p in world.people.values())

    iid, callback = await world.slash(world.orga, "round", "start")
    assert callback["type"] == 5
    await wait_until(world.fake, lambda: all(world.pairings(p) for p in world.people.values()))
    trio = [
        n for n, p in world.people.items() if "group of three" in world.pairings(p)[0]["content"]
    ]
    assert len(trio) == 3
    for user in world.people.values():
        [dm] = world.pairings(user)
        assert dm["content"].startswith("Round 1: you're")
        assert "Icebreaker:" in dm["content"]
        [button] = buttons(dm)
        assert button["label"] == "Leave a note"
        assert re.fullmatch(r"funkel:note:\d+", button["custom_id"])

    report = await wait_until(
        world.fake,
        lambda: [m for m in world.fake.followups_of(iid) if "reached their people" in m["content"]],
    )
    assert "Sent: all 7 pairings reached their people." in report[0]["content"]
    assert "Round 1 has started: 3 groups" in world.fake.followups_of(iid)[0]["content"]
    bot = world.bots[0]
    await bot.idle()
    announcements = [
        m for m in world.fake.channel_messages(world.channel) if "Round 1 is on" in m["content"]
    ]
    assert len(announcements) == 1
    assert announcements[0]["allowed_mentions"] == {"parse": []}  # pings nobody


async def test_closed_dms_get_a_private_thread_and_the_organizer_is_told(world: World) -> None:
    await world.start()
    await world.attend("Anna", "Ben", "Chiara", closed_dms={"Ben"})
    iid, _ = await world.slash(world.orga, "round", "start")
    report = await wait_until(
        world.fake,
        lambda: [m for m in world.fake.followups_of(iid) if "private thread" in m["content"]],
    )
    assert (
        "1 person has closed DMs and got theirs in a private thread here: Ben."
        in (report[0]["content"])
    )
    ben = world.people["Ben"]
    [thread_id] = [t for t, members in world.fake.thread_members.items() if ben["id"] in members]
    [message] = world.fake.channel_messages(thread_id)
    assert message["content"].startswith(f"<@{ben['id']}>, your direct messages with me are closed")
    assert "Round 1: you're" in message["content"]
    assert [str(u) for u in message["allowed_mentions"]["users"]] == [ben["id"]]
    assert message["allowed_mentions"]["parse"] == []
    assert [b["label"] for b in buttons(message)] == ["Leave a note"]
    assert world.fake.channels[thread_id]["type"] == 12  # private


async def test_nobody_reachable_is_named_to_the_organizer(world: World) -> None:
    """DMs closed and no right to open private threads: the organizer hears whom to tell."""
    world.channel = channel_denying_the_bot(world, "no-threads", Permission.CREATE_PRIVATE_THREADS)
    await world.start()
    await world.attend("Anna", "Ben", closed_dms={"Ben"})
    iid, _ = await world.slash(world.orga, "round", "start")
    report = await wait_until(
        world.fake,
        lambda: [m for m in world.fake.followups_of(iid) if "could not reach" in m["content"]],
    )
    assert "I could not reach Ben" in report[0]["content"]
    assert "Sent 1 of 2 pairings." in report[0]["content"]
    assert len(world.pairings(world.people["Anna"])) == 1


async def test_note_form_and_the_mutual_wish_to_talk_again(world: World) -> None:
    await world.start()
    await world.attend("Anna", "Ben")
    await world.said(world.orga, "round", "start")
    anna, ben = world.people["Anna"], world.people["Ben"]
    await wait_until(world.fake, lambda: world.pairings(anna) and world.pairings(ben))

    async def leave_note(user: Json, text: str) -> str:
        [dm] = world.pairings(user)
        iid = await world.fake.click(dm, buttons(dm)[0]["custom_id"], user)
        form = await world.fake.wait_callback(iid)
        assert form["type"] == 9
        assert [f["custom_id"] for f in inputs(form)] == ["text", "again"]
        iid = await world.fake.submit_modal(form, {"text": text, "again": True}, user)
        return str((await world.fake.wait_callback(iid))["data"]["content"])

    first = await leave_note(anna, "Knows every bakery in Lisbon")
    assert "Saved your note about Ben" in first
    assert "I'll tell you both if Ben would like to talk again" in first
    second = await leave_note(ben, "Great jazz tips @everyone")
    assert "Saved your note about Anna" in second
    for user in (anna, ben):  # both are told, each in a DM
        await wait_until(
            world.fake,
            lambda u=user: any("both said" in m["content"] for m in world.fake.dm_messages(u)),
        )
    recall = await world.said(anna, "met", options={"search": "bakery"})
    assert "your note: Knows every bakery in Lisbon" in recall
    assert "Great jazz" not in recall  # Ben's note is Ben's alone


async def test_organizer_commands_are_refused_to_others_server_side(world: World) -> None:
    await world.start(organizer_role="Stewards")
    await world.attend("Anna", "Ben")
    refused = await world.said(world.people["Anna"], "round", "start")
    assert "Only organizers can run pairing rounds" in refused
    refused = await world.said(world.people["Anna"], "signup")
    assert "Only organizers" in refused
    await asyncio.sleep(0.3)
    public = [m for m in world.fake.channel_messages(world.channel) if not m["flags"] & 64]
    assert public == []  # nothing announced or posted
    assert not any(world.pairings(p) for p in world.people.values())

    steward = world.fake.add_role(world.guild, "Stewards", 0)  # a role, no permission
    carla = world.fake.add_user("Carla")
    world.fake.add_member(world.guild, carla, roles=[steward])
    started = await world.said(carla, "round", "start")
    assert "Round 1 has started" in started
    await wait_until(world.fake, lambda: all(world.pairings(p) for p in world.people.values()))


async def test_a_rate_limit_on_dms_is_waited_out_and_nothing_doubles(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="bot")
    await world.start()
    await world.attend("Anna", "Ben")
    world.fake.rate_limit_next("POST", r"/channels/\d+/messages", retry_after=0.6)
    await world.said(world.orga, "round", "start")
    await wait_until(world.fake, lambda: all(world.pairings(p) for p in world.people.values()))
    await world.bots[0].idle()
    [limited] = world.fake.rate_limited
    retried = [
        r
        for r in world.fake.requests
        if r.method == "POST" and r.path == limited.path and r.at > limited.at
    ]
    assert retried and retried[0].at - limited.at >= 0.55
    for user in world.people.values():
        assert len(world.pairings(user)) == 1
    # discord.py waited, rather than Funkel's outbox retrying a failed send.
    assert not [r for r in caplog.records if "failed, attempt" in r.getMessage()]


async def test_a_restart_mid_delivery_sends_nothing_twice(world: World) -> None:
    """Killed after Discord stored a DM but before the bot heard back: the resend is
    dropped by its nonce, and everyone ends up with exactly one pairing."""
    first = await world.start()
    names = ["Anna", "Ben", "Chiara", "Dev", "Emil", "Fatma"]
    for name in names:
        world.person(name)
        await world.join_with_card(name)
    hold = world.fake.hold("POST", r"/channels/\d+/messages")
    await world.slash(world.orga, "round", "start")
    await asyncio.wait_for(hold.arrived.wait(), 10)
    assert first.task is not None and first.adapter is not None
    world.fake.unwatch(first.adapter.client)
    await first.stop()  # the process dies here: the message is stored, not marked sent
    hold.release()
    delivered_before = sum(len(world.pairings(p)) for p in world.people.values())
    assert delivered_before == 1

    second = await world.start()
    await wait_until(world.fake, lambda: all(world.pairings(p) for p in world.people.values()))
    await second.idle()
    for name, user in world.people.items():
        assert len(world.pairings(user)) == 1, name
    assert hold.request is not None
    nonce = hold.request.body["nonce"]
    resent = [
        r for r in world.fake.requests if isinstance(r.body, dict) and r.body.get("nonce") == nonce
    ]
    assert len(resent) == 2  # sent again after the restart, and dropped by Discord


async def test_restart_does_not_register_unchanged_commands_again(world: World) -> None:
    first = await world.start()
    await first.stop()
    await world.start()
    calls = [c for c in world.fake.sync_calls if c.guild_id == world.guild["id"]]
    assert len(calls) == 1


async def test_export_is_a_private_json_file_and_forget_asks_first(world: World) -> None:
    await world.start()
    anna = world.person("Anna")
    await world.join_with_card("Anna")
    iid, callback = await world.slash(anna, "export")
    assert callback["data"]["flags"] & 64
    [attachment] = world.fake.original_message(iid)["attachments"]
    assert attachment["filename"] == "funkel-export.json"
    exported = json.loads(world.fake.uploads[attachment["id"]])
    assert exported["card"]["curious_about"] == ["Lisbon", "bouldering"]

    iid, confirm = await world.slash(anna, "forget")
    assert "can't be undone" in confirm["data"]["content"]
    message = world.fake.original_message(iid)
    iid = await world.fake.click(message, "funkel:forget", anna)
    done = await world.fake.wait_callback(iid)
    assert done["type"] == 7 and "I deleted your card" in done["data"]["content"]
    assert done["data"]["components"] == []
    bot = world.bots[0]
    assert bot.store is not None
    async with bot.store.transaction() as tx:
        assert await tx.get_member(MemberRef("discord", anna["id"])) is None


async def test_a_wrong_token_stops_with_a_clear_message(world: World) -> None:
    bot = FunkelBot(database=world.tmp_path / "x.sqlite3", token="not-the-token")
    with pytest.raises(StartupError, match="Discord refused the bot token"):
        await bot.start()
    await bot.stop()


async def test_the_organizer_watches_delivery_progress(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a big round the organizer's message counts up ("sent 3/7") before the summary."""
    import bot.adapters.discord as adapter_module

    monkeypatch.setattr(adapter_module, "PROGRESS_EVERY_SECONDS", 0.0)
    await world.start()
    await world.attend(*CARDS)
    iid, _ = await world.slash(world.orga, "round", "start")
    await wait_until(
        world.fake,
        lambda: any("all 7 pairings" in m["content"] for m in world.fake.followups_of(iid)),
    )
    shown = [
        r.body["content"]
        for r in world.fake.requests
        if r.method == "PATCH" and r.path.startswith("/webhooks/") and isinstance(r.body, dict)
    ]
    counts = [int(m.group(1)) for s in shown if (m := re.search(r"(\d+)/7 sent", s))]
    assert counts == sorted(counts) and len(set(counts)) >= 3, shown
    assert shown[-1] == "Sent: all 7 pairings reached their people."


async def test_in_a_trio_the_note_form_asks_whom_it_is_about(world: World) -> None:
    await world.start()
    await world.attend("Anna", "Ben", "Chiara")
    await world.said(world.orga, "round", "start")
    anna = world.people["Anna"]
    await wait_until(world.fake, lambda: world.pairings(anna))
    [dm] = world.pairings(anna)
    iid = await world.fake.click(dm, buttons(dm)[0]["custom_id"], anna)
    form = await world.fake.wait_callback(iid)
    about, text, again = inputs(form)
    assert (about["type"], text["type"], again["type"]) == (3, 4, 23)  # select, text, checkbox
    assert sorted(o["label"] for o in about["options"]) == ["Ben", "Chiara"]
    chiara = next(o["value"] for o in about["options"] if o["label"] == "Chiara")
    iid = await world.fake.submit_modal(
        form, {"about": [chiara], "text": "Beekeeping stories", "again": False}, anna
    )
    reply = await world.fake.wait_callback(iid)
    assert "Saved your note about Chiara" in reply["data"]["content"]
    assert "talk again" not in reply["data"]["content"]


async def test_an_archived_private_thread_is_replaced_next_round(world: World) -> None:
    """A week later the thread has archived itself: the next pairing opens a fresh one."""
    await world.start()
    await world.attend("Anna", "Ben", closed_dms={"Ben"})
    ben = world.people["Ben"]

    def threads_of_ben() -> list[str]:
        return [t for t, members in world.fake.thread_members.items() if ben["id"] in members]

    await world.said(world.orga, "round", "start")
    await wait_until(world.fake, threads_of_ben)
    await world.bots[0].idle()
    [first] = threads_of_ben()
    world.fake.channels[first]["thread_metadata"]["archived"] = True
    await world.said(world.orga, "round", "end")
    world.person("Chiara")
    await world.said(world.people["Chiara"], "join")
    await world.said(world.orga, "round", "start")
    # Discord refuses the archived thread once (400, code 50083); Funkel opens a new one.
    await world.fake.wait_for(lambda: len(threads_of_ben()) == 2, fail_on_errors=False)
    second = next(t for t in threads_of_ben() if t != first)
    messages = await world.fake.wait_for(
        lambda: world.fake.channel_messages(second), fail_on_errors=False
    )
    assert "Round 2: you're" in messages[0]["content"]
    [refused] = world.fake.errors
    assert "Thread is archived" in str(refused)
    world.fake.errors.clear()


async def test_the_organizer_is_warned_when_the_announcement_cannot_be_posted(
    world: World,
) -> None:
    world.channel = channel_denying_the_bot(world, "read-only", Permission.SEND_MESSAGES)
    await world.start()
    await world.attend("Anna", "Ben")
    started = await world.said(world.orga, "round", "start")
    assert "Round 1 has started" in started
    assert "I may not post in this channel" in started
    await wait_until(world.fake, lambda: all(world.pairings(p) for p in world.people.values()))


async def test_replies_follow_the_servers_language_not_the_discord_client(world: World) -> None:
    """Each server is a community with its own language; a person's own choice wins."""
    fake = world.fake
    berlin = fake.add_guild("Neugier Berlin")
    kanal = fake.add_channel(berlin, "treffen")
    anna = world.person("Anna")
    fake.add_member(berlin, anna)
    await world.start(
        guild_ids=frozenset({int(world.guild["id"]), int(berlin["id"])}),
        languages={int(berlin["id"]): "de"},
    )
    english = await world.said(anna, "join", locale="de")  # German client, English server
    assert "Welcome to #meetup-night" in english
    german = await world.said(anna, "join", guild=berlin, channel=kanal, locale="en-US")
    assert "Willkommen bei #treffen" in german
    help_de = await world.said(anna, "help", guild=berlin, channel=kanal, locale="de")
    assert "/funkel beitreten – Bei den Runden" in help_de
    # Command names as her Discord shows them: an English client lists /funkel join.
    help_en_client = await world.said(anna, "help", guild=berlin, channel=kanal)
    assert "/funkel join – Bei den Runden" in help_en_client
    assert fake.command("funkel", berlin) is not None  # registered in each server
    # Her own choice wins everywhere.
    await world.said(anna, "language", options={"languages": "de"})
    assert "Du bist schon" in await world.said(anna, "join")


async def test_logs_hold_no_card_or_note_text(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="bot")
    await world.start()
    await world.attend("Anna", "Ben")
    await world.said(world.orga, "round", "start")
    anna = world.people["Anna"]
    await wait_until(world.fake, lambda: world.pairings(anna))
    await world.said(
        anna, "note", options={"person": world.people["Ben"]["id"], "text": "Zebra secret"}
    )
    await world.bots[0].idle()
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("bot"))
    assert "synced the /funkel commands" in logged  # the capture works
    for private in ("Zebra secret", "Lisbon", "sourdough", "bouldering"):
        assert private not in logged


async def test_a_round_of_240_reaches_everyone_once_with_progress(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big evening: 240 people join by button and fill in their cards by form; the round
    reaches each of them exactly once and the organizer watches the count go up."""
    import bot.adapters.discord as adapter_module

    monkeypatch.setattr(adapter_module, "PROGRESS_EVERY_SECONDS", 0.2)
    await world.start()
    await world.said(world.orga, "signup")
    signup = next(m for m in world.fake.channel_messages(world.channel) if buttons(m))
    topics = ["Lisbon", "jazz", "sourdough", "beekeeping", "bouldering", "chess", "Porto"]
    for n in range(240):
        user = world.person(f"Guest{n:03d}")
        iid = await world.fake.click(signup, "funkel:join", user)
        await world.fake.wait_callback(iid)
        iid = await world.fake.click(signup, "funkel:card", user)
        form = await world.fake.wait_callback(iid)
        curious, tell = topics[n % 7], topics[(n * 3 + 1) % 7]
        iid = await world.fake.submit_modal(
            form, {"curious": curious, "tell": tell}, user, world.guild, world.channel
        )
        await world.fake.wait_callback(iid)
    # 120 groups do not fit a few messages: the preview comes as a text file.
    iid, _ = await world.slash(world.orga, "round", "preview")
    [preview] = await wait_until(world.fake, lambda: world.fake.followups_of(iid))
    assert preview["content"].startswith("Preview of round 1: 120 groups")
    [attachment] = preview["attachments"]
    listing = world.fake.uploads[attachment["id"]].decode()
    assert "120. " in listing and len(listing) > 3 * 2000
    iid, _ = await world.slash(world.orga, "round", "start")
    await wait_until(
        world.fake,
        lambda: any("all 240 pairings" in m["content"] for m in world.fake.followups_of(iid)),
        timeout=60,
    )
    for user in world.people.values():
        assert len(world.pairings(user)) == 1
    shown = [
        r.body["content"]
        for r in world.fake.requests
        if r.method == "PATCH" and r.path.startswith("/webhooks/") and isinstance(r.body, dict)
    ]
    counts = [int(m.group(1)) for s in shown if (m := re.search(r"(\d+)/240 sent", s))]
    assert counts == sorted(counts) and any(0 < c < 240 for c in counts), shown


async def test_help_on_a_command_shows_how_to_do_it_on_discord(world: World) -> None:
    await world.start()
    anna = world.person("Anna")
    card = await world.said(anna, "help", options={"command": "card"})
    assert "/funkel card curious: Lisbon; bouldering" in card
    assert "Up to 8 phrases per list, each up to 60 characters" in card
    assert "card add" not in card  # typed-command syntax that has no slash command
    german = await world.said(anna, "help", options={"command": "notiz"})
    assert "Leave a private note" in german  # her language is English; the word is German
    block = await world.said(anna, "help", options={"command": "block"})
    assert "Never be paired with someone" in block  # the shared help where it fits

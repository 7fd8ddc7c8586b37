"""Funkel on Matrix, end to end: the real adapter, a real Synapse, real nio clients as people.

Each scenario of issue 4 is one test. People type ``!funkel ...`` in a meetup room or their
direct room with the bot and read what the bot sends them, exactly as in Element.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from nio import (
    AsyncClient,
    JoinedMembersResponse,
    JoinResponse,
    RoomCreateResponse,
    RoomKickResponse,
    RoomMessageNotice,
    RoomMessagesResponse,
    RoomRedactResponse,
    RoomSendResponse,
    SyncResponse,
)
from nio.event_builders import EnableEncryptionBuilder

from .botctl import BotAccount, InProcessBot, ProcessBot, wait_outbox_drained
from .conftest import ClientFactory, PeopleFactory
from .people import Message, Person, create_meetup_room
from .synapse import Synapse

CARDS = {
    "Ada": ("Lisbon; beekeeping", "sourdough"),
    "Ben": ("jazz", "Lisbon; bouldering"),
    "Cem": ("sourdough", "beekeeping"),
    "Dora": ("bouldering", "jazz"),
    "Eli": ("Porto", "chess"),
    "Fay": ("chess", "Porto"),
    "Gus": ("Lisbon", "sourdough"),
}
PAIRING = re.compile(r"^Round (\d+): you're (?:talking with|a group of three with) (.+)\.$", re.M)


def is_pairing(number: int) -> Callable[[Message], bool]:
    return lambda m: m.body.startswith(f"Round {number}: you're")


async def fill_cards(room_id: str, people: list[Person]) -> None:
    """Everyone joins the meetup and fills their card in the room, as a newcomer would."""

    async def one(p: Person) -> None:
        curious, tell = CARDS[p.name]
        before = len(p.messages)
        await p.say(room_id, "!funkel join")
        await p.wait_for_text("Welcome to", after=before)
        await p.say(room_id, f"!funkel card curious {curious}")
        await p.say(room_id, f"!Funkel CARD tell {tell}")
        await p.wait_for(lambda m: "Can tell about: " + tell in m.body, after=before)

    await asyncio.gather(*(one(p) for p in people))


async def join_room(room_id: str, people: list[Person]) -> None:
    await asyncio.gather(*(p.join(room_id) for p in people))


def partners_in(message: Message) -> str:
    match = PAIRING.search(message.body)
    assert match, message.body
    return match.group(2)


async def start_round(orga: Person, room_id: str, number: int) -> Message:
    before = len(orga.messages)
    await orga.say(room_id, "!funkel round start")
    return await orga.wait_for_text(f"Round {number} has started", after=before)


async def test_six_attendees_are_paired_in_v11_and_seven_make_one_trio_in_v12(
    people: PeopleFactory, in_process_bot: InProcessBot
) -> None:
    """Scenario 1: two meetup rooms (v11 and v12). Everyone gets their partner, the reason
    and an icebreaker privately; the v12 creator is recognised as organizer."""
    orga, host = await people("Orga", "Host")
    guests = await people("Ada", "Ben", "Cem", "Dora", "Eli", "Fay", "Gus")
    six, gus = guests[:6], guests[6]
    bot_id = in_process_bot.account.user_id
    v11 = await create_meetup_room(orga.client, "11", "Lisbon Meetup", [bot_id])
    v12 = await create_meetup_room(host.client, "12", "Porto Meetup", [bot_id])
    assert ":" not in v12  # a version 12 room id has no server part
    in_process_bot.rooms = (v11, v12)
    started = time.monotonic()
    await in_process_bot.start()

    notice = await orga.wait_for_text("React ✋ to this message", room=v11)
    assert notice.msgtype == "m.notice" and notice.formatted_body
    assert "“!funkel join”" in notice.body
    await join_room(v11, six)
    await fill_cards(v11, six)

    before = len(orga.messages)
    await orga.say(v11, "!funkel round preview")
    preview = await orga.wait_for_text("Preview of round 1: 3 groups", after=before)
    assert preview.room_id != v11  # only the organizer sees it, in the direct room
    assert not any(is_pairing(1)(m) for p in six for m in p.messages)  # nothing sent yet
    await start_round(orga, v11, 1)

    pairings = {p.name: await p.wait_for(is_pairing(1)) for p in six}
    for p in six:
        message = pairings[p.name]
        assert message.room_id not in (v11, v12), "pairings are private"
        assert message.msgtype == "m.notice"
        assert message.content.get("m.mentions") == {}
        assert "Icebreaker: " in message.body
        assert "“" in message.body  # the reason quotes a topic from the cards
        partner = partners_in(message)
        assert partner in CARDS and partner != p.name
        assert partners_in(pairings[partner]) == p.name  # both sides agree
    announcement = await orga.wait_for_text("Round 1 is on: 6 people in 3 groups", room=v11)
    assert announcement.msgtype == "m.notice"

    # The v12 room: the creator has no power level entry, yet is the organizer.
    await join_room(v12, guests)
    await fill_cards(v12, [gus])
    await asyncio.gather(*(p.say(v12, "!funkel join") for p in six))
    await asyncio.gather(*(p.wait_for_text("Welcome to Porto Meetup") for p in six))
    marks = {p.name: len(p.messages) for p in guests}
    started_reply = await start_round(host, v12, 1)
    assert "3 groups" in started_reply.body
    second = {p.name: await p.wait_for(is_pairing(1), after=marks[p.name]) for p in guests}
    trio = [n for n, m in second.items() if "a group of three with" in m.body]
    assert len(trio) == 3, {n: m.body.splitlines()[0] for n, m in second.items()}
    print(f"\nscenario 1 took {time.monotonic() - started:.1f} s")


async def test_notes_mutual_wish_and_recall_in_a_direct_room(
    people: PeopleFactory, in_process_bot: InProcessBot
) -> None:
    """Scenario 2: after a round, two people leave notes with --again (one by pill), both
    are told it is mutual, and one recalls the other by a topic in their direct room."""
    orga, ada, ben = await people("Orga", "Ada", "Ben")
    room = await create_meetup_room(
        orga.client, "11", "Tram Meetup", [in_process_bot.account.user_id]
    )
    in_process_bot.rooms = (room,)
    await in_process_bot.start()
    await join_room(room, [ada, ben])
    await fill_cards(room, [ada, ben])
    await start_round(orga, room, 1)
    ada_pairing = await ada.wait_for(is_pairing(1))
    await ben.wait_for(is_pairing(1))
    dm = ada_pairing.room_id

    before = len(ada.messages)
    await ada.say(dm, "!funkel note @Ben knows every tram line in Lisbon --again")
    await ada.wait_for_text("Saved your note about Ben", after=before)
    await ada.wait_for_text("I'll tell you both if Ben would like to talk again", after=before)

    ben_dm = (await ben.wait_for(is_pairing(1))).room_id
    pill = f'<a href="https://matrix.to/#/{ada.user_id}">Ada</a>'
    mark = len(ben.messages)
    await ben.say(
        ben_dm,
        "!funkel note Ada: great sourdough tips --again",
        formatted=f"!funkel note {pill}: great sourdough tips --again",
    )
    await ben.wait_for_text("Saved your note about Ada", after=mark)
    await ben.wait_for_text("you and Ada both said you'd like to talk again", after=mark)
    await ada.wait_for_text("you and Ben both said you'd like to talk again", after=before)

    mark = len(ada.messages)
    await ada.say(dm, "!funkel met tram")
    recall = await ada.wait_for_text("Conversations matching “tram” (1)", after=mark)
    assert recall.room_id == dm
    assert "Ben at Tram Meetup" in recall.body
    assert "your note: knows every tram line in Lisbon" in recall.body
    # Ben's note is his alone.
    assert not any("great sourdough tips" in m.body for m in ada.messages)
    for p in (orga, ada, ben):  # pytest -s shows the session (the README quotes one)
        print(f"\n--- {p.name}'s session ---\n" + "\n".join(p.transcript))


async def test_only_organizers_start_rounds_and_kicked_people_are_not_paired(
    people: PeopleFactory, in_process_bot: InProcessBot, synapse: Synapse
) -> None:
    """Scenario 3: a non-organizer is told why they cannot start a round; someone kicked
    from the meetup room is not in the next round."""
    orga, ada, ben, cem, dora = await people("Orga", "Ada", "Ben", "Cem", "Dora")
    room = await create_meetup_room(
        orga.client, "12", "Kick Meetup", [in_process_bot.account.user_id]
    )
    in_process_bot.rooms = (room,)
    await in_process_bot.start()
    await join_room(room, [ada, ben, cem, dora])
    await fill_cards(room, [ada, ben, cem, dora])

    mark = len(ada.messages)
    await ada.say(room, "!funkel round start")
    refusal = await ada.wait_for_text("Only organizers can run pairing rounds", after=mark)
    assert refusal.room_id != room

    kicked = await orga.client.room_kick(room, dora.user_id, reason="test")
    assert isinstance(kicked, RoomKickResponse), kicked
    started = await start_round(orga, room, 1)
    assert "Dora" not in started.body and "one group" in started.body
    for p in (ada, ben, cem):
        message = await p.wait_for(is_pairing(1))
        assert "a group of three with" in message.body and "Dora" not in message.body
    assert in_process_bot.adapter is not None
    await wait_outbox_drained(in_process_bot.db_path)
    assert not any(is_pairing(1)(m) for m in dora.messages)


async def test_raising_a_hand_joins_and_taking_it_back_leaves(
    people: PeopleFactory, in_process_bot: InProcessBot
) -> None:
    """✋ (with or without the emoji variation selector) on the join notice = join; removing
    the reaction = leave. Both are confirmed privately."""
    orga, ada, ben = await people("Orga", "Ada", "Ben")
    room = await create_meetup_room(
        orga.client, "11", "Hands Meetup", [in_process_bot.account.user_id]
    )
    in_process_bot.rooms = (room,)
    await in_process_bot.start()
    notice = await orga.wait_for_text("React ✋", room=room)
    await join_room(room, [ada, ben])

    ada_hand = await ada.react(room, notice.event_id, "✋")
    await ben.react(room, notice.event_id, "✋\ufe0f")
    welcome = await ada.wait_for_text("Welcome to Hands Meetup, Ada!")
    assert welcome.room_id != room
    await ben.wait_for_text("Welcome to Hands Meetup, Ben!")
    # A thumbs-up is just a reaction.
    mark = len(orga.messages)
    await orga.react(room, notice.event_id, "👍")

    before = len(ada.messages)
    redacted = await ada.client.room_redact(room, ada_hand)
    assert isinstance(redacted, RoomRedactResponse), redacted
    await ada.wait_for_text("You've left Hands Meetup", after=before)

    mark = len(orga.messages)
    await orga.say(room, "!funkel round preview")
    preview = await orga.wait_for_text("A round needs at least 2 people", after=mark)
    assert "only one has joined" in preview.body


async def test_a_bot_killed_right_after_round_start_sends_every_pairing_exactly_once(
    people: PeopleFactory, bot_account: BotAccount, synapse: Synapse, tmp_path: Path
) -> None:
    """Scenario 5: `funkel run` is SIGKILLed as the first pairing arrives and restarted:
    every attendee has exactly one pairing message in their direct room, and the round
    was not started twice."""
    orga = (await people("Orga"))[0]
    guests = await people("Ada", "Ben", "Cem", "Dora", "Eli", "Fay")
    room = await create_meetup_room(orga.client, "11", "Crash Meetup", [bot_account.user_id])
    directory = tmp_path / "bot"
    directory.mkdir()
    bot = ProcessBot(bot_account, directory, synapse, (room,))
    bot.start()
    try:
        await orga.wait_for(lambda m: "React ✋" in m.body and m.room_id == room, within=90)
        await join_room(room, guests)
        await fill_cards(room, guests)
        await orga.say(room, "!funkel round start")
        waits = [asyncio.ensure_future(p.wait_for(is_pairing(1), within=60)) for p in guests]
        done, waiting = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        bot.kill()
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        (await next(iter(done)))  # re-raise if it failed instead of finding a pairing
        unsent_at_kill = _unsent_pairings(bot)
        bot.start()
        for p in guests:
            await p.wait_for(is_pairing(1), within=90)
        await wait_outbox_drained(bot.db_path, within=90)
        await orga.wait_for_text("Round 1 is on", room=room, within=30)
    finally:
        rc = bot.stop()
    print(f"\npairings still unsent when the bot was killed: {unsent_at_kill} of 6")
    assert rc == 0, bot.log()[-3000:]
    for p in guests:
        dm = (await p.wait_for(is_pairing(1))).room_id
        timeline = await p.history(dm)
        pairings = [m for m in timeline if m.sender == bot_account.user_id and is_pairing(1)(m)]
        assert len(pairings) == 1, [m.body for m in timeline]
    room_timeline = await orga.history(room)
    announcements = [m for m in room_timeline if m.body.startswith("Round 1 is on")]
    assert len(announcements) == 1
    assert not any(m.body.startswith("Round 2") for m in room_timeline)
    started = [m for m in orga.messages if "has started" in m.body]
    assert len(started) == 1
    assert Counter(m.body for m in room_timeline if "React ✋" in m.body).total() == 1
    # The bot logged at INFO throughout: never a card phrase (nor any other message text).
    log = bot.log()
    assert "round 1 started" in log
    for curious, tell in CARDS.values():
        for phrase in (*curious.split("; "), *tell.split("; ")):
            assert phrase not in log, phrase


def _unsent_pairings(bot: ProcessBot) -> int:
    with closing(sqlite3.connect(bot.db_path)) as conn:
        query = "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND kind = 'pairing'"
        return int(conn.execute(query).fetchone()[0])


async def test_an_encrypted_meetup_room_and_an_encrypted_direct_room_work(
    people: PeopleFactory, in_process_bot: InProcessBot
) -> None:
    """Scenario 4: the same flow in an encrypted room: commands are decrypted, pairings
    arrive, and someone who opens an encrypted direct chat with the bot is answered there."""
    (orga,) = await people("Orga", encrypted=True)
    ada, ben = await people("Ada", "Ben", encrypted=True)
    bot_id = in_process_bot.account.user_id
    room = await create_meetup_room(orga.client, "12", "Secret Meetup", [bot_id], encrypted=True)
    in_process_bot.rooms = (room,)
    await in_process_bot.start()
    notice = await orga.wait_for_text("React ✋", room=room)
    assert notice.was_encrypted and notice.msgtype == "m.notice"
    await join_room(room, [ada, ben])
    await fill_cards(room, [ada, ben])
    await start_round(orga, room, 1)
    message = await ada.wait_for(is_pairing(1))
    assert "you're talking with Ben" in message.body
    await ben.wait_for_text("you're talking with Ada")

    created = await ada.client.room_create(
        is_direct=True,
        invite=[bot_id],
        initial_state=[EnableEncryptionBuilder().as_dict()],
    )
    assert isinstance(created, RoomCreateResponse), created
    await ada.join(created.room_id)  # already in it; waits until a sync shows it
    mark = len(ada.messages)
    deadline = time.monotonic() + 30
    while True:  # the bot must have joined before it can read the command
        members = await ada.client.joined_members(created.room_id)
        if bot_id in [m.user_id for m in getattr(members, "members", [])]:
            break
        assert time.monotonic() < deadline, "the bot did not accept the direct chat"
        await asyncio.sleep(0.2)
    await ada.say(created.room_id, "!funkel card")
    card = await ada.wait_for_text("Curious about: Lisbon; beekeeping", after=mark)
    assert card.room_id == created.room_id and card.was_encrypted


async def test_pairings_can_go_to_one_thread_per_group_in_the_meetup_room(
    people: PeopleFactory, in_process_bot: InProcessBot
) -> None:
    """pairing_delivery: thread — a root notice names the group; each member's pairing is a
    reply in that thread, in the meetup room."""
    orga, ada, ben = await people("Orga", "Ada", "Ben")
    room = await create_meetup_room(
        orga.client, "12", "Thread Meetup", [in_process_bot.account.user_id]
    )
    in_process_bot.rooms = (room,)
    in_process_bot.pairing_delivery = "thread"
    await in_process_bot.start()
    await join_room(room, [ada, ben])
    await fill_cards(room, [ada, ben])
    await start_round(orga, room, 1)
    root = await orga.wait_for_text(
        "Round 1: Ada and Ben. This thread is for your group", room=room
    )
    for name in ("Ada", "Ben"):
        reply = await orga.wait_for(
            lambda m, name=name: m.room_id == room and is_pairing(1)(m) and f"with {name}" in m.body
        )
        relates = reply.content["m.relates_to"]
        assert relates["rel_type"] == "m.thread" and relates["event_id"] == root.event_id
    roots = [m for m in orga.messages if "This thread is for your group" in m.body]
    assert len(roots) == 1


async def test_the_bot_carries_on_when_the_homeserver_goes_away_and_comes_back(
    people: PeopleFactory,
    in_process_bot: InProcessBot,
    synapse: Synapse,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The homeserver is killed and restarted: the bot logs one warning, reconnects and
    answers the next command; nothing typed before the outage is answered twice."""
    orga, ada = await people("Orga", "Ada")
    room = await create_meetup_room(
        orga.client, "11", "Outage Meetup", [in_process_bot.account.user_id]
    )
    in_process_bot.rooms = (room,)
    await in_process_bot.start()
    await join_room(room, [ada])
    await ada.say(room, "!funkel join")
    await ada.wait_for_text("Welcome to Outage Meetup")
    caplog.set_level(logging.WARNING, logger="bot.adapters.matrix")
    synapse.stop(graceful=False)
    deadline = time.monotonic() + 30
    while not any("cannot reach the homeserver" in r.getMessage() for r in caplog.records):
        if time.monotonic() > deadline:
            assert in_process_bot.task is not None
            stack = "".join(
                line for frame in in_process_bot.task.get_stack() for line in repr(frame)
            )
            raise AssertionError(
                f"the bot did not notice the outage; records: {caplog.records}; at: {stack}"
            )
        await asyncio.sleep(0.1)
    await asyncio.sleep(2)  # the outage lasts a little while: the bot keeps retrying
    # In this thread, not a worker thread: Synapse is tied to the thread that starts it
    # (PR_SET_PDEATHSIG) and would be stopped when a worker thread exits.
    synapse.start()
    mark = len(ada.messages)
    await ada.say(room, "!funkel card")
    await ada.wait_for_text("Curious about: (nothing yet)", after=mark, within=60)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("cannot reach the homeserver" in w for w in warnings) == 1, warnings
    assert any("homeserver reachable again" in w for w in warnings)
    assert sum("Welcome to Outage Meetup" in m.body for m in ada.messages) == 1
    assert in_process_bot.task is not None and not in_process_bot.task.done()


async def test_rate_limits_are_waited_out_and_nothing_is_sent_twice(
    people: PeopleFactory,
    in_process_bot: InProcessBot,
    synapse: Synapse,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With the bot limited to one message per second, a round still reaches everyone,
    exactly once (the bot waits as the homeserver's 429 answers ask)."""
    orga, ada, ben, cem = await people("Orga", "Ada", "Ben", "Cem")
    room = await create_meetup_room(
        orga.client, "11", "Slow Meetup", [in_process_bot.account.user_id]
    )
    in_process_bot.rooms = (room,)
    await in_process_bot.start()
    await join_room(room, [ada, ben, cem])
    await fill_cards(room, [ada, ben, cem])
    await asyncio.to_thread(synapse.override_ratelimit, in_process_bot.account.user_id, 1, 1)
    caplog.set_level(logging.INFO, logger="bot.adapters.matrix")
    started = time.monotonic()
    await start_round(orga, room, 1)
    for p in (ada, ben, cem):
        await p.wait_for(is_pairing(1), within=60)
    await orga.wait_for_text("Round 1 is on", room=room, within=60)
    elapsed = time.monotonic() - started
    await wait_outbox_drained(in_process_bot.db_path)
    assert elapsed >= 2.0, "the rate limit did not apply"  # 5 messages at 1 per second
    assert any("rate-limited by the homeserver" in r.getMessage() for r in caplog.records)
    for p in (ada, ben, cem):
        dm = (await p.wait_for(is_pairing(1))).room_id
        timeline = await p.history(dm)
        assert sum(is_pairing(1)(m) for m in timeline) == 1


TOPICS = (
    "Lisbon", "sourdough", "bouldering", "jazz", "chess", "Porto", "beekeeping", "sailing",
    "Japan", "knitting", "astronomy", "tango", "poetry", "running", "Berlin", "ceramics",
    "birdwatching", "Mexico City", "origami", "film photography",
)  # fmt: skip
LOAD_PEOPLE = 200


async def test_two_hundred_attendees_join_within_seconds_and_all_are_paired(
    people: PeopleFactory,
    matrix_client: ClientFactory,
    bot_account: BotAccount,
    synapse: Synapse,
    tmp_path: Path,
) -> None:
    """Scenario 6 (load): 200 people join and fill cards at once; one round pairs them all
    and each finds exactly one pairing in their direct room. Prints time and peak memory."""
    (orga,) = await people("Orga")
    room = await create_meetup_room(orga.client, "12", "Big Meetup", [bot_account.user_id])
    clients = await asyncio.gather(*(matrix_client(f"p{i}") for i in range(LOAD_PEOPLE)))
    directory = tmp_path / "bot"
    directory.mkdir()
    bot = ProcessBot(bot_account, directory, synapse, (room,))
    bot.start()
    try:
        await orga.wait_for(lambda m: "React ✋" in m.body and m.room_id == room, within=90)
        gate = asyncio.Semaphore(50)

        async def arrive(i: int, client: AsyncClient) -> None:
            async with gate:
                joined = await client.join(room)
                assert isinstance(joined, JoinResponse), joined
                for text in (
                    "!funkel join",
                    f"!funkel card curious {TOPICS[i % 20]}",
                    f"!funkel card tell {TOPICS[(i * 7 + 3) % 20]}",
                ):
                    sent = await client.room_send(
                        room, "m.room.message", {"msgtype": "m.text", "body": text}
                    )
                    assert isinstance(sent, RoomSendResponse), sent

        started = time.monotonic()
        await asyncio.gather(*(arrive(i, c) for i, c in enumerate(clients)))
        typed = time.monotonic() - started
        deadline = time.monotonic() + 240
        while _count(bot, "SELECT count(*) FROM cards") < LOAD_PEOPLE:
            assert time.monotonic() < deadline, "the bot did not take in every card in time"
            assert bot.proc is not None and bot.proc.poll() is None, bot.log()[-3000:]
            await asyncio.sleep(0.5)
        answered = time.monotonic() - started
        assert _count(bot, "SELECT count(*) FROM attendance") == LOAD_PEOPLE
        reply = await start_round(orga, room, 1)
        assert "100 groups" in reply.body
        await wait_outbox_drained(bot.db_path, within=240)
        paired = time.monotonic() - started
        peak_kib = _peak_rss_kib(bot)
    finally:
        bot.stop()

    check = asyncio.Semaphore(20)

    async def pairings_of(client: AsyncClient) -> int:
        async with check:
            resp = await client.sync(timeout=0, sync_filter={"room": {"timeline": {"limit": 0}}})
            assert isinstance(resp, SyncResponse), resp
            count = 0
            for dm in resp.rooms.invite:
                joined = await client.join(dm)
                assert isinstance(joined, JoinResponse), joined
                messages = await client.room_messages(dm, limit=50)
                assert isinstance(messages, RoomMessagesResponse), messages
                count += sum(
                    isinstance(e, RoomMessageNotice) and is_pairing(1)(_as_message(e))
                    for e in messages.chunk
                )
            return count

    counts = await asyncio.gather(*(pairings_of(c) for c in clients))
    assert counts == [1] * LOAD_PEOPLE
    print(
        f"\n{LOAD_PEOPLE} attendees: commands typed in {typed:.1f} s, all answered after "
        f"{answered:.1f} s, all paired and delivered after {paired:.1f} s; "
        f"bot peak RSS {peak_kib / 1024:.0f} MiB"
    )


def _count(bot: ProcessBot, query: str) -> int:
    with closing(sqlite3.connect(bot.db_path)) as conn:
        return int(conn.execute(query).fetchone()[0])


def _peak_rss_kib(bot: ProcessBot) -> int:
    assert bot.proc is not None
    status = Path(f"/proc/{bot.proc.pid}/status").read_text()
    (line,) = [x for x in status.splitlines() if x.startswith("VmHWM:")]
    return int(line.split()[1])


def _as_message(event: RoomMessageNotice) -> Message:
    return Message("", event.event_id, event.sender, "m.notice", event.body, None, {})


async def test_invited_mode_joins_rooms_of_configured_organizers_only(
    people: PeopleFactory, in_process_bot: InProcessBot
) -> None:
    """rooms: invited — an organizer from the config invites the bot and it starts serving
    the room; an invite from anyone else is declined."""
    orga, stranger = await people("Orga", "Stranger")
    bot_id = in_process_bot.account.user_id
    in_process_bot.rooms = None
    in_process_bot.organizers = frozenset({f"matrix:{orga.user_id}"})
    await in_process_bot.start()
    theirs = await create_meetup_room(stranger.client, "12", "Not Ours", [bot_id])
    ours = await create_meetup_room(orga.client, "12", "Invited Meetup", [bot_id])
    await orga.wait_for_text("React ✋", room=ours)
    deadline = time.monotonic() + 30
    while True:
        state = await stranger.client.room_get_state_event(theirs, "m.room.member", bot_id)
        if getattr(state, "content", {}).get("membership") == "leave":
            break  # the bot declined
        assert time.monotonic() < deadline, "the bot neither declined nor joined"
        await asyncio.sleep(0.2)
    members = await stranger.client.joined_members(theirs)
    assert isinstance(members, JoinedMembersResponse), members
    assert bot_id not in [m.user_id for m in members.members]
    assert not any(m.room_id == theirs for m in stranger.messages)


async def test_a_password_login_keeps_its_device_across_restarts(
    people: PeopleFactory, in_process_bot: InProcessBot
) -> None:
    """With a password the bot logs in once; a restart reuses that device (no new login),
    and the restarted bot answers without replaying what it answered before."""
    orga, ada = await people("Orga", "Ada")
    room = await create_meetup_room(
        orga.client, "11", "Login Meetup", [in_process_bot.account.user_id]
    )
    in_process_bot.rooms = (room,)
    in_process_bot.password = "bot password"
    adapter = await in_process_bot.start()
    first_device = adapter.client.device_id
    assert first_device and first_device != in_process_bot.account.device_id
    await join_room(room, [ada])
    await ada.say(room, "!funkel join")
    await ada.wait_for_text("Welcome to Login Meetup")
    await in_process_bot.stop()

    adapter = await in_process_bot.start()
    assert adapter.client.device_id == first_device
    mark = len(ada.messages)
    await ada.say(room, "!funkel join")
    await ada.wait_for_text("You're already in Login Meetup", after=mark)
    assert sum("Welcome to Login Meetup" in m.body for m in ada.messages) == 1
    notices = [m for m in orga.messages if "React ✋" in m.body]
    assert len(notices) == 1  # not posted again after the restart


async def test_commands_typed_before_the_bot_joined_are_not_answered(
    people: PeopleFactory, in_process_bot: InProcessBot
) -> None:
    """A room's history from before the bot joined is never replayed: only what people
    type afterwards is answered."""
    orga, ada = await people("Orga", "Ada")
    room = await create_meetup_room(
        orga.client, "12", "Early Meetup", [in_process_bot.account.user_id]
    )
    await join_room(room, [ada])
    await ada.say(room, "!funkel join")
    await ada.say(room, "!funkel card curious history")
    in_process_bot.rooms = (room,)
    await in_process_bot.start()
    await orga.wait_for_text("React ✋", room=room)
    await ada.say(room, "!funkel card")
    await ada.wait_for_text("Curious about: (nothing yet)")
    # Answers come in order: a replayed "join" would have been answered before this one.
    assert not any("Welcome to" in m.body or "history" in m.body for m in ada.messages)

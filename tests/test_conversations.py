"""The bot seen from a meetup room: each test is one short conversation."""

from __future__ import annotations

import json
import re

from bot.core.events import CommandReceived
from bot.core.models import MemberRef
from bot.storage.sqlite import SqliteStore
from tests.conftest import Chat, fill


async def six_people(chat: Chat) -> None:
    """Three obvious pairs: anna–fay (Lisbon), ben–carla (Shanghai), dev–emil (bouldering)."""
    await fill(chat, "@anna", "Lisbon", "growing up in Porto")
    await fill(chat, "@ben", "Shanghai", "chess")
    await fill(chat, "@carla", "origami", "Shanghai")
    await fill(chat, "@dev", "bouldering", "sourdough")
    await fill(chat, "@emil", "sourdough", "bouldering")
    await fill(chat, "@fay", "tango", "Lisbon")


def partner_line(text: str) -> str:
    return text.splitlines()[0]


async def test_joining_is_explicit_and_welcomes_the_member(chat: Chat) -> None:
    """Joining says who you are, where you are, and how to leave again."""
    reply = await chat("@anna", "join")
    assert "Welcome to Test meetup, anna" in reply
    assert "leave" in reply
    assert "card curious" in reply  # no card yet: tells how to fill one


async def test_people_who_never_joined_are_not_paired(chat: Chat) -> None:
    """A card alone is not consent: only people who typed join are paired."""
    await fill(chat, "@anna", "Lisbon", "")
    await fill(chat, "@ben", "", "Lisbon")
    await chat("@zoe", "card curious Lisbon")  # never joins
    await chat("@orga", "round start")
    assert chat.inbox("@zoe") == []
    assert "anna" in partner_line(chat.inbox("@ben")[0])


async def test_round_start_by_a_non_organizer_is_refused(chat: Chat) -> None:
    """An attendee cannot start a round, and nobody gets paired."""
    await six_people(chat)
    reply = await chat("@anna", "round start")
    assert "Only organizers" in reply
    assert chat.inbox("@ben") == []


async def test_a_round_with_fewer_than_two_people_says_so(chat: Chat) -> None:
    """With one person present the organizer is told how many joined and what to do."""
    await fill(chat, "@anna", "Lisbon", "")
    reply = await chat("@orga", "round start")
    assert "at least 2 people" in reply and "only one has joined" in reply


async def test_each_member_gets_partner_reason_and_icebreaker(chat: Chat) -> None:
    """Round start sends everyone one private message: who, why, and an icebreaker."""
    await six_people(chat)
    await chat("@orga", "round start")
    for who in ("anna", "ben", "carla", "dev", "emil", "fay"):
        inbox = chat.inbox(who)
        assert len(inbox) == 1, who
        assert inbox[0].startswith("Round 1: you're talking with ")
        assert "Icebreaker: " in inbox[0]
    assert any("Round 1 is on: 6 people in 3 groups" in text for text in chat.room())


async def test_complementary_curiosity_is_the_reason_given(chat: Chat) -> None:
    """Ben (curious about Shanghai) meets Carla (lived there) and both are told why."""
    await six_people(chat)
    await chat("@orga", "round start")
    ben = chat.inbox("@ben")[0]
    carla = chat.inbox("@carla")[0]
    assert "talking with carla" in partner_line(ben)
    assert "carla can tell you about “Shanghai”, which you're curious about." in ben
    assert "ben is curious about “Shanghai”, and you can tell about it." in carla


async def test_odd_one_out_joins_a_trio_and_is_told_why(chat: Chat) -> None:
    """Seven people make two pairs and one trio; nobody is left out."""
    await six_people(chat)
    await fill(chat, "@gus", "Lisbon", "tango")
    await chat("@orga", "round start")
    seven = ["anna", "ben", "carla", "dev", "emil", "fay", "gus"]
    headers = [partner_line(chat.inbox(w)[0]) for w in seven]
    trio = [h for h in headers if "group of three" in h]
    assert len(trio) == 3
    assert all(len(chat.inbox(w)) == 1 for w in seven)


async def test_preview_shows_groups_and_reasons_and_sends_nothing(chat: Chat) -> None:
    """The organizer sees every group and why; attendees get nothing yet."""
    await six_people(chat)
    reply = await chat("@orga", "round preview")
    assert "Preview of round 1: 3 groups" in reply
    assert "carla can tell about “Shanghai”, and ben is curious about it" in reply
    assert chat.inbox("@anna") == []


async def test_start_after_preview_runs_exactly_the_previewed_groups(chat: Chat) -> None:
    """What the organizer previewed is what starts."""
    await six_people(chat)
    preview = await chat("@orga", "round preview")
    started = await chat("@orga", "round start")
    groups = [line for line in preview.splitlines() if re.match(r"\d+\. ", line)]
    assert groups and all(line in started for line in groups)


async def test_later_rounds_avoid_earlier_partners(chat: Chat) -> None:
    """Three rounds of six people: nobody meets the same person twice."""
    await six_people(chat)
    seen: set[frozenset[str]] = set()
    for number in (1, 2, 3):
        await chat("@orga", "round start")
        chat.tick()
        async with chat.store.transaction() as tx:
            meetup = await tx.find_meetup("console:test", "meetup")
            assert meetup is not None
            rnd = await tx.latest_round(meetup.id)
        assert rnd is not None and rnd.number == number
        for group in rnd.groups:
            pair = frozenset(group.members)
            assert pair not in seen
            seen.add(pair)


async def test_someone_who_left_is_not_in_the_next_round(chat: Chat) -> None:
    """Leaving the room (or being removed) drops a member from the next round."""
    await six_people(chat)
    await chat.leave_room("@fay")
    await chat("@orga", "round start")
    assert chat.inbox("@fay") == []
    assert "5 people" in chat.room()[-1]


async def test_a_note_about_someone_never_met_is_refused(chat: Chat) -> None:
    """Notes are for people you met; the refusal says so and nothing is stored."""
    await six_people(chat)
    reply = await chat("@anna", "note @ben nice", dm=True)
    assert "haven't been paired with ben" in reply
    export = json.loads((await chat("@anna", "export", dm=True)).split("\n", 1)[1])
    assert "nice" not in json.dumps(export)


async def test_mutual_talk_again_is_revealed_to_both_once(chat: Chat) -> None:
    """When both say --again, both are told; a repeat note doesn't tell them twice."""
    await fill(chat, "@anna", "Lisbon", "")
    await fill(chat, "@ben", "", "Lisbon")
    await chat("@orga", "round start")
    first = await chat("@anna", "note @ben loved the tram stories --again", dm=True)
    assert "Only you can ever see it" in first
    assert not any("both said" in m for m in chat.inbox("@ben"))
    await chat("@ben", "note @anna great questions --again", dm=True)
    await chat("@ben", "note @anna still thinking about it --again", dm=True)
    assert sum("both said you'd like to talk again" in m for m in chat.inbox("@anna")) == 1
    assert sum("both said you'd like to talk again" in m for m in chat.inbox("@ben")) == 1


async def test_notes_are_private_to_their_author(chat: Chat) -> None:
    """Ben's recall never shows what Anna wrote about him."""
    await fill(chat, "@anna", "Lisbon", "")
    await fill(chat, "@ben", "", "Lisbon")
    await chat("@orga", "round start")
    await chat("@anna", "note @ben secret admiration of his tram stories", dm=True)
    assert "secret admiration" in await chat("@anna", "met", dm=True)
    assert "secret admiration" not in await chat("@ben", "met", dm=True)
    assert "secret admiration" not in await chat("@ben", "export", dm=True)


async def test_recall_finds_people_by_what_we_shared(chat: Chat) -> None:
    """ "met beekeeping" finds the person I met over beekeeping, with my note."""
    await six_people(chat)
    await chat("@orga", "round start")
    emil_partner = partner_line(chat.inbox("@emil")[0]).rsplit(" ", 1)[-1].rstrip(".")
    assert emil_partner == "dev"
    await chat("@emil", "note @dev knows every crag in the Elbsandstein", dm=True)
    reply = await chat("@emil", "met bouldering", dm=True)
    assert "dev at Test meetup" in reply
    assert "knows every crag in the Elbsandstein" in reply
    assert "Nobody you met matches" in await chat("@emil", "met ulaanbaatar", dm=True)


async def test_block_keeps_two_people_apart(chat: Chat) -> None:
    """A private block is a hard rule, even when they'd be the perfect match."""
    await fill(chat, "@anna", "Lisbon", "")
    await fill(chat, "@ben", "", "Lisbon")
    await fill(chat, "@carla", "knitting", "")
    await fill(chat, "@dev", "", "chess")
    reply = await chat("@anna", "block @ben", dm=True)
    assert "won't be paired with ben" in reply
    await chat("@orga", "round start")
    assert "ben" not in partner_line(chat.inbox("@anna")[0])
    assert not any("block" in m.lower() for m in chat.inbox("@ben"))


async def test_unknown_member_is_explained(chat: Chat) -> None:
    """Mentioning someone the bot doesn't know gives a helpful answer."""
    reply = await chat("@anna", "block @nobody", dm=True)
    assert "don't know anyone called @nobody" in reply


async def test_forget_me_deletes_my_card_and_notes_and_anonymises_me(chat: Chat) -> None:
    """After forget me, my card is gone and my partner sees 'someone' instead of my name."""
    await fill(chat, "@anna", "Lisbon", "")
    await fill(chat, "@ben", "", "Lisbon")
    await chat("@orga", "round start")
    await chat("@anna", "note @ben tram stories", dm=True)
    reply = await chat("@anna", "forget me", dm=True)
    assert "deleted your card" in reply
    assert "(nothing yet)" in await chat("@anna", "card", dm=True)
    assert "tram stories" not in await chat("@anna", "met", dm=True)
    ben_recall = await chat("@ben", "met", dm=True)
    assert "anna" not in ben_recall and "someone" in ben_recall


async def test_export_gives_my_data_as_json(chat: Chat) -> None:
    """Export includes my card and my notes, readable as JSON."""
    await fill(chat, "@anna", "Lisbon; Robert') OR 1=1 DROP TABLE cards--", "**bold** claims")
    reply = await chat("@anna", "export", dm=True)
    data = json.loads(reply.split("\n", 1)[1])
    dumped = json.dumps(data, ensure_ascii=False)
    assert "Robert') OR 1=1 DROP TABLE cards--" in dumped and "**bold** claims" in dumped


async def test_metacharacters_and_odd_unicode_are_stored_literally(chat: Chat) -> None:
    """SQL, Markdown, emoji and RTL text come back exactly; invisible characters do not."""
    await chat("@anna", "join")
    await chat("@anna", "card curious x'); DROP TABLE members--; **Lisboa** `code`; 🧗‍♀️ climbing")
    await chat("@anna", "card tell שלום עולם; a\u200bb\x00c")
    card = await chat("@anna", "card")
    assert "x'); DROP TABLE members--" in card
    assert "**Lisboa** `code`" in card and "🧗‍♀️ climbing" in card
    assert "שלום עולם" in card and "abc" in card


async def test_unknown_command_suggests_the_closest(chat: Chat) -> None:
    """A typo gets a suggestion rather than silence."""
    reply = await chat("@anna", "jion")
    assert "join" in reply


async def test_german_speakers_get_german_replies(chat: Chat) -> None:
    """A member who chose German reads German."""
    reply = await chat("@anna", "language de")
    assert "Deutsch" in reply
    assert "Willkommen" in await chat("@anna", "join")


async def test_pending_messages_survive_a_restart_and_are_sent_once(chat: Chat) -> None:
    """Messages written before a crash are delivered after restart, each exactly once."""
    await six_people(chat)
    event_replies = await chat.service.handle(
        CommandReceived(
            community_id="console:test",
            member=MemberRef("console", "orga"),
            display_name="orga",
            text="round start",
            room="meetup",
        )
    )
    assert event_replies  # the round started, but nothing has been delivered yet
    path = chat.store.path
    await chat.store.close()  # "crash" before delivery

    chat.store = SqliteStore(path)
    await chat.store.open()
    await chat.deliver()
    await chat.deliver()  # a second worker pass finds nothing left
    for who in ("anna", "ben", "carla", "dev", "emil", "fay"):
        assert len(chat.inbox(who)) == 1, who


async def test_icebreaker_command_gives_the_group_a_new_prompt(chat: Chat) -> None:
    """Asking for another icebreaker sends both partners a prompt they haven't had."""
    await fill(chat, "@anna", "Lisbon", "")
    await fill(chat, "@ben", "", "Lisbon")
    await chat("@orga", "round start")
    first = chat.inbox("@anna")[0].split("Icebreaker: ", 1)[1].splitlines()[0]
    reply = await chat("@anna", "icebreaker", dm=True)
    assert "on its way" in reply
    fresh = chat.inbox("@ben")[-1]
    assert fresh.startswith("A fresh icebreaker: ")
    assert first not in fresh


async def test_previewing_the_next_round_while_one_runs_then_starting_ends_the_first(
    chat: Chat,
) -> None:
    """Preview during round 1, then start: round 1 ends and round 2 starts with new partners."""
    await six_people(chat)
    await chat("@orga", "round start")
    chat.tick()
    preview = await chat("@orga", "round preview")
    assert "Preview of round 2" in preview
    started = await chat("@orga", "round start")
    assert "Round 1 is over." in started and "Round 2 has started" in started
    assert "No round is running" not in await chat("@orga", "round end")
    assert "No round is running" in await chat("@orga", "round end")


async def test_a_block_made_after_the_preview_is_respected_at_start(chat: Chat) -> None:
    """Blocking someone after the preview re-pairs the round; the block always holds."""
    await fill(chat, "@anna", "Lisbon", "")
    await fill(chat, "@ben", "", "Lisbon")
    await fill(chat, "@carla", "knitting", "")
    await fill(chat, "@dev", "", "knitting")
    preview = await chat("@orga", "round preview")
    assert "anna and ben" in preview
    await chat("@anna", "block @ben", dm=True)
    started = await chat("@orga", "round start")
    assert "paired everyone again" in started
    assert "ben" not in partner_line(chat.inbox("@anna")[0])


async def test_forget_me_after_the_preview_leaves_nobody_alone(chat: Chat) -> None:
    """Someone who forgets themselves after the preview is not in the round; nobody is alone."""
    for who in ("@anna", "@ben", "@carla", "@dev"):
        await chat(who, "join")
    await chat("@orga", "round preview")
    await chat("@ben", "forget me", dm=True)
    await chat("@orga", "round start")
    assert chat.inbox("@ben") == []
    for who in ("@anna", "@carla", "@dev"):
        header = partner_line(chat.inbox(who)[0])
        assert header.endswith(".") and "with ." not in header


async def test_a_preview_with_someone_unplaced_starts_exactly_as_shown(chat: Chat) -> None:
    """When blocks leave someone out, the preview still starts unchanged and they are told."""
    for who in ("@anna", "@ben", "@carla"):
        await chat(who, "join")
    await chat("@anna", "block @ben", dm=True)
    await chat("@anna", "block @carla", dm=True)
    preview = await chat("@orga", "round preview")
    assert "anna would not be placed" in preview
    started = await chat("@orga", "round start")
    assert "paired everyone again" not in started
    assert "I could not place anna" in started
    told = chat.inbox("@anna")
    assert len(told) == 1 and "couldn't find you a partner" in told[0]
    assert "block" not in told[0].lower() and "asked not to" not in told[0]


async def test_a_round_where_nobody_can_be_paired_is_not_started(chat: Chat) -> None:
    """Two people who must not meet: the organizer is told, and no round is announced."""
    await chat("@anna", "join")
    await chat("@ben", "join")
    await chat("@anna", "block @ben", dm=True)
    reply = await chat("@orga", "round start")
    assert "Nobody here can be paired" in reply
    assert chat.room() == [] and chat.inbox("@ben") == []


async def test_recall_shows_each_note_once_however_often_we_met(chat: Chat) -> None:
    """Meeting the same person in two rounds lists both times but my note only once."""
    await fill(chat, "@anna", "Lisbon", "")
    await fill(chat, "@ben", "", "Lisbon")
    await chat("@orga", "round start")
    chat.tick(60 * 24 * 60)  # two months later: a repeat is allowed when nobody else is here
    await chat("@orga", "round start")
    await chat("@anna", "note @ben knows every tram line", dm=True)
    recall = await chat("@anna", "met", dm=True)
    assert recall.count("ben at Test meetup") == 2
    assert recall.count("knows every tram line") == 1


async def test_a_trio_remembers_who_shared_what(chat: Chat) -> None:
    """In a trio, "met Lisbon" finds the person I share Lisbon with, not the third one."""
    await fill(chat, "@anna", "Lisbon", "")
    await fill(chat, "@ben", "", "Lisbon")
    await fill(chat, "@carla", "", "origami")
    await chat("@orga", "round start")
    assert "group of three" in partner_line(chat.inbox("@anna")[0])
    recall = await chat("@anna", "met Lisbon", dm=True)
    assert "ben at Test meetup" in recall and "carla" not in recall


async def test_commas_in_a_card_get_a_friendly_tip(chat: Chat) -> None:
    """Phrases separated by commas are kept, and the reply explains to use semicolons."""
    reply = await chat("@anna", "card curious Lisbon, Porto, Paris")
    assert "Lisbon, Porto, Paris" in reply
    assert "separate phrases with “;”" in reply


async def test_a_display_name_like_everyone_never_pings_the_room(chat: Chat) -> None:
    """Someone named "everyone" is never echoed as a room-wide @everyone."""
    await fill(chat, "@everyone", "Lisbon", "")
    await fill(chat, "@ben", "", "Lisbon")
    await chat("@orga", "round start")
    everything = "\n".join([*chat.inbox("@ben"), *chat.room()])
    assert "everyone" in everything and "@everyone" not in everything

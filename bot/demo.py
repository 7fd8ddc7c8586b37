"""`funkel demo`: a scripted meetup night through the real services and a real SQLite file.

Nothing here is faked: the sample attendees type the same commands a person would type in
the console, the service pairs them, the outbox is delivered, and the closing checks read
the database.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field, replace
from importlib import resources
from itertools import combinations
from pathlib import Path
from typing import Any, TextIO

import yaml

from bot.adapters.console import COMMUNITY_ID, PLATFORM, ROOM, ROOM_NAME, ConsoleAdapter
from bot.app import App, running
from bot.config import default_config
from bot.core.delivery import Deliverer
from bot.core.events import CommandReceived, Reply
from bot.core.i18n import use_prefix
from bot.core.models import Group, MemberRef, OutboxMessage, Round, TargetKind
from bot.core.ports import StoreError

ORGANIZER = "mira"
ORGANIZER_NAME = "Mira"
ROUNDS = 3
# Shown in full while everyone joins; the rest join quietly (the output stays readable).
SHOWN_IN_FULL = 2


@dataclass(frozen=True)
class SampleAttendee:
    id: str
    name: str
    languages: tuple[str, ...]
    curious_about: tuple[str, ...]
    can_tell_about: tuple[str, ...]


def load_sample() -> tuple[list[SampleAttendee], SampleAttendee]:
    """The bundled attendees and the one who arrives late (making the count odd)."""
    text = resources.files("bot.content").joinpath("demo/attendees.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    people = [_attendee(item) for item in data["attendees"]]
    return people, _attendee(data["late_arrival"])


def _attendee(item: dict[str, Any]) -> SampleAttendee:
    return SampleAttendee(
        id=str(item["id"]),
        name=str(item["name"]),
        languages=tuple(item.get("languages") or ()),
        curious_about=tuple(item.get("curious_about") or ()),
        can_tell_about=tuple(item.get("can_tell_about") or ()),
    )


@dataclass
class DemoChat:
    """Types commands as people and prints the parts of the conversation worth reading."""

    app: App
    out: TextIO
    names: dict[str, str] = field(default_factory=dict)
    delivered: list[OutboxMessage] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.printer = ConsoleAdapter(self.out, self.names)
        self.deliverer = Deliverer(self.app.store, self._collect)

    async def _collect(self, message: OutboxMessage) -> None:
        self.delivered.append(message)

    async def say(
        self, who: str, name: str, text: str, *, show: bool = True, private: bool = False
    ) -> list[Reply]:
        self.names[f"{PLATFORM}:{who}"] = name
        event = CommandReceived(
            community_id=COMMUNITY_ID,
            member=MemberRef(PLATFORM, who),
            display_name=name,
            text=text,
            room=None if private else ROOM,
            room_name=None if private else ROOM_NAME,
        )
        replies = await self.app.service.handle(event)
        if show:
            self.printer.show_input(event)
            self.printer.show_replies(event, replies)
        return replies

    async def deliver(self) -> list[OutboxMessage]:
        """Deliver the outbox; return what was sent (printing is up to the caller)."""
        self.delivered = []
        await self.deliverer.deliver_pending()
        return self.delivered

    def show(self, message: OutboxMessage) -> None:
        self.out.write(self.printer.render_message(message))

    def heading(self, text: str) -> None:
        self.out.write(f"\n{text}\n{'─' * len(text)}\n")

    def narrate(self, text: str) -> None:
        self.out.write(f"({text})\n")


async def run_demo(out: TextIO, *, db: str | None, seed: int, language: str) -> int:
    if db is not None and Path(db).exists():
        raise StoreError(
            f"the demo needs a new database, and {db} already exists — "
            "pass another --db path, or leave --db out to use a temporary file"
        )
    with tempfile.TemporaryDirectory(prefix="funkel-demo-") as tmp:
        path = db or str(Path(tmp) / "demo.sqlite3")
        config = default_config(database=path)
        config = replace(
            config,
            community=replace(
                config.community,
                language=language,
                organizers=(f"{PLATFORM}:{ORGANIZER}",),
            ),
        )
        async with running(config, seed=seed) as app:
            with use_prefix(""):
                return await _night(DemoChat(app, out), path, language)


async def _night(chat: DemoChat, path: str, language: str) -> int:
    people, late = load_sample()
    out = chat.out
    out.write(
        f"Funkel demo: a meetup night at “{ROOM_NAME}” with {len(people)} attendees and "
        f"{ROUNDS} rounds.\nEverything below runs through the real bot and the SQLite "
        f"database {path}.\n"
    )

    chat.heading("Everyone joins and fills in a curiosity card")
    for i, person in enumerate(people):
        await _arrive(chat, person, show=i < SHOWN_IN_FULL)
    chat.narrate(f"{len(people) - SHOWN_IN_FULL} more people join and fill in their cards")

    chat.heading("Someone who didn't join is never paired")
    await chat.say("sam", "Sam", "card curious tea ceremonies")
    chat.narrate("Sam filled a card but never typed 'join', so Sam stays out of every round")

    chat.heading("The organizer previews round 1")
    await chat.say(ORGANIZER, ORGANIZER_NAME, "round preview")

    readers = {f"{PLATFORM}:{p.id}" for p in people if (p.languages or (language,))[0] == language}
    rounds: list[Round] = []
    for number in range(1, ROUNDS + 1):
        if number == 2:
            chat.heading(f"{late.name} arrives late: an odd count, so one group of three")
            await _arrive(chat, late, show=True)
        chat.heading(f"Round {number}")
        await chat.say(ORGANIZER, ORGANIZER_NAME, "round start")
        sent = await chat.deliver()
        for message in sent:
            if message.target_kind is TargetKind.ROOM:
                chat.show(message)
        dms = [m for m in sent if m.kind == "pairing"]
        if dms:
            sample = _interesting_dm(dms, readers)
            chat.narrate(f"{len(dms)} private messages sent; here is {chat.names[sample.target]}'s")
            chat.show(sample)
        rounds.append(await _latest_round(chat))
        await chat.say(ORGANIZER, ORGANIZER_NAME, "round end", show=False)
        await chat.deliver()

    await _notes(chat, rounds, [*people, late], language)
    expected = [len(people)] + [len(people) + 1] * (ROUNDS - 1)
    return await _checks(chat, rounds, expected)


async def _arrive(chat: DemoChat, person: SampleAttendee, *, show: bool) -> None:
    if person.languages:
        text = "language " + " ".join(person.languages)
        await chat.say(person.id, person.name, text, show=show)
    await chat.say(person.id, person.name, "join", show=show)
    if person.curious_about:
        text = "card curious " + "; ".join(person.curious_about)
        await chat.say(person.id, person.name, text, show=show)
    if person.can_tell_about:
        text = "card tell " + "; ".join(person.can_tell_about)
        await chat.say(person.id, person.name, text, show=show)
    await chat.deliver()


def _interesting_dm(dms: list[OutboxMessage], readers: set[str]) -> OutboxMessage:
    """A DM from a trio if there is one (the odd count), else one in the demo's language."""
    for message in dms:
        if len(message.payload.get("group", [])) > 2:
            return message
    readable = [m for m in dms if m.target in readers]
    return (readable or dms)[0]


async def _latest_round(chat: DemoChat) -> Round:
    async with chat.app.store.transaction() as tx:
        meetup = await tx.find_meetup(COMMUNITY_ID, ROOM)
        assert meetup is not None
        rnd = await tx.latest_round(meetup.id)
    assert rnd is not None
    return rnd


async def _notes(
    chat: DemoChat, rounds: list[Round], people: list[SampleAttendee], language: str
) -> None:
    chat.heading("After the rounds: private notes")
    first = _pair_reading(rounds[0], people, language)
    a, b = (MemberRef.from_key(k).user_id for k in first.members[:2])
    name_a, name_b = chat.names[f"{PLATFORM}:{a}"], chat.names[f"{PLATFORM}:{b}"]
    topic = first.reasons[0].topic if first.reasons else "everything"
    await chat.say(a, name_a, f"note @{b} We talked about {topic} for ages. --again", private=True)
    await chat.say(b, name_b, f"note @{a} Lovely stories about {topic}! --again", private=True)
    chat.narrate("both said they'd like to talk again, so each of them now gets told")
    for message in await chat.deliver():
        chat.show(message)

    # A note about someone never met is refused kindly, and nothing is stored.
    stranger = _someone_never_met(rounds, first.members[0])
    if stranger is not None:
        await chat.say(a, name_a, f"note @{MemberRef.from_key(stranger).user_id} hi", private=True)

    chat.heading("Later: whom did I meet?")
    query = topic
    await chat.say(a, name_a, f"met {query}", private=True)


def _pair_reading(rnd: Round, people: list[SampleAttendee], language: str) -> Group:
    """A pair from the round whose members both read the demo's language (so the notes and
    the reveal are readable), the round's first pair otherwise."""
    first_language = {f"{PLATFORM}:{p.id}": (p.languages or (language,))[0] for p in people}
    pairs = [g for g in rnd.groups if len(g.members) == 2 and g.reasons]
    for group in pairs:
        if all(first_language.get(k) == language for k in group.members):
            return group
    return pairs[0] if pairs else rnd.groups[0]


def _someone_never_met(rounds: list[Round], key: str) -> str | None:
    met = {k for r in rounds for g in r.groups if key in g.members for k in g.members}
    everyone = {k for r in rounds for g in r.groups for k in g.members}
    strangers = sorted(everyone - met)
    return strangers[0] if strangers else None


async def _checks(chat: DemoChat, rounds: list[Round], expected: list[int]) -> int:
    chat.heading("Checks, read back from the database")
    seen: dict[frozenset[str], int] = {}
    repeats = 0
    trios = 0
    for rnd in rounds:
        for group in rnd.groups:
            trios += len(group.members) == 3
            for a, b in combinations(group.members, 2):
                pair = frozenset((a, b))
                repeats += pair in seen
                seen[pair] = rnd.number
    placed = [len({k for g in r.groups for k in g.members}) for r in rounds]
    shared = sum(1 for r in rounds for g in r.groups if g.reasons)
    total = sum(len(r.groups) for r in rounds)
    lines = [
        f"rounds: {len(rounds)}, groups: {total}",
        f"people placed per round: {placed} (present: {expected})",
        f"groups with a shared or complementary curiosity: {shared}/{total}",
        f"groups of three: {trios} (only where the count was odd)",
        f"repeat encounters: {repeats}",
        f"seeds (replayable): {[r.seed for r in rounds]}",
    ]
    for line in lines:
        chat.out.write(f"  {line}\n")
    ok = repeats == 0 and placed == expected
    chat.out.write(
        "\nNobody met the same person twice, and nobody was left out.\n"
        if ok
        else "\nSomething went wrong: see the checks above.\n"
    )
    return 0 if ok else 1

"""Use cases: one method per command, each in one store transaction.

The service turns a neutral event into replies for the sender and outbox messages for
everybody else. It never talks to a platform: adapters hand it events and deliver the outbox.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import combinations

from bot.core import commands as cmd
from bot.core.events import CommandReceived, Event, MemberLeft, Reply
from bot.core.i18n import t, t_in, use_language
from bot.core.icebreakers import choose_icebreaker, deck, reason_for_prompt, render
from bot.core.models import (
    MAX_PHRASES_PER_LIST,
    Card,
    Encounter,
    Group,
    GroupFlag,
    Meetup,
    Member,
    MemberRef,
    NewOutboxMessage,
    PastEncounter,
    Round,
    RoundState,
    TargetKind,
)
from bot.core.pairing import Person, explain_score, pair
from bot.core.phrases import normalise
from bot.core.ports import Store, StoreTx
from bot.core.render import (
    join_names,
    reason_lines_for,
    reason_lines_neutral,
)
from bot.core.text import display_name, neutralise_mentions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    """What the service needs to know about a community (from the operator's config)."""

    language: str = "en"
    organizers: frozenset[str] = frozenset()  # member keys
    round_minutes: int = 10
    retention_days: int = 365


@dataclass
class Service:
    store: Store
    settings: Callable[[str], Settings] = field(default=lambda _community: Settings())
    # Injected so that rounds are reproducible in tests and in the demo.
    new_seed: Callable[[], int] = field(default=lambda: random.SystemRandom().randrange(2**31))
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    async def handle(self, event: Event) -> list[Reply]:
        """Answer one event. Never raises for user mistakes: those become friendly replies."""
        if isinstance(event, MemberLeft):
            await self._member_left(event)
            return []
        settings = self.settings(event.community_id)
        async with self.store.transaction() as tx:
            await tx.ensure_community(event.community_id, settings.language)
            member = await tx.upsert_member(event.member, _safe_name(event))
        language = member.languages[0] if member.languages else settings.language
        with use_language(language):
            parsed = cmd.parse(event.text)
            if isinstance(parsed, cmd.ParseError):
                replies = [Reply(t(parsed.key, **parsed.params), private=True)]
            else:
                replies = await self._dispatch(parsed, event, settings)
        # Defence in depth: no reply can ping a whole room, whatever names it echoes.
        return [Reply(neutralise_mentions(r.text), r.private) for r in replies]

    # ------------------------------------------------------------------ dispatch
    async def _dispatch(
        self, command: cmd.Command, ev: CommandReceived, settings: Settings
    ) -> list[Reply]:
        match command:
            case cmd.Help(topic=topic):
                return [Reply(cmd.help_text(topic), private=True)]
            case cmd.Join():
                return await self._join(ev)
            case cmd.Leave():
                return await self._leave(ev)
            case cmd.CardShow():
                return await self._card_show(ev)
            case cmd.CardSet(which=which, phrases=phrases):
                return await self._card_set(ev, which, phrases)
            case cmd.CardAdd(which=which, phrase=phrase):
                return await self._card_add(ev, which, phrase)
            case cmd.CardClear(which=which):
                return await self._card_clear(ev, which)
            case cmd.Language(codes=codes):
                return await self._language(ev, codes, settings)
            case cmd.RoundPreview():
                return await self._round(ev, settings, start=False)
            case cmd.RoundStart():
                return await self._round(ev, settings, start=True)
            case cmd.RoundEnd():
                return await self._round_end(ev, settings)
            case cmd.Icebreaker():
                return await self._icebreaker(ev, settings)
            case cmd.NoteCmd(target=target, text=text, again=again):
                return await self._note(ev, settings, target, text, again)
            case cmd.Recall(query=query):
                return await self._recall(ev, query)
            case cmd.Block(target=target):
                return await self._block(ev, target, block=True)
            case cmd.Unblock(target=target):
                return await self._block(ev, target, block=False)
            case cmd.Export():
                return await self._export(ev)
            case cmd.Forget():
                return await self._forget(ev)
        raise AssertionError(f"unhandled command {command!r}")  # pragma: no cover

    # ------------------------------------------------------------------ meetups
    async def _meetup_here(self, tx: StoreTx, ev: CommandReceived) -> Meetup | None:
        if ev.room is None:
            return None
        return await tx.ensure_meetup(ev.community_id, ev.room, ev.room_name or ev.room)

    async def _join(self, ev: CommandReceived) -> list[Reply]:
        if ev.room is None:
            return [Reply(t("messages.join.not_in_dm"), private=True)]
        async with self.store.transaction() as tx:
            meetup = await self._meetup_here(tx, ev)
            assert meetup is not None
            new = await tx.join(meetup.id, ev.member)
            card = await tx.get_card(ev.member)
            count = len(await tx.attendees(meetup.id))
        name = _safe_name(ev)
        if not new:
            return [Reply(t("messages.join.already", meetup=meetup.name), private=True)]
        lines = [t("messages.join.welcome", name=name, meetup=meetup.name, count=count)]
        lines.append(
            t("messages.join.card_missing") if card.is_empty else t("messages.join.card_ok")
        )
        return [Reply("\n".join(lines), private=True)]

    async def _leave(self, ev: CommandReceived) -> list[Reply]:
        if ev.room is None:
            return [Reply(t("messages.leave.not_in_dm"), private=True)]
        async with self.store.transaction() as tx:
            meetup = await tx.find_meetup(ev.community_id, ev.room)
            left = meetup is not None and await tx.leave(meetup.id, ev.member)
        if not left:
            return [Reply(t("messages.leave.not_joined"), private=True)]
        assert meetup is not None
        return [Reply(t("messages.leave.done", meetup=meetup.name), private=True)]

    async def _member_left(self, ev: MemberLeft) -> None:
        async with self.store.transaction() as tx:
            meetup = await tx.find_meetup(ev.community_id, ev.room)
            if meetup is not None and await tx.leave(meetup.id, ev.member):
                log.info("member left meetup %s; no longer paired there", meetup.id)

    # ------------------------------------------------------------------ cards
    async def _card_show(self, ev: CommandReceived) -> list[Reply]:
        async with self.store.transaction() as tx:
            card = await tx.get_card(ev.member)
        return [Reply(render_card(card), private=True)]

    async def _card_set(
        self, ev: CommandReceived, which: str, phrases: Sequence[str]
    ) -> list[Reply]:
        async with self.store.transaction() as tx:
            card = await tx.get_card(ev.member)
            card = _with_list(card, which, tuple(phrases))
            await tx.set_card(ev.member, card)
        return [Reply(_saved(card, phrases), private=True)]

    async def _card_add(self, ev: CommandReceived, which: str, phrase: str) -> list[Reply]:
        async with self.store.transaction() as tx:
            card = await tx.get_card(ev.member)
            current = card.curious_about if which == "curious" else card.can_tell_about
            if normalise(phrase) in {normalise(p) for p in current}:
                return [Reply(t("messages.card.already_there", phrase=phrase), private=True)]
            if len(current) >= MAX_PHRASES_PER_LIST:
                return [
                    Reply(
                        t("messages.card.list_full", limit=MAX_PHRASES_PER_LIST, phrase=phrase),
                        private=True,
                    )
                ]
            card = _with_list(card, which, (*current, phrase))
            await tx.set_card(ev.member, card)
        return [Reply(_saved(card, (phrase,)), private=True)]

    async def _card_clear(self, ev: CommandReceived, which: str | None) -> list[Reply]:
        async with self.store.transaction() as tx:
            card = await tx.get_card(ev.member)
            card = Card() if which is None else _with_list(card, which, ())
            await tx.set_card(ev.member, card)
        return [Reply(t("messages.card.cleared") + "\n" + render_card(card), private=True)]

    async def _language(
        self, ev: CommandReceived, codes: Sequence[str], settings: Settings
    ) -> list[Reply]:
        value = ",".join(codes) if codes else None
        async with self.store.transaction() as tx:
            await tx.set_member_language(ev.member, value)
        lang = codes[0] if codes else settings.language
        with use_language(lang):
            if not codes:
                return [Reply(t("messages.language.auto"), private=True)]
            names = join_names([t(f"messages.language.name.{c}") for c in codes], either=True)
            text = t(
                "messages.language.set",
                count=len(codes),
                first=t(f"messages.language.name.{codes[0]}"),
                languages=names,
            )
            return [Reply(text, private=True)]

    # ------------------------------------------------------------------ rounds
    def _is_organizer(self, ev: CommandReceived, settings: Settings) -> bool:
        return ev.is_organizer or ev.member.key in settings.organizers

    async def _round(self, ev: CommandReceived, settings: Settings, *, start: bool) -> list[Reply]:
        if not self._is_organizer(ev, settings):
            return [Reply(t("messages.round.organizers_only"), private=True)]
        if ev.room is None:
            return [Reply(t("messages.round.not_in_dm"), private=True)]
        now = self.clock()
        async with self.store.transaction() as tx:
            meetup = await self._meetup_here(tx, ev)
            assert meetup is not None
            keys = await tx.attendees(meetup.id)
            if len(keys) < 2:
                return [Reply(t("messages.round.too_few", count=len(keys)), private=False)]
            members = await tx.get_members(keys)
            pool = await self._pool(tx, keys, members, now)
            latest = await tx.latest_round(meetup.id)
            preview = latest if latest is not None and latest.state is RoundState.PREVIEW else None
            notes: list[str] = []
            if start and preview is not None:
                # Replaying the preview's seed on today's attendees, cards, blocks and history
                # gives the same groups exactly when nothing relevant changed since the preview.
                replay = pool.pair(preview.seed)
                if _members_of(replay) == _members_of(preview.groups):
                    rnd = preview
                else:
                    notes.append(t("messages.round.repaired_since_preview"))
                    rnd = await tx.replace_round_groups(preview.id, preview.seed, replay)
            else:
                seed = self.new_seed()
                groups = pool.pair(seed)
                if preview is not None:
                    rnd = await tx.replace_round_groups(preview.id, seed, groups)
                else:
                    rnd = await tx.create_round(meetup.id, seed, groups, RoundState.PREVIEW)
            placed = {k for g in rnd.groups for k in g.members}
            unplaced = [k for k in keys if k not in placed]
            if not rnd.groups:
                return [Reply(t("messages.round.nobody_pairable", count=len(keys)), private=True)]
            if not start:
                log.info(
                    "round %s previewed: %d groups, seed %s", rnd.id, len(rnd.groups), rnd.seed
                )
                notes += [
                    t("messages.round.would_be_unplaced", name=_name(members, k)) for k in unplaced
                ]
                text = render_round(rnd, members, settings, header="messages.round.preview_header")
                return [Reply("\n".join([text, *notes]), private=True)]
            notes += [t("messages.round.unplaced", name=_name(members, k)) for k in unplaced]
            running = await tx.running_round(meetup.id)
            if running is not None:
                await tx.set_round_state(running.id, RoundState.DONE)
            rnd = await self._start(tx, meetup, rnd, members, settings, now, keys, pool)
        log.info("round %s started: %d groups, seed %s", rnd.id, len(rnd.groups), rnd.seed)
        lines = []
        if running is not None:
            lines.append(t("messages.round.ended_previous", number=running.number))
        lines.append(render_round(rnd, members, settings, header="messages.round.started_header"))
        lines.extend(notes)
        return [Reply("\n".join(lines), private=True)]

    async def _pool(
        self, tx: StoreTx, keys: Sequence[str], members: dict[str, Member], now: datetime
    ) -> _Pool:
        """Everything pairing reads about the people present, fetched once."""
        cards = await tx.get_cards(keys)
        people = [
            Person(
                key=key,
                name=_name(members, key),
                curious_about=cards[key].curious_about,
                can_tell_about=cards[key].can_tell_about,
                languages=frozenset(members[key].languages) if key in members else frozenset(),
            )
            for key in keys
        ]
        history = await tx.past_encounters(keys)
        blocks = await tx.blocks_among(keys)
        return _Pool(people, tuple(history), frozenset(blocks), now)

    async def _start(
        self,
        tx: StoreTx,
        meetup: Meetup,
        rnd: Round,
        members: dict[str, Member],
        settings: Settings,
        now: datetime,
        keys: Sequence[str],
        pool: _Pool,
    ) -> Round:
        await tx.set_round_state(rnd.id, RoundState.RUNNING)
        await tx.record_encounters(rnd.id, now, pool.topics(rnd.groups))
        rng = random.Random(rnd.seed)
        names = {key: _name(members, key) for key in keys}
        for group in rnd.groups:
            await self._send_icebreaker(tx, meetup, rnd, group, members, names, settings, rng)
        placed = {k for g in rnd.groups for k in g.members}
        for key in keys:
            if key not in placed:
                lang = _lang_of(members, key, settings)
                await tx.enqueue(
                    NewOutboxMessage(
                        meetup.community_id,
                        TargetKind.MEMBER,
                        key,
                        "unplaced",
                        t_in(lang, "messages.pairing.unplaced", number=rnd.number),
                    )
                )
        await tx.enqueue(
            NewOutboxMessage(
                meetup.community_id,
                TargetKind.ROOM,
                meetup.room,
                "announcement",
                t_in(
                    settings.language,
                    "messages.round.announcement",
                    number=rnd.number,
                    count=len(rnd.groups),
                    people=len(placed),
                    minutes=settings.round_minutes,
                ),
                {"round_id": rnd.id},
            )
        )
        started = await tx.get_round(rnd.id)
        assert started is not None
        return started

    async def _send_icebreaker(
        self,
        tx: StoreTx,
        meetup: Meetup,
        rnd: Round,
        group: Group,
        members: dict[str, Member],
        names: dict[str, str],
        settings: Settings,
        rng: random.Random,
        *,
        fresh: bool = False,
    ) -> None:
        """Choose a prompt the group has not had yet and send each member their intro."""
        used = await tx.used_icebreakers(group.key)
        # The prompt is chosen once per group; each member reads it in their own language.
        first_lang = _lang_of(members, group.members[0], settings)
        prompt_id, _ = choose_icebreaker(group, names, language=first_lang, used=used, rng=rng)
        await tx.set_group_icebreaker(rnd.id, group.key, prompt_id)
        for key in group.members:
            lang = _lang_of(members, key, settings)
            text = render_pairing(
                rnd, group, key, names, prompt_id, lang, settings.round_minutes, fresh=fresh
            )
            await tx.enqueue(
                NewOutboxMessage(
                    meetup.community_id,
                    TargetKind.MEMBER,
                    key,
                    "icebreaker" if fresh else "pairing",
                    text,
                    {
                        "round_id": rnd.id,
                        "meetup_id": meetup.id,
                        "group": list(group.members),
                        "partners": [k for k in group.members if k != key],
                        "partner_names": [names[k] for k in group.members if k != key],
                    },
                )
            )

    async def _round_end(self, ev: CommandReceived, settings: Settings) -> list[Reply]:
        if not self._is_organizer(ev, settings):
            return [Reply(t("messages.round.organizers_only"), private=True)]
        if ev.room is None:
            return [Reply(t("messages.round.not_in_dm"), private=True)]
        async with self.store.transaction() as tx:
            meetup = await tx.find_meetup(ev.community_id, ev.room)
            latest = await tx.running_round(meetup.id) if meetup else None
            if meetup is None or latest is None:
                return [Reply(t("messages.round.none_running"), private=True)]
            await tx.set_round_state(latest.id, RoundState.DONE)
            await tx.enqueue(
                NewOutboxMessage(
                    meetup.community_id,
                    TargetKind.ROOM,
                    meetup.room,
                    "round_over",
                    t_in(settings.language, "messages.round.over", number=latest.number),
                    {"round_id": latest.id},
                )
            )
        return [Reply(t("messages.round.ended", number=latest.number), private=True)]

    async def _icebreaker(self, ev: CommandReceived, settings: Settings) -> list[Reply]:
        async with self.store.transaction() as tx:
            current = await tx.current_group(ev.member)
            if current is None:
                return [Reply(t("messages.icebreaker.no_group"), private=True)]
            rnd, group = current
            meetup = await tx.get_meetup(rnd.meetup_id)
            assert meetup is not None
            members = await tx.get_members(group.members)
            names = {key: _name(members, key) for key in group.members}
            rng = random.Random(f"{rnd.seed}:{group.key}:{self.clock().isoformat()}")
            await self._send_icebreaker(
                tx, meetup, rnd, group, members, names, settings, rng, fresh=True
            )
        return [Reply(t("messages.icebreaker.sent"), private=True)]

    # ------------------------------------------------------------------ people
    async def _resolve(
        self, tx: StoreTx, ev: CommandReceived, mention: cmd.Mention
    ) -> Member | list[Member] | None:
        """A mention to a known member; a list when a display name is ambiguous."""
        raw = mention.raw
        if raw in ev.mentions:
            return await tx.get_member(ev.mentions[raw])
        platform = ev.member.platform
        candidates: list[MemberRef] = []
        if mention.discord_id:
            candidates.append(MemberRef(platform, mention.discord_id))
        if mention.matrix_id:
            candidates.append(MemberRef(platform, mention.matrix_id))
        bare = mention.name
        candidates.append(MemberRef(platform, bare.casefold()))
        for ref in candidates:
            found = await tx.get_member(ref)
            if found is not None:
                return found
        by_name = await tx.find_members(platform, bare)
        if len(by_name) == 1:
            return by_name[0]
        return by_name or None

    async def _person(
        self, tx: StoreTx, ev: CommandReceived, mention: cmd.Mention
    ) -> Member | Reply:
        found = await self._resolve(tx, ev, mention)
        if found is None:
            return Reply(t("messages.people.unknown", who=mention.raw), private=True)
        if isinstance(found, list):
            return Reply(
                t("messages.people.ambiguous", who=mention.raw, count=len(found)), private=True
            )
        if found.ref == ev.member:
            return Reply(t("messages.people.yourself"), private=True)
        return found

    async def _note(
        self,
        ev: CommandReceived,
        settings: Settings,
        mention: cmd.Mention,
        text: str,
        again: bool,
    ) -> list[Reply]:
        async with self.store.transaction() as tx:
            other = await self._person(tx, ev, mention)
            if isinstance(other, Reply):
                return [other]
            if not await tx.have_met(ev.member, other.ref):
                return [Reply(t("messages.note.never_met", name=other.display_name), private=True)]
            await tx.add_note(ev.member, other.ref, text, again)
            replies = [Reply(t("messages.note.saved", name=other.display_name), private=True)]
            if again and await tx.wants_again(other.ref, ev.member):
                if await tx.mark_again_revealed(ev.member, other.ref):
                    me = await tx.get_member(ev.member)
                    assert me is not None
                    community = ev.community_id
                    for viewer, partner in ((me, other), (other, me)):
                        lang = viewer.languages[0] if viewer.languages else settings.language
                        await tx.enqueue(
                            NewOutboxMessage(
                                community,
                                TargetKind.MEMBER,
                                viewer.ref.key,
                                "reveal",
                                t_in(lang, "messages.note.mutual", name=partner.display_name),
                                {"partner": partner.ref.key},
                            )
                        )
            elif again:
                replies.append(
                    Reply(t("messages.note.again_pending", name=other.display_name), private=True)
                )
        return replies

    async def _recall(self, ev: CommandReceived, query: str | None) -> list[Reply]:
        async with self.store.transaction() as tx:
            encounters = await tx.encounters_of(ev.member)
            notes = await tx.notes_by(ev.member)
        if not encounters:
            return [Reply(t("messages.recall.none_yet"), private=True)]
        notes_about: dict[str, list[str]] = {}
        for note in reversed(notes):  # oldest first in the listing
            notes_about.setdefault(note.about, []).append(note.text)
        hits = [e for e in encounters if _matches(e, query, notes_about)]
        if not hits:
            return [Reply(t("messages.recall.no_match", query=query or ""), private=True)]
        header = (
            t("messages.recall.header_query", query=query, count=len(hits))
            if query
            else t("messages.recall.header", count=len(hits))
        )
        lines = [header]
        notes_shown: set[str] = set()
        for e in hits:
            topics = ", ".join(e.topics) if e.topics else t("messages.recall.no_topics")
            lines.append(
                t(
                    "messages.recall.line",
                    name=e.other_name if e.other is not None else t("messages.people.someone"),
                    meetup=e.meetup_name,
                    date=e.at.strftime("%Y-%m-%d"),
                    topics=topics,
                )
            )
            if e.other is not None and e.other not in notes_shown:
                # Notes are about a person, not an encounter: show them once, under the
                # newest encounter with that person.
                notes_shown.add(e.other)
                for text in notes_about.get(e.other, []):
                    lines.append(t("messages.recall.note", text=text))
        return [Reply("\n".join(lines), private=True)]

    async def _block(
        self, ev: CommandReceived, mention: cmd.Mention, *, block: bool
    ) -> list[Reply]:
        async with self.store.transaction() as tx:
            other = await self._person(tx, ev, mention)
            if isinstance(other, Reply):
                return [other]
            if block:
                changed = await tx.add_block(ev.member, other.ref)
                key = "messages.block.done" if changed else "messages.block.already"
            else:
                changed = await tx.remove_block(ev.member, other.ref)
                key = "messages.block.undone" if changed else "messages.block.not_blocked"
        return [Reply(t(key, name=other.display_name), private=True)]

    # ------------------------------------------------------------------ privacy
    async def _export(self, ev: CommandReceived) -> list[Reply]:
        async with self.store.transaction() as tx:
            data = await tx.export_member(ev.member)
        body = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True, default=str)
        return [Reply(t("messages.export.intro") + "\n" + body, private=True)]

    async def _forget(self, ev: CommandReceived) -> list[Reply]:
        async with self.store.transaction() as tx:
            await tx.forget_member(ev.member)
        log.info("a member used forget me")
        return [Reply(t("messages.forget.done"), private=True)]

    async def purge_expired(self, community_id: str) -> int:
        """Retention: delete what is older than the community's retention period."""
        days = self.settings(community_id).retention_days
        if days <= 0:
            return 0
        async with self.store.transaction() as tx:
            return await tx.purge_older_than(self.clock() - timedelta(days=days))


# ---------------------------------------------------------------------- helpers
@dataclass(frozen=True)
class _Pool:
    """The people present and what constrains their pairing, as the pairing engine reads it."""

    people: list[Person]
    history: tuple[PastEncounter, ...]
    blocks: frozenset[frozenset[str]]
    now: datetime

    def pair(self, seed: int) -> tuple[Group, ...]:
        result = pair(
            self.people, seed=seed, history=self.history, blocks=self.blocks, now=self.now
        )
        return result.groups

    def topics(self, groups: Sequence[Group]) -> dict[frozenset[str], list[str]]:
        """What each pair within each group shares (a trio's topic may be two people's only)."""
        by_key = {p.key: p for p in self.people}
        out: dict[frozenset[str], list[str]] = {}
        for group in groups:
            for a, b in combinations(group.members, 2):
                if a in by_key and b in by_key:
                    _, reasons = explain_score(by_key[a], by_key[b], pool=self.people)
                    out[frozenset((a, b))] = [r.topic for r in reasons]
        return out


def _members_of(groups: Sequence[Group]) -> set[tuple[str, ...]]:
    return {tuple(sorted(g.members)) for g in groups}


def _safe_name(ev: CommandReceived) -> str:
    """The display name as shown to others: cleaned, and never a mass mention."""
    return neutralise_mentions(display_name(ev.display_name) or ev.member.user_id)


def _with_list(card: Card, which: str, phrases: tuple[str, ...]) -> Card:
    if which == "curious":
        return Card(curious_about=phrases, can_tell_about=card.can_tell_about)
    return Card(curious_about=card.curious_about, can_tell_about=phrases)


def _name(members: dict[str, Member], key: str) -> str:
    member = members.get(key)
    return member.display_name if member else t("messages.people.someone")


def _lang_of(members: dict[str, Member], key: str, settings: Settings) -> str:
    member = members.get(key)
    if member is not None and member.languages:
        return member.languages[0]
    return settings.language


def _matches(e: Encounter, query: str | None, notes_about: dict[str, list[str]]) -> bool:
    if not query:
        return True
    q = normalise(query)
    haystack = [e.other_name, e.meetup_name, *e.topics, *notes_about.get(e.other or "", [])]
    return any(q in normalise(h) for h in haystack)


def _saved(card: Card, phrases: Sequence[str]) -> str:
    lines = [t("messages.card.saved"), render_card(card)]
    if any("," in phrase for phrase in phrases):
        lines.append(t("messages.card.comma_hint"))
    return "\n".join(lines)


def render_card(card: Card) -> str:
    none = t("messages.card.empty_list")
    return t(
        "messages.card.show",
        curious="; ".join(card.curious_about) or none,
        tell="; ".join(card.can_tell_about) or none,
    )


def render_round(rnd: Round, members: dict[str, Member], settings: Settings, *, header: str) -> str:
    """The organizer's view: every group, why it was formed, and flags worth knowing."""
    names = {k: _name(members, k) for g in rnd.groups for k in g.members}
    lines = [t(header, number=rnd.number, count=len(rnd.groups), seed=rnd.seed)]
    for i, group in enumerate(rnd.groups, 1):
        who = join_names([names[k] for k in group.members])
        lines.append(t("messages.round.group_line", index=i, names=who))
        for reason in reason_lines_neutral(group, names):
            lines.append(t("messages.round.reason_line", reason=reason))
        for flag in sorted(group.flags):
            lines.append(t(f"messages.round.flag.{flag.value}"))
    return "\n".join(lines)


def render_pairing(
    rnd: Round,
    group: Group,
    viewer: str,
    names: dict[str, str],
    prompt_id: str,
    language: str,
    minutes: int,
    *,
    fresh: bool = False,
) -> str:
    """One member's private message: who, why, and an icebreaker, in their language."""
    with use_language(language):
        partners = [names[k] for k in group.members if k != viewer]
        prompt = deck(language)[prompt_id]
        reason = reason_for_prompt(group, prompt)
        icebreaker = render(prompt, group, reason, names, language)
        if fresh:
            return t("messages.icebreaker.fresh", icebreaker=icebreaker)
        lines = [
            t(
                "messages.pairing.header_trio" if len(partners) > 1 else "messages.pairing.header",
                number=rnd.number,
                partners=join_names(partners),
            )
        ]
        lines.extend(reason_lines_for(group, viewer, names))
        if GroupFlag.NOTHING_SHARED in group.flags:
            lines.append(t("messages.pairing.nothing_shared"))
        if GroupFlag.NO_COMMON_LANGUAGE in group.flags:
            lines.append(t("messages.pairing.no_common_language"))
        if GroupFlag.REPEAT in group.flags:
            lines.append(t("messages.pairing.repeat"))
        lines.append(t("messages.pairing.icebreaker", icebreaker=icebreaker))
        lines.append(
            t("messages.pairing.footer", minutes=minutes, first=partners[0] if partners else "")
        )
        return "\n".join(lines)

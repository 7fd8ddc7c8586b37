"""The Store port on SQLite: one aiosqlite connection, WAL, one transaction at a time.

Conventions of this schema (see ``migrations/0001_initial.sql``):

- members are stored by key, ``platform:user_id`` (``MemberRef.key``), in one text column;
- timestamps are ISO-8601 UTC text with microseconds (fixed width, so text order is time order);
  timezone-aware datetimes go in and come out;
- sets of keys are passed as one JSON parameter and unpacked with ``json_each``, so any number
  of attendees fits in a query and every value is still a ``?`` parameter.

Nothing here logs note texts, card phrases, display names or messages: log lines name only the
database file, its schema version and journal mode.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import unicodedata
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path
from typing import Any

import aiosqlite

from bot.core.models import (
    Card,
    Community,
    Encounter,
    Group,
    GroupFlag,
    Meetup,
    Member,
    MemberRef,
    NewOutboxMessage,
    Note,
    OutboxMessage,
    PastEncounter,
    Reason,
    ReasonKind,
    Round,
    RoundState,
    TargetKind,
)
from bot.core.ports import StoreError, StoreTx
from bot.storage.migrate import migrate

log = logging.getLogger(__name__)

MEMORY = ":memory:"
BUSY_TIMEOUT_MS = 5_000
# Shown as the other person's name once they used "forget me" (Encounter.other is then None).
FORGOTTEN_NAME = "someone"
_INT64 = (-(2**63), 2**63 - 1)
# How much of a delivery error the outbox keeps (the platform's reason, never message text).
MAX_ERROR_CHARS = 300
_SHOWN_STATES = (RoundState.RUNNING, RoundState.DONE)

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _ts(value: datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("the store takes timezone-aware datetimes only (use datetime.now(UTC))")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _dt_or_none(text: str | None) -> datetime | None:
    return None if text is None else _dt(text)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _keys_param(keys: Iterable[str]) -> str:
    return _json(sorted(set(keys)))


def _fold(name: str) -> str:
    return unicodedata.normalize("NFC", name).casefold()


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def _group_key(members: Iterable[str]) -> str:
    return "|".join(sorted(members))


def _topics_json(topics: Iterable[str]) -> str:
    """Topics as a JSON array, each once, in the order given."""
    return _json(list(dict.fromkeys(topics)))


async def _to_the_end(conn: aiosqlite.Connection, statement: str) -> None:
    """Run BEGIN, COMMIT or ROLLBACK to its end even when the task is cancelled meanwhile.

    aiosqlite runs the statement in its thread whatever happens to the awaiting task; seeing
    only half of it (a shutdown cancelling the task during COMMIT) would leave the connection
    in a state the next transaction trips over. A cancellation is re-raised once it is done.
    """
    job = asyncio.ensure_future(conn.execute(statement))
    try:
        await asyncio.shield(job)
    except asyncio.CancelledError:
        await asyncio.wait([job])
        if not job.cancelled() and job.exception() is not None:
            log.debug("%s after a cancellation failed: %s", statement, job.exception())
        raise


class SqliteStore:
    """``Store`` on an SQLite file (or ``":memory:"``).

    ``clock`` supplies "now" for the timestamps the store sets itself (``created_at``,
    ``joined_at``, ...); tests pass a fake one.
    """

    def __init__(self, path: str | Path, *, clock: Clock | None = None) -> None:
        self._path = str(path)
        self._clock: Clock = clock or _utc_now
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None

    @property
    def path(self) -> str:
        return self._path

    async def open(self) -> None:
        if self._conn is not None:
            raise RuntimeError(f"database {self._path} is already open")
        if self._path != MEMORY:
            await asyncio.to_thread(self._check_path)
        try:
            conn = await aiosqlite.connect(self._path, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._open_error(exc) from exc
        try:
            conn.row_factory = sqlite3.Row
            await self._configure(conn)
            version = await migrate(conn)
        except sqlite3.Error as exc:
            await conn.close()
            raise self._open_error(exc) from exc
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        log.info("database %s open at schema version %d", self._path, version)

    async def close(self) -> None:
        if self._conn is None:
            return
        self._refuse_nesting("close the store")
        async with self._lock:
            conn, self._conn = self._conn, None
            await conn.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[StoreTx]:
        self._refuse_nesting("open a transaction")
        async with self._lock:
            conn = self._conn
            if conn is None:
                raise RuntimeError("the store is not open; call open() first")
            self._owner = asyncio.current_task()
            tx = _SqliteTx(conn, self._clock)
            try:
                try:
                    await _to_the_end(conn, "BEGIN IMMEDIATE")
                except sqlite3.OperationalError as exc:
                    raise StoreError(
                        f"cannot write to database {self._path}: {exc} — is another Funkel "
                        "process using the same file? Stop it or give each its own database"
                    ) from exc
                except asyncio.CancelledError:
                    await self._rollback(conn)  # BEGIN ran to its end: undo it
                    raise
                try:
                    yield tx
                    await _to_the_end(conn, "COMMIT")
                except BaseException:
                    await self._rollback(conn)
                    raise
            finally:
                tx.finish()
                self._owner = None

    async def _rollback(self, conn: aiosqlite.Connection) -> None:
        # SQLite may have rolled back by itself (e.g. disk full); never mask the real error.
        if not conn.in_transaction:
            return
        try:
            await _to_the_end(conn, "ROLLBACK")
        except sqlite3.Error:
            log.exception("database %s: rollback failed", self._path)

    def _refuse_nesting(self, what: str) -> None:
        # The lock is not re-entrant: waiting on it from inside a transaction would hang forever.
        if self._owner is not None and self._owner is asyncio.current_task():
            raise RuntimeError(f"cannot {what} inside a transaction; use the open one")

    async def _configure(self, conn: aiosqlite.Connection) -> None:
        async with conn.execute("PRAGMA journal_mode=WAL") as cursor:
            row = await cursor.fetchone()
        mode = str(row[0]) if row else "?"
        if self._path != MEMORY and mode.lower() != "wal":
            log.warning("database %s: journal_mode is %s, not wal", self._path, mode)
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS:d}")
        await conn.execute("PRAGMA synchronous=NORMAL")

    def _check_path(self) -> None:
        """Explain the usual mistakes before SQLite says only "unable to open database file"."""
        path = Path(self._path)
        folder = path.parent
        fix = "or set storage.database in the config"
        if not folder.exists():
            raise StoreError(
                f"cannot open database {path}: the folder {folder} does not exist — create it {fix}"
            )
        if not folder.is_dir():
            raise StoreError(
                f"cannot open database {path}: {folder} is not a folder — {fix.removeprefix('or ')}"
            )
        if path.is_dir():
            raise StoreError(
                f"cannot open database {path}: it is a folder, not a file "
                f"— set storage.database to a file inside it, e.g. {path / 'funkel.sqlite3'}"
            )
        # WAL needs to create the -wal and -shm files next to the database.
        if not os.access(folder, os.W_OK | os.X_OK):
            raise StoreError(
                f"cannot open database {path}: the folder {folder} is not writable by this user "
                f"— fix its permissions {fix}"
            )
        if path.exists() and not os.access(path, os.R_OK | os.W_OK):
            raise StoreError(
                f"cannot open database {path}: the file is not readable and writable by this "
                f"user — fix its permissions {fix}"
            )

    def _open_error(self, exc: sqlite3.Error) -> StoreError:
        if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_NOTADB:
            return StoreError(
                f"cannot open database {self._path}: the file is not an SQLite database "
                "— point storage.database at a Funkel database, or move this file away to "
                "start with a new one"
            )
        return StoreError(
            f"cannot open database {self._path}: {exc} — check the file and its folder, "
            "or set storage.database in the config"
        )


class _SqliteTx:
    """One ``BEGIN IMMEDIATE`` … ``COMMIT`` on the store's connection (implements StoreTx)."""

    def __init__(self, conn: aiosqlite.Connection, clock: Clock) -> None:
        self._conn = conn
        self._clock = clock
        self._done = False

    def finish(self) -> None:
        self._done = True

    # --- plumbing ------------------------------------------------------------------------
    def _live(self) -> aiosqlite.Connection:
        if self._done:
            raise RuntimeError("this transaction has ended; open a new one with transaction()")
        return self._conn

    def _now(self) -> str:
        return _ts(self._clock())

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        async with self._live().execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        async with self._live().execute(sql, params) as cursor:
            row: sqlite3.Row | None = await cursor.fetchone()
            return row

    async def _run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute a write; return the number of rows it changed."""
        async with self._live().execute(sql, params) as cursor:
            return int(cursor.rowcount)

    async def _insert(self, sql: str, params: Sequence[Any]) -> int:
        """Execute an INSERT; return the new row's id."""
        async with self._live().execute(sql, params) as cursor:
            rowid = cursor.lastrowid
        assert rowid is not None
        return int(rowid)

    # --- communities and members -------------------------------------------------------
    async def ensure_community(self, community_id: str, language: str) -> Community:
        await self._run(
            "INSERT INTO communities (id, language) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
            (community_id, language),
        )
        community = await self.get_community(community_id)
        assert community is not None
        return community

    async def get_community(self, community_id: str) -> Community | None:
        row = await self._one("SELECT id, language FROM communities WHERE id = ?", (community_id,))
        return None if row is None else Community(row["id"], row["language"])

    async def set_community_language(self, community_id: str, language: str) -> None:
        changed = await self._run(
            "UPDATE communities SET language = ? WHERE id = ?", (language, community_id)
        )
        if not changed:
            raise LookupError(f"unknown community {community_id!r}")

    async def upsert_member(self, ref: MemberRef, display_name: str) -> Member:
        await self._run(
            "INSERT INTO members (member, platform, user_id, display_name, name_folded)"
            " VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (member) DO UPDATE"
            " SET display_name = excluded.display_name, name_folded = excluded.name_folded",
            (ref.key, ref.platform, ref.user_id, display_name, _fold(display_name)),
        )
        member = await self.get_member(ref)
        assert member is not None
        return member

    async def get_member(self, ref: MemberRef) -> Member | None:
        return (await self.get_members([ref.key])).get(ref.key)

    async def get_members(self, keys: Iterable[str]) -> dict[str, Member]:
        rows = await self._all(
            "SELECT platform, user_id, display_name, language FROM members"
            " WHERE member IN (SELECT value FROM json_each(?))",
            (_keys_param(keys),),
        )
        members = (_member(row) for row in rows)
        return {member.ref.key: member for member in members}

    async def find_members(self, platform: str, name: str) -> list[Member]:
        rows = await self._all(
            "SELECT platform, user_id, display_name, language FROM members"
            " WHERE platform = ? AND name_folded = ? ORDER BY member",
            (platform, _fold(name)),
        )
        return [_member(row) for row in rows]

    async def set_member_language(self, ref: MemberRef, language: str | None) -> None:
        changed = await self._run(
            "UPDATE members SET language = ? WHERE member = ?", (language, ref.key)
        )
        if not changed:
            raise LookupError(f"unknown member {ref.key!r}")

    # --- curiosity cards -----------------------------------------------------------------
    async def get_card(self, ref: MemberRef) -> Card:
        return (await self.get_cards([ref.key]))[ref.key]

    async def get_cards(self, keys: Iterable[str]) -> dict[str, Card]:
        wanted = set(keys)
        rows = await self._all(
            "SELECT member, curious_about, can_tell_about FROM cards"
            " WHERE member IN (SELECT value FROM json_each(?))",
            (_keys_param(wanted),),
        )
        cards = {key: Card() for key in wanted}
        for row in rows:
            cards[row["member"]] = Card(
                curious_about=tuple(json.loads(row["curious_about"])),
                can_tell_about=tuple(json.loads(row["can_tell_about"])),
            )
        return cards

    async def set_card(self, ref: MemberRef, card: Card) -> None:
        if card.is_empty:
            # An empty card is no card: store the least.
            await self._run("DELETE FROM cards WHERE member = ?", (ref.key,))
            return
        await self._run(
            "INSERT INTO cards (member, curious_about, can_tell_about, updated_at)"
            " VALUES (?, ?, ?, ?)"
            " ON CONFLICT (member) DO UPDATE SET curious_about = excluded.curious_about,"
            " can_tell_about = excluded.can_tell_about, updated_at = excluded.updated_at",
            (
                ref.key,
                _json(list(card.curious_about)),
                _json(list(card.can_tell_about)),
                self._now(),
            ),
        )

    # --- meetups and attendance ----------------------------------------------------------
    async def ensure_meetup(self, community_id: str, room: str, name: str) -> Meetup:
        if await self.get_community(community_id) is None:
            raise LookupError(f"unknown community {community_id!r}; call ensure_community first")
        await self._run(
            "INSERT INTO meetups (community_id, room, name, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (community_id, room) DO NOTHING",
            (community_id, room, name, self._now()),
        )
        meetup = await self.find_meetup(community_id, room)
        assert meetup is not None
        return meetup

    async def get_meetup(self, meetup_id: int) -> Meetup | None:
        row = await self._one(
            "SELECT id, community_id, room, name FROM meetups WHERE id = ?", (meetup_id,)
        )
        return None if row is None else _meetup(row)

    async def find_meetup(self, community_id: str, room: str) -> Meetup | None:
        row = await self._one(
            "SELECT id, community_id, room, name FROM meetups WHERE community_id = ? AND room = ?",
            (community_id, room),
        )
        return None if row is None else _meetup(row)

    async def join(self, meetup_id: int, ref: MemberRef) -> bool:
        await self._require_meetup(meetup_id)
        changed = await self._run(
            "INSERT INTO attendance (meetup_id, member, joined_at) VALUES (?, ?, ?)"
            " ON CONFLICT (meetup_id, member) DO NOTHING",
            (meetup_id, ref.key, self._now()),
        )
        return changed == 1

    async def leave(self, meetup_id: int, ref: MemberRef) -> bool:
        changed = await self._run(
            "DELETE FROM attendance WHERE meetup_id = ? AND member = ?", (meetup_id, ref.key)
        )
        return changed == 1

    async def attendees(self, meetup_id: int) -> list[str]:
        rows = await self._all(
            "SELECT member FROM attendance WHERE meetup_id = ? ORDER BY id", (meetup_id,)
        )
        return [row["member"] for row in rows]

    async def meetups_of(self, ref: MemberRef) -> list[Meetup]:
        rows = await self._all(
            "SELECT m.id, m.community_id, m.room, m.name FROM attendance a"
            " JOIN meetups m ON m.id = a.meetup_id WHERE a.member = ? ORDER BY a.id",
            (ref.key,),
        )
        return [_meetup(row) for row in rows]

    async def _require_meetup(self, meetup_id: int) -> None:
        if await self._one("SELECT 1 FROM meetups WHERE id = ?", (meetup_id,)) is None:
            raise LookupError(f"unknown meetup {meetup_id}")

    # --- rounds and encounters -----------------------------------------------------------
    async def create_round(
        self, meetup_id: int, seed: int, groups: Sequence[Group], state: RoundState
    ) -> Round:
        await self._require_meetup(meetup_id)
        _check_seed(seed)
        _check_groups(groups)
        row = await self._one(
            "SELECT COALESCE(MAX(number), 0) + 1 AS next FROM rounds WHERE meetup_id = ?",
            (meetup_id,),
        )
        assert row is not None
        round_id = await self._insert(
            "INSERT INTO rounds (meetup_id, number, seed, state, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (meetup_id, row["next"], seed, RoundState(state).value, self._now()),
        )
        await self._insert_groups(round_id, groups)
        if state in _SHOWN_STATES:
            await self._count_icebreakers_shown(round_id)
        return await self._round(round_id)

    async def replace_round_groups(
        self, round_id: int, seed: int, groups: Sequence[Group]
    ) -> Round:
        current = await self._round(round_id)
        if current.state != RoundState.PREVIEW:
            raise ValueError(
                f"round {round_id} is {current.state.value}; only a preview's groups can change"
            )
        _check_seed(seed)
        _check_groups(groups)
        await self._run("DELETE FROM group_members WHERE round_id = ?", (round_id,))
        await self._run("DELETE FROM round_groups WHERE round_id = ?", (round_id,))
        await self._run("UPDATE rounds SET seed = ? WHERE id = ?", (seed, round_id))
        await self._insert_groups(round_id, groups)
        return await self._round(round_id)

    async def get_round(self, round_id: int) -> Round | None:
        row = await self._one(
            "SELECT id, meetup_id, number, seed, state, created_at FROM rounds WHERE id = ?",
            (round_id,),
        )
        if row is None:
            return None
        return _round(row, await self._groups(round_id))

    async def latest_round(self, meetup_id: int) -> Round | None:
        row = await self._one(
            "SELECT id FROM rounds WHERE meetup_id = ? ORDER BY number DESC LIMIT 1",
            (meetup_id,),
        )
        return None if row is None else await self.get_round(row["id"])

    async def running_round(self, meetup_id: int) -> Round | None:
        row = await self._one(
            "SELECT id FROM rounds WHERE meetup_id = ? AND state = ? ORDER BY number DESC LIMIT 1",
            (meetup_id, RoundState.RUNNING.value),
        )
        return None if row is None else await self.get_round(row["id"])

    async def set_round_state(self, round_id: int, state: RoundState) -> None:
        changed = await self._run(
            "UPDATE rounds SET state = ? WHERE id = ?", (RoundState(state).value, round_id)
        )
        if not changed:
            raise LookupError(f"unknown round {round_id}")
        if state in _SHOWN_STATES:
            await self._count_icebreakers_shown(round_id)

    async def record_encounters(
        self,
        round_id: int,
        at: datetime,
        topics: Mapping[frozenset[str], Sequence[str]] | None = None,
    ) -> None:
        if topics is not None and any(isinstance(shared, str) for shared in topics.values()):
            # A bare string is a Sequence[str] too; it would be stored letter by letter.
            raise ValueError("each pair's topics must be a sequence of phrases, not one string")
        round_ = await self._round(round_id)
        everyone = {key for group in round_.groups for key in group.members}
        names = {
            key: member.display_name for key, member in (await self.get_members(everyone)).items()
        }
        rows: list[tuple[Any, ...]] = []
        for group in round_.groups:
            group_topics = _topics_json(reason.topic for reason in group.reasons)
            for first, second in combinations(group.members, 2):
                a, b = _pair(first, second)
                if topics is None:
                    pair_topics = group_topics
                else:
                    pair_topics = _topics_json(topics.get(frozenset((a, b)), ()))
                rows.append(
                    (
                        round_id,
                        round_.meetup_id,
                        a,
                        b,
                        names.get(a, MemberRef.from_key(a).user_id),
                        names.get(b, MemberRef.from_key(b).user_id),
                        _ts(at),
                        pair_topics,
                    )
                )
        await self._live().executemany(
            "INSERT INTO encounters (round_id, meetup_id, a, b, a_name, b_name, at, topics)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (round_id, a, b) DO NOTHING",
            rows,
        )

    async def past_encounters(self, keys: Iterable[str]) -> list[PastEncounter]:
        wanted = _keys_param(keys)
        rows = await self._all(
            "SELECT a, b, at FROM encounters"
            " WHERE a IN (SELECT value FROM json_each(?))"
            " AND b IN (SELECT value FROM json_each(?))"
            " ORDER BY at, id",
            (wanted, wanted),
        )
        return [PastEncounter(row["a"], row["b"], _dt(row["at"])) for row in rows]

    async def encounters_of(self, ref: MemberRef) -> list[Encounter]:
        rows = await self._all(
            "SELECT e.round_id, e.meetup_id, m.name AS meetup_name, e.at, e.a, e.b,"
            " e.a_name, e.b_name, e.topics"
            " FROM encounters e JOIN meetups m ON m.id = e.meetup_id"
            " WHERE e.a = ? OR e.b = ? ORDER BY e.at DESC, e.id DESC",
            (ref.key, ref.key),
        )
        return [_encounter(row, ref.key) for row in rows]

    async def have_met(self, a: MemberRef, b: MemberRef) -> bool:
        first, second = _pair(a.key, b.key)
        row = await self._one(
            "SELECT 1 FROM encounters WHERE a = ? AND b = ? LIMIT 1", (first, second)
        )
        return row is not None

    async def current_group(self, ref: MemberRef) -> tuple[Round, Group] | None:
        row = await self._one(
            "SELECT r.id FROM group_members gm"
            " JOIN rounds r ON r.id = gm.round_id"
            " JOIN attendance a ON a.meetup_id = r.meetup_id AND a.member = gm.member"
            " WHERE gm.member = ? AND r.state = ?"
            " ORDER BY r.created_at DESC, r.id DESC LIMIT 1",
            (ref.key, RoundState.RUNNING.value),
        )
        if row is None:
            return None
        round_ = await self._round(row["id"])
        group = next(group for group in round_.groups if ref.key in group.members)
        return round_, group

    async def set_group_icebreaker(self, round_id: int, group_key: str, prompt_id: str) -> None:
        changed = await self._run(
            "UPDATE round_groups SET icebreaker_id = ? WHERE round_id = ? AND group_key = ?",
            (prompt_id, round_id, group_key),
        )
        if not changed:
            raise LookupError(f"round {round_id} has no group {group_key!r}")
        await self._run(
            "INSERT INTO icebreaker_uses (group_key, prompt_id, used_at) VALUES (?, ?, ?)"
            " ON CONFLICT (group_key, prompt_id) DO NOTHING",
            (group_key, prompt_id, self._now()),
        )

    async def used_icebreakers(self, group_key: str) -> set[str]:
        rows = await self._all(
            "SELECT prompt_id FROM icebreaker_uses WHERE group_key = ?", (group_key,)
        )
        return {row["prompt_id"] for row in rows}

    async def _round(self, round_id: int) -> Round:
        round_ = await self.get_round(round_id)
        if round_ is None:
            raise LookupError(f"unknown round {round_id}")
        return round_

    async def _groups(self, round_id: int) -> tuple[Group, ...]:
        group_rows = await self._all(
            "SELECT id, reasons, flags, score, icebreaker_id FROM round_groups"
            " WHERE round_id = ? ORDER BY idx",
            (round_id,),
        )
        member_rows = await self._all(
            "SELECT group_id, member FROM group_members WHERE round_id = ?"
            " ORDER BY group_id, position",
            (round_id,),
        )
        members: dict[int, list[str]] = {}
        for row in member_rows:
            members.setdefault(row["group_id"], []).append(row["member"])
        return tuple(
            Group(
                members=tuple(members.get(row["id"], ())),
                reasons=tuple(_reason(item) for item in json.loads(row["reasons"])),
                flags=frozenset(GroupFlag(flag) for flag in json.loads(row["flags"])),
                score=float(row["score"]),
                icebreaker_id=row["icebreaker_id"],
            )
            for row in group_rows
        )

    async def _insert_groups(self, round_id: int, groups: Sequence[Group]) -> None:
        for idx, group in enumerate(groups):
            group_id = await self._insert(
                "INSERT INTO round_groups"
                " (round_id, idx, group_key, reasons, flags, score, icebreaker_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    round_id,
                    idx,
                    group.key,
                    _json([_reason_json(reason) for reason in group.reasons]),
                    _json(sorted(GroupFlag(flag).value for flag in group.flags)),
                    float(group.score),
                    group.icebreaker_id,
                ),
            )
            await self._live().executemany(
                "INSERT INTO group_members (group_id, round_id, position, member)"
                " VALUES (?, ?, ?, ?)",
                [(group_id, round_id, pos, key) for pos, key in enumerate(group.members)],
            )

    async def _count_icebreakers_shown(self, round_id: int) -> None:
        await self._run(
            "INSERT INTO icebreaker_uses (group_key, prompt_id, used_at)"
            " SELECT group_key, icebreaker_id, ? FROM round_groups"
            " WHERE round_id = ? AND icebreaker_id IS NOT NULL"
            " ON CONFLICT (group_key, prompt_id) DO NOTHING",
            (self._now(), round_id),
        )

    # --- blocks --------------------------------------------------------------------------
    async def add_block(self, who: MemberRef, whom: MemberRef) -> bool:
        if who == whom:
            raise ValueError("a member cannot block themselves")
        changed = await self._run(
            "INSERT INTO blocks (who, whom, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT (who, whom) DO NOTHING",
            (who.key, whom.key, self._now()),
        )
        return changed == 1

    async def remove_block(self, who: MemberRef, whom: MemberRef) -> bool:
        changed = await self._run(
            "DELETE FROM blocks WHERE who = ? AND whom = ?", (who.key, whom.key)
        )
        return changed == 1

    async def blocks_among(self, keys: Iterable[str]) -> set[frozenset[str]]:
        wanted = _keys_param(keys)
        rows = await self._all(
            "SELECT who, whom FROM blocks"
            " WHERE who IN (SELECT value FROM json_each(?))"
            " AND whom IN (SELECT value FROM json_each(?))",
            (wanted, wanted),
        )
        return {frozenset((row["who"], row["whom"])) for row in rows}

    async def blocked_by(self, ref: MemberRef) -> list[str]:
        rows = await self._all(
            "SELECT whom FROM blocks WHERE who = ? ORDER BY created_at, whom", (ref.key,)
        )
        return [row["whom"] for row in rows]

    # --- notes ---------------------------------------------------------------------------
    async def add_note(self, author: MemberRef, about: MemberRef, text: str, again: bool) -> Note:
        created_at = self._now()
        note_id = await self._insert(
            "INSERT INTO notes (author, about, text, again, created_at) VALUES (?, ?, ?, ?, ?)",
            (author.key, about.key, text, int(again), created_at),
        )
        return Note(note_id, author.key, about.key, text, again, _dt(created_at))

    async def notes_by(self, author: MemberRef) -> list[Note]:
        rows = await self._all(
            "SELECT id, author, about, text, again, created_at FROM notes"
            " WHERE author = ? ORDER BY created_at DESC, id DESC",
            (author.key,),
        )
        return [_note(row) for row in rows]

    async def wants_again(self, author: MemberRef, about: MemberRef) -> bool:
        row = await self._one(
            "SELECT again FROM notes WHERE author = ? AND about = ?"
            " ORDER BY created_at DESC, id DESC LIMIT 1",
            (author.key, about.key),
        )
        return row is not None and bool(row["again"])

    async def mark_again_revealed(self, a: MemberRef, b: MemberRef) -> bool:
        first, second = _pair(a.key, b.key)
        changed = await self._run(
            "INSERT INTO again_reveals (a, b, revealed_at) VALUES (?, ?, ?)"
            " ON CONFLICT (a, b) DO NOTHING",
            (first, second, self._now()),
        )
        return changed == 1

    # --- privacy -------------------------------------------------------------------------
    async def export_member(self, ref: MemberRef) -> dict[str, Any]:
        member = await self.get_member(ref)
        card = await self.get_card(ref)
        attendance = await self._all(
            "SELECT m.id, m.community_id, m.room, m.name, a.joined_at FROM attendance a"
            " JOIN meetups m ON m.id = a.meetup_id WHERE a.member = ? ORDER BY a.id",
            (ref.key,),
        )
        blocks = await self._all(
            "SELECT whom, created_at FROM blocks WHERE who = ? ORDER BY created_at, whom",
            (ref.key,),
        )
        return {
            "member": ref.key,
            "exported_at": self._now(),
            "profile": None
            if member is None
            else {
                "platform": member.ref.platform,
                "user_id": member.ref.user_id,
                "display_name": member.display_name,
                "language": member.language,
            },
            "card": {
                "curious_about": list(card.curious_about),
                "can_tell_about": list(card.can_tell_about),
            },
            "attendance": [
                {
                    "meetup_id": row["id"],
                    "community_id": row["community_id"],
                    "room": row["room"],
                    "meetup_name": row["name"],
                    "joined_at": row["joined_at"],
                }
                for row in attendance
            ],
            "blocks": [{"member": row["whom"], "since": row["created_at"]} for row in blocks],
            "notes": [
                {
                    "about": note.about,
                    "text": note.text,
                    "again": note.again,
                    "created_at": _ts(note.created_at),
                }
                for note in await self.notes_by(ref)
            ],
            "encounters": [
                {
                    "round_id": encounter.round_id,
                    "meetup_id": encounter.meetup_id,
                    "meetup_name": encounter.meetup_name,
                    "at": _ts(encounter.at),
                    "other": encounter.other,
                    "other_name": encounter.other_name,
                    "topics": list(encounter.topics),
                }
                for encounter in await self.encounters_of(ref)
            ],
        }

    async def forget_member(self, ref: MemberRef) -> None:
        key = ref.key
        for sql in (
            "DELETE FROM cards WHERE member = ?",
            "DELETE FROM attendance WHERE member = ?",
            "DELETE FROM blocks WHERE who = ? OR whom = ?",
            "DELETE FROM notes WHERE author = ? OR about = ?",
            "DELETE FROM again_reveals WHERE a = ? OR b = ?",
            "UPDATE encounters SET a = NULL, a_name = NULL WHERE a = ?",
            "UPDATE encounters SET b = NULL, b_name = NULL WHERE b = ?",
            # Messages to them were theirs; messages about them cannot be told apart.
            "DELETE FROM outbox WHERE target_kind = 'member' AND target = ?",
            "DELETE FROM members WHERE member = ?",
        ):
            await self._run(sql, (key,) * sql.count("?"))
        # Sent messages to others that name them (a pairing DM listing them as partner). The key
        # is matched as a whole JSON string, literally: instr, not LIKE, since keys may hold % or
        # _. Pending ones stay: they are still due to someone else and go out within seconds.
        await self._run(
            "DELETE FROM outbox WHERE sent_at IS NOT NULL AND instr(payload, ?) > 0", (_json(key),)
        )
        await self._run("DELETE FROM encounters WHERE a IS NULL AND b IS NULL")
        await self._forget_in_rounds(key)

    async def _forget_in_rounds(self, key: str) -> None:
        """Take the member out of every round's groups; the others keep their group."""
        rows = await self._all(
            "SELECT g.id, g.reasons FROM group_members gm"
            " JOIN round_groups g ON g.id = gm.group_id WHERE gm.member = ?",
            (key,),
        )
        await self._run("DELETE FROM group_members WHERE member = ?", (key,))
        for row in rows:
            remaining = await self._all(
                "SELECT member FROM group_members WHERE group_id = ? ORDER BY position",
                (row["id"],),
            )
            if not remaining:
                await self._run("DELETE FROM round_groups WHERE id = ?", (row["id"],))
                continue
            reasons = [
                item
                for item in json.loads(row["reasons"])
                if key not in (item.get("teller"), item.get("asker"))
            ]
            await self._run(
                "UPDATE round_groups SET group_key = ?, reasons = ? WHERE id = ?",
                (_group_key(r["member"] for r in remaining), _json(reasons), row["id"]),
            )
        # Prompt history is keyed by the set of people; drop every set they were part of.
        uses = await self._all("SELECT DISTINCT group_key FROM icebreaker_uses")
        for use in uses:
            if key in use["group_key"].split("|"):
                await self._run(
                    "DELETE FROM icebreaker_uses WHERE group_key = ?", (use["group_key"],)
                )

    async def purge_older_than(self, cutoff: datetime) -> int:
        limit = _ts(cutoff)
        # A DONE round goes with everything that hangs off it: its groups, their members and
        # its encounters (an encounter recorded just after the cutoff of a round that began
        # before it too; the meeting itself is older). Deleted child first rather than by
        # ON DELETE CASCADE, because SQLite does not count cascaded rows in changes().
        old_rounds = "SELECT id FROM rounds WHERE state = ? AND created_at < ?"
        done = (RoundState.DONE.value, limit)
        removed = 0
        for sql, params in (
            ("DELETE FROM notes WHERE created_at < ?", (limit,)),
            ("DELETE FROM encounters WHERE at < ?", (limit,)),
            ("DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ?", (limit,)),
            ("DELETE FROM icebreaker_uses WHERE used_at < ?", (limit,)),
            (f"DELETE FROM encounters WHERE round_id IN ({old_rounds})", done),
            (f"DELETE FROM group_members WHERE round_id IN ({old_rounds})", done),
            (f"DELETE FROM round_groups WHERE round_id IN ({old_rounds})", done),
            (f"DELETE FROM rounds WHERE id IN ({old_rounds})", done),
        ):
            removed += await self._run(sql, params)
        return removed

    # --- outbox --------------------------------------------------------------------------
    async def enqueue(self, message: NewOutboxMessage) -> int:
        return await self._insert(
            "INSERT INTO outbox (community_id, target_kind, target, kind, text, payload,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                message.community_id,
                TargetKind(message.target_kind).value,
                message.target,
                message.kind,
                message.text,
                _json(message.payload),
                self._now(),
            ),
        )

    async def pending_outbox(
        self, limit: int = 100, platform: str | None = None
    ) -> list[OutboxMessage]:
        prefix = "" if platform is None else f"{platform}:"
        rows = await self._all(
            "SELECT id, community_id, target_kind, target, kind, text, payload, created_at,"
            " sent_at FROM outbox WHERE sent_at IS NULL AND substr(community_id, 1, ?) = ?"
            " ORDER BY id LIMIT ?",
            (len(prefix), prefix, limit),
        )
        return [_outbox_message(row) for row in rows]

    async def record_failure(self, message_id: int, error: str) -> int:
        row = await self._one(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?"
            " RETURNING attempts",
            (error[:MAX_ERROR_CHARS], message_id),
        )
        return 0 if row is None else int(row["attempts"])

    async def mark_sent(self, message_id: int, at: datetime) -> None:
        await self._run(
            "UPDATE outbox SET sent_at = ? WHERE id = ? AND sent_at IS NULL",
            (_ts(at), message_id),
        )

    # --- adapter state -------------------------------------------------------------------
    async def get_state(self, key: str) -> str | None:
        row = await self._one("SELECT value FROM adapter_state WHERE key = ?", (key,))
        return None if row is None else str(row["value"])

    async def set_state(self, key: str, value: str) -> None:
        await self._run(
            "INSERT INTO adapter_state (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    async def delete_state(self, key: str) -> bool:
        return await self._run("DELETE FROM adapter_state WHERE key = ?", (key,)) > 0


# --- rows to models ------------------------------------------------------------------------
def _member(row: sqlite3.Row) -> Member:
    return Member(MemberRef(row["platform"], row["user_id"]), row["display_name"], row["language"])


def _meetup(row: sqlite3.Row) -> Meetup:
    return Meetup(row["id"], row["community_id"], row["room"], row["name"])


def _round(row: sqlite3.Row, groups: tuple[Group, ...]) -> Round:
    return Round(
        id=row["id"],
        meetup_id=row["meetup_id"],
        number=row["number"],
        seed=row["seed"],
        state=RoundState(row["state"]),
        created_at=_dt(row["created_at"]),
        groups=groups,
    )


def _reason_json(reason: Reason) -> dict[str, str | None]:
    return {
        "kind": ReasonKind(reason.kind).value,
        "topic": reason.topic,
        "teller": reason.teller,
        "asker": reason.asker,
    }


def _reason(item: dict[str, Any]) -> Reason:
    return Reason(ReasonKind(item["kind"]), item["topic"], item.get("teller"), item.get("asker"))


def _encounter(row: sqlite3.Row, viewer: str) -> Encounter:
    if row["a"] == viewer:
        other, other_name = row["b"], row["b_name"]
    else:
        other, other_name = row["a"], row["a_name"]
    return Encounter(
        round_id=row["round_id"],
        meetup_id=row["meetup_id"],
        meetup_name=row["meetup_name"],
        at=_dt(row["at"]),
        member=viewer,
        other=other,
        other_name=other_name if other is not None else FORGOTTEN_NAME,
        topics=tuple(json.loads(row["topics"])),
    )


def _note(row: sqlite3.Row) -> Note:
    return Note(
        id=row["id"],
        author=row["author"],
        about=row["about"],
        text=row["text"],
        again=bool(row["again"]),
        created_at=_dt(row["created_at"]),
    )


def _outbox_message(row: sqlite3.Row) -> OutboxMessage:
    return OutboxMessage(
        id=row["id"],
        community_id=row["community_id"],
        target_kind=TargetKind(row["target_kind"]),
        target=row["target"],
        kind=row["kind"],
        text=row["text"],
        payload=json.loads(row["payload"]),
        created_at=_dt(row["created_at"]),
        sent_at=_dt_or_none(row["sent_at"]),
    )


# --- checks --------------------------------------------------------------------------------
def _check_seed(seed: int) -> None:
    if not _INT64[0] <= seed <= _INT64[1]:
        raise ValueError(f"a round's seed must fit in a signed 64-bit integer, got {seed}")


def _check_groups(groups: Sequence[Group]) -> None:
    seen: set[str] = set()
    for group in groups:
        if not group.members:
            raise ValueError("a group needs at least one member")
        for key in group.members:
            if key in seen:
                raise ValueError(f"{key} is in more than one group of the round")
            seen.add(key)

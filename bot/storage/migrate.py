"""Numbered SQL migrations, with the schema version kept in the database.

Each ``migrations/NNNN_name.sql`` file starts with a ``-- why: ...`` line. ``migrate`` applies
the files the database has not seen yet, each in its own transaction that also records the new
version, so a failed step leaves the database exactly at the previous version. A database that is
newer than this code is refused rather than guessed at.

The connection must be in autocommit mode (``isolation_level=None``): this module issues its own
``BEGIN IMMEDIATE`` / ``COMMIT``.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

import aiosqlite

from bot.core.ports import StoreError

log = logging.getLogger(__name__)

_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")
_WHY_PREFIX = "-- why:"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    why: str
    sql: str

    @property
    def statements(self) -> list[str]:
        """The file's SQL split into single statements (triggers and comments respected)."""
        statements: list[str] = []
        buffer = ""
        for line in self.sql.splitlines(keepends=True):
            buffer += line
            if sqlite3.complete_statement(buffer):
                if not _only_comments(buffer):
                    statements.append(buffer.strip())
                buffer = ""
        if not _only_comments(buffer):
            raise ValueError(f"migration {self.version:04d}_{self.name}: unterminated statement")
        return statements


def _only_comments(sql: str) -> bool:
    return all(not line.strip() or line.lstrip().startswith("--") for line in sql.splitlines())


def available_migrations() -> list[Migration]:
    """The migrations shipped with this Funkel, ordered by version (compared as integers).

    Versions must run 1, 2, 3 ... without gaps, and every file must begin with its why-line;
    anything else is a packaging bug and raises ``ValueError``.
    """
    folder = resources.files("bot.storage").joinpath("migrations")
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _FILE_NAME.match(entry.name)
        if match is None:
            continue
        sql = entry.read_text(encoding="utf-8")
        first_line = sql.partition("\n")[0].strip()
        if not first_line.startswith(_WHY_PREFIX):
            raise ValueError(f"migration {entry.name} must start with a '{_WHY_PREFIX}' line")
        found.append(
            Migration(
                version=int(match["version"]),
                name=match["name"],
                why=first_line.removeprefix(_WHY_PREFIX).strip(),
                sql=sql,
            )
        )
    found.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in found]
    if versions != list(range(1, len(found) + 1)):
        raise ValueError(f"migration versions must be 1, 2, 3 ... without gaps; found {versions}")
    return found


async def migrate(conn: aiosqlite.Connection) -> int:
    """Bring the database on ``conn`` (an aiosqlite connection) to the latest version.

    Returns the version the database is at afterwards. Raises ``StoreError`` when the database
    is newer than this code or a step fails (the database then stays at the previous version).
    """
    migrations = available_migrations()
    latest = migrations[-1].version if migrations else 0
    where = await _database_name(conn)

    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    current = await _current_version(conn)
    _refuse_newer(where, current, latest)

    for migration in migrations:
        if migration.version <= current:
            continue
        await conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while we waited for the write lock.
            current = await _current_version(conn)
            _refuse_newer(where, current, latest)
            if migration.version <= current:
                await _rollback(conn)
                continue
            for statement in migration.statements:
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, datetime.now(UTC).isoformat()),
            )
            await conn.execute("COMMIT")
        except sqlite3.Error as exc:
            await _rollback(conn)
            raise StoreError(
                f"cannot migrate database {where} to schema version {migration.version} "
                f"({migration.name}): {exc} — the database was left at version {current}; "
                "restore a backup or report this as a bug"
            ) from exc
        except BaseException:
            await _rollback(conn)
            raise
        current = migration.version
        log.info("database %s migrated to version %d (%s)", where, current, migration.name)
    return current


async def _rollback(conn: aiosqlite.Connection) -> None:
    # SQLite may already have rolled back on its own (e.g. disk full); don't mask the cause.
    if conn.in_transaction:
        await conn.execute("ROLLBACK")


def _refuse_newer(where: str, current: int, latest: int) -> None:
    if current > latest:
        raise StoreError(
            f"database {where} is at schema version {current} but this Funkel knows only up "
            f"to {latest} — upgrade Funkel or restore a backup"
        )


async def _current_version(conn: aiosqlite.Connection) -> int:
    async with conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row is not None else 0


async def _database_name(conn: aiosqlite.Connection) -> str:
    async with conn.execute("SELECT file FROM pragma_database_list WHERE name = 'main'") as cursor:
        row = await cursor.fetchone()
    return str(row[0]) if row and row[0] else ":memory:"

"""SQLite migrations: numbered files, version in the database, one transaction per step."""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from bot.core.ports import StoreError
from bot.storage import migrate as migrate_module
from bot.storage.migrate import Migration, available_migrations, migrate
from bot.storage.sqlite import SqliteStore

LATEST = available_migrations()[-1].version


def schema(path: Path) -> dict[str, Any]:
    """Everything that makes up the schema, normalised, without the data."""
    with closing(sqlite3.connect(path)) as conn:
        objects = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master"
            " WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
        ).fetchall()
        tables = [name for kind, name, _, _ in objects if kind == "table"]
        return {
            "objects": [
                (kind, name, table, re.sub(r"\s+", " ", sql or "").strip())
                for kind, name, table, sql in objects
            ],
            "columns": {t: conn.execute(f"PRAGMA table_info('{t}')").fetchall() for t in tables},
            "foreign_keys": {
                t: conn.execute(f"PRAGMA foreign_key_list('{t}')").fetchall() for t in tables
            },
            "indexes": {t: conn.execute(f"PRAGMA index_list('{t}')").fetchall() for t in tables},
        }


def versions(path: Path) -> list[tuple[int, str]]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute("SELECT version, name FROM schema_version ORDER BY version").fetchall()


def only(migrations: list[Migration]) -> Callable[[], list[Migration]]:
    return lambda: list(migrations)


async def open_and_close(path: Path) -> None:
    store = SqliteStore(path)
    await store.open()
    await store.close()


async def test_migrated_schema_equals_fresh_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Upgrading one version per restart gives exactly the schema of a new database."""
    fresh, migrated = tmp_path / "fresh.sqlite3", tmp_path / "migrated.sqlite3"
    await open_and_close(fresh)
    shipped = available_migrations()
    for upto in range(1, len(shipped) + 1):
        monkeypatch.setattr(migrate_module, "available_migrations", only(shipped[:upto]))
        await open_and_close(migrated)
        assert versions(migrated)[-1][0] == upto
    assert schema(migrated) == schema(fresh)


async def test_every_version_is_recorded_with_its_name(tmp_path: Path) -> None:
    """The database lists each applied migration, 1 to the latest, by integer version."""
    path = tmp_path / "funkel.sqlite3"
    await open_and_close(path)
    assert versions(path) == [(m.version, m.name) for m in available_migrations()]
    assert versions(path)[-1][0] == LATEST


async def test_reopening_does_not_apply_migrations_again(tmp_path: Path) -> None:
    """A second start finds the database current and changes nothing."""
    path = tmp_path / "funkel.sqlite3"
    await open_and_close(path)
    with closing(sqlite3.connect(path)) as conn:
        before = conn.execute("SELECT * FROM schema_version").fetchall()
    await open_and_close(path)
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT * FROM schema_version").fetchall() == before


async def test_migrate_returns_the_version_reached(tmp_path: Path) -> None:
    """migrate() on a bare connection brings it to the latest version, and is idempotent."""
    async with aiosqlite.connect(tmp_path / "bare.sqlite3", isolation_level=None) as conn:
        assert await migrate(conn) == LATEST
        assert await migrate(conn) == LATEST


def test_shipped_migrations_explain_themselves() -> None:
    """Each file starts with a why-line, and versions run 1, 2, 3 ... without gaps."""
    shipped = available_migrations()
    assert [m.version for m in shipped] == list(range(1, len(shipped) + 1))
    assert all(m.why and m.statements for m in shipped)


async def test_a_newer_database_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    """Version 10 > 2 is compared as a number (as text "10" < "2") and refused."""
    path = tmp_path / "funkel.sqlite3"
    await open_and_close(path)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "INSERT INTO schema_version (version, name, applied_at) VALUES (10, 'future', 'x')"
        )
    with pytest.raises(StoreError) as caught:
        await open_and_close(path)
    assert str(caught.value) == (
        f"database {path} is at schema version 10 but this Funkel knows only up to {LATEST}"
        " — upgrade Funkel or restore a backup"
    )


async def test_a_failing_migration_leaves_the_version_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step that fails halfway is rolled back completely, version included."""
    path = tmp_path / "funkel.sqlite3"
    await open_and_close(path)
    broken = Migration(
        version=LATEST + 1,
        name="broken",
        why="a test",
        sql=(
            "-- why: a test\nCREATE TABLE half_done (x INTEGER);\nINSERT INTO missing VALUES (1);\n"
        ),
    )
    monkeypatch.setattr(
        migrate_module, "available_migrations", only([*available_migrations(), broken])
    )
    with pytest.raises(StoreError) as caught:
        await open_and_close(path)
    message = str(caught.value)
    assert str(path) in message and f"left at version {LATEST}" in message
    assert versions(path)[-1][0] == LATEST
    with closing(sqlite3.connect(path)) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert "half_done" not in tables


async def test_a_missing_folder_is_named_with_what_to_do(tmp_path: Path) -> None:
    """The operator learns which folder is missing; nothing is created."""
    path = tmp_path / "nope" / "funkel.sqlite3"
    with pytest.raises(StoreError) as caught:
        await open_and_close(path)
    assert str(caught.value) == (
        f"cannot open database {path}: the folder {path.parent} does not exist"
        " — create it or set storage.database in the config"
    )
    assert not path.parent.exists()


async def test_an_unwritable_folder_is_named_with_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """WAL needs to write next to the database; a read-only folder is reported as such."""
    folder = tmp_path / "readonly"
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:
        # root may write anywhere; judge by the permission bits as any other user would.
        real_access = os.access

        def access(target: Any, mode: int, **kwargs: Any) -> bool:
            if Path(target) == folder and mode & os.W_OK:
                return False
            return real_access(target, mode, **kwargs)

        monkeypatch.setattr(os, "access", access)
    path = folder / "funkel.sqlite3"
    try:
        with pytest.raises(StoreError) as caught:
            await open_and_close(path)
    finally:
        folder.chmod(0o755)
    assert str(caught.value) == (
        f"cannot open database {path}: the folder {folder} is not writable by this user"
        " — fix its permissions or set storage.database in the config"
    )


async def test_a_file_that_is_not_a_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    """Pointing storage.database at another file explains the mistake and keeps the file."""
    path = tmp_path / "notes.txt"
    content = b"Shopping list: figs, bread, sardines.\n" * 20
    path.write_bytes(content)
    with pytest.raises(StoreError) as caught:
        await open_and_close(path)
    assert str(caught.value) == (
        f"cannot open database {path}: the file is not an SQLite database"
        " — point storage.database at a Funkel database, or move this file away to start"
        " with a new one"
    )
    assert path.read_bytes() == content


async def test_a_folder_given_as_database_path_is_refused(tmp_path: Path) -> None:
    """A folder instead of a file gets a suggestion of a file path."""
    with pytest.raises(StoreError) as caught:
        await open_and_close(tmp_path)
    message = str(caught.value)
    assert str(tmp_path) in message and "it is a folder, not a file" in message


async def test_adapter_state_arrives_on_a_version_2_database_and_keeps_its_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An existing database (before adapters kept state) gains the table; nothing is lost."""
    path = tmp_path / "funkel.sqlite3"
    shipped = available_migrations()
    monkeypatch.setattr(migrate_module, "available_migrations", only(shipped[:2]))
    await open_and_close(path)
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("INSERT INTO communities (id, language) VALUES ('matrix:@bot:x', 'de')")
        conn.commit()
    monkeypatch.setattr(migrate_module, "available_migrations", lambda: shipped)
    store = SqliteStore(path)
    await store.open()
    try:
        async with store.transaction() as tx:
            community = await tx.get_community("matrix:@bot:x")
            assert community is not None and community.language == "de"
            assert await tx.get_state("matrix.sync_token") is None
            await tx.set_state("matrix.sync_token", "s1")
        async with store.transaction() as tx:
            assert await tx.get_state("matrix.sync_token") == "s1"
    finally:
        await store.close()
    assert versions(path)[-1] == (3, "adapter_state")

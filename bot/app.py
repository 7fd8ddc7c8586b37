"""Composition root: open the store, build the services, run an adapter, stop cleanly."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any, TextIO

from bot.adapters.console import CONSOLE_HELP, ConsoleAdapter, ConsoleInputError, parse_line
from bot.config import Config
from bot.core.delivery import Deliverer
from bot.core.i18n import use_prefix
from bot.core.ports import Store, StoreError
from bot.core.service import Service, Settings
from bot.storage.sqlite import SqliteStore

log = logging.getLogger(__name__)


def settings_from(config: Config) -> Callable[[str], Settings]:
    """The configured community settings; a Discord server listed under ``discord.guilds``
    overrides its language, round length (and, in the adapter, its organizer role)."""
    c = config.community
    base = Settings(
        language=c.language,
        organizers=frozenset(c.organizers),
        round_minutes=c.round_minutes,
        retention_days=c.retention_days,
    )
    own: dict[str, Settings] = {}
    for guild_id, values in ((config.discord or {}).get("guilds") or {}).items():
        own[f"discord:{guild_id}"] = replace(
            base,
            language=values.get("language", base.language),
            round_minutes=values.get("round_minutes", base.round_minutes),
        )
    return lambda community_id: own.get(community_id, base)


def open_store(database: str) -> Store:
    if database.startswith(("postgres://", "postgresql://")):
        raise StoreError(
            "PostgreSQL is not supported yet; set storage.database to a SQLite file path"
        )
    return SqliteStore(database)


@dataclass
class App:
    store: Store
    service: Service


@asynccontextmanager
async def running(config: Config, *, seed: int | None = None) -> AsyncIterator[App]:
    """An opened, migrated store and the service on top; closed on the way out."""
    store = open_store(config.storage.database)
    await store.open()
    try:
        rng = random.Random(seed) if seed is not None else random.SystemRandom()
        service = Service(
            store, settings=settings_from(config), new_seed=lambda: rng.randrange(2**31)
        )
        yield App(store, service)
    finally:
        await store.close()


async def console_session(
    config: Config, stdin: TextIO, out: TextIO, *, seed: int | None = None, prompt: bool = False
) -> None:
    """Read lines like ``@anna join`` until EOF or 'quit', printing a transcript."""
    async with running(config, seed=seed) as app:
        adapter = ConsoleAdapter(out)
        deliverer = Deliverer(app.store, adapter.send)
        purged = await app.service.purge_expired("console:default")
        if purged:
            log.info("retention: removed %d old rows", purged)
        out.write("Funkel console. Type 'help' for how it works, 'quit' to leave.\n")
        with use_prefix(""):
            while True:
                if prompt:
                    out.write("> ")
                out.flush()
                line = await asyncio.to_thread(stdin.readline)
                if not line or line.strip() in {"quit", "exit"}:
                    break
                if line.strip() in {"help", "?"}:
                    out.write(CONSOLE_HELP + "\n")
                    continue
                try:
                    event = parse_line(line)
                except ConsoleInputError as exc:
                    out.write(f"  {exc}\n")
                    continue
                if event is None:
                    continue
                adapter.remember(event)
                if not prompt:
                    adapter.show_input(event)
                try:
                    replies = await app.service.handle(event)
                    adapter.show_replies(event, replies)
                    await deliverer.deliver_pending()
                except StoreError as exc:
                    # e.g. another process holds the database lock: say so, keep the session.
                    out.write(f"  Could not do that right now: {exc}. Try the line again.\n")
        out.flush()


async def serve(config: Config, stop: asyncio.Event | None = None) -> None:
    """``funkel run``: serve every platform the config sets up until ``stop`` is set.

    Raises ``StartupError`` when the config sets up no platform, its support is not
    installed, or a platform refuses to start (one failing stops the others).
    """
    from bot.adapters import StartupError, cancel_and_wait

    if not config.matrix and not config.discord:
        raise StartupError(
            f"{config.source} sets up no chat platform to run — add a discord: section (token) "
            "or a matrix: section (homeserver, user_id, access_token); see config.example.yaml "
            "and the README's Discord and Matrix sections"
        )
    async with running(config) as app:
        runners: list[Coroutine[Any, Any, None]] = []
        if config.discord:
            runners.append(await _discord(config, app))
        if config.matrix:
            runners.append(await _matrix(config, app))
        tasks = [asyncio.create_task(r) for r in runners]
        waiter = asyncio.create_task((stop or asyncio.Event()).wait())
        try:
            done, _ = await asyncio.wait({*tasks, waiter}, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                if task in done:
                    task.result()  # a startup error: raise it
        finally:
            for pending in (*tasks, waiter):
                await cancel_and_wait(pending)
        log.info("stopped cleanly")


def _missing(platform: str, extra: str, exc: ImportError) -> Exception:
    from bot.adapters import StartupError

    return StartupError(
        f"{platform} support is not installed ({exc.name} is missing) — install it with "
        f"pip install 'funkel[{extra}]'"
    )


async def _discord(config: Config, app: App) -> Coroutine[Any, Any, None]:
    try:
        from bot.adapters.discord import DiscordAdapter, DiscordSettings
    except ImportError as exc:
        raise _missing("Discord", "discord", exc) from None
    settings = DiscordSettings.from_config(config)
    purged = await app.service.purge_expired("discord")  # retention is the same everywhere
    if purged:
        log.info("retention: removed %d old rows", purged)
    return DiscordAdapter(settings, app.service, app.store).run()


async def _matrix(config: Config, app: App) -> Coroutine[Any, Any, None]:
    try:
        from bot.adapters.matrix import MatrixAdapter, MatrixSettings
    except ImportError as exc:
        raise _missing("Matrix", "matrix", exc) from None
    settings = MatrixSettings.from_config(config)
    purged = await app.service.purge_expired(f"matrix:{settings.user_id}")
    if purged:
        log.info("retention: removed %d old rows", purged)
    return MatrixAdapter(settings, app.service, app.store, language=config.community.language).run()

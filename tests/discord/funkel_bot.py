"""Run Funkel's Discord adapter against the fake Discord, the way ``funkel run`` does.

``FunkelBot`` owns a SQLite store (a file under ``tmp_path``, so a "restarted" bot finds the
same data) and the service, builds ``DiscordAdapter`` and runs it as a task; ``stop`` cancels
it like a SIGTERM would, ``crash`` cancels it without waiting for anything to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.adapters.discord import DiscordAdapter, DiscordSettings, GuildSettings
from bot.core.service import Service, Settings
from bot.storage.sqlite import SqliteStore


@dataclass
class FunkelBot:
    database: Path
    token: str
    guild_ids: frozenset[int] = frozenset()
    organizer_role: str | None = None
    languages: Mapping[int, str] = field(default_factory=dict)  # guild id -> language
    organizers: frozenset[str] = frozenset()
    seed: int = 7
    adapter: DiscordAdapter | None = None
    store: SqliteStore | None = None
    task: asyncio.Task[None] | None = None

    def _settings(self, community_id: str) -> Settings:
        guild = int(community_id.split(":", 1)[1]) if community_id[-1:].isdigit() else 0
        return Settings(
            language=self.languages.get(guild, "en"),
            organizers=self.organizers,
            round_minutes=10,
        )

    async def start(self, **client_options: Any) -> DiscordAdapter:
        self.store = SqliteStore(str(self.database))
        await self.store.open()
        rng = random.Random(self.seed)
        service = Service(
            self.store, settings=self._settings, new_seed=lambda: rng.randrange(2**31)
        )
        settings = DiscordSettings(
            token=self.token,
            guild_ids=self.guild_ids,
            organizer_role=self.organizer_role,
            guilds={g: GuildSettings() for g in self.languages},
        )
        client_options.setdefault("guild_ready_timeout", 0.05)
        self.adapter = DiscordAdapter(
            settings, service, self.store, deliver_poll_seconds=0.2, **client_options
        )
        self.task = asyncio.create_task(self.adapter.run())
        ready = asyncio.create_task(self.adapter.ready.wait())
        done, _ = await asyncio.wait({self.task, ready}, timeout=10, return_when="FIRST_COMPLETED")
        if self.task in done:
            ready.cancel()
            self.task.result()  # raises why it stopped
            raise AssertionError("the adapter stopped before it was ready")
        assert ready in done, "the adapter was not ready within 10 s"
        return self.adapter

    async def stop(self) -> None:
        """Cancel the adapter (it closes the Discord connection) and close the store."""
        if self.task is not None and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self.task, 10)
        self.task = None
        if self.store is not None:
            await self.store.close()
            self.store = None

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until the outbox is empty (everything delivered or given up)."""
        assert self.store is not None
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            async with self.store.transaction() as tx:
                if not await tx.pending_outbox(1):
                    return
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("the outbox was not delivered in time")
            await asyncio.sleep(0.05)

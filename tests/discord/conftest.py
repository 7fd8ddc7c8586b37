"""Fixtures for offline tests of discord.py code against the local fake Discord.

* ``fake`` (function scope): a started :class:`FakeDiscord` on 127.0.0.1 (random port) with
  discord.py pointed at it, ERROR logs of ``discord`` and ``bot`` (and exceptions nobody
  retrieved in the event loop) collected in ``fake.errors``. At teardown it closes clients
  still watched, stops the fake and fails the test if the bot called a route the fake does
  not know (``fake.unhandled``) or anything ended up in ``fake.errors``.
* ``start_client`` / ``stop_client`` (defined in ``fakediscord`` so test modules can import
  them, re-exported here): start a ``discord.Client`` (or ``commands.Bot``) and wait until it
  is ready, surfacing the real exception if ``start()`` dies; no Funkel imports, so a
  Funkel-specific fixture can build on them.

This directory deliberately has no ``__init__.py``: with pytest's default "prepend" import
mode a package named ``discord`` would be imported as the top-level module ``discord`` and
shadow discord.py itself. Without it, pytest puts this directory on ``sys.path``, so the
fake is imported as ``fakediscord`` (keep test file names here unique across ``tests/``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import discord
import discord.gateway
import discord.http
import pytest
import yarl
from fakediscord import FakeDiscord, start_client, stop_client

__all__ = ["fake", "start_client", "stop_client"]

#: Loggers whose ERROR records fail a test: discord.py (it logs exceptions from commands,
#: views, modals and event handlers instead of raising them) and the bot's own hierarchy
#: (``bot.adapters.discord`` and friends).
CAPTURED_LOGGERS = ("discord", "bot")


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    f = FakeDiscord()
    await f.start()
    monkeypatch.setattr(discord.http.Route, "BASE", f.rest_base)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(f.gateway_url)
    )
    f.capture_logs(*CAPTURED_LOGGERS)
    loop = asyncio.get_running_loop()
    previous_handler = loop.get_exception_handler()
    loop.set_exception_handler(f.loop_exception_handler)
    try:
        yield f
    finally:
        for client, task in f.watched_clients:
            if not task.done():
                await stop_client(client, task, fake=f)
        await f.stop()
        loop.set_exception_handler(previous_handler)
    problems = []
    if f.unhandled:
        routes = "\n".join(f"  {r.method} {r.path} {r.query or ''}" for r in f.unhandled)
        problems.append(f"the bot called routes the fake does not know:\n{routes}")
    if f.errors:
        problems.append(f"errors while the bot ran:\n{f.describe_errors()}")
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)

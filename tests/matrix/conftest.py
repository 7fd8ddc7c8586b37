"""Fixtures for end-to-end tests against a real Synapse on 127.0.0.1 (issue 4).

* ``synapse`` (session): one homeserver for the whole test session, stopped at the end
  even when a test fails. Tests share it, so each test registers fresh users.
* ``matrix_client`` (function): ``await matrix_client("alice")`` registers a fresh user
  and returns a logged-in :class:`nio.AsyncClient`; all of them are closed at teardown.

The ``synapse`` fixture is synchronous on purpose: with pytest-asyncio 1.x a session-scoped
*async* fixture needs ``@pytest_asyncio.fixture(scope="session", loop_scope="session")`` and
every test using it a session loop too. Starting a subprocess needs no event loop, so the
clients (function scope, function loop — the project default) can stay simple.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from nio import AsyncClient, AsyncClientConfig, LoginResponse

from .botctl import BotAccount, InProcessBot, register_bot
from .people import Person
from .synapse import Synapse

# nio retries a 429 forever by default (max_limit_exceeded=None) and a refused
# connection forever too (max_timeouts=None): a test would hang instead of failing.
CLIENT_CONFIG = AsyncClientConfig(
    max_limit_exceeded=0,
    max_timeouts=2,
    max_timeout_retry_wait_time=1,
    request_timeout=30,
    encryption_enabled=False,
)
E2EE_CLIENT_CONFIG = AsyncClientConfig(
    max_limit_exceeded=0,
    max_timeouts=2,
    max_timeout_retry_wait_time=1,
    request_timeout=30,
    encryption_enabled=True,
    store_sync_tokens=True,
)
PASSWORD = "correct horse battery staple"

ClientFactory = Callable[..., Awaitable[AsyncClient]]


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    hs = Synapse(tmp_path_factory.mktemp("synapse"))
    try:
        hs.start()
        yield hs
    finally:
        hs.stop()


@pytest.fixture
async def matrix_client(synapse: Synapse, tmp_path: Path) -> AsyncIterator[ClientFactory]:
    """Factory: ``await matrix_client(name, *, password_login=False, encrypted=False)``.

    The localpart is ``name`` plus a random suffix (the server lives for the session).
    By default the access token from registration is reused via ``restore_login``
    (no /login round trip); ``password_login=True`` goes through ``/login`` instead.
    ``encrypted=True`` gives the client its own nio store under ``tmp_path``.
    """
    clients: list[AsyncClient] = []

    async def make(
        name: str = "user",
        *,
        password_login: bool = False,
        encrypted: bool = False,
        config: AsyncClientConfig | None = None,
    ) -> AsyncClient:
        localpart = f"{name.lower()}-{uuid.uuid4().hex[:8]}"
        reg = await asyncio.to_thread(synapse.register_user, localpart, PASSWORD)
        store_path = ""
        if encrypted:
            store = tmp_path / f"nio-store-{localpart}"
            store.mkdir()
            store_path = str(store)
        client = AsyncClient(
            synapse.base_url,
            reg["user_id"],
            store_path=store_path,
            config=config or (E2EE_CLIENT_CONFIG if encrypted else CLIENT_CONFIG),
        )
        clients.append(client)
        if password_login:
            resp = await client.login(PASSWORD, device_name=f"funkel-test-{name}")
            assert isinstance(resp, LoginResponse), resp
        else:
            client.restore_login(reg["user_id"], reg["device_id"], reg["access_token"])
        return client

    yield make
    for client in clients:
        await client.close()


PeopleFactory = Callable[..., Awaitable[list["Person"]]]


@pytest.fixture
def bot_account(synapse: Synapse) -> BotAccount:
    """A fresh bot account for this test (the homeserver lives for the whole session)."""
    return register_bot(synapse, f"funkel-{uuid.uuid4().hex[:8]}")


@pytest.fixture
async def people(
    matrix_client: ClientFactory, bot_account: BotAccount
) -> AsyncIterator[PeopleFactory]:
    """Factory: ``await people("Ada", "Ben")`` -> started ``Person``s with those display names,
    each syncing in the background (joining every invite, recording the bot's messages)."""
    started: list[Person] = []

    async def make(*names: str, encrypted: bool = False) -> list[Person]:
        clients = await asyncio.gather(
            *(matrix_client(name, encrypted=encrypted) for name in names)
        )
        out = [Person(c, n, bot_account.user_id) for c, n in zip(clients, names, strict=True)]
        await asyncio.gather(*(p.start() for p in out))
        started.extend(out)
        return out

    yield make
    await asyncio.gather(*(p.stop() for p in started))


@pytest.fixture
async def in_process_bot(
    synapse: Synapse, bot_account: BotAccount, tmp_path: Path
) -> AsyncIterator[InProcessBot]:
    """The bot (not started: set ``rooms`` etc., then ``await bot.start()``); stopped after."""
    directory = tmp_path / "bot"
    directory.mkdir()
    bot = InProcessBot(bot_account, directory, synapse)
    yield bot
    await bot.stop()

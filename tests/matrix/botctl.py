"""Run the real Funkel Matrix adapter against the test homeserver, in-process or as a
``funkel run`` child process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.adapters.matrix import MatrixAdapter, MatrixSettings
from bot.core.service import Service, Settings
from bot.storage.sqlite import SqliteStore

from .synapse import Synapse

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class BotAccount:
    user_id: str
    access_token: str
    device_id: str


def register_bot(synapse: Synapse, localpart: str) -> BotAccount:
    reg = synapse.register_user(localpart, "bot password")
    return BotAccount(reg["user_id"], reg["access_token"], reg["device_id"])


@dataclass
class InProcessBot:
    """The adapter as a task in the test's event loop, on its own SQLite file."""

    account: BotAccount
    directory: Path
    synapse: Synapse
    rooms: tuple[str, ...] | None = None
    organizers: frozenset[str] = frozenset()
    pairing_delivery: str = "dm"
    password: str | None = None  # log in with the password instead of the token
    adapter: MatrixAdapter | None = None
    store: SqliteStore | None = None
    task: asyncio.Task[None] | None = None
    seed: int = 7
    _seeds: list[int] = field(default_factory=list)

    @property
    def db_path(self) -> Path:
        return self.directory / "funkel.sqlite3"

    async def start(self) -> MatrixAdapter:
        self.store = SqliteStore(self.db_path)
        await self.store.open()
        settings = MatrixSettings(
            homeserver=self.synapse.base_url,
            user_id=self.account.user_id,
            access_token=None if self.password else self.account.access_token,
            password=self.password,
            device_id=None if self.password else self.account.device_id,
            store_path=self.directory / "nio-store",
            rooms=self.rooms,
            pairing_delivery=self.pairing_delivery,
            organizers=self.organizers,
        )
        seeds = iter(range(self.seed, self.seed + 1000))
        service = Service(
            self.store,
            settings=lambda _c: Settings(organizers=self.organizers),
            new_seed=lambda: next(seeds),
        )
        self.adapter = MatrixAdapter(
            settings, service, self.store, sync_timeout_ms=5_000, deliver_poll_seconds=1.0
        )
        self.task = asyncio.create_task(self.adapter.run())
        ready = asyncio.create_task(self.adapter.ready.wait())
        done, _ = await asyncio.wait({self.task, ready}, timeout=60, return_when="FIRST_COMPLETED")
        if self.task in done:
            ready.cancel()
            self.task.result()
        assert ready in done, "the bot did not finish its first sync within 60 s"
        return self.adapter

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None
        if self.store is not None:
            await self.store.close()
            self.store = None


def pending_outbox(db_path: Path) -> int:
    with closing(sqlite3.connect(db_path)) as conn:
        (count,) = conn.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()
        return int(count)


async def wait_outbox_drained(db_path: Path, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while pending_outbox(db_path) > 0:
        assert time.monotonic() < deadline, "the bot did not deliver its outbox in time"
        await asyncio.sleep(0.2)


@dataclass
class ProcessBot:
    """``funkel run --config`` as a child process (for SIGKILL and restart)."""

    account: BotAccount
    directory: Path
    synapse: Synapse
    rooms: tuple[str, ...]
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def db_path(self) -> Path:
        return self.directory / "funkel.sqlite3"

    @property
    def log_path(self) -> Path:
        return self.directory / "bot.log"

    def write_config(self) -> Path:
        config = {
            "log_level": "INFO",
            "storage": {"database": "funkel.sqlite3"},
            "matrix": {
                "homeserver": self.synapse.base_url,
                "user_id": self.account.user_id,
                "access_token": "${FUNKEL_TEST_MATRIX_TOKEN}",
                "device_id": self.account.device_id,
                "store_path": "nio-store",
                "rooms": list(self.rooms),
            },
        }
        path = self.directory / "config.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return path

    def start(self) -> None:
        config = self.write_config()
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "FUNKEL_TEST_MATRIX_TOKEN": self.account.access_token,
        }
        self.starts += 1
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "run", "--config", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.directory,
            )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc = None

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
        finally:
            self.proc = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

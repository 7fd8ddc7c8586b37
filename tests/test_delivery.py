"""The outbox worker: nothing lost, nothing sent twice, one bad message blocks nobody."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.core.delivery import MAX_ATTEMPTS, Deliverer
from bot.core.models import NewOutboxMessage, OutboxMessage, TargetKind
from bot.storage.sqlite import SqliteStore


async def queue(store: SqliteStore, *texts: str) -> None:
    async with store.transaction() as tx:
        for text in texts:
            await tx.enqueue(NewOutboxMessage("c", TargetKind.MEMBER, "console:x", "test", text))


async def test_a_failing_message_does_not_hold_up_the_others(tmp_path: Path) -> None:
    """When one message keeps failing, every other message is still delivered."""
    store = SqliteStore(tmp_path / "f.sqlite3")
    await store.open()
    await queue(store, "first", "broken", "third")
    delivered: list[str] = []

    async def send(message: OutboxMessage) -> None:
        if message.text == "broken":
            raise ConnectionError("platform hiccup")
        delivered.append(message.text)

    worker = Deliverer(store, send)
    await worker.deliver_pending()
    assert delivered == ["first", "third"]
    async with store.transaction() as tx:
        assert [m.text for m in await tx.pending_outbox()] == ["broken"]
    await store.close()


async def test_a_message_that_always_fails_is_given_up_after_the_limit(tmp_path: Path) -> None:
    """A message failing MAX_ATTEMPTS times leaves the queue instead of retrying forever."""
    store = SqliteStore(tmp_path / "g.sqlite3")
    await store.open()
    await queue(store, "broken")
    tries = 0

    async def send(message: OutboxMessage) -> None:
        nonlocal tries
        tries += 1
        raise ConnectionError("down")

    gave_up: list[str] = []

    async def given_up(message: OutboxMessage) -> None:
        gave_up.append(message.text)

    worker = Deliverer(store, send, given_up=given_up)
    for _ in range(MAX_ATTEMPTS + 2):
        await worker.deliver_pending()
    assert tries == MAX_ATTEMPTS
    assert gave_up == ["broken"]  # told once, so a delivery report can count it
    async with store.transaction() as tx:
        assert await tx.pending_outbox() == []
    await store.close()


async def test_a_message_is_sent_once_across_two_passes(tmp_path: Path) -> None:
    """Once sent and marked, a message is never sent again."""
    store = SqliteStore(tmp_path / "h.sqlite3")
    await store.open()
    await queue(store, "hello")
    delivered: list[str] = []

    async def send(message: OutboxMessage) -> None:
        delivered.append(message.text)

    worker = Deliverer(store, send)
    await worker.deliver_pending()
    await worker.deliver_pending()
    assert delivered == ["hello"]
    await store.close()


async def test_two_platforms_in_one_process_keep_to_their_own_messages(tmp_path: Path) -> None:
    """Discord's worker never takes (and so never loses) a Matrix message, and back."""
    store = SqliteStore(tmp_path / "p.sqlite3")
    await store.open()
    async with store.transaction() as tx:
        for community in ("matrix:@bot:x.org", "discord:1", "matrix:@bot:x.org", "discord:1"):
            await tx.enqueue(
                NewOutboxMessage(community, TargetKind.ROOM, "room", "test", community)
            )
    sent: dict[str, list[str]] = {"discord": [], "matrix": []}

    def sender(platform: str) -> Callable[[OutboxMessage], Awaitable[None]]:
        async def send(message: OutboxMessage) -> None:
            sent[platform].append(message.community_id)

        return send

    await Deliverer(store, sender("discord"), platform="discord").deliver_pending()
    async with store.transaction() as tx:
        assert len(await tx.pending_outbox()) == 2  # Matrix's two still wait for Matrix
    await Deliverer(store, sender("matrix"), platform="matrix").deliver_pending()
    assert sent == {"discord": ["discord:1"] * 2, "matrix": ["matrix:@bot:x.org"] * 2}
    await store.close()

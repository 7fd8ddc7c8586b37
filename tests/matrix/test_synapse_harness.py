"""The Synapse test harness itself, and the homeserver facts the Matrix adapter relies on.

Every test talks to the real Synapse started by the session-scoped ``synapse`` fixture
over 127.0.0.1, through matrix-nio.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from nio import (
    AsyncClient,
    ErrorResponse,
    InviteMemberEvent,
    JoinResponse,
    RoomCreateResponse,
    RoomGetStateEventResponse,
    RoomGetStateResponse,
    RoomInviteResponse,
    RoomMessageText,
    RoomPreset,
    RoomSendResponse,
    SyncResponse,
)

from .conftest import ClientFactory
from .synapse import Synapse, SynapseError

# A timeline limit well above the default of 10, so a burst is never cut short.
SYNC_FILTER = {"room": {"timeline": {"limit": 100}}}


async def sync_until(
    client: AsyncClient,
    found: Callable[[SyncResponse], bool],
    *,
    within: float = 10.0,
) -> SyncResponse:
    """Long-poll /sync (continuing from ``client.next_batch``) until ``found(response)``."""
    deadline = time.monotonic() + within
    while True:
        resp = await client.sync(timeout=500, sync_filter=SYNC_FILTER)
        assert isinstance(resp, SyncResponse), resp
        if found(resp):
            return resp
        if time.monotonic() > deadline:
            raise AssertionError(f"{client.user_id}: nothing matched within {within} s")


def texts(resp: SyncResponse, room_id: str) -> list[str]:
    room = resp.rooms.join.get(room_id)
    if room is None:
        return []
    return [e.body for e in room.timeline.events if isinstance(e, RoomMessageText)]


async def create_room_with(owner: AsyncClient, guest: AsyncClient, room_version: str) -> str:
    """``owner`` creates a room of ``room_version`` and invites ``guest``, who joins it."""
    created = await owner.room_create(room_version=room_version, name="Funkel test")
    assert isinstance(created, RoomCreateResponse), created
    room_id = created.room_id
    invited = await owner.room_invite(room_id, guest.user_id)
    assert isinstance(invited, RoomInviteResponse), invited
    resp = await sync_until(guest, lambda r: room_id in r.rooms.invite)
    invite_events = resp.rooms.invite[room_id].invite_state
    assert any(
        isinstance(e, InviteMemberEvent) and e.membership == "invite" and e.sender == owner.user_id
        for e in invite_events
    )
    joined = await guest.join(room_id)
    assert isinstance(joined, JoinResponse), joined
    return room_id


@pytest.mark.parametrize("room_version", ["11", "12"])
async def test_invite_join_and_message_round_trip(
    matrix_client: ClientFactory, room_version: str
) -> None:
    alice = await matrix_client("alice")
    bob = await matrix_client("bob", password_login=True)
    await alice.sync(timeout=0)  # start alice's timeline before the room exists

    room_id = await create_room_with(alice, bob, room_version)
    sent = await bob.room_send(
        room_id, "m.room.message", {"msgtype": "m.text", "body": "hello from bob"}
    )
    assert isinstance(sent, RoomSendResponse), sent

    resp = await sync_until(alice, lambda r: "hello from bob" in texts(r, room_id))
    [event] = [
        e
        for e in resp.rooms.join[room_id].timeline.events
        if isinstance(e, RoomMessageText) and e.body == "hello from bob"
    ]
    assert event.sender == bob.user_id
    assert event.event_id == sent.event_id
    # nio's room cache knows the room, its version and both members
    room = alice.rooms[room_id]
    assert room.room_version == room_version
    assert set(room.users) == {alice.user_id, bob.user_id}


async def test_room_version_12_creator_is_not_in_the_power_levels(
    matrix_client: ClientFactory,
) -> None:
    """What the adapter must know about room v12 (MSC4289/MSC4291), as Synapse 1.163 does it.

    * The room ID is the hash of the create event: ``!<base64>``, no ``:server`` part.
    * The creator is the create event's ``sender`` (content has no ``creator`` since v11),
      plus ``content.additional_creators``. Creators outrank everything but are *not* in
      ``m.room.power_levels.users`` — so nio's ``PowerLevels.get_user_level`` says 0.
    * ``preset=trusted_private_chat`` with invitees makes the invitees additional creators.
    """
    alice = await matrix_client("alice")
    bob = await matrix_client("bob")

    v11 = await create_room_with(alice, bob, "11")
    v12 = await create_room_with(alice, bob, "12")
    assert v11.startswith("!") and v11.endswith(":localhost")
    assert v12.startswith("!") and ":" not in v12

    async def state(room_id: str, event_type: str) -> dict[str, Any]:
        resp = await alice.room_get_state(room_id)
        assert isinstance(resp, RoomGetStateResponse), resp
        [event] = [e for e in resp.events if e["type"] == event_type]
        return event

    create11, create12 = await state(v11, "m.room.create"), await state(v12, "m.room.create")
    for create, version in ((create11, "11"), (create12, "12")):
        assert create["sender"] == alice.user_id
        assert create["content"]["room_version"] == version
        assert "creator" not in create["content"]
        assert "additional_creators" not in create["content"]

    pl11 = await alice.room_get_state_event(v11, "m.room.power_levels")
    pl12 = await alice.room_get_state_event(v12, "m.room.power_levels")
    assert isinstance(pl11, RoomGetStateEventResponse), pl11
    assert isinstance(pl12, RoomGetStateEventResponse), pl12
    assert pl11.content["users"] == {alice.user_id: 100}
    assert alice.user_id not in pl12.content.get("users", {})

    # nio 0.26 does not apply the v12 creator rule: its cached power levels say 0.
    await sync_until(alice, lambda r: v12 in alice.rooms)
    assert alice.rooms[v11].power_levels.get_user_level(alice.user_id) == 100
    assert alice.rooms[v12].power_levels.get_user_level(alice.user_id) == 0

    # A DM-style room: with trusted_private_chat, the invitee becomes an additional creator.
    dm = await alice.room_create(
        room_version="12",
        is_direct=True,
        preset=RoomPreset.trusted_private_chat,
        invite=[bob.user_id],
    )
    assert isinstance(dm, RoomCreateResponse), dm
    dm_create = await state(dm.room_id, "m.room.create")
    assert dm_create["sender"] == alice.user_id
    assert dm_create["content"]["additional_creators"] == [bob.user_id]
    dm_pl = await alice.room_get_state_event(dm.room_id, "m.room.power_levels")
    assert isinstance(dm_pl, RoomGetStateEventResponse), dm_pl
    assert not {alice.user_id, bob.user_id} & set(dm_pl.content.get("users", {}))


async def test_rate_limits_are_lifted_for_a_burst(matrix_client: ClientFactory) -> None:
    """50 concurrent sends: no 429 (Synapse's default is a burst of 10, then 0.2/s)."""
    alice = await matrix_client("alice")
    bob = await matrix_client("bob")
    room_id = await create_room_with(alice, bob, "12")
    await alice.sync(timeout=0, sync_filter=SYNC_FILTER)

    results = await asyncio.gather(
        *(
            bob.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": f"m{i}"})
            for i in range(50)
        )
    )
    errors = [r for r in results if isinstance(r, ErrorResponse)]
    assert errors == []

    seen: set[str] = set()

    def all_arrived(resp: SyncResponse) -> bool:
        seen.update(texts(resp, room_id))
        return len(seen) == 50

    await sync_until(alice, all_arrived)


async def test_homeserver_goes_away_and_comes_back(
    synapse: Synapse, matrix_client: ClientFactory
) -> None:
    alice = await matrix_client("alice")
    bob = await matrix_client("bob")
    room_id = await create_room_with(alice, bob, "12")
    await sync_until(alice, lambda r: room_id in alice.rooms)
    token_before = alice.next_batch
    port = synapse.port

    assert synapse.stop(graceful=False) == -9  # SIGKILL: no clean shutdown
    try:
        # nio gives up after max_timeouts=2 instead of retrying forever
        with pytest.raises(aiohttp.ClientConnectionError):
            await alice.sync(timeout=0)
    finally:
        synapse.start()
    assert synapse.port == port

    # Same access tokens, same sync token, same room: the adapter can just carry on.
    sent = await bob.room_send(
        room_id, "m.room.message", {"msgtype": "m.text", "body": "still here"}
    )
    assert isinstance(sent, RoomSendResponse), sent
    assert alice.next_batch == token_before
    await sync_until(alice, lambda r: "still here" in texts(r, room_id))


def test_a_failed_start_says_why(tmp_path: Path) -> None:
    """The harness's own errors: the port is taken, or the server is too slow to answer."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        hs = Synapse(tmp_path / "busy", port=taken.getsockname()[1])
        with pytest.raises(SynapseError, match=r"exited with rc=1(.|\n)*Address already in use"):
            hs.start()
    assert not hs.running

    slow = Synapse(tmp_path / "slow", startup_timeout=0.2)
    with pytest.raises(SynapseError, match=r"did not answer .* within 0 s"):
        slow.start()
    assert not slow.running

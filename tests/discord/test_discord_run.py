"""``funkel run`` on Discord: the config file, the composition root and a clean stop."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fakediscord import FakeDiscord

from bot.app import serve
from bot.config import load_config


async def test_serve_runs_discord_from_the_config_file_until_stopped(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    """The token comes from the environment, the server's own language from discord.guilds,
    organizers from community.organizers; SIGTERM (the stop event) ends it cleanly."""
    guild = fake.add_guild("Neugier Berlin")
    channel = fake.add_channel(guild, "treffen")
    orga = fake.add_user("Olga")  # no Manage Events: an organizer by the config only
    fake.add_member(guild, orga)
    config_file = tmp_path / "config.yaml"
    config_file.write_text(
        "storage:\n  database: funkel.sqlite3\n"
        f"community:\n  organizers: ['discord:{orga['id']}']\n"
        "discord:\n"
        "  token: ${DISCORD_TOKEN}\n"
        f"  guilds:\n    '{guild['id']}': {{language: de}}\n",
        encoding="utf-8",
    )
    config = load_config(config_file, env={"DISCORD_TOKEN": fake.token})
    stop = asyncio.Event()
    running = asyncio.create_task(serve(config, stop))
    try:
        await fake.wait_for(lambda: fake.command("funkel", guild), timeout=10)
        await fake.wait_for(lambda: fake.connected, timeout=10)
        iid = await fake.slash(guild, channel, orga, "funkel", ("join",), {}, locale="de")
        reply = await fake.wait_callback(iid)
        assert "Willkommen bei #treffen, Olga!" in reply["data"]["content"]
        iid = await fake.slash(guild, channel, orga, "funkel", ("round", "preview"), {})
        await fake.wait_callback(iid)
        preview = await fake.wait_for(lambda: fake.followups_of(iid))
        assert "Für eine Runde braucht es mindestens 2 Leute" in preview[0]["content"]
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)
    assert (tmp_path / "funkel.sqlite3").exists()

"""Discord-specific text and settings: what the adapter sends, registers and reads from config.

No network here; the adapter's behaviour against a (fake) Discord is in tests/discord/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.adapters.discord import (
    MAX_MESSAGE_CHARS,
    REPORT_NAMES,
    DiscordSettings,
    _RoundReport,
    nonce_of,
    render,
    split_message,
)
from bot.app import settings_from
from bot.config import ConfigError, load_config
from bot.core.i18n import catalog
from bot.core.models import LANGUAGES

# Discord's rules for application command names (lowercase where a case exists).
COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("language", LANGUAGES)
def test_command_names_and_labels_fit_discord_limits(language: str) -> None:
    """Discord refuses the whole command sync if one name or description breaks its rules."""
    copy = {k: v for k, v in catalog(language).items() if k.startswith("discord.")}
    names = {k: v for k, v in copy.items() if k.endswith(".name")}
    assert len(names) >= 20
    for key, name in names.items():
        assert COMMAND_NAME.match(name) and name == name.lower(), (key, name)
    for key, text in copy.items():
        if key.endswith(".description") and (".command." in key or ".option." in key):
            assert 1 <= len(text) <= 100, (key, len(text))
        if key.startswith("discord.button."):
            assert 1 <= len(text) <= 80, (key, text)
        if key.startswith("discord.form.") and key.endswith(("_label", "_title")):
            assert 1 <= len(text) <= 45, (key, text)
        if key.startswith("discord.form.") and key.endswith(("_description", "_placeholder")):
            assert 1 <= len(text) <= 100, (key, text)


def test_sibling_commands_have_distinct_names_in_every_language() -> None:
    """Two subcommands with one localised name would make Discord refuse the sync."""
    for language in LANGUAGES:
        copy = catalog(language)
        top = [
            copy[f"discord.command.{c}.name"]
            for c in [
                "join",
                "leave",
                "card",
                "language",
                "round",
                "icebreaker",
                "note",
                "met",
                "block",
                "unblock",
                "export",
                "forget",
                "help",
                "signup",
            ]
        ]
        assert len(set(top)) == len(top), (language, top)


def test_long_text_is_split_at_line_ends_within_the_limit() -> None:
    lines = [f"{i}. Anna and Ben – both put “Lisbon” on their cards" for i in range(200)]
    text = "\n".join(lines)
    pieces = split_message(text)
    assert all(len(p) <= MAX_MESSAGE_CHARS for p in pieces)
    assert "\n".join(pieces) == text  # nothing lost, nothing cut mid-line
    assert split_message("x" * 4500) == ["x" * 2000, "x" * 2000, "x" * 500]
    assert split_message("") == [""]


def test_markdown_people_typed_shows_as_typed() -> None:
    """A phrase like *bold* or a line starting with # is shown literally, not formatted."""
    assert render("Curious about: *Lisbon*, __init__, `code`") == (
        r"Curious about: \*Lisbon\*, \_\_init\_\_, \`code\`"
    )
    assert render("# heading\n> quote").startswith("\\# heading\n\\> quote")


def test_nonces_are_short_and_distinct() -> None:
    """Discord accepts nonces of at most 25 characters."""
    assert len(nonce_of(2**63 - 1, "a1b2")) <= 25  # the largest SQLite id, a 4-digit salt
    assert nonce_of(1, "a1b2") != nonce_of(11, "a1b2")
    assert nonce_of(1, "a1b2") != nonce_of(1, "c3d4")  # another database, another nonce


def test_discord_section_with_servers_and_their_own_settings(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            "discord:\n"
            "  token: ${DISCORD_TOKEN}\n"
            "  guild_ids: ['111111111111111111']\n"
            "  organizer_role: Orga\n"
            "  guilds:\n"
            "    '222222222222222222': {language: de, round_minutes: 15, organizer_role: Team}\n",
        ),
        env={"DISCORD_TOKEN": "secret-token"},
    )
    settings = DiscordSettings.from_config(config)
    assert settings.token == "secret-token"
    assert settings.guild_ids == {111111111111111111, 222222222222222222}
    assert settings.organizer_role_for(111111111111111111) == "Orga"
    assert settings.organizer_role_for(222222222222222222) == "Team"
    per_community = settings_from(config)
    assert per_community("discord:222222222222222222").language == "de"
    assert per_community("discord:222222222222222222").round_minutes == 15
    assert per_community("discord:111111111111111111").language == "en"
    assert per_community("discord:111111111111111111").round_minutes == 10


@pytest.mark.parametrize(
    ("guilds", "expected"),
    [
        ("    'abc': {language: de}\n", "discord.guilds key must be a Discord id"),
        (
            "    '222222222222222222': {langauge: de}\n",
            "discord.guilds.222222222222222222.langauge is not a known setting — did you mean "
            "'language'?",
        ),
        (
            "    '222222222222222222': {round_minutes: 0}\n",
            "discord.guilds.222222222222222222.round_minutes must be a whole number between 1 "
            "and 240",
        ),
        ("    - 1\n", "discord.guilds must be a section of server ids"),
    ],
)
def test_bad_server_settings_name_the_key(tmp_path: Path, guilds: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, "discord:\n  token: t\n  guilds:\n" + guilds), env={})
    assert expected in str(caught.value)


def test_the_delivery_report_counts_up_and_names_whom_to_tell() -> None:
    """The organizer's report: progress while sending; at the end, at most 10 names per
    line (long display names must not push it past one Discord message)."""
    report = _RoundReport(round_id=1, total=480, language="en", delivered=120)
    assert report.text() == "Sending the pairings: 120/480 sent…"
    report.delivered = 466
    report.threads = ["Ben"]
    report.unreachable = [f"Guest {n} " + "x" * 70 for n in range(14)]
    text = report.text()
    assert text.startswith("Sent 466 of 480 pairings.")
    assert "1 person has closed DMs and got theirs in a private thread here: Ben." in text
    assert "I could not reach 14 people: Guest 0" in text
    assert f"Guest {REPORT_NAMES - 1} " in text and f"Guest {REPORT_NAMES} " not in text
    assert "and 4 more." in text
    assert len(text) <= MAX_MESSAGE_CHARS
    german = _RoundReport(round_id=1, total=2, language="de", delivered=2)
    assert german.text() == "Verschickt: alle 2 Paarungen sind angekommen."

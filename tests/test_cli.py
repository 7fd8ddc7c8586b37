"""The `funkel` command line as a newcomer meets it: help, demo, console, pair, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "pairfile"


def funkel(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )


def test_help_lists_every_command() -> None:
    """`funkel --help` names each command with what it does."""
    result = funkel("--help")
    assert result.returncode == 0
    for command in ("demo", "console", "pair", "check-config", "run"):
        assert command in result.stdout


@pytest.mark.parametrize("command", ["demo", "console", "pair", "check-config", "run"])
def test_every_subcommand_has_help(command: str) -> None:
    """Each subcommand's --help explains it in a sentence, not just its flags."""
    result = funkel(command, "--help")
    assert result.returncode == 0
    description = result.stdout.split("\n\n")[1]
    assert len(description.split()) >= 8


def test_demo_runs_a_whole_night_without_repeats() -> None:
    """The demo pairs 3 rounds with reasons and icebreakers, one trio, and no repeats."""
    result = funkel("demo")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for number in (1, 2, 3):
        assert f"Round {number} is on" in out
    assert "can tell about" in out and "Icebreaker" in out
    assert "group of three" in out
    assert "both said you'd like to talk again" in out
    assert "repeat encounters: 0" in out
    assert "\x1b[" not in out  # plain text when piped


def test_demo_is_reproducible_with_the_same_seed() -> None:
    """The same seed replays the same night."""
    first = funkel("demo", "--seed", "7").stdout
    second = funkel("demo", "--seed", "7").stdout
    strip = [line for line in first.splitlines() if "demo.sqlite3" not in line]
    assert strip == [line for line in second.splitlines() if "demo.sqlite3" not in line]


def test_console_reads_a_script_from_stdin(tmp_path: Path) -> None:
    """Typing as different people in the console pairs them and shows the private message."""
    script = "\n".join(
        [
            "@anna join",
            "@anna card curious Lisbon",
            "@ben join",
            "@ben card tell Lisbon",
            "@orga round start",
            "@anna dm met",
        ]
    )
    result = funkel("console", "--db", str(tmp_path / "c.sqlite3"), stdin=script)
    assert result.returncode == 0, result.stderr
    assert "Round 1: you're talking with ben." in result.stdout
    assert "ben can tell you about “Lisbon”" in result.stdout
    assert "ben at Funkel Meetup" in result.stdout


def test_console_explains_a_line_without_a_speaker(tmp_path: Path) -> None:
    """A line that doesn't say who speaks gets an explanation, and the session goes on."""
    result = funkel("console", "--db", str(tmp_path / "c.sqlite3"), stdin="join\n@anna join\n")
    assert "Start each line with who is speaking" in result.stdout
    assert "Welcome to Funkel Meetup, anna" in result.stdout


def test_unwritable_database_path_is_a_clear_error(tmp_path: Path) -> None:
    """A database in a folder that doesn't exist says which folder and what to do."""
    missing = tmp_path / "nope" / "funkel.sqlite3"
    result = funkel("console", "--db", str(missing), stdin="")
    assert result.returncode == 2
    assert f"the folder {missing.parent} does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    """A config path that doesn't exist is reported, with no traceback."""
    result = funkel("check-config", str(tmp_path / "config.yaml"))
    assert result.returncode == 2
    assert "config file not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_without_a_chat_platform_says_what_to_add(tmp_path: Path) -> None:
    """`funkel run` with a config that sets up no platform names the section to add."""
    config = tmp_path / "config.yaml"
    config.write_text("storage:\n  database: funkel.sqlite3\n", encoding="utf-8")
    result = funkel("run", "--config", str(config))
    assert result.returncode == 2
    assert "sets up no chat platform to run — add a discord: section" in result.stderr
    assert "or a matrix: section" in result.stderr
    assert "Traceback" not in result.stderr


def test_pair_prints_groups_with_reasons_as_json() -> None:
    """`funkel pair --format json` gives seed, groups, reasons and icebreakers."""
    result = funkel("pair", str(DATA / "attendees.json"), "--seed", "3", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["seed"] == 3
    names = [name for group in data["groups"] for name in group["members"]]
    assert len(names) == len(set(names)) >= 2
    assert all(group["icebreaker"] for group in data["groups"])


def test_pair_history_avoids_earlier_partners(tmp_path: Path) -> None:
    """Feeding round 1's output as --history gives round 2 new partners."""
    first = funkel("pair", str(DATA / "attendees.json"), "--seed", "1", "--format", "json")
    history = tmp_path / "round1.json"
    history.write_text(first.stdout, encoding="utf-8")
    second = funkel(
        "pair",
        str(DATA / "attendees.json"),
        "--seed",
        "1",
        "--format",
        "json",
        "--history",
        str(history),
    )
    before = {frozenset(g["members"]) for g in json.loads(first.stdout)["groups"]}
    after = {frozenset(g["members"]) for g in json.loads(second.stdout)["groups"]}
    assert not before & after


def test_pair_bad_file_names_row_and_field(tmp_path: Path) -> None:
    """A bad sign-up file says which row and field, without a traceback."""
    bad = tmp_path / "people.csv"
    bad.write_text("name,curious_about,can_tell_about\nAnna,Lisbon,\n,Porto,\n", encoding="utf-8")
    result = funkel("pair", str(bad))
    assert result.returncode == 2
    assert "people.csv, row 3" in result.stderr and "name" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_logs_never_contain_notes_or_cards(tmp_path: Path) -> None:
    """Even at DEBUG, the log holds no card phrase and no note text."""
    script = "\n".join(
        [
            "@anna join",
            "@anna card curious SECRETPHRASE",
            "@ben join",
            "@orga round start",
            "@anna dm note @ben SECRETNOTE",
        ]
    )
    result = funkel(
        "--log-level", "DEBUG", "console", "--db", str(tmp_path / "l.sqlite3"), stdin=script
    )
    assert result.returncode == 0
    assert "SECRETNOTE" in result.stdout or "Saved your note" in result.stdout
    assert "SECRET" not in result.stderr


def test_demo_refuses_to_reuse_an_existing_database(tmp_path: Path) -> None:
    """The demo never mixes its sample night into an existing database."""
    existing = tmp_path / "real.sqlite3"
    existing.write_bytes(b"")
    result = funkel("demo", "--db", str(existing))
    assert result.returncode == 2
    assert "already exists" in result.stderr

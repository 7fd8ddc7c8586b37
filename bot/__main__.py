"""The ``funkel`` command line: the only place that reads argv, loads config and exits."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from bot.config import Config, ConfigError, default_config, load_config
from bot.core.models import LANGUAGES
from bot.core.ports import StoreError

CONSOLE_ORGANIZER = "console:orga"

DESCRIPTION = """\
Funkel pairs meetup attendees around shared curiosities — a city, a hobby, a life change —
instead of job titles, gives each pair the reason and an icebreaker, and lets people keep
private notes about whom they enjoyed meeting."""

EPILOG = """\
examples:
  funkel demo                          a scripted meetup night with 16 sample attendees
  funkel console --db meetup.sqlite3   type as different people: @anna join
  funkel pair attendees.csv --seed 7   pair a sign-up list for an in-person meetup
  funkel check-config config.yaml      validate a config file
  funkel run --config config.yaml      run the bot on Discord and/or Matrix

'funkel COMMAND --help' explains each command."""


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="funkel",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--log-level",
        default=None,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="how much to log to stderr (default: WARNING, or the config's log_level)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="run a scripted meetup night through the real bot, no chat account needed",
        description="Play a meetup night of about 16 sample attendees through the real "
        "services and a real SQLite file: everyone joins and fills a curiosity card, the "
        "organizer runs 3 rounds, people leave notes, one mutual 'talk again' is revealed "
        "and someone recalls whom they met.",
    )
    demo.add_argument("--db", help="SQLite file to use (default: a fresh temporary file)")
    demo.add_argument("--seed", type=int, default=2026, help="pairing seed (default: 2026)")
    demo.add_argument(
        "--language", choices=LANGUAGES, default="en", help="the community's language"
    )

    console = sub.add_parser(
        "console",
        help="chat with the bot in the terminal, typing as different people",
        description="An interactive console adapter. Start each line with who is speaking: "
        "'@anna join', '@anna card curious Lisbon; bees', '@orga round start'. "
        "'@orga' is an organizer unless the config says otherwise. Type 'help' inside.",
    )
    console.add_argument("--db", help="SQLite file (default: the config's, or funkel.sqlite3)")
    console.add_argument("--config", help="a config file (default: built-in defaults)")
    console.add_argument("--seed", type=int, help="seed for pairing rounds (default: random)")

    pair = sub.add_parser(
        "pair",
        help="pair a list of attendees from a file (for in-person meetups)",
        description="Pair people who filled in a sign-up form. The file is JSON (an array "
        'of {"name", "curious_about": [...], "can_tell_about": [...], "language"?, '
        '"never_with"?: [names]}), YAML (the same as a list) or CSV (the same columns, '
        "list items separated by ';'). Prints groups, reasons and icebreakers.",
    )
    pair.add_argument("attendees", help="attendees file: .json, .csv, .yaml or .yml")
    pair.add_argument(
        "--history",
        action="append",
        default=[],
        metavar="FILE",
        help="an earlier output of this command (--format json or csv); who met there "
        "is not paired again when avoidable (repeat for several rounds)",
    )
    pair.add_argument("--seed", type=int, help="pairing seed; the same seed gives the same result")
    pair.add_argument(
        "--format", choices=["text", "json", "csv"], default="text", help="output format"
    )
    pair.add_argument(
        "--language", choices=LANGUAGES, default="en", help="language of reasons and icebreakers"
    )

    run = sub.add_parser(
        "run",
        help="run the bot on the chat platforms your config sets up (Discord, Matrix)",
        description="Connect to Discord (the config's discord: section) and/or Matrix (its "
        "matrix: section) and serve meetup channels and direct messages until stopped with "
        "Ctrl-C or SIGTERM. Restarts continue where the bot stopped: no old command is "
        "answered twice and no message is lost.",
    )
    run.add_argument("--config", required=True, help="path to the YAML config")

    check = sub.add_parser(
        "check-config",
        help="validate a config file and show what it sets",
        description="Load a config file exactly as the bot would, substituting ${ENV} "
        "variables, and report the first problem with its key path.",
    )
    check.add_argument("config", help="path to the YAML config")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    logging.basicConfig(
        level=args.log_level or "WARNING",
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # aiosqlite logs every statement with its parameters at DEBUG: that would put note text
    # and curiosity cards into the logs, which Funkel promises never to do.
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, logging.root.level))
    # nio, peewee (nio's key store) and discord.py log requests, events and SQL at DEBUG,
    # gateway payloads with note text among them.
    for chatty in ("nio", "peewee", "discord"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.root.level))
    from bot.adapters import StartupError

    try:
        return _run(args)
    except (ConfigError, StoreError, StartupError) as exc:
        print(f"funkel: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from bot.demo import run_demo

        return asyncio.run(run_demo(sys.stdout, db=args.db, seed=args.seed, language=args.language))
    if args.command == "console":
        config = _console_config(args)
        from bot.app import console_session

        asyncio.run(
            console_session(
                config, sys.stdin, sys.stdout, seed=args.seed, prompt=sys.stdin.isatty()
            )
        )
        return 0
    if args.command == "pair":
        return _pair(args)
    if args.command == "run":
        config = load_config(args.config)
        if args.log_level is None:
            logging.getLogger().setLevel(config.log_level)
        asyncio.run(_serve(config))
        return 0
    if args.command == "check-config":
        config = load_config(args.config)
        print(f"{args.config}: OK")
        print(f"  database: {config.storage.database}")
        print(f"  language: {config.community.language}")
        print(f"  organizers: {len(config.community.organizers)}")
        platforms = [p for p in ("discord", "matrix") if getattr(config, p)]
        print(f"  platforms: {', '.join(platforms) or 'none'}")
        return 0
    raise AssertionError(args.command)  # pragma: no cover


async def _serve(config: Config) -> None:
    """Run until SIGINT or SIGTERM, then stop cleanly (the outbox is safe in the database)."""
    import signal

    from bot.app import serve

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await serve(config, stop)


def _console_config(args: argparse.Namespace) -> Config:
    if args.config:
        base = load_config(args.config)
    else:
        # Without a config the console has one organizer, "@orga", so rounds can be tried.
        base = default_config()
        base = replace(base, community=replace(base.community, organizers=(CONSOLE_ORGANIZER,)))
    if args.db:
        base = replace(base, storage=replace(base.storage, database=args.db))
    return base


def _pair(args: argparse.Namespace) -> int:
    from bot import pairfile

    try:
        attendees = pairfile.read_attendees(Path(args.attendees))
        history = [pair for path in args.history for pair in pairfile.read_history(Path(path))]
        out = pairfile.run_pair(attendees, history=history, seed=args.seed, language=args.language)
    except pairfile.PairFileError as exc:
        print(f"funkel pair: {exc}", file=sys.stderr)
        return 2
    formatter = {
        "text": pairfile.format_text,
        "json": pairfile.format_json,
        "csv": pairfile.format_csv,
    }[args.format]
    sys.stdout.write(formatter(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

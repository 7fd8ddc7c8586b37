"""The operator's YAML config: ``${ENV}`` secrets in, a validated, typed ``Config`` out.

Loaded once, by ``bot.__main__``; nothing here runs at import. Every problem is reported with
the file, the dotted key path, the bad value and what is allowed, e.g.::

    config.yaml: community.round_minutes must be a whole number between 1 and 240, got 'ten'

All problems in a file are collected and reported together, so an operator fixes them in one go.

Rules worth knowing:

* ``${NAME}`` in any string value is replaced by the environment variable ``NAME``; a missing or
  empty variable is an error. ``$${`` writes a literal ``${``.
* Values copied unchanged from ``config.example.yaml`` (see ``EXAMPLE_VALUES``) are rejected, so
  a half-edited config fails at start-up instead of pairing people for ``@you:example.org``.
* ``community.retention_days`` is a number of days, or the word ``forever``. A literal ``0`` is
  rejected because it reads both as "keep nothing" and "keep forever"; ``forever`` is stored as
  ``KEEP_FOREVER`` (0) and ``CommunityConfig.retention`` is then ``None``.
* A relative ``storage.database`` path is relative to the config file's folder, not to the
  working directory (a service manager's working directory is rarely the one you expect).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from bot.core.models import LANGUAGES

KEEP_FOREVER = 0
MAX_RETENTION_DAYS = 3650
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
PLATFORMS = ("console", "discord", "matrix")
# Schemes a later PostgreSQL store will accept; refused with a clear message until it exists.
_POSTGRES_SCHEMES = ("postgresql://", "postgres://")

# Values that appear in config.example.yaml as placeholders. A config that still contains one
# was copied but not edited; each maps to what the operator should put there instead.
EXAMPLE_VALUES: Mapping[str, str] = MappingProxyType(
    {
        "matrix:@you:example.org": "member key, e.g. 'matrix:@yourname:yourserver.org' or "
        "'discord:<your user id>'",
        "discord:000000000000000000": "member key, e.g. 'discord:<your user id>'",
        "000000000000000000": "Discord server (guild) id (Developer Mode → right-click the "
        "server → Copy Server ID)",
        "https://matrix.example.org": "homeserver URL, e.g. 'https://matrix.yourserver.org'",
        "@funkel:example.org": "bot account's Matrix id, e.g. '@funkel:yourserver.org'",
        "!yourroom:example.org": "Matrix room id (room settings → Advanced)",
    }
)

_ENV_TOKEN = re.compile(r"\$\$\{|\$\{(?P<name>[^}]*)\}|\$\{")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DISCORD_ID = re.compile(r"[0-9]{15,21}")
_MATRIX_USER = re.compile(r"@[^:\s]+:\S+")
# Room ids: "!abc:server.org" up to room version 11, "!<43 characters>" without a server from
# version 12 on. Aliases always name their server: "#meetup:server.org".
_MATRIX_ROOM = re.compile(r"![^\s:]+(?::\S+)?|#[^:\s]+:\S+")
_MATRIX_DEVICE = re.compile(r"[A-Za-z0-9_\-.=+/]{1,255}")


class ConfigError(Exception):
    """The config cannot be used; the message says where and what to change.

    ``problems`` holds each problem on its own (without the file name), for tests and tools.
    """

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems: tuple[str, ...] = tuple(problems) or (message,)


@dataclass(frozen=True)
class CommunityConfig:
    """Defaults for every community this deployment serves."""

    language: str = "en"  # one of bot.core.models.LANGUAGES
    organizers: tuple[str, ...] = ()  # member keys, "platform:user_id"
    round_minutes: int = 10  # length of a live round
    rounds_per_evening: int = 3
    group_size: int = 2  # only pairs are supported (an odd count makes one trio)
    retention_days: int = 365  # KEEP_FOREVER (0) = never delete

    @property
    def retention(self) -> timedelta | None:
        """How long notes and encounters are kept; ``None`` means forever."""
        if self.retention_days == KEEP_FOREVER:
            return None
        return timedelta(days=self.retention_days)


@dataclass(frozen=True)
class StorageConfig:
    database: str = "funkel.sqlite3"  # path to the SQLite file


@dataclass(frozen=True)
class Config:
    storage: StorageConfig = field(default_factory=StorageConfig)
    community: CommunityConfig = field(default_factory=CommunityConfig)
    # Platform sections, validated but kept as read-only mappings until the adapters define
    # their own typed settings. None: the section is absent or empty (platform not used).
    discord: Mapping[str, Any] | None = None
    matrix: Mapping[str, Any] | None = None
    log_level: str = "INFO"
    source: str = "<defaults>"  # the file it was loaded from


def default_config(database: str = "funkel.sqlite3") -> Config:
    """A valid config without a file, for ``funkel demo`` and the console."""
    return Config(
        storage=StorageConfig(database=database),
        community=CommunityConfig(),
        source="<defaults>",
    )


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Config:
    """Read, substitute and validate the config file at ``path``; raise ``ConfigError``."""
    source = os.fspath(path)
    raw = _read_yaml(Path(source), source)
    if raw is None:
        raise ConfigError(f"{source} is empty — copy config.example.yaml to {source} and edit it")
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"{source}: the top level must be a mapping of sections (storage:, community:, "
            f"...), got {_kind(raw)}"
        )
    problems: list[str] = []
    data = _substitute(raw, "", os.environ if env is None else env, problems)
    _reject_example_values(data, "", problems)
    config = _build(data, Path(source), problems)
    if problems:
        raise ConfigError(_summary(source, problems), problems)
    return config


# --- reading -------------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice (plain YAML silently keeps the last one)."""


def _construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> Any:
    seen: set[Hashable] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if isinstance(key, Hashable) and key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"the key {key!r} appears twice in the same section",
                key_node.start_mark,
            )
        if isinstance(key, Hashable):
            seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


def _read_yaml(path: Path, source: str) -> Any:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"config file not found: {source} — copy config.example.yaml to {source} and "
            "edit it, or give the path of your config file"
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"{source} is a folder, not a config file") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {source}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{source}, line {line}: the file is not UTF-8 text — save it as UTF-8"
        ) from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: builds no objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"{source}{where}: not valid YAML: {what}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None


def _summary(source: str, problems: Sequence[str]) -> str:
    if len(problems) == 1:
        return f"{source}: {problems[0]}"
    lines = "\n".join(f"  - {p}" for p in problems)
    return f"{source} has {len(problems)} problems:\n{lines}"


# --- ${ENV} substitution and example values ------------------------------------------------


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _substitute(node: Any, path: str, env: Mapping[str, str], problems: list[str]) -> Any:
    if isinstance(node, Mapping):
        return {k: _substitute(v, _join(path, k), env, problems) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(v, f"{path}[{i}]", env, problems) for i, v in enumerate(node)]
    if isinstance(node, str):
        return _substitute_string(node, path, env, problems)
    return node


def _substitute_string(text: str, path: str, env: Mapping[str, str], problems: list[str]) -> str:
    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "$${":
            return "${"
        name = match.group("name")
        if name is None:
            problems.append(
                f"{path} has a '${{' without a closing '}}' (write '$${{' for a literal '${{')"
            )
            return token
        if not _ENV_NAME.fullmatch(name):
            problems.append(
                f"{path}: '${{{name}}}' is not a valid environment variable name (letters, "
                "digits and _, not starting with a digit)"
            )
            return token
        value = env.get(name)
        if value is None:
            problems.append(f"{path} needs the environment variable {name}, which is not set")
            return token
        if value == "":
            problems.append(f"{path} needs the environment variable {name}, which is empty")
        return value

    return _ENV_TOKEN.sub(replace, text)


def _reject_example_values(node: Any, path: str, problems: list[str]) -> None:
    if isinstance(node, Mapping):
        for key, value in node.items():
            _reject_example_values(value, _join(path, key), problems)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _reject_example_values(value, f"{path}[{i}]", problems)
    elif isinstance(node, str) and node in EXAMPLE_VALUES:
        problems.append(
            f"{path} is still the example value {node!r} — put your own {EXAMPLE_VALUES[node]} here"
        )


# --- validation ----------------------------------------------------------------------------


class _Invalid(Exception):
    """A field's value is unusable; the caller records the problems and keeps going."""

    def __init__(self, *problems: str) -> None:
        super().__init__(*problems)
        self.problems = problems


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{value!r} (yes/no)"
    if isinstance(value, Mapping):
        return "a section (key: value pairs)"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _section(
    data: Any, path: str, known: Sequence[str], problems: list[str]
) -> Mapping[str, Any] | None:
    """A mapping with only ``known`` keys (unknown ones are reported with a suggestion)."""
    if data is None:
        return None
    if not isinstance(data, Mapping):
        problems.append(f"{path} must be a section of key: value pairs, got {_kind(data)}")
        return None
    for key in data:
        if not isinstance(key, str) or key not in known:
            problems.append(_unknown_key(_join(path, key), str(key), known))
    return data


def _unknown_key(full: str, key: str, known: Sequence[str]) -> str:
    message = f"{full} is not a known setting"
    close = difflib.get_close_matches(key.lower(), known, n=1, cutoff=0.6)
    if close:
        return f"{message} — did you mean {close[0]!r}?"
    return f"{message}; known here: {', '.join(known)}"


def _get(
    section: Mapping[str, Any] | None,
    path: str,
    key: str,
    default: Any,
    check: Callable[[Any, str], Any],
    problems: list[str],
) -> Any:
    if section is None or key not in section:
        return default
    try:
        return check(section[key], _join(path, key))
    except _Invalid as exc:
        problems.extend(exc.problems)
        return default


def _whole_number(low: int, high: int) -> Callable[[Any, str], int]:
    def check(value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _Invalid(
                f"{path} must be a whole number between {low} and {high}, got {_kind(value)}"
            )
        return value

    return check


def _language(value: Any, path: str) -> str:
    if not isinstance(value, str) or value.lower() not in LANGUAGES:
        allowed = " or ".join(repr(x) for x in LANGUAGES)
        raise _Invalid(f"{path} must be {allowed}, got {_kind(value)}")
    return value.lower()


def _log_level(value: Any, path: str) -> str:
    if not isinstance(value, str) or value.upper() not in LOG_LEVELS:
        raise _Invalid(f"{path} must be one of {', '.join(LOG_LEVELS)}, got {_kind(value)}")
    return value.upper()


def _group_size(value: Any, path: str) -> int:
    if value != 2 or isinstance(value, bool):
        raise _Invalid(
            f"{path} must be 2 — Funkel pairs people (an odd count makes one trio); other "
            f"sizes are not supported yet, got {_kind(value)}"
        )
    return 2


def _retention(value: Any, path: str) -> int:
    if isinstance(value, str) and value.strip().lower() == "forever":
        return KEEP_FOREVER
    if value == 0 and not isinstance(value, bool):
        raise _Invalid(
            f"{path} is 0, which could mean 'keep nothing' or 'keep forever' — write a number "
            f"of days between 1 and {MAX_RETENTION_DAYS}, or the word forever"
        )
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _Invalid(
            f"{path} must be a number of days between 1 and {MAX_RETENTION_DAYS}, or the word "
            f"forever, got {_kind(value)}"
        )
    if value > MAX_RETENTION_DAYS:
        raise _Invalid(
            f"{path} must be at most {MAX_RETENTION_DAYS} days (or the word forever), got {value}"
        )
    return value


def _member_key(value: Any, path: str) -> str:
    example = "'matrix:@ann:example.org', 'discord:123456789012345678' or 'console:orga'"
    if not isinstance(value, str):
        raise _Invalid(f"{path} must be a member key like {example}, got {_kind(value)}")
    platform, sep, user_id = value.partition(":")
    if not sep or platform not in PLATFORMS:
        raise _Invalid(
            f"{path} must be a member key 'platform:user_id' with platform one of "
            f"{', '.join(PLATFORMS)} (e.g. {example}), got {value!r}"
        )
    if platform == "discord" and not _DISCORD_ID.fullmatch(user_id):
        raise _Invalid(
            f"{path}: a Discord user id is a number of 15–21 digits (Developer Mode → "
            f"right-click the user → Copy User ID), got {value!r}"
        )
    if platform == "matrix" and not _MATRIX_USER.fullmatch(user_id):
        raise _Invalid(f"{path}: a Matrix user id looks like '@name:server.org', got {value!r}")
    if platform == "console" and not user_id.strip():
        raise _Invalid(f"{path}: a console member key needs a name after 'console:'")
    return value


def _organizers(value: Any, path: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _Invalid(f"{path} must be a list of member keys, got {_kind(value)}")
    keys: list[str] = []
    errors: list[str] = []
    for i, item in enumerate(value):
        try:
            key = _member_key(item, f"{path}[{i}]")
        except _Invalid as exc:
            errors.extend(exc.problems)
            continue
        if key not in keys:
            keys.append(key)
    if errors:
        raise _Invalid(*errors)
    return tuple(keys)


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(f"{path} must be a non-empty text, got {_kind(value)}")
    return value


def _database(config_dir: Path) -> Callable[[Any, str], str]:
    def check(value: Any, path: str) -> str:
        text = _text(value, path).strip()
        if text.lower().startswith(_POSTGRES_SCHEMES):
            raise _Invalid(
                f"{path}: PostgreSQL is not supported yet — use the path of an SQLite file, "
                "e.g. 'funkel.sqlite3'"
            )
        if "://" in text:
            raise _Invalid(f"{path} must be the path of an SQLite file, got {text!r}")
        if text == ":memory:" or Path(text).is_absolute():
            return text
        return str(config_dir / text)

    return check


def _https_url(value: Any, path: str) -> str:
    text = _text(value, path)
    if not text.startswith(("https://", "http://")):
        raise _Invalid(f"{path} must be a URL starting with https://, got {text!r}")
    return text.rstrip("/")


def _matrix_user(value: Any, path: str) -> str:
    text = _text(value, path)
    if not _MATRIX_USER.fullmatch(text):
        raise _Invalid(f"{path} must be a Matrix user id like '@funkel:server.org', got {text!r}")
    return text


def _list_of(item: Callable[[Any, str], str], what: str) -> Callable[[Any, str], tuple[str, ...]]:
    def check(value: Any, path: str) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise _Invalid(f"{path} must be a list of {what}, got {_kind(value)}")
        errors: list[str] = []
        out: list[str] = []
        for i, entry in enumerate(value):
            try:
                out.append(item(entry, f"{path}[{i}]"))
            except _Invalid as exc:
                errors.extend(exc.problems)
        if errors:
            raise _Invalid(*errors)
        return tuple(out)

    return check


def _matrix_rooms(value: Any, path: str) -> tuple[str, ...] | str:
    if isinstance(value, str) and value.strip().lower() == "invited":
        return "invited"
    if isinstance(value, str):
        raise _Invalid(
            f"{path} must be a list of Matrix room ids or aliases, or the word invited, "
            f"got {value!r}"
        )
    return _list_of(_matrix_room, "Matrix room ids or aliases, or the word invited")(value, path)


def _matrix_device(value: Any, path: str) -> str:
    text = _text(value, path).strip()
    if not _MATRIX_DEVICE.fullmatch(text):
        raise _Invalid(f"{path} must be a Matrix device id like 'ABCDEFGHIJ', got {text!r}")
    return text


def _command_prefix(value: Any, path: str) -> str:
    text = _text(value, path).strip()
    if any(ch.isspace() for ch in text) or len(text) > 32:
        raise _Invalid(
            f"{path} must be one word of at most 32 characters, like '!funkel', got {text!r}"
        )
    return text


def _one_of(*allowed: str) -> Callable[[Any, str], str]:
    def check(value: Any, path: str) -> str:
        if not isinstance(value, str) or value.strip().lower() not in allowed:
            raise _Invalid(f"{path} must be {' or '.join(allowed)}, got {_kind(value)}")
        return value.strip().lower()

    return check


def _folder(config_dir: Path) -> Callable[[Any, str], str]:
    def check(value: Any, path: str) -> str:
        text = _text(value, path).strip()
        folder = Path(text)
        return str(folder if folder.is_absolute() else config_dir / folder)

    return check


def _discord_id(value: Any, path: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _DISCORD_ID.fullmatch(value):
        raise _Invalid(f"{path} must be a Discord id (15–21 digits), got {_kind(value)}")
    return value


def _matrix_room(value: Any, path: str) -> str:
    text = _text(value, path)
    if not _MATRIX_ROOM.fullmatch(text):
        raise _Invalid(
            f"{path} must be a Matrix room id like '!abc:server.org' or an alias like "
            f"'#meetup:server.org', got {text!r}"
        )
    return text


def _role(value: Any, path: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    text = _text(value, path).strip()
    if not text or len(text) > 100:
        raise _Invalid(f"{path} must be a role name or id (1–100 characters), got {text!r}")
    return text


# Settings one Discord server (guild) may override; see the discord.guilds key.
_DISCORD_GUILD_KEYS: Mapping[str, Callable[[Any, str], Any]] = {
    "language": _language,
    "round_minutes": _whole_number(1, 240),
    "organizer_role": _role,
}


def _discord_guilds(value: Any, path: str) -> Mapping[str, Mapping[str, Any]]:
    """``{server id: {language, round_minutes, organizer_role}}``: each server's own settings."""
    if not isinstance(value, Mapping):
        raise _Invalid(
            f"{path} must be a section of server ids, each with its settings, got {_kind(value)}"
        )
    out: dict[str, Mapping[str, Any]] = {}
    problems: list[str] = []
    for gid, settings in value.items():
        try:
            key = _discord_id(gid, f"{path} key")
        except _Invalid as exc:
            problems.extend(exc.problems)
            continue
        here = f"{path}.{key}"
        section = _section(settings, here, tuple(_DISCORD_GUILD_KEYS), problems) or {}
        own: dict[str, Any] = {}
        for name, check in _DISCORD_GUILD_KEYS.items():
            got = _get(section, here, name, None, check, problems)
            if got is not None:
                own[name] = got
        out[key] = MappingProxyType(own)
    if problems:
        raise _Invalid(*problems)
    return MappingProxyType(out)


# Settings of the Discord section (bot.adapters.discord reads them). Each: (check, required).
_DISCORD_KEYS: Mapping[str, tuple[Callable[[Any, str], Any], bool]] = {
    "token": (_text, True),
    "guild_ids": (_list_of(_discord_id, "Discord server ids"), False),
    "organizer_role": (_role, False),
    "guilds": (_discord_guilds, False),
}
# The Matrix adapter's defaults for the optional keys (bot.adapters.matrix reads them).
MATRIX_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        "device_name": "funkel",
        "store_path": "funkel-matrix-store",
        "command_prefix": "!funkel",
        "organizer_power_level": 50,
        "rooms": "invited",
        "pairing_delivery": "dm",
    }
)


def _matrix_keys(config_dir: Path) -> Mapping[str, tuple[Callable[[Any, str], Any], bool]]:
    # access_token and password: exactly one of them is required (checked after these).
    return {
        "homeserver": (_https_url, True),
        "user_id": (_matrix_user, True),
        "access_token": (_text, False),
        "password": (_text, False),
        "device_id": (_matrix_device, False),
        "device_name": (_text, False),
        "store_path": (_folder(config_dir), False),
        "command_prefix": (_command_prefix, False),
        "organizer_power_level": (_whole_number(0, 1_000_000), False),
        "rooms": (_matrix_rooms, False),
        "pairing_delivery": (_one_of("dm", "thread"), False),
    }


def _matrix(data: Any, config_dir: Path, problems: list[str]) -> Mapping[str, Any] | None:
    section = _platform(data, "matrix", _matrix_keys(config_dir), problems)
    if section is None or not isinstance(data, Mapping):
        return section
    has_token, has_password = "access_token" in data, "password" in data
    if not has_token and not has_password:
        problems.append(
            "matrix.access_token is required when the matrix section is used (or "
            "matrix.password, to let Funkel log in once and keep its device)"
        )
    elif has_token and has_password:
        problems.append(
            "matrix.access_token and matrix.password are both set — give only one: the access "
            "token of the bot's device, or the password to log in with"
        )
    return section


_TOP_KEYS = ("storage", "community", "discord", "matrix", "log_level")
_STORAGE_KEYS = ("database",)
_COMMUNITY_KEYS = (
    "language",
    "organizers",
    "round_minutes",
    "rounds_per_evening",
    "group_size",
    "retention_days",
)


def _platform(
    data: Any,
    name: str,
    keys: Mapping[str, tuple[Callable[[Any, str], Any], bool]],
    problems: list[str],
) -> Mapping[str, Any] | None:
    section = _section(data, name, tuple(keys), problems)
    if not section:
        return None
    out: dict[str, Any] = {}
    for key, (check, required) in keys.items():
        if key not in section:
            if required:
                problems.append(f"{name}.{key} is required when the {name} section is used")
            continue
        value = _get(section, name, key, None, check, problems)
        if value is not None:
            out[key] = value
    return MappingProxyType(out)


def _build(data: Mapping[str, Any], source: Path, problems: list[str]) -> Config:
    top = _section(data, "", _TOP_KEYS, problems) or {}
    storage = _section(top.get("storage"), "storage", _STORAGE_KEYS, problems)
    community = _section(top.get("community"), "community", _COMMUNITY_KEYS, problems)
    defaults = CommunityConfig()
    here = "community"
    return Config(
        storage=StorageConfig(
            database=_get(
                storage,
                "storage",
                "database",
                str(source.parent / StorageConfig().database),
                _database(source.parent),
                problems,
            )
        ),
        community=CommunityConfig(
            language=_get(community, here, "language", defaults.language, _language, problems),
            organizers=_get(
                community, here, "organizers", defaults.organizers, _organizers, problems
            ),
            round_minutes=_get(
                community,
                here,
                "round_minutes",
                defaults.round_minutes,
                _whole_number(1, 240),
                problems,
            ),
            rounds_per_evening=_get(
                community,
                here,
                "rounds_per_evening",
                defaults.rounds_per_evening,
                _whole_number(1, 20),
                problems,
            ),
            group_size=_get(
                community, here, "group_size", defaults.group_size, _group_size, problems
            ),
            retention_days=_get(
                community,
                here,
                "retention_days",
                defaults.retention_days,
                _retention,
                problems,
            ),
        ),
        discord=_platform(top.get("discord"), "discord", _DISCORD_KEYS, problems),
        matrix=_matrix(top.get("matrix"), source.parent, problems),
        log_level=_get(top, "", "log_level", "INFO", _log_level, problems),
        source=str(source),
    )

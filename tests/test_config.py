"""The operator's config: what loads, and what stops Funkel with which message."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import (
    EXAMPLE_VALUES,
    KEEP_FOREVER,
    CommunityConfig,
    Config,
    ConfigError,
    StorageConfig,
    default_config,
    load_config,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.yaml"

MINIMAL = """\
community:
  organizers: ["matrix:@ann:funkel.test"]
"""


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), env=env or {})
    return str(caught.value)


# --- what loads ----------------------------------------------------------------------------


def test_a_minimal_config_loads_with_defaults(tmp_path: Path) -> None:
    """A config with only an organizer gets the documented defaults for everything else."""
    path = write(tmp_path, MINIMAL)
    config = load_config(path, env={})
    assert config.community == CommunityConfig(organizers=("matrix:@ann:funkel.test",))
    assert config.storage.database == str(tmp_path / "funkel.sqlite3")
    assert config.discord is None
    assert config.matrix is None
    assert config.log_level == "INFO"
    assert config.source == str(path)


def test_every_setting_is_read_into_typed_fields(tmp_path: Path) -> None:
    """Each documented key ends up in its typed field."""
    text = """\
log_level: debug
storage:
  database: /var/lib/funkel/db.sqlite3
community:
  language: de
  organizers: ["console:orga", "discord:123456789012345678", "matrix:@ann:funkel.test"]
  round_minutes: 15
  rounds_per_evening: 4
  group_size: 2
  retention_days: 30
"""
    config = load_config(write(tmp_path, text), env={})
    assert config == Config(
        storage=StorageConfig(database="/var/lib/funkel/db.sqlite3"),
        community=CommunityConfig(
            language="de",
            organizers=("console:orga", "discord:123456789012345678", "matrix:@ann:funkel.test"),
            round_minutes=15,
            rounds_per_evening=4,
            group_size=2,
            retention_days=30,
        ),
        log_level="DEBUG",
        source=str(tmp_path / "config.yaml"),
    )
    assert config.community.retention == timedelta(days=30)


def test_a_relative_database_path_is_next_to_the_config_file(tmp_path: Path) -> None:
    """storage.database 'data/f.sqlite3' means the folder of the config file, not the cwd."""
    config = load_config(write(tmp_path, "storage:\n  database: data/f.sqlite3\n"), env={})
    assert config.storage.database == str(tmp_path / "data" / "f.sqlite3")


def test_default_config_is_valid_without_a_file() -> None:
    """`funkel demo` and the console run on a config that needs no file."""
    config = default_config("demo.sqlite3")
    assert config.storage.database == "demo.sqlite3"
    assert config.community == CommunityConfig()
    assert config.discord is None and config.matrix is None
    assert default_config().storage.database == "funkel.sqlite3"


def test_retention_forever_is_spelled_out(tmp_path: Path) -> None:
    """retention_days: forever keeps notes and encounters forever."""
    config = load_config(write(tmp_path, "community:\n  retention_days: forever\n"), env={})
    assert config.community.retention_days == KEEP_FOREVER
    assert config.community.retention is None


def test_retention_zero_is_refused_as_ambiguous(tmp_path: Path) -> None:
    """retention_days: 0 is refused, since it could mean 'keep nothing' or 'keep forever'."""
    message = error_of(tmp_path, "community:\n  retention_days: 0\n")
    assert "community.retention_days is 0" in message
    assert "forever" in message


def test_loading_a_config_does_not_happen_at_import() -> None:
    """Importing bot.config reads no file and no environment (CI needs no fake token)."""
    code = (
        "import builtins, os\n"
        "opened = []\n"
        "real_open = builtins.open\n"
        "builtins.open = lambda *a, **k: (opened.append(a[0]), real_open(*a, **k))[1]\n"
        "import bot.config\n"
        "assert not [p for p in opened if 'config' in str(p) and str(p).endswith('.yaml')]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# --- ${ENV} secrets ------------------------------------------------------------------------


def test_env_variables_are_substituted_in_string_values(tmp_path: Path) -> None:
    """${DISCORD_TOKEN} in a value is replaced by that environment variable."""
    text = MINIMAL + "discord:\n  token: ${DISCORD_TOKEN}\n"
    config = load_config(write(tmp_path, text), env={"DISCORD_TOKEN": "s3cr3t"})
    assert config.discord is not None
    assert config.discord["token"] == "s3cr3t"


def test_env_substitution_works_inside_longer_strings_and_lists(tmp_path: Path) -> None:
    """${NAME} may sit inside a longer value or a list item."""
    text = 'community:\n  organizers: ["matrix:@${WHO}:funkel.test"]\n'
    config = load_config(write(tmp_path, text), env={"WHO": "ann"})
    assert config.community.organizers == ("matrix:@ann:funkel.test",)


def test_a_missing_env_variable_names_the_key_and_the_variable(tmp_path: Path) -> None:
    """A missing variable stops Funkel, naming the key that needs it and the variable."""
    text = MINIMAL + "discord:\n  token: ${DISCORD_TOKEN}\n"
    message = error_of(tmp_path, text, env={})
    assert message.endswith(
        "discord.token needs the environment variable DISCORD_TOKEN, which is not set"
    )


def test_an_empty_env_variable_is_an_error(tmp_path: Path) -> None:
    """A variable that is set but empty is reported, not used as an empty secret."""
    text = MINIMAL + "discord:\n  token: ${DISCORD_TOKEN}\n"
    message = error_of(tmp_path, text, env={"DISCORD_TOKEN": ""})
    assert "discord.token needs the environment variable DISCORD_TOKEN, which is empty" in message


def test_double_dollar_escapes_a_literal(tmp_path: Path) -> None:
    """$${ writes a literal ${ and reads no variable."""
    text = MINIMAL + "discord:\n  token: 'ab$${NOT_A_VAR}cd'\n"
    config = load_config(write(tmp_path, text), env={})
    assert config.discord is not None
    assert config.discord["token"] == "ab${NOT_A_VAR}cd"


def test_an_unclosed_env_reference_is_an_error(tmp_path: Path) -> None:
    """'${TOKEN' without a closing brace is reported with the key."""
    message = error_of(tmp_path, MINIMAL + "discord:\n  token: ${TOKEN\n")
    assert "discord.token has a '${' without a closing '}'" in message


def test_env_values_are_validated_like_written_values(tmp_path: Path) -> None:
    """A variable's value must still pass the key's rules."""
    text = "community:\n  language: ${LANG_CODE}\n"
    message = error_of(tmp_path, text, env={"LANG_CODE": "fr"})
    assert "community.language must be 'en' or 'de', got 'fr'" in message


# --- wrong values --------------------------------------------------------------------------


def test_a_bad_number_names_the_key_the_value_and_the_range(tmp_path: Path) -> None:
    """round_minutes: ten → the message names the dotted key, 'ten' and 1–240."""
    message = error_of(tmp_path, "community:\n  round_minutes: ten\n")
    assert message == (
        f"{tmp_path / 'config.yaml'}: community.round_minutes must be a whole number between "
        "1 and 240, got 'ten'"
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("round_minutes: 0", "community.round_minutes must be a whole number between 1 and 240"),
        ("round_minutes: 241", "between 1 and 240, got 241"),
        ("round_minutes: 10.5", "got 10.5"),
        ("round_minutes: true", "got True (yes/no)"),
        ("round_minutes: '10'", "got '10'"),
        ("rounds_per_evening: -1", "community.rounds_per_evening must be a whole number"),
        ("retention_days: 4000", "community.retention_days must be at most 3650 days"),
        ("retention_days: never", "community.retention_days must be a number of days"),
    ],
)
def test_out_of_range_and_wrongly_typed_numbers_are_refused(
    tmp_path: Path, line: str, expected: str
) -> None:
    """Numbers outside their range, fractions, yes/no and quoted numbers are refused."""
    assert expected in error_of(tmp_path, f"community:\n  {line}\n")


def test_an_unknown_language_lists_the_allowed_ones(tmp_path: Path) -> None:
    """language: fr → the message says en or de."""
    message = error_of(tmp_path, "community:\n  language: fr\n")
    assert "community.language must be 'en' or 'de', got 'fr'" in message


def test_group_size_other_than_two_is_refused(tmp_path: Path) -> None:
    """group_size: 3 is refused with the reason: only pairs (and one trio) are supported."""
    message = error_of(tmp_path, "community:\n  group_size: 3\n")
    assert "community.group_size must be 2" in message
    assert "got 3" in message


@pytest.mark.parametrize(
    ("organizer", "expected"),
    [
        ("ann", "must be a member key 'platform:user_id'"),
        ("slack:U123", "with platform one of console, discord, matrix"),
        ("discord:ann", "a Discord user id is a number of 15–21 digits"),
        ("matrix:ann", "a Matrix user id looks like '@name:server.org'"),
        ("console:", "a console member key needs a name"),
    ],
)
def test_organizers_must_be_member_keys(tmp_path: Path, organizer: str, expected: str) -> None:
    """Each organizer is 'platform:user_id' with a plausible id for that platform."""
    message = error_of(tmp_path, f'community:\n  organizers: ["{organizer}"]\n')
    assert "community.organizers[0]" in message
    assert expected in message


def test_a_single_organizer_not_in_a_list_is_refused(tmp_path: Path) -> None:
    """organizers must be a list, even with one entry."""
    message = error_of(tmp_path, "community:\n  organizers: console:orga\n")
    assert "community.organizers must be a list of member keys, got 'console:orga'" in message


def test_postgresql_is_refused_for_now(tmp_path: Path) -> None:
    """A postgresql:// URL is refused with a clear 'not supported yet'."""
    message = error_of(tmp_path, "storage:\n  database: postgresql://db/funkel\n")
    assert "storage.database: PostgreSQL is not supported yet" in message


def test_unknown_log_level_is_refused(tmp_path: Path) -> None:
    """log_level must be one of the logging levels."""
    message = error_of(tmp_path, "log_level: LOUD\n")
    assert "log_level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'LOUD'" in message


def test_a_section_given_as_a_value_is_refused(tmp_path: Path) -> None:
    """community: 3 (not a section) is reported as such."""
    message = error_of(tmp_path, "community: 3\n")
    assert "community must be a section of key: value pairs, got 3" in message


def test_all_problems_are_reported_together(tmp_path: Path) -> None:
    """Several mistakes are listed in one message, one per line, so they are fixed in one go."""
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, "community:\n  language: fr\n  round_minutes: 0\n"), env={})
    assert "has 2 problems:" in str(caught.value)
    assert len(caught.value.problems) == 2


# --- unknown keys --------------------------------------------------------------------------


def test_an_unknown_key_suggests_the_closest_known_one(tmp_path: Path) -> None:
    """A typo like round_minuts is an error that asks 'did you mean round_minutes?'."""
    message = error_of(tmp_path, "community:\n  round_minuts: 10\n")
    assert "community.round_minuts is not a known setting — did you mean 'round_minutes'?" in (
        message
    )


def test_an_unknown_top_level_section_suggests_the_closest(tmp_path: Path) -> None:
    """A misspelt section name (comunity) gets a suggestion too."""
    message = error_of(tmp_path, "comunity:\n  language: en\n")
    assert "comunity is not a known setting — did you mean 'community'?" in message


def test_an_unknown_key_without_a_close_match_lists_the_known_ones(tmp_path: Path) -> None:
    """With nothing close, the message lists the keys allowed in that section."""
    message = error_of(tmp_path, "storage:\n  zzz: 1\n")
    assert "storage.zzz is not a known setting; known here: database" in message


def test_unknown_keys_in_platform_sections_are_errors(tmp_path: Path) -> None:
    """A typo in discord: or matrix: is caught as well."""
    text = MINIMAL + "matrix:\n  homeserver_url: https://m.funkel.test\n"
    message = error_of(tmp_path, text)
    assert "matrix.homeserver_url is not a known setting — did you mean 'homeserver'?" in message


def test_a_platform_section_needs_its_required_keys(tmp_path: Path) -> None:
    """Using the matrix section without an access token names the missing key."""
    text = MINIMAL + "matrix:\n  homeserver: https://m.funkel.test\n  user_id: '@bot:funkel.test'\n"
    message = error_of(tmp_path, text)
    assert "matrix.access_token is required when the matrix section is used" in message


def test_an_empty_platform_section_means_the_platform_is_not_used(tmp_path: Path) -> None:
    """discord: with nothing under it is allowed and read as 'no Discord'."""
    config = load_config(write(tmp_path, MINIMAL + "discord:\nmatrix: {}\n"), env={})
    assert config.discord is None and config.matrix is None


def test_platform_sections_are_read_only(tmp_path: Path) -> None:
    """The validated platform settings cannot be changed after loading."""
    text = MINIMAL + "discord:\n  token: t\n  guild_ids: [123456789012345678]\n"
    config = load_config(write(tmp_path, text), env={})
    assert config.discord is not None
    assert config.discord["guild_ids"] == ("123456789012345678",)
    with pytest.raises(TypeError):
        config.discord["token"] = "other"  # type: ignore[index]


# --- example values ------------------------------------------------------------------------


def test_an_example_placeholder_is_refused_with_its_key(tmp_path: Path) -> None:
    """An organizer left as 'matrix:@you:example.org' is refused, naming where it is."""
    message = error_of(tmp_path, 'community:\n  organizers: ["matrix:@you:example.org"]\n')
    assert (
        "community.organizers[0] is still the example value 'matrix:@you:example.org' — put "
        "your own member key" in message
    )


def test_example_values_are_caught_in_platform_sections(tmp_path: Path) -> None:
    """The example homeserver and guild id are refused wherever they appear."""
    text = (
        MINIMAL
        + "matrix:\n  homeserver: https://matrix.example.org\n  user_id: '@bot:funkel.test'\n"
        + "  access_token: t\n"
        + "discord:\n  token: t\n  guild_ids: ['000000000000000000']\n"
    )
    message = error_of(tmp_path, text)
    assert "matrix.homeserver is still the example value 'https://matrix.example.org'" in message
    assert "discord.guild_ids[0] is still the example value '000000000000000000'" in message


def test_an_example_value_arriving_through_the_environment_is_refused(tmp_path: Path) -> None:
    """Placeholders are checked after ${ENV} substitution."""
    text = "community:\n  organizers: ['${ORGA}']\n"
    message = error_of(tmp_path, text, env={"ORGA": "matrix:@you:example.org"})
    assert "community.organizers[0] is still the example value" in message


def test_the_shipped_example_fails_only_because_of_its_placeholder(tmp_path: Path) -> None:
    """config.example.yaml copied unchanged fails, and only for the placeholder organizer."""
    with pytest.raises(ConfigError) as caught:
        load_config(EXAMPLE, env={})
    assert caught.value.problems == (
        "community.organizers[0] is still the example value 'matrix:@you:example.org' — put "
        f"your own {EXAMPLE_VALUES['matrix:@you:example.org']} here",
    )


def test_the_shipped_example_loads_once_the_placeholder_is_replaced(tmp_path: Path) -> None:
    """Replacing the example organizer is all it takes for the example to load."""
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "matrix:@you:example.org", "matrix:@ann:funkel.test"
    )
    config = load_config(write(tmp_path, text), env={})
    assert config.community.organizers == ("matrix:@ann:funkel.test",)
    assert config.community == CommunityConfig(organizers=("matrix:@ann:funkel.test",))


def _uncomment_platform_keys(text: str) -> str:
    """The example with every commented-out '  # key: value' line under a section enabled,
    and the lines nested below such a key (``discord.guilds``)."""
    return re.sub(
        r'^  # ([a-z_]+:(?: |$)|  "\d+":$|    [a-z_]+: )', r"  \1", text, flags=re.MULTILINE
    )


def test_the_examples_platform_keys_are_checked_and_refused_as_placeholders(
    tmp_path: Path,
) -> None:
    """Uncommenting the example's Discord and Matrix keys fails only on their placeholders."""
    text = _uncomment_platform_keys(EXAMPLE.read_text(encoding="utf-8")).replace(
        "matrix:@you:example.org", "matrix:@ann:funkel.test"
    )
    env = {"DISCORD_TOKEN": "d", "MATRIX_ACCESS_TOKEN": "m"}
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), env=env)
    paths = sorted(problem.split(" ")[0] for problem in caught.value.problems)
    assert paths == [
        "discord.guild_ids[0]",
        "matrix.homeserver",
        "matrix.rooms[0]",
        "matrix.user_id",
    ]
    assert all("is still the example value" in p for p in caught.value.problems)


def test_the_examples_platform_keys_load_once_filled_in(tmp_path: Path) -> None:
    """With real values and the env secrets set, the fully uncommented example loads."""
    text = _uncomment_platform_keys(EXAMPLE.read_text(encoding="utf-8"))
    for placeholder, real in {
        "matrix:@you:example.org": "matrix:@ann:funkel.test",
        "000000000000000000": "123456789012345678",
        "https://matrix.example.org": "https://matrix.funkel.test",
        "@funkel:example.org": "@funkel:funkel.test",
        "!yourroom:example.org": "!meetup:funkel.test",
    }.items():
        text = text.replace(placeholder, real)
    env = {"DISCORD_TOKEN": "d", "MATRIX_ACCESS_TOKEN": "m"}
    config = load_config(write(tmp_path, text), env=env)
    assert config.discord == {
        "token": "d",
        "guild_ids": ("123456789012345678",),
        "organizer_role": "Organizers",
        "guilds": {
            "123456789012345678": {
                "language": "de",
                "round_minutes": 15,
                "organizer_role": "Orga-Team",
            }
        },
    }
    assert config.matrix == {
        "homeserver": "https://matrix.funkel.test",
        "user_id": "@funkel:funkel.test",
        "access_token": "m",
        "device_id": "FUNKELBOT",
        "device_name": "funkel",
        "store_path": str(tmp_path / "funkel-matrix-store"),
        "command_prefix": "!funkel",
        "organizer_power_level": 50,
        "rooms": ("!meetup:funkel.test",),
        "pairing_delivery": "dm",
    }


def test_every_key_in_the_example_is_commented() -> None:
    """Each setting in config.example.yaml, commented out or not, has its own comment above."""
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    setting = re.compile(r"^\s*(?:# )?[a-z_]+:(?: |$)")
    checked = 0
    for number, line in enumerate(lines):
        if not setting.match(line):
            continue
        checked += 1
        above = lines[number - 1].strip()
        assert above.startswith("#") and not setting.match(above.lstrip()), (
            f"config.example.yaml line {number + 1} ({line.strip()!r}) has no comment above it"
        )
    assert checked == 26  # 5 top-level, 7 storage/community and 14 platform settings


# --- the file itself -----------------------------------------------------------------------


def test_a_missing_file_says_to_copy_the_example(tmp_path: Path) -> None:
    """A config path that does not exist tells the operator to copy config.example.yaml."""
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(missing, env={})
    assert str(caught.value).startswith(f"config file not found: {missing} — copy ")
    assert "config.example.yaml" in str(caught.value)


def test_corrupt_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    """Broken YAML is reported with the file and the line number."""
    message = error_of(tmp_path, "community:\n  language: en\n  organizers: [console:a\n")
    assert message.startswith(f"{tmp_path / 'config.yaml'}, line ")
    assert "not valid YAML" in message


def test_corrupt_yaml_line_number_is_the_broken_line(tmp_path: Path) -> None:
    """The line number points at the line a person must fix."""
    text = "log_level: INFO\nstorage:\n  database: a\n   bad: indentation\n"
    message = error_of(tmp_path, text)
    assert ", line 4, " in message


def test_a_key_given_twice_is_an_error(tmp_path: Path) -> None:
    """A key repeated in one section is refused (YAML would silently keep the last one)."""
    message = error_of(tmp_path, "community:\n  language: en\n  language: de\n")
    assert ", line 3," in message
    assert "the key 'language' appears twice" in message


def test_a_top_level_list_is_refused(tmp_path: Path) -> None:
    """A file whose top level is not a mapping of sections is refused."""
    message = error_of(tmp_path, "- community\n- storage\n")
    assert "the top level must be a mapping of sections" in message
    assert "got a list" in message


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    """An empty config file says to copy the example."""
    message = error_of(tmp_path, "# nothing here\n")
    assert "is empty — copy config.example.yaml" in message


def test_a_non_utf8_file_is_refused_with_its_line(tmp_path: Path) -> None:
    """A file saved in Latin-1 is refused with the line of the first bad byte."""
    path = tmp_path / "config.yaml"
    path.write_bytes("log_level: INFO\ncommunity:\n  language: dé\n".encode("latin-1"))
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert str(caught.value) == f"{path}, line 3: the file is not UTF-8 text — save it as UTF-8"


def test_a_byte_order_mark_is_fine(tmp_path: Path) -> None:
    """A UTF-8 file with a BOM (as some Windows editors write) loads."""
    path = tmp_path / "config.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert load_config(path, env={}).community.organizers == ("matrix:@ann:funkel.test",)


# --- the Matrix adapter's keys -------------------------------------------------------------
MATRIX = MINIMAL + "matrix:\n  homeserver: https://m.funkel.test\n  user_id: '@bot:funkel.test'\n"


def test_matrix_accepts_a_password_from_the_environment_instead_of_a_token(
    tmp_path: Path,
) -> None:
    """The password comes from ${ENV}; Funkel logs in with it once."""
    config = load_config(
        write(tmp_path, MATRIX + "  password: ${PW}\n"), env={"PW": "correct horse"}
    )
    assert config.matrix is not None and config.matrix["password"] == "correct horse"
    assert "access_token" not in config.matrix


def test_matrix_refuses_both_a_token_and_a_password(tmp_path: Path) -> None:
    """Two ways to log in at once is a mistake, named as such."""
    message = error_of(tmp_path, MATRIX + "  access_token: t\n  password: p\n")
    assert "matrix.access_token and matrix.password are both set — give only one" in message


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("rooms: somewhere", "matrix.rooms must be a list of Matrix room ids or aliases, or"),
        ("rooms: ['lobby']", "matrix.rooms[0] must be a Matrix room id like '!abc:server.org'"),
        ("pairing_delivery: email", "matrix.pairing_delivery must be dm or thread, got 'email'"),
        ("organizer_power_level: -1", "matrix.organizer_power_level must be a whole number"),
        ("command_prefix: '! funkel'", "matrix.command_prefix must be one word"),
        ("device_id: 'a b'", "matrix.device_id must be a Matrix device id"),
    ],
)
def test_matrix_keys_are_checked_with_their_path(tmp_path: Path, line: str, expected: str) -> None:
    message = error_of(tmp_path, MATRIX + "  access_token: t\n  " + line + "\n")
    assert expected in message


def test_matrix_reads_v12_room_ids_the_word_invited_and_a_relative_store(tmp_path: Path) -> None:
    """Room version 12 ids have no server part; the key store is next to the config file."""
    v12 = "!" + "a" * 43
    text = MATRIX + f"  access_token: t\n  rooms: ['{v12}', '#meetup:funkel.test']\n"
    text += "  store_path: keys\n  pairing_delivery: Thread\n"
    config = load_config(write(tmp_path, text), env={})
    assert config.matrix is not None
    assert config.matrix["rooms"] == (v12, "#meetup:funkel.test")
    assert config.matrix["store_path"] == str(tmp_path / "keys")
    assert config.matrix["pairing_delivery"] == "thread"
    invited = load_config(write(tmp_path, MATRIX + "  access_token: t\n  rooms: invited\n"), env={})
    assert invited.matrix is not None and invited.matrix["rooms"] == "invited"

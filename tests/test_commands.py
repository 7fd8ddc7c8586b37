"""The command grammar: one table of what people type and what the bot reads from it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core import commands as cmd
from bot.core.commands import (
    COMMANDS,
    Block,
    CardAdd,
    CardClear,
    CardSet,
    CardShow,
    Command,
    Export,
    Forget,
    Help,
    Icebreaker,
    Join,
    Language,
    Leave,
    Mention,
    NoteCmd,
    ParseError,
    Recall,
    RoundEnd,
    RoundPreview,
    RoundStart,
    Unblock,
    help_text,
    parse,
)
from bot.core.i18n import catalog, placeholders, use_language, use_prefix
from bot.core.models import LANGUAGES, MAX_NOTE_CHARS, MAX_PHRASE_CHARS, MAX_PHRASES_PER_LIST

LONG_PHRASE = "x" * (MAX_PHRASE_CHARS + 1)
NINE_PHRASES = "; ".join(f"topic {i}" for i in range(MAX_PHRASES_PER_LIST + 1))
LONG_NOTE = "y" * (MAX_NOTE_CHARS + 1)

# (what someone types, the command read from it — or the ParseError key after "commands.errors.")
CASES: list[tuple[str, Command | str]] = [
    # join / leave
    ("join", Join()),
    ("  JOIN  ", Join()),
    ("Join!", Join()),
    ("beitreten", Join()),
    ("leave", Leave()),
    ("verlassen", Leave()),
    ("join now", "no_arguments"),
    ("leave\nplease", "no_arguments"),
    # card
    ("card", CardShow()),
    ("karte", CardShow()),
    ("card show", CardShow()),
    ("karte zeigen", CardShow()),
    ("card show mine", "no_arguments"),
    ("card curious Lisbon; bouldering", CardSet("curious", ("Lisbon", "bouldering"))),
    ("card curious-about Lisbon", CardSet("curious", ("Lisbon",))),
    ("card curious about Lisbon", CardSet("curious", ("Lisbon",))),
    ("card Curious: Lisbon", CardSet("curious", ("Lisbon",))),
    ("card curious\nLisbon\nbeekeeping", CardSet("curious", ("Lisbon", "beekeeping"))),
    ("karte neugierig Lissabon", CardSet("curious", ("Lissabon",))),
    ("karte neugierig-auf Lissabon", CardSet("curious", ("Lissabon",))),
    ("karte neugierig auf Lissabon", CardSet("curious", ("Lissabon",))),
    ("card tell Shanghai in 1985; sourdough", CardSet("tell", ("Shanghai in 1985", "sourdough"))),
    ("card can-tell sourdough", CardSet("tell", ("sourdough",))),
    ("card can tell sourdough", CardSet("tell", ("sourdough",))),
    ("card can tell about sourdough", CardSet("tell", ("sourdough",))),
    ("card can-tell-about sourdough", CardSet("tell", ("sourdough",))),
    ("card tell about sourdough", CardSet("tell", ("sourdough",))),
    ("karte erzählen Sauerteig", CardSet("tell", ("Sauerteig",))),
    ("karte erzaehlen Sauerteig", CardSet("tell", ("Sauerteig",))),
    ("karte kann-erzählen Sauerteig", CardSet("tell", ("Sauerteig",))),
    ("karte kann erzählen Sauerteig", CardSet("tell", ("Sauerteig",))),
    ("karte kann erzählen von Sauerteig", CardSet("tell", ("Sauerteig",))),
    ("karte erzählen von Sauerteig", CardSet("tell", ("Sauerteig",))),
    ("card tell can tell", CardSet("tell", ("can tell",))),
    ("card add curious Ulaanbaatar", CardAdd("curious", "Ulaanbaatar")),
    ("card add tell beekeeping", CardAdd("tell", "beekeeping")),
    ("card add can-tell beekeeping;", CardAdd("tell", "beekeeping")),
    ("karte hinzufügen neugierig Imkerei", CardAdd("curious", "Imkerei")),
    ("karte hinzufuegen erzählen Imkerei", CardAdd("tell", "Imkerei")),
    ("card clear", CardClear(None)),
    ("card clear curious", CardClear("curious")),
    ("card clear tell", CardClear("tell")),
    ("card clear can tell", CardClear("tell")),
    ("card clear both", CardClear(None)),
    ("karte leeren alle", CardClear(None)),
    ("karte leeren erzählen", CardClear("tell")),
    ("card clear curious now", "no_arguments"),
    ("card curious", "card_empty"),
    ("card curious ;;;", "card_empty"),
    ("card tell  ;  ; \n ", "card_empty"),
    ("card add curious", "card_empty"),
    (f"card curious Lisbon; {LONG_PHRASE}", "phrase_too_long"),
    (f"card add tell {LONG_PHRASE}", "phrase_too_long"),
    (f"card tell {NINE_PHRASES}", "too_many_phrases"),
    ("card wonder Lisbon", "card_unknown"),
    ("card add", "card_list_missing"),
    ("card add wonder Lisbon", "card_list_unknown"),
    ("card clear everything", "card_list_unknown"),
    ("card add curious Lisbon; Porto", "card_add_one"),
    # language
    ("language en", Language(("en",))),
    ("language DE", Language(("de",))),
    ("language de-AT", Language(("de",))),
    ("language de en", Language(("de", "en"))),
    ("language de, en, de", Language(("de", "en"))),
    ("language deutsch", Language(("de",))),
    ("language auto", Language(())),
    ("sprache automatisch", Language(())),
    ("sprache de", Language(("de",))),
    ("language", "language_missing"),
    ("language ,", "language_missing"),
    ("language fr", "language_unknown"),
    ("language de klingon", "language_unknown"),
    ("language auto please", "no_arguments"),
    # rounds
    ("round preview", RoundPreview()),
    ("round start", RoundStart()),
    ("round end", RoundEnd()),
    ("ROUND Start", RoundStart()),
    ("runde vorschau", RoundPreview()),
    ("runde start", RoundStart()),
    ("runde starten", RoundStart()),
    ("runde ende", RoundEnd()),
    ("runde beenden", RoundEnd()),
    ("round", "round_missing"),
    ("round strat", "round_unknown"),
    ("round start now", "no_arguments"),
    # icebreaker
    ("icebreaker", Icebreaker()),
    ("eisbrecher", Icebreaker()),
    ("icebreaker please", "no_arguments"),
    # notes
    ("note @anna Knows every bakery", NoteCmd(Mention("@anna"), "Knows every bakery", False)),
    ("note @anna Lisbon tips --again", NoteCmd(Mention("@anna"), "Lisbon tips", True)),
    ("note @anna Lisbon tips +again", NoteCmd(Mention("@anna"), "Lisbon tips", True)),
    ("note @anna Lisbon tips —again", NoteCmd(Mention("@anna"), "Lisbon tips", True)),
    ("note @anna Lisbon tips --AGAIN  ", NoteCmd(Mention("@anna"), "Lisbon tips", True)),
    ("notiz @anna Bäckerei --nochmal", NoteCmd(Mention("@anna"), "Bäckerei", True)),
    ("note @anna --again is a flag", NoteCmd(Mention("@anna"), "--again is a flag", False)),
    ("note @anna, great chat", NoteCmd(Mention("@anna"), "great chat", False)),
    ('note @"Anna Lena" great chat', NoteCmd(Mention('@"Anna Lena"'), "great chat", False)),
    (
        "note @„Anna Lena“ tolles Gespräch",
        NoteCmd(Mention("@„Anna Lena“"), "tolles Gespräch", False),
    ),
    ("note @“Anna Lena” great", NoteCmd(Mention("@“Anna Lena”"), "great", False)),
    ("note @ann:example.org great", NoteCmd(Mention("@ann:example.org"), "great", False)),
    ("note <@123456> great", NoteCmd(Mention("<@123456>"), "great", False)),
    ("note <@!123456>: great", NoteCmd(Mention("<@!123456>"), "great", False)),
    ("note @anna line one\n\nline two", NoteCmd(Mention("@anna"), "line one\n\nline two", False)),
    ("note", "note_needs_mention"),
    ("note anna great chat", "note_needs_mention"),
    ("note <@&42> great chat", "note_needs_mention"),
    ("note @ great chat", "note_needs_mention"),
    ('note @"" great chat', "note_needs_mention"),
    ("note @anna", "note_needs_text"),
    ("note @anna --again", "note_needs_text"),
    (f"note @anna {LONG_NOTE}", "note_too_long"),
    ('note @"Anna Lena great chat', "mention_unclosed"),
    # recall
    ("met", Recall(None)),
    ("met climbing", Recall("climbing")),
    ("recall", Recall(None)),
    ("recall  who climbs? ", Recall("who climbs?")),
    ("getroffen Klettern", Recall("Klettern")),
    # blocks
    ("block @anna", Block(Mention("@anna"))),
    ("blockieren <@123>", Block(Mention("<@123>"))),
    ('block @"Anna Lena"', Block(Mention('@"Anna Lena"'))),
    ("unblock @ann:example.org", Unblock(Mention("@ann:example.org"))),
    ("entsperren @anna", Unblock(Mention("@anna"))),
    ("block", "mention_missing"),
    ("block anna", "mention_missing"),
    ("unblock", "mention_missing"),
    ("block @Anna Lena", "mention_extra"),
    ('block @"Anna', "mention_unclosed"),
    # data
    ("export", Export()),
    ("exportieren", Export()),
    ("export all", "no_arguments"),
    ("forget me", Forget()),
    ("Forget Me!", Forget()),
    ("vergiss mich", Forget()),
    ("forget", "forget_needs_me"),
    ("forget it", "forget_needs_me"),
    ("vergiss", "forget_needs_me"),
    ("forget me now", "no_arguments"),
    # help
    ("help", Help(None)),
    ("hilfe", Help(None)),
    ("help?", Help(None)),
    ("help card", Help("card")),
    ("hilfe karte", Help("card")),
    ("help recall", Help("met")),
    ("help round start", Help("round")),
    ("help curious", Help("card")),
    ("help xyzzy", Help("xyzzy")),
    # nothing, or something unknown
    ("", "empty"),
    ("   \n\t ", "empty"),
    ("\x00\u200b\u202e", "empty"),
    ("crad", "unknown_command"),
    ("curious Lisbon", "unknown_command"),
    ("xyzzy", "unknown_command_no_suggestion"),
]

ERROR_INPUTS = [text for text, expected in CASES if isinstance(expected, str)]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_parse(text: str, expected: Command | str) -> None:
    """What people type is read as the expected command, or as the expected error."""
    result = parse(text)
    if isinstance(expected, str):
        assert isinstance(result, ParseError), result
        assert result.key == f"commands.errors.{expected}"
    else:
        assert result == expected


def _error(text: str) -> ParseError:
    result = parse(text)
    assert isinstance(result, ParseError), result
    return result


@pytest.mark.parametrize(
    "literal",
    [
        "Robert'); DROP TABLE notes;--",
        "**bold** _it_ `code` [x](https://example.org) <b>hi</b>",
        "{name} {0} {{braces}} %s $HOME ${TOKEN}",
        "👩‍💻 🏳️‍🌈 ❤️ 🇵🇹",
        "مرحبا بالعالم — שלום עולם",
        "@everyone <@&123> \\n \\x00",
    ],
)
def test_metacharacters_survive_parsing_literally(literal: str) -> None:
    """SQL, Markdown, braces, emoji and RTL text reach the command exactly as typed."""
    assert parse(f"note @anna {literal}") == NoteCmd(Mention("@anna"), literal, False)
    assert parse(f"met {literal}") == Recall(literal)
    without_separators = literal.replace(";", ",")
    assert parse(f"card add tell {without_separators}") == CardAdd("tell", without_separators)


def test_invisible_and_control_characters_are_removed_but_emoji_joiners_kept() -> None:
    """NUL, zero-width spaces and bidi overrides go; the ZWJ inside 👩‍💻 stays."""
    typed = "card curious ad\u200bmin\x00; \u202eevil\u202c; 👩\u200d💻 coding; \ufeffsourdough"
    assert parse(typed) == CardSet("curious", ("admin", "evil", "👩\u200d💻 coding", "sourdough"))


def test_phrases_are_deduplicated_case_insensitively_keeping_the_first_spelling() -> None:
    """Repeats in any case are dropped; the first spelling and the order are kept."""
    assert parse("card tell Lisbon; lisbon;  LISBON ; Porto") == CardSet(
        "tell", ("Lisbon", "Porto")
    )


def test_a_phrase_at_the_limit_is_fine_and_one_over_names_the_phrase() -> None:
    """60 characters pass; 61 are refused with a preview of the phrase, its length and the limit."""
    at_limit = "a" * MAX_PHRASE_CHARS
    assert parse(f"card curious {at_limit}") == CardSet("curious", (at_limit,))
    error = _error(f"card curious Lisbon; {LONG_PHRASE}")
    assert error.params["length"] == str(MAX_PHRASE_CHARS + 1)
    assert error.params["limit"] == str(MAX_PHRASE_CHARS)
    assert error.params["phrase"].startswith("xxx") and error.params["phrase"].endswith("…")
    assert len(error.params["phrase"]) < MAX_PHRASE_CHARS


def test_eight_phrases_fit_and_a_ninth_is_refused_with_the_limit() -> None:
    """Eight phrases are a full list; nine name the count and the limit of 8."""
    eight = "; ".join(f"topic {i}" for i in range(MAX_PHRASES_PER_LIST))
    result = parse(f"card curious {eight}")
    assert isinstance(result, CardSet) and len(result.phrases) == MAX_PHRASES_PER_LIST
    error = _error(f"card curious {NINE_PHRASES}")
    assert error.params == {"count": "9", "limit": "8"}


def test_duplicates_do_not_count_towards_the_phrase_limit() -> None:
    """Eight phrases plus a repeat in other case are still eight."""
    eight = "; ".join(f"topic {i}" for i in range(MAX_PHRASES_PER_LIST))
    result = parse(f"card curious {eight}; TOPIC 0")
    assert isinstance(result, CardSet) and len(result.phrases) == MAX_PHRASES_PER_LIST


def test_a_note_at_the_limit_is_fine_and_one_over_says_length_and_limit() -> None:
    """500 characters pass; 501 are refused, naming both numbers."""
    at_limit = "n" * MAX_NOTE_CHARS
    assert parse(f"note @anna {at_limit}") == NoteCmd(Mention("@anna"), at_limit, False)
    assert _error(f"note @anna {LONG_NOTE}").params == {"length": "501", "limit": "500"}


def test_an_unknown_command_suggests_the_closest_one() -> None:
    """A typo suggests the nearest keyword, or the full form ("forget me", "card curious")."""
    assert _error("crad Lisbon").params == {"command": "crad", "suggestion": "card"}
    assert _error("forgt me").params["suggestion"] == "forget me"
    assert _error("kart").params["suggestion"] == "karte"
    assert _error("curious Lisbon").params["suggestion"] == "card curious"


def test_errors_echo_what_was_typed_and_which_command() -> None:
    """Errors quote the word that was not understood and the command as the person typed it."""
    assert _error("runde strat").params == {"command": "runde", "given": "strat"}
    assert _error("join now please").params == {"command": "join", "extra": "now please"}
    assert _error("vergiss").params == {"phrase": "vergiss mich"}
    assert _error("forget").params == {"phrase": "forget me"}
    assert _error("block @Anna Lena").params == {
        "command": "block",
        "mention": "@Anna",
        "extra": "Lena",
    }
    assert _error("language fr").params == {
        "command": "language",
        "code": "fr",
        "choices": "en, de",
    }


def test_echoed_mass_mentions_are_defused() -> None:
    """An error quoting "@everyone" cannot ping the room."""
    assert _error("@everyone").params["command"] == "＠everyone"
    assert _error("join @here").params["extra"] == "＠here"


def test_mentions_know_their_platform_form() -> None:
    """A mention exposes a Discord id, a Matrix id, or a name to look up."""
    assert Mention("<@!123>").discord_id == "123"
    assert Mention("<@123>").matrix_id is None
    assert Mention("@ann:example.org").matrix_id == "@ann:example.org"
    assert Mention('@"Anna Lena"').name == "Anna Lena"
    assert Mention("@„Anna Lena“").name == "Anna Lena"
    assert Mention("@anna").name == "anna"
    assert Mention("@anna").discord_id is None


def test_language_code_is_the_preferred_language_or_none_for_auto() -> None:
    """``Language.code`` is the first language; "auto" has none."""
    assert Language(("de", "en")).code == "de"
    assert Language(()).code is None


@given(st.text())
def test_parse_never_raises(text: str) -> None:
    """Any text at all gives a command or a ParseError."""
    assert isinstance(parse(text), ParseError | Command)


@given(st.sampled_from([kw for spec in COMMANDS for kw in spec.keywords]), st.text())
def test_parse_never_raises_after_a_real_keyword(keyword: str, rest: str) -> None:
    """A real keyword followed by anything gives a command or a ParseError."""
    assert isinstance(parse(f"{keyword} {rest}"), ParseError | Command)


# --- the command table, help and copy ------------------------------------------------------


def test_every_keyword_belongs_to_one_command_and_has_a_parser() -> None:
    """Keywords and aliases are unique across commands, and each command is parsed."""
    keywords = [kw for spec in COMMANDS for kw in spec.keywords]
    assert len(keywords) == len(set(keywords))
    assert {spec.name for spec in COMMANDS} == set(cmd._PARSERS)


def test_only_rounds_are_for_organizers() -> None:
    """The command table marks round (preview, start, end) as organizer-only, nothing else."""
    assert [spec.name for spec in COMMANDS if spec.organizer_only] == ["round"]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("text", ERROR_INPUTS)
def test_every_error_renders_with_exactly_its_placeholders(text: str, language: str) -> None:
    """Each parse error's template uses exactly the params it gets (plus the prefix)."""
    error = _error(text)
    template = catalog(language)[error.key]
    assert placeholders(template) - {"prefix"} == set(error.params)
    with use_language(language), use_prefix("!funkel "):
        message = error.message()
    assert message.strip() and "{" not in message


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("spec", COMMANDS, ids=lambda spec: spec.name)
def test_help_renders_for_every_command(spec: cmd.CommandSpec, language: str) -> None:
    """Every command's help (summary, usage, example) renders fully in en and de."""
    for key in (spec.summary_key, spec.usage_key, spec.example_key):
        assert key in catalog(language), key
    with use_language(language), use_prefix("!funkel "):
        text = help_text(spec.name)
    assert "{" not in text and "}" not in text, text
    assert "!funkel " in text
    if spec.organizer_only:
        assert catalog(language)["commands.help.detail_organizer"].splitlines()[1] in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_help_overview_names_every_command(language: str) -> None:
    """The "help" overview shows each command (in some keyword), with the prefix filled in."""
    with use_language(language), use_prefix("/funkel "):
        overview = help_text(None)
    assert "{" not in overview
    for spec in COMMANDS:
        assert any(f"/funkel {kw}" in overview for kw in spec.keywords), spec.name


def test_help_accepts_aliases_and_suggests_for_unknown_topics() -> None:
    """Help takes aliases ("karte"), suggests for typos and says when no command matches."""
    with use_language("en"):
        assert help_text("karte") == help_text("card")
        assert "“help card”" in help_text("crad")
        assert "xyzzy" in help_text("xyzzy") and "help" in help_text("xyzzy")
        assert help_text("") == help_text(None)

"""The one command grammar for every adapter: text in, a command or a localised error out.

Pure: no I/O, no platform knowledge. Adapters strip their own prefix ("!funkel ", a slash
command's name) and hand over the rest; ``parse`` handles whitespace, keyword case, English
keywords and their German aliases. Mentions are kept as typed (``Mention.raw``); the service
resolves them to members.

Everything a person typed is kept literally apart from ``text.clean``: SQL, Markdown, braces,
emoji and right-to-left text are data, never interpreted here.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from bot.core.i18n import t
from bot.core.models import LANGUAGES, MAX_NOTE_CHARS, MAX_PHRASE_CHARS, MAX_PHRASES_PER_LIST
from bot.core.text import clean, neutralise_mentions

ListName = Literal["curious", "tell"]


# --- the vocabulary: every keyword lives here, nowhere else -------------------------------


@dataclass(frozen=True)
class CommandSpec:
    """One command: its canonical English keyword, the other words that mean it, its help.

    ``subcommands`` are the canonical English words that may follow (Discord slash commands
    are built from them); their aliases are in ``CARD_WORDS`` and ``ROUND_WORDS``.
    """

    name: str
    aliases: tuple[str, ...] = ()
    organizer_only: bool = False
    subcommands: tuple[str, ...] = ()

    @property
    def keywords(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    @property
    def summary_key(self) -> str:
        return f"commands.help.{self.name}.summary"

    @property
    def usage_key(self) -> str:
        return f"commands.help.{self.name}.usage"

    @property
    def example_key(self) -> str:
        return f"commands.help.{self.name}.example"


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("join", ("beitreten",)),
    CommandSpec("leave", ("verlassen",)),
    CommandSpec("card", ("karte",), subcommands=("curious", "tell", "add", "clear")),
    CommandSpec("language", ("sprache",)),
    CommandSpec("round", ("runde",), organizer_only=True, subcommands=("preview", "start", "end")),
    CommandSpec("icebreaker", ("eisbrecher",)),
    CommandSpec("note", ("notiz",)),
    CommandSpec("met", ("recall", "getroffen")),
    CommandSpec("block", ("blockieren",)),
    CommandSpec("unblock", ("entsperren",)),
    CommandSpec("export", ("exportieren",)),
    CommandSpec("forget", ("vergiss",)),
    CommandSpec("help", ("hilfe",)),
)

# Words after "card". Longer forms ("curious about") are matched before shorter ones.
CARD_WORDS: Mapping[str, str] = {
    "show": "show",
    "zeigen": "show",
    "curious": "curious",
    "curious-about": "curious",
    "curious about": "curious",
    "neugierig": "curious",
    "neugierig-auf": "curious",
    "neugierig auf": "curious",
    "tell": "tell",
    "tell about": "tell",
    "can-tell": "tell",
    "can tell": "tell",
    "can-tell-about": "tell",
    "can tell about": "tell",
    "erzählen": "tell",
    "erzaehlen": "tell",
    "erzählen von": "tell",
    "kann-erzählen": "tell",
    "kann erzählen": "tell",
    "kann erzählen von": "tell",
    "add": "add",
    "hinzufügen": "add",
    "hinzufuegen": "add",
    "clear": "clear",
    "leeren": "clear",
}
# After "card clear": one of the lists, or a word for both (the same as no word at all).
CLEAR_BOTH_WORDS = frozenset({"both", "all", "beide", "alle"})
ROUND_WORDS: Mapping[str, str] = {
    "preview": "preview",
    "vorschau": "preview",
    "start": "start",
    "starten": "start",
    "end": "end",
    "ende": "end",
    "beenden": "end",
}
LANGUAGE_AUTO_WORDS = frozenset({"auto", "automatisch"})
LANGUAGE_NAMES: Mapping[str, str] = {
    "english": "en",
    "englisch": "en",
    "german": "de",
    "deutsch": "de",
}
# "forget" alone must not delete anything: the confirming word is required.
FORGET_PHRASES: Mapping[str, str] = {"forget": "forget me", "vergiss": "vergiss mich"}
FORGET_CONFIRM_WORDS = frozenset({"me", "mich"})
# The "I'd like to talk again" flag at the end of a note. Phones turn "--" into a dash.
_AGAIN_FLAG = re.compile(r"(?:^|\s)(?:--|\+|—|–)(?:again|nochmal|wieder)\s*$", re.IGNORECASE)
# Words people type without their command; an unknown-command reply suggests the full form.
_HINTS: Mapping[str, str] = {
    "curious": "card curious",
    "tell": "card tell",
    "neugierig": "karte neugierig",
    "erzählen": "karte erzählen",
    "preview": "round preview",
    "vorschau": "runde vorschau",
}

_LONGEST_FORM = max(len(form.split()) for form in CARD_WORDS)
_BY_KEYWORD: Mapping[str, CommandSpec] = {kw: spec for spec in COMMANDS for kw in spec.keywords}
_SUGGESTIONS: Mapping[str, str] = {
    **{kw: FORGET_PHRASES.get(kw, kw) for kw in _BY_KEYWORD},
    **_HINTS,
}


# --- what parse returns -------------------------------------------------------------------


@dataclass(frozen=True)
class Mention:
    """Someone named in a command, exactly as typed; the service resolves it to a member.

    Forms: ``@anna``, ``@"Anna Lena"`` (also with typographic quotes), a Matrix user id
    ``@ann:example.org``, a Discord mention ``<@123456>`` or ``<@!123456>``.
    """

    raw: str

    @property
    def discord_id(self) -> str | None:
        match = _DISCORD_MENTION.fullmatch(self.raw)
        return match.group(1) if match else None

    @property
    def matrix_id(self) -> str | None:
        return self.raw if _MATRIX_ID.fullmatch(self.raw) else None

    @property
    def name(self) -> str:
        """The name to look up by display name: without "@" and quotes."""
        if self.discord_id is not None:
            return self.raw
        name = self.raw.removeprefix("@")
        if name[:1] in _OPEN_QUOTES:
            name = name[1:-1]
        return clean(name)


@dataclass(frozen=True)
class Join:
    pass


@dataclass(frozen=True)
class Leave:
    pass


@dataclass(frozen=True)
class CardShow:
    pass


@dataclass(frozen=True)
class CardSet:
    """Replace one list of the card."""

    which: ListName
    phrases: tuple[str, ...]


@dataclass(frozen=True)
class CardAdd:
    which: ListName
    phrase: str


@dataclass(frozen=True)
class CardClear:
    which: ListName | None  # None: both lists


@dataclass(frozen=True)
class Language:
    """The languages a member speaks, preferred first; empty: "auto", follow the community."""

    codes: tuple[str, ...]

    @property
    def code(self) -> str | None:
        """The preferred language, or None for "auto"."""
        return self.codes[0] if self.codes else None


@dataclass(frozen=True)
class RoundPreview:
    pass


@dataclass(frozen=True)
class RoundStart:
    pass


@dataclass(frozen=True)
class RoundEnd:
    pass


@dataclass(frozen=True)
class Icebreaker:
    pass


@dataclass(frozen=True)
class NoteCmd:
    target: Mention
    text: str
    again: bool  # "I'd like to talk again"


@dataclass(frozen=True)
class Recall:
    """``met`` or ``recall``: whom did I meet (optionally matching ``query``)."""

    query: str | None


@dataclass(frozen=True)
class Block:
    target: Mention


@dataclass(frozen=True)
class Unblock:
    target: Mention


@dataclass(frozen=True)
class Export:
    pass


@dataclass(frozen=True)
class Forget:
    pass


@dataclass(frozen=True)
class Help:
    topic: str | None  # a canonical command name, or the unknown word as typed


Command: TypeAlias = (
    Join
    | Leave
    | CardShow
    | CardSet
    | CardAdd
    | CardClear
    | Language
    | RoundPreview
    | RoundStart
    | RoundEnd
    | Icebreaker
    | NoteCmd
    | Recall
    | Block
    | Unblock
    | Export
    | Forget
    | Help
)


@dataclass(frozen=True)
class ParseError:
    """Why a command could not be read: a full i18n key and its (string) parameters."""

    key: str
    params: dict[str, str] = field(default_factory=dict)

    def message(self) -> str:
        """The error in the current language."""
        return t(self.key, **self.params)


# --- parsing ------------------------------------------------------------------------------

_WHITESPACE = re.compile(r"\s+")
_PHRASE_SEPARATORS = re.compile(r"[;\n]")
_LANGUAGE_SEPARATORS = re.compile(r"[\s,;]+")
_DISCORD_MENTION = re.compile(r"<@!?(\d+)>")
_MATRIX_ID = re.compile(r"@[^\s:]+:\S+")
_OPEN_QUOTES = frozenset('"“”„«»')
_CLOSE_QUOTES = frozenset('"“”»«')
# Punctuation stuck to the end of a word that is not part of it ("@anna:", "help?").
_TRAILING_PUNCTUATION = ",;:.!?"
_PREVIEW_CHARS = 30
_SUGGEST_MAX_CHARS = 40


def parse(text: str) -> Command | ParseError:
    """Read one command. Never raises for any input; problems come back as ``ParseError``."""
    body = clean(text, multiline=True)
    if not body:
        return _error("empty")
    first, rest = _split(body)
    keyword = _word(first)
    spec = _BY_KEYWORD.get(keyword)
    if spec is None:
        return _unknown_command(first)
    return _PARSERS[spec.name](keyword, rest)


def _split(text: str) -> tuple[str, str]:
    """The first word and the rest (line breaks in the rest are kept)."""
    parts = _WHITESPACE.split(text.strip(), maxsplit=1)
    return parts[0], parts[1] if len(parts) > 1 else ""


def _word(word: str) -> str:
    return word.casefold().rstrip(_TRAILING_PUNCTUATION)


def _take_word(text: str, table: Mapping[str, str]) -> tuple[str, str, str] | None:
    """``(meaning, words as typed, rest)`` when ``text`` starts with a word from ``table``.

    Longer forms win: "can tell about Lisbon" is the list "can tell about", then "Lisbon".
    """
    words: list[str] = []
    rests: list[str] = []
    rest = text
    for _ in range(_LONGEST_FORM):
        word, rest = _split(rest)
        if not word:
            break
        words.append(_word(word))
        rests.append(rest)
    for n in range(len(words), 0, -1):
        form = " ".join(words[:n])
        if form in table:
            return table[form], form, rests[n - 1]
    return None


def _preview(text: str, limit: int = _PREVIEW_CHARS) -> str:
    flat = clean(text)
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _error(name: str, **params: object) -> ParseError:
    # Echoed user text must not ping a whole room when the reply is rendered.
    return ParseError(
        f"commands.errors.{name}",
        {key: neutralise_mentions(str(value)) for key, value in params.items()},
    )


def _closest(word: str, candidates: Mapping[str, str]) -> str | None:
    if len(word) > _SUGGEST_MAX_CHARS:
        return None
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return candidates[matches[0]] if matches else None


def _unknown_command(typed: str) -> ParseError:
    word = _word(typed) or typed.casefold()
    suggestion = _closest(word, _SUGGESTIONS)
    if suggestion is None:
        return _error("unknown_command_no_suggestion", command=_preview(typed))
    return _error("unknown_command", command=_preview(typed), suggestion=suggestion)


def _no_arguments(command: Command, typed: str, rest: str) -> Command | ParseError:
    if rest:
        return _error("no_arguments", command=typed, extra=_preview(rest))
    return command


def _parse_join(typed: str, rest: str) -> Command | ParseError:
    return _no_arguments(Join(), typed, rest)


def _parse_leave(typed: str, rest: str) -> Command | ParseError:
    return _no_arguments(Leave(), typed, rest)


def _parse_icebreaker(typed: str, rest: str) -> Command | ParseError:
    return _no_arguments(Icebreaker(), typed, rest)


def _parse_export(typed: str, rest: str) -> Command | ParseError:
    return _no_arguments(Export(), typed, rest)


def _parse_card(typed: str, rest: str) -> Command | ParseError:
    if not rest:
        return CardShow()
    taken = _take_word(rest, CARD_WORDS)
    if taken is None:
        return _error("card_unknown", command=typed, given=_preview(_split(rest)[0]))
    meaning, words, after = taken
    command = f"{typed} {words}"
    if meaning == "show":
        return _no_arguments(CardShow(), command, after)
    if meaning == "clear":
        return _parse_card_clear(command, after)
    if meaning == "add":
        return _parse_card_add(command, after)
    which = _list_name(meaning)
    if which is None:  # only "curious"/"tell" are left in CARD_WORDS
        return _error("card_unknown", command=typed, given=_preview(words))
    phrases = _phrases(command, after)
    if isinstance(phrases, ParseError):
        return phrases
    return CardSet(which, phrases)


def _list_name(meaning: str) -> ListName | None:
    if meaning == "curious":
        return "curious"
    if meaning == "tell":
        return "tell"
    return None


def _parse_card_clear(command: str, rest: str) -> Command | ParseError:
    if not rest:
        return CardClear(None)
    first, after = _split(rest)
    if _word(first) in CLEAR_BOTH_WORDS:
        return _no_arguments(CardClear(None), f"{command} {_word(first)}", after)
    taken = _take_word(rest, CARD_WORDS)
    which = _list_name(taken[0]) if taken else None
    if taken is None or which is None:
        return _error("card_list_unknown", command=command, given=_preview(first))
    return _no_arguments(CardClear(which), f"{command} {taken[1]}", taken[2])


def _parse_card_add(command: str, rest: str) -> Command | ParseError:
    if not rest:
        return _error("card_list_missing", command=command)
    taken = _take_word(rest, CARD_WORDS)
    which = _list_name(taken[0]) if taken else None
    if taken is None or which is None:
        return _error("card_list_unknown", command=command, given=_preview(_split(rest)[0]))
    command = f"{command} {taken[1]}"
    phrases = _phrases(command, taken[2])
    if isinstance(phrases, ParseError):
        return phrases
    if len(phrases) > 1:
        return _error("card_add_one", command=command)
    return CardAdd(which, phrases[0])


def _phrases(command: str, text: str) -> tuple[str, ...] | ParseError:
    """Phrases separated by ";" or line breaks: cleaned, empties dropped, duplicates too."""
    seen: set[str] = set()
    phrases: list[str] = []
    for part in _PHRASE_SEPARATORS.split(text):
        phrase = clean(part)
        if phrase and phrase.casefold() not in seen:
            seen.add(phrase.casefold())
            phrases.append(phrase)
    if not phrases:
        return _error("card_empty", command=command)
    if len(phrases) > MAX_PHRASES_PER_LIST:
        return _error("too_many_phrases", count=len(phrases), limit=MAX_PHRASES_PER_LIST)
    for phrase in phrases:
        if len(phrase) > MAX_PHRASE_CHARS:
            return _error(
                "phrase_too_long",
                phrase=_preview(phrase),
                length=len(phrase),
                limit=MAX_PHRASE_CHARS,
            )
    return tuple(phrases)


def _parse_language(typed: str, rest: str) -> Command | ParseError:
    choices = ", ".join(LANGUAGES)
    if not rest:
        return _error("language_missing", command=typed, choices=choices)
    first, after = _split(rest)
    if _word(first) in LANGUAGE_AUTO_WORDS:
        return _no_arguments(Language(()), f"{typed} {_word(first)}", after)
    codes: list[str] = []
    for typed_code in _LANGUAGE_SEPARATORS.split(rest.strip()):
        word = _word(typed_code)
        if not word:
            continue
        # "de-AT", "en_GB": the bot speaks the language, not the region.
        code = LANGUAGE_NAMES.get(word, re.split(r"[-_]", word, maxsplit=1)[0])
        if code not in LANGUAGES:
            return _error(
                "language_unknown", command=typed, code=_preview(typed_code), choices=choices
            )
        if code not in codes:
            codes.append(code)
    if not codes:  # only separators, e.g. "language ,"
        return _error("language_missing", command=typed, choices=choices)
    return Language(tuple(codes))


def _parse_round(typed: str, rest: str) -> Command | ParseError:
    if not rest:
        return _error("round_missing", command=typed)
    first, after = _split(rest)
    word = _word(first)
    meaning = ROUND_WORDS.get(word)
    command: Command
    if meaning == "preview":
        command = RoundPreview()
    elif meaning == "start":
        command = RoundStart()
    elif meaning == "end":
        command = RoundEnd()
    else:
        return _error("round_unknown", command=typed, given=_preview(first))
    return _no_arguments(command, f"{typed} {word}", after)


def _take_mention(typed: str, text: str, missing: str) -> tuple[Mention, str] | ParseError:
    """The mention at the start of ``text`` and what follows it.

    ``missing`` is the error to give when ``text`` does not start with a mention.
    """
    discord = _DISCORD_MENTION.match(text)
    if discord:
        raw, rest = discord.group(0), text[discord.end() :]
    elif text.startswith("@") and text[1:2] in _OPEN_QUOTES:
        close = next((i for i in range(2, len(text)) if text[i] in _CLOSE_QUOTES), None)
        if close is None:
            return _error("mention_unclosed", command=typed)
        raw, rest = text[: close + 1], text[close + 1 :]
        if not clean(raw[2:-1]):
            return _error(missing, command=typed)
    elif text.startswith("@"):
        first, rest = _split(text)
        raw = first.rstrip(_TRAILING_PUNCTUATION)
        if raw == "@":
            return _error(missing, command=typed)
        return Mention(raw), rest
    else:
        return _error(missing, command=typed)
    # Punctuation stuck to the mention ("<@123>:") is not part of what follows.
    return Mention(raw), rest.lstrip(_TRAILING_PUNCTUATION).strip()


def _parse_note(typed: str, rest: str) -> Command | ParseError:
    taken = _take_mention(typed, rest, "note_needs_mention")
    if isinstance(taken, ParseError):
        return taken
    mention, text = taken
    flag = _AGAIN_FLAG.search(text)
    again = flag is not None
    if flag is not None:
        text = text[: flag.start()]
    text = clean(text, multiline=True)
    if not text:
        return _error("note_needs_text", command=typed, mention=mention.raw)
    if len(text) > MAX_NOTE_CHARS:
        return _error("note_too_long", length=len(text), limit=MAX_NOTE_CHARS)
    return NoteCmd(mention, text, again)


def _parse_block(typed: str, rest: str) -> Command | ParseError:
    taken = _take_mention(typed, rest, "mention_missing")
    if isinstance(taken, ParseError):
        return taken
    mention, after = taken
    if after:
        return _error("mention_extra", command=typed, mention=mention.raw, extra=_preview(after))
    return Block(mention)


def _parse_unblock(typed: str, rest: str) -> Command | ParseError:
    command = _parse_block(typed, rest)
    return Unblock(command.target) if isinstance(command, Block) else command


def _parse_met(typed: str, rest: str) -> Command | ParseError:
    return Recall(clean(rest) or None)


def _parse_forget(typed: str, rest: str) -> Command | ParseError:
    phrase = FORGET_PHRASES.get(typed, "forget me")
    first, after = _split(rest)
    if _word(first) not in FORGET_CONFIRM_WORDS:
        return _error("forget_needs_me", phrase=phrase)
    return _no_arguments(Forget(), f"{typed} {_word(first)}", after)


def _parse_help(typed: str, rest: str) -> Command | ParseError:
    if not rest:
        return Help(None)
    # Only the first word names the topic: "help round start" is about "round".
    first, _ = _split(rest)
    return Help(_topic(first) or _preview(first.casefold()))


_PARSERS: Mapping[str, Callable[[str, str], Command | ParseError]] = {
    "join": _parse_join,
    "leave": _parse_leave,
    "card": _parse_card,
    "language": _parse_language,
    "round": _parse_round,
    "icebreaker": _parse_icebreaker,
    "note": _parse_note,
    "met": _parse_met,
    "block": _parse_block,
    "unblock": _parse_unblock,
    "export": _parse_export,
    "forget": _parse_forget,
    "help": _parse_help,
}


# --- help ---------------------------------------------------------------------------------

_SPECS: Mapping[str, CommandSpec] = {spec.name: spec for spec in COMMANDS}
# Limits named in help copy, so the text never disagrees with the parser.
_HELP_LIMITS: Mapping[str, object] = {
    "phrase_limit": MAX_PHRASES_PER_LIST,
    "phrase_chars": MAX_PHRASE_CHARS,
    "note_chars": MAX_NOTE_CHARS,
}


def _topic(word: str) -> str | None:
    """The command a help topic names: a keyword, or a word that only follows one."""
    word = _word(word)
    spec = _BY_KEYWORD.get(word)
    if spec is not None:
        return spec.name
    if word in CARD_WORDS:
        return "card"
    if word in ROUND_WORDS:
        return "round"
    return None


def help_text(topic: str | None = None) -> str:
    """The help overview (no topic), or one command's summary, usage and example.

    ``topic`` may be any keyword or alias ("karte", "recall"); an unknown topic gets the
    localised error, with a suggestion when one is close.
    """
    first = _split(topic)[0] if topic else ""
    if not first:
        return t("commands.help.overview")
    name = _topic(first)
    if name is None:
        suggestion = _closest(_word(first), {kw: kw for kw in _BY_KEYWORD})
        if suggestion is None:
            return _error("help_unknown_topic_no_suggestion", topic=_preview(first)).message()
        return _error("help_unknown_topic", topic=_preview(first), suggestion=suggestion).message()
    spec = _SPECS[name]
    return t(
        "commands.help.detail_organizer" if spec.organizer_only else "commands.help.detail",
        summary=t(spec.summary_key, **_HELP_LIMITS),
        usage=t(spec.usage_key, **_HELP_LIMITS),
        example=t(spec.example_key, **_HELP_LIMITS),
    )

"""Offline pairing for in-person meetups: ``funkel pair attendees.(json|csv|yaml)``.

An organizer collected curiosity cards with a sign-up form; this module reads that file,
pairs people with the same engine the bot uses, and writes groups, reasons and icebreakers as
text (for a printout), JSON or CSV. A JSON or CSV output fed back with ``--history`` counts as
encounters, so chained rounds avoid repeats.

Every problem with an input file is a ``PairFileError`` naming the file, the row as a person
sees it (CSV: the line number, which is the spreadsheet row; JSON/YAML: the attendee's position
in the list) and the field, e.g.::

    attendees.csv, row 4 (name 'Ben'): curious_about has 9 phrases; at most 8 are allowed

Names and phrases are kept exactly as typed, apart from ``bot.core.text.clean`` (control and
invisible spoofing characters removed, whitespace collapsed): SQL, Markdown, emoji and
right-to-left text come out as they went in. The one exception is CSV output, where a cell
starting with = + - @ gets a leading ' so that spreadsheets do not run it as a formula;
``read_history`` removes that guard again.
"""

from __future__ import annotations

import csv
import difflib
import io
import itertools
import json
import os
import random
import re
import secrets
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.core.i18n import t_in
from bot.core.icebreakers import choose_icebreaker
from bot.core.models import (
    LANGUAGES,
    MAX_NAME_CHARS,
    MAX_PHRASE_CHARS,
    MAX_PHRASES_PER_LIST,
    Group,
    GroupFlag,
    PastEncounter,
    Reason,
    ReasonKind,
)
from bot.core.pairing import Person, pair
from bot.core.text import clean

FIELDS = ("name", "curious_about", "can_tell_about", "language", "never_with")
LIST_FIELDS = ("curious_about", "can_tell_about", "never_with")
CSV_LIST_SEPARATOR = ";"
OUTPUT_JOIN = "; "  # members and reasons in one CSV cell
MAX_REASONS_SHOWN = 3  # a printout lists the strongest reasons; more reads like a dump
# Words a sign-up form may put in the language column instead of the code.
_LANGUAGE_WORDS = {"english": "en", "englisch": "en", "german": "de", "deutsch": "de"}
# History has no dates; entries are placed on a timeline in the order given (later files are
# more recent), one step apart. The step is small on purpose: the order breaks ties between
# unavoidable repeats, but the pairs of one file, read one after another, stay about equal.
HISTORY_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
HISTORY_STEP = timedelta(minutes=1)
# A spreadsheet runs a cell starting with = + - or @ as a formula ("CSV injection"); such a
# cell gets one more leading ' (also one already starting with 's, so that reading it back
# removes exactly the one that was added).
_NEEDS_GUARD = re.compile(r"'*[=+\-@]")
_GUARDED = re.compile(r"'+[=+\-@]")
_SEED_LIMIT = 1_000_000  # a chosen seed has at most six digits, easy to type again


class PairFileError(Exception):
    """An input file cannot be used; the message names file, row and field."""

    def __init__(
        self, message: str, *, file: str = "", row: str = "", field: str | None = None
    ) -> None:
        super().__init__(message)
        self.file = file
        self.row = row  # "row 4", "entry 3", "" for the whole file
        self.field = field


@dataclass(frozen=True)
class Attendee:
    name: str
    curious_about: tuple[str, ...] = ()
    can_tell_about: tuple[str, ...] = ()
    language: str | None = None  # "en" | "de": the language they need; None: any
    never_with: tuple[str, ...] = ()  # names of other attendees, as written in their name


@dataclass(frozen=True)
class OutputGroup:
    members: tuple[str, ...]  # names
    reasons: tuple[str, ...]  # full sentences in the output language
    icebreaker: str
    icebreaker_id: str
    flags: frozenset[GroupFlag] = frozenset()


@dataclass(frozen=True)
class PairOutput:
    seed: int
    language: str
    groups: tuple[OutputGroup, ...]
    unplaced: tuple[str, ...] = ()  # names nobody could be paired with (never_with)

    @property
    def people(self) -> int:
        return sum(len(g.members) for g in self.groups) + len(self.unplaced)


# --- reading attendees ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Record:
    """One attendee as found in the file, before validation."""

    where: str  # "row 4" / "entry 3" / "entry 3 (line 12)"
    values: Mapping[str, Any]


def read_attendees(path: str | os.PathLike[str]) -> list[Attendee]:
    """The attendees in a .json, .csv, .yaml or .yml file; raise ``PairFileError``."""
    source = os.fspath(path)
    suffix = Path(source).suffix.lower()
    readers = {".json": _json_records, ".csv": _csv_records, ".yaml": _yaml_records}
    readers[".yml"] = _yaml_records
    if suffix not in readers:
        raise PairFileError(
            f"{source}: unknown file type {suffix or '(none)'!r} — use a .json, .csv, .yaml "
            "or .yml file",
            file=source,
        )
    text = _read_text(source)
    if not text.strip():
        raise PairFileError(
            f"{source} is empty — it needs one entry per attendee with at least a name",
            file=source,
        )
    records = readers[suffix](source, text)
    attendees = [_attendee(source, record) for record in records]
    if len(attendees) < 2:
        raise PairFileError(
            f"{source} has {len(attendees) or 'no'} attendee{'' if len(attendees) == 1 else 's'};"
            " pairing needs at least 2",
            file=source,
        )
    _check_unique(source, records, attendees)
    return _resolve_never_with(source, records, attendees)


def _read_text(source: str) -> str:
    try:
        data = Path(source).read_bytes()
    except FileNotFoundError:
        raise PairFileError(f"file not found: {source}", file=source) from None
    except IsADirectoryError:
        raise PairFileError(f"{source} is a folder, not a file", file=source) from None
    except OSError as exc:
        raise PairFileError(f"cannot read {source}: {exc.strerror}", file=source) from None
    try:
        text = data.decode("utf-8-sig")  # a BOM, as Excel writes, is fine
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PairFileError(
            f"{source}, line {line}: the file is not UTF-8 text — save it as UTF-8 (in Excel: "
            "'CSV UTF-8'; in LibreOffice: character set 'Unicode (UTF-8)')",
            file=source,
        ) from None
    # Control characters (NUL above all) would trip the parsers; they are never content.
    return "".join(ch for ch in text if ch in "\t\n\r" or not _is_control(ch))


def _is_control(ch: str) -> bool:
    code = ord(ch)
    return code < 0x20 or 0x7F <= code < 0xA0 or ch in "\ufffe\uffff"


def _field_key(raw: object) -> str:
    """A column or key as written ("Curious about") → its field name ("curious_about")."""
    return "_".join(str(raw).strip().lower().replace("-", " ").split())


def _unknown_field(source: str, where: str, raw: str, kind: str) -> PairFileError:
    key = _field_key(raw)
    close = difflib.get_close_matches(key, FIELDS, n=1, cutoff=0.6)
    hint = f" — did you mean {close[0]!r}?" if close else ""
    return PairFileError(
        f"{source}, {where}: unknown {kind} {raw!r}{hint} (known {kind}s: {', '.join(FIELDS)})",
        file=source,
        row=where,
        field=raw,
    )


def _csv_records(source: str, text: str) -> list[_Record]:
    lines = io.StringIO(text, newline="")
    first = text.splitlines()[0] if text.splitlines() else ""
    reader = csv.reader(lines, delimiter=_csv_delimiter(first))
    try:
        header = next(reader)
    except csv.Error as exc:
        raise PairFileError(f"{source}, row 1: not valid CSV: {exc}", file=source) from None
    columns: list[str] = []  # "" for a column without a header (spreadsheets add some)
    for raw in header:
        key = _field_key(raw)
        if not key:
            columns.append("")
            continue
        if key not in FIELDS:
            raise _unknown_field(source, "row 1", raw.strip(), "column")
        if key in columns:
            raise PairFileError(
                f"{source}, row 1: the column {key!r} appears twice", file=source, row="row 1"
            )
        columns.append(key)
    if "name" not in columns:
        raise PairFileError(
            f"{source}, row 1: the header needs a 'name' column (columns: {', '.join(FIELDS)})",
            file=source,
            row="row 1",
            field="name",
        )
    records: list[_Record] = []
    line = reader.line_num
    try:
        for cells in reader:
            where = f"row {line + 1}"
            line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue  # blank lines, or a row of empty cells a spreadsheet left behind
            if len(cells) > len(columns) and any(c.strip() for c in cells[len(columns) :]):
                raise PairFileError(
                    f"{source}, {where}: {len(cells)} cells, but the header has "
                    f"{len(columns)} columns — a list inside a cell is separated by "
                    f"'{CSV_LIST_SEPARATOR}'; put the cell in double quotes if it contains the "
                    "column separator",
                    file=source,
                    row=where,
                )
            values: dict[str, Any] = {}
            for number, (column, cell) in enumerate(zip(columns, cells, strict=False), start=1):
                if not column:
                    if cell.strip():
                        raise PairFileError(
                            f"{source}, {where}: column {number} has {_shorten(cell)!r}, but "
                            "no header in row 1 says what it is",
                            file=source,
                            row=where,
                        )
                elif column in LIST_FIELDS:
                    values[column] = cell.split(CSV_LIST_SEPARATOR)
                else:
                    values[column] = cell
            records.append(_Record(where, values))
    except csv.Error as exc:
        raise PairFileError(
            f"{source}, row {reader.line_num}: not valid CSV: {exc}", file=source
        ) from None
    return records


def _csv_delimiter(header: str) -> str:
    """',' normally; ';' or a tab when the header is split by those (German Excel writes ';')."""
    best, best_known = ",", 0
    for delimiter in (",", ";", "\t"):
        cells = next(csv.reader([header], delimiter=delimiter), [])
        known = sum(1 for cell in cells if _field_key(cell) in FIELDS)
        if known > best_known:
            best, best_known = delimiter, known
    return best


def _json_records(source: str, text: str) -> list[_Record]:
    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise _DuplicateKey(key)
            out[key] = value
        return out

    try:
        data = json.loads(text, object_pairs_hook=unique)
    except _DuplicateKey as exc:
        raise PairFileError(
            f"{source}: the key {exc.key!r} appears twice in one attendee", file=source
        ) from None
    except json.JSONDecodeError as exc:
        raise PairFileError(
            f"{source}, line {exc.lineno}, column {exc.colno}: not valid JSON: {exc.msg}",
            file=source,
        ) from None
    return _list_records(source, data, [None] * _length(data), "an array")


class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int | None = None) -> None:
        super().__init__(key)
        self.key = key
        self.line = line


def _length(data: Any) -> int:
    return len(data) if isinstance(data, list) else 0


class _TextLoader(yaml.BaseLoader):
    """Every scalar stays text: "no" is not False, "2024" is not a number, "~" is "~"."""


def _construct_unique_mapping(loader: yaml.BaseLoader, node: yaml.MappingNode) -> Any:
    seen: set[Hashable] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if isinstance(key, Hashable):
            if key in seen:
                raise _DuplicateKey(str(key), key_node.start_mark.line + 1)
            seen.add(key)
    return loader.construct_mapping(node)


_TextLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


def _yaml_records(source: str, text: str) -> list[_Record]:
    loader = _TextLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
        lines = (
            [item.start_mark.line + 1 for item in node.value]
            if isinstance(node, yaml.SequenceNode)
            else []
        )
    except _DuplicateKey as exc:
        raise PairFileError(
            f"{source}, line {exc.line}: the key {exc.key!r} appears twice in one attendee",
            file=source,
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f", line {mark.line + 1}" if mark else ""
        raise PairFileError(
            f"{source}{where}: not valid YAML: {exc.problem or exc.context}", file=source
        ) from None
    except yaml.YAMLError as exc:
        raise PairFileError(f"{source}: not valid YAML: {exc}", file=source) from None
    finally:
        loader.dispose()
    return _list_records(source, data, lines, "a list")


def _list_records(
    source: str, data: Any, lines: Sequence[int | None], container: str
) -> list[_Record]:
    if data is None:
        raise PairFileError(
            f"{source} is empty — it needs one entry per attendee with at least a name",
            file=source,
        )
    if not isinstance(data, list):
        got = "an object" if isinstance(data, Mapping) else "a single value"
        raise PairFileError(
            f"{source} must contain {container} of attendees, one per person, each with a name, "
            f"curious_about and can_tell_about — found {got}",
            file=source,
        )
    records = []
    for index, item in enumerate(data, start=1):
        line = lines[index - 1] if index - 1 < len(lines) else None
        where = f"entry {index}" + (f" (line {line})" if line else "")
        if not isinstance(item, Mapping):
            raise PairFileError(
                f"{source}, {where}: each attendee must be a set of fields (name, curious_about, "
                f"...), found {_describe(item)}",
                file=source,
                row=where,
            )
        values: dict[str, Any] = {}
        for raw_key, value in item.items():
            key = _field_key(raw_key)
            if key not in FIELDS:
                raise _unknown_field(source, where, str(raw_key), "field")
            values[key] = value
        records.append(_Record(where, values))
    return records


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a set of fields"
    if isinstance(value, str):
        return f"the text {_shorten(value)!r}"
    return f"the value {value!r}"


def _shorten(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


_Fail = Callable[[str, str], PairFileError]  # (field, problem) -> the error to raise


def _attendee(source: str, record: _Record) -> Attendee:
    values = record.values
    raw_name = values.get("name")
    if raw_name is None or (isinstance(raw_name, str) and not clean(raw_name)):
        raise PairFileError(
            f"{source}, {record.where}: name is missing — every attendee needs a name",
            file=source,
            row=record.where,
            field="name",
        )
    if not isinstance(raw_name, str):
        raise PairFileError(
            f"{source}, {record.where}: name must be text, found {_describe(raw_name)}",
            file=source,
            row=record.where,
            field="name",
        )
    name = clean(raw_name)
    if len(name) > MAX_NAME_CHARS:
        raise PairFileError(
            f"{source}, {record.where}: name {_shorten(name)!r} has {len(name)} characters; "
            f"at most {MAX_NAME_CHARS} are allowed",
            file=source,
            row=record.where,
            field="name",
        )
    where = f"{record.where} (name '{name}')"

    def fail(field: str, problem: str) -> PairFileError:
        return PairFileError(
            f"{source}, {where}: {field} {problem}", file=source, row=record.where, field=field
        )

    lists: dict[str, tuple[str, ...]] = {}
    for field in LIST_FIELDS:
        lists[field] = _phrases(values.get(field), field, fail)
    return Attendee(
        name=name,
        curious_about=lists["curious_about"],
        can_tell_about=lists["can_tell_about"],
        language=_language(values.get("language"), fail),
        never_with=lists["never_with"],
    )


def _phrases(value: Any, field: str, fail: _Fail) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if not isinstance(value, list):
        raise fail(
            field,
            f'must be a list, e.g. ["Lisbon", "beekeeping"], found {_describe(value)}',
        )
    kept: list[str] = []
    for position, item in enumerate(value, start=1):
        if not isinstance(item, str):
            raise fail(field, f"item {position} must be text, found {_describe(item)}")
        phrase = clean(item)
        if not phrase:
            continue
        limit = MAX_NAME_CHARS if field == "never_with" else MAX_PHRASE_CHARS
        if len(phrase) > limit:
            raise fail(
                field,
                f"item {position} {_shorten(phrase)!r} has {len(phrase)} characters; at most "
                f"{limit} are allowed",
            )
        kept.append(phrase)
    if field != "never_with" and len(kept) > MAX_PHRASES_PER_LIST:
        raise fail(
            field,
            f"has {len(kept)} phrases; at most {MAX_PHRASES_PER_LIST} are allowed",
        )
    unique: dict[str, str] = {}
    for phrase in kept:
        unique.setdefault(phrase.casefold(), phrase)
    return tuple(unique.values())


def _language(value: Any, fail: _Fail) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise fail("language", f"must be 'en' or 'de' (or left empty), found {_describe(value)}")
    code = clean(value).lower()
    code = _LANGUAGE_WORDS.get(code, code)
    if not code:
        return None
    if code not in LANGUAGES:
        allowed = " or ".join(f"'{lang}'" for lang in LANGUAGES)
        raise fail("language", f"must be {allowed} (or left empty), found {value!r}")
    return code


def _fold(name: str) -> str:
    return clean(name).casefold()


def _check_unique(source: str, records: Sequence[_Record], attendees: Sequence[Attendee]) -> None:
    seen: dict[str, list[int]] = {}
    for index, attendee in enumerate(attendees):
        seen.setdefault(_fold(attendee.name), []).append(index)
    duplicates = [indexes for indexes in seen.values() if len(indexes) > 1]
    if not duplicates:
        return
    parts = []
    for indexes in duplicates:
        rows = [records[i].where.split(" (")[0] for i in indexes]
        parts.append(
            f"{attendees[indexes[0]].name!r} appears in {', '.join(rows[:-1])} and {rows[-1]}"
        )
    raise PairFileError(
        f"{source}: names must be unique (ignoring case), but {'; '.join(parts)} — add an "
        "initial to tell people apart, e.g. 'Anna B.'",
        file=source,
        field="name",
    )


def _resolve_never_with(
    source: str, records: Sequence[_Record], attendees: Sequence[Attendee]
) -> list[Attendee]:
    by_fold = {_fold(a.name): a.name for a in attendees}
    resolved = []
    for record, attendee in zip(records, attendees, strict=True):
        names = []
        where = f"{record.where} (name '{attendee.name}')"
        for other in attendee.never_with:
            folded = _fold(other)
            if folded == _fold(attendee.name):
                raise PairFileError(
                    f"{source}, {where}: never_with contains their own name",
                    file=source,
                    row=record.where,
                    field="never_with",
                )
            if folded not in by_fold:
                close = difflib.get_close_matches(other, list(by_fold.values()), n=1, cutoff=0.6)
                hint = f" — did you mean {close[0]!r}?" if close else ""
                raise PairFileError(
                    f"{source}, {where}: never_with names {other!r}, who is not in this file{hint}",
                    file=source,
                    row=record.where,
                    field="never_with",
                )
            names.append(by_fold[folded])
        resolved.append(
            Attendee(
                name=attendee.name,
                curious_about=attendee.curious_about,
                can_tell_about=attendee.can_tell_about,
                language=attendee.language,
                never_with=tuple(dict.fromkeys(names)),
            )
        )
    return resolved


# --- reading history -----------------------------------------------------------------------


def read_history(path: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """Who met whom in an earlier ``--format json`` or ``--format csv`` output of this command.

    Every two members of a group make a pair; unplaced people met nobody.
    """
    source = os.fspath(path)
    text = _read_text(source)
    suffix = Path(source).suffix.lower()
    stripped = text.lstrip()
    if suffix == ".json" or (suffix != ".csv" and stripped.startswith("{")):
        return _json_history(source, text)
    if suffix == ".csv" or stripped.lower().startswith("group,"):
        return _csv_history(source, text)
    raise PairFileError(
        f"{source}: a history file is the --format json or --format csv output of an earlier "
        "`funkel pair` (the text output cannot be read back)",
        file=source,
    )


def _not_an_output(source: str, detail: str) -> PairFileError:
    return PairFileError(
        f"{source} is not a --format json or csv output of `funkel pair`: {detail}", file=source
    )


def _json_history(source: str, text: str) -> list[tuple[str, str]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PairFileError(
            f"{source}, line {exc.lineno}, column {exc.colno}: not valid JSON: {exc.msg}",
            file=source,
        ) from None
    if not isinstance(data, Mapping) or not isinstance(data.get("groups"), list):
        raise _not_an_output(source, 'expected {"seed": ..., "groups": [...]}')
    pairs: list[tuple[str, str]] = []
    for index, group in enumerate(data["groups"], start=1):
        members = group.get("members") if isinstance(group, Mapping) else None
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise _not_an_output(source, f"group {index} has no list of member names")
        names = [clean(m) for m in members if clean(m)]
        pairs.extend(itertools.combinations(names, 2))
    return pairs


def _csv_history(source: str, text: str) -> list[tuple[str, str]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames or not {"group", "members"} <= set(reader.fieldnames):
        raise _not_an_output(source, "the header must have the columns group and members")
    pairs: list[tuple[str, str]] = []
    try:
        for row in reader:
            if not (row.get("group") or "").strip().isdigit():
                continue  # the "not placed" row
            pairs.extend(_member_pairs(_unguard(row.get("members") or "")))
    except csv.Error as exc:
        raise PairFileError(
            f"{source}, row {reader.line_num}: not valid CSV: {exc}", file=source
        ) from None
    return pairs


def _member_pairs(cell: str) -> list[tuple[str, str]]:
    """Pairs from a members cell ("Anna; Ben").

    A name may itself contain "; " (think "Robert'); DROP TABLE"), so every way of reading the
    cell is returned; readings that are not names in the current file are ignored later.
    """
    parts = [clean(p) for p in cell.split(OUTPUT_JOIN)]
    if len(parts) > 12:  # not a group this command writes; read it the plain way
        return list(itertools.combinations([p for p in parts if p], 2))
    segments = [
        (start, end, OUTPUT_JOIN.join(parts[start:end]))
        for start in range(len(parts))
        for end in range(start + 1, len(parts) + 1)
    ]
    return [
        (a, b)
        for (_, end_a, a), (start_b, _, b) in itertools.combinations(segments, 2)
        if end_a <= start_b and a and b
    ]


# --- pairing -------------------------------------------------------------------------------


def run_pair(
    attendees: Sequence[Attendee],
    *,
    history: Sequence[tuple[str, str]] = (),
    seed: int | None = None,
    language: str = "en",
) -> PairOutput:
    """Pair ``attendees``: groups with reasons and icebreakers in ``language``.

    ``history`` lists who met before, oldest first (later ``--history`` files after earlier
    ones); names not among the attendees are ignored. ``seed`` None picks a random seed,
    reported in the output so the same groups can be made again.
    """
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, got {language!r}")
    if seed is None:
        seed = secrets.randbelow(_SEED_LIMIT)
    # Keys sort like the file (the engine orders members and groups by key): file:007 < file:010.
    width = len(str(len(attendees)))
    keys = {_fold(a.name): f"file:{index:0{width}d}" for index, a in enumerate(attendees)}
    if len(keys) != len(attendees):
        raise ValueError("attendee names must be unique (ignoring case)")
    if len(keys) < 2:
        raise PairFileError(f"pairing needs at least 2 people, got {len(keys)}")
    names = {keys[_fold(a.name)]: a.name for a in attendees}
    people = [
        Person(
            key=keys[_fold(a.name)],
            name=a.name,
            curious_about=a.curious_about,
            can_tell_about=a.can_tell_about,
            # No language on the card: fits anyone, as for a member of the live bot.
            languages=frozenset({a.language}) if a.language else frozenset(),
        )
        for a in attendees
    ]
    blocks = {
        frozenset({keys[_fold(a.name)], keys[_fold(other)]})
        for a in attendees
        for other in a.never_with
        if _fold(other) in keys and _fold(other) != _fold(a.name)
    }
    encounters = list(_encounters(history, keys))
    now = HISTORY_EPOCH + HISTORY_STEP * len(encounters)  # just after the last encounter
    result = pair(people, seed=seed, history=encounters, blocks=blocks, now=now)

    rng = random.Random(seed)
    groups = []
    for group in result.groups:
        prompt_id, icebreaker = choose_icebreaker(group, names, language=language, used=(), rng=rng)
        groups.append(
            OutputGroup(
                members=tuple(names[key] for key in group.members),
                reasons=tuple(
                    _reason_text(r, group, names, language)
                    for r in group.reasons[:MAX_REASONS_SHOWN]
                ),
                icebreaker=icebreaker,
                icebreaker_id=prompt_id,
                flags=group.flags,
            )
        )
    return PairOutput(
        seed=result.seed,
        language=language,
        groups=tuple(groups),
        unplaced=tuple(names[key] for key in result.unplaced),
    )


def _encounters(
    history: Iterable[tuple[str, str]], keys: Mapping[str, str]
) -> Iterator[PastEncounter]:
    step = 0
    for a, b in history:
        key_a, key_b = keys.get(_fold(a)), keys.get(_fold(b))
        if key_a is None or key_b is None or key_a == key_b:
            continue
        yield PastEncounter(key_a, key_b, HISTORY_EPOCH + HISTORY_STEP * step)
        step += 1


def _reason_text(reason: Reason, group: Group, names: Mapping[str, str], language: str) -> str:
    if reason.kind is ReasonKind.COMPLEMENTARY and reason.teller and reason.asker:
        return t_in(
            language,
            "pairfile.reason.complementary",
            teller=names.get(reason.teller, reason.teller),
            asker=names.get(reason.asker, reason.asker),
            topic=reason.topic,
        )
    key = "pairfile.reason.shared" if len(group.members) == 2 else "pairfile.reason.shared_group"
    return t_in(language, key, topic=reason.topic)


# --- writing -------------------------------------------------------------------------------


def _join_names(names: Sequence[str], language: str) -> str:
    if len(names) <= 1:
        return "".join(names)
    return t_in(language, "pairfile.text.names", head=", ".join(names[:-1]), last=names[-1])


def format_text(out: PairOutput) -> str:
    """A plain-text printout: one block per group, the unplaced (if any) at the end."""
    lang = out.language
    lines = [
        t_in(
            lang,
            "pairfile.text.header",
            people=out.people,
            count=len(out.groups),
            seed=out.seed,
        )
    ]
    for number, group in enumerate(out.groups, start=1):
        lines.append("")
        names = _join_names(group.members, lang)
        lines.append(t_in(lang, "pairfile.text.group", number=number, names=names))
        if group.reasons:
            reasons = " ".join(group.reasons)
            lines.append("  " + t_in(lang, "pairfile.text.why", reasons=reasons))
        lines.append("  " + t_in(lang, "pairfile.text.icebreaker", icebreaker=group.icebreaker))
        for flag in sorted(group.flags):
            lines.append("  " + t_in(lang, f"pairfile.text.flag.{flag.value}"))
    if out.unplaced:
        lines.append("")
        names = _join_names(out.unplaced, lang)
        lines.append(t_in(lang, "pairfile.text.unplaced", names=names))
    return "\n".join(lines) + "\n"


def format_json(out: PairOutput) -> str:
    """``{"seed": N, "groups": [{"members", "reasons", "icebreaker"}]}``, plus ``"unplaced"``
    only when someone could not be placed."""
    data: dict[str, Any] = {
        "seed": out.seed,
        "groups": [
            {
                "members": list(group.members),
                "reasons": list(group.reasons),
                "icebreaker": group.icebreaker,
            }
            for group in out.groups
        ],
    }
    if out.unplaced:
        data["unplaced"] = list(out.unplaced)
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def format_csv(out: PairOutput) -> str:
    """Columns group, members, reasons, icebreaker; a "not placed" row for the unplaced."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["group", "members", "reasons", "icebreaker"])
    for number, group in enumerate(out.groups, start=1):
        writer.writerow(
            [
                str(number),
                _guard(OUTPUT_JOIN.join(group.members)),
                _guard(OUTPUT_JOIN.join(group.reasons)),
                _guard(group.icebreaker),
            ]
        )
    if out.unplaced:
        writer.writerow(
            [
                t_in(out.language, "pairfile.csv.unplaced"),
                _guard(OUTPUT_JOIN.join(out.unplaced)),
                t_in(out.language, "pairfile.csv.unplaced_reason"),
                "",
            ]
        )
    return buffer.getvalue()


def _guard(cell: str) -> str:
    """A leading ' keeps spreadsheets from running a cell as a formula."""
    return "'" + cell if _NEEDS_GUARD.match(cell) else cell


def _unguard(cell: str) -> str:
    return cell[1:] if _GUARDED.match(cell) else cell

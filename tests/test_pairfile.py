"""`funkel pair`: an organizer's sign-up file in, printable groups out."""

from __future__ import annotations

import csv
import io
import itertools
import json
from pathlib import Path

import pytest

from bot.core.i18n import catalog, placeholders
from bot.core.models import GroupFlag
from bot.pairfile import (
    Attendee,
    PairFileError,
    PairOutput,
    format_csv,
    format_json,
    format_text,
    read_attendees,
    read_history,
    run_pair,
)

DATA = Path(__file__).resolve().parent / "data" / "pairfile"
BOBBY = "Robert'); DROP TABLE attendees;--"

CSV_HEADER = "name,curious_about,can_tell_about,language,never_with\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, name: str, text: str) -> PairFileError:
    with pytest.raises(PairFileError) as caught:
        read_attendees(write(tmp_path, name, text))
    return caught.value


def people(*names: str, **cards: tuple[tuple[str, ...], tuple[str, ...]]) -> list[Attendee]:
    """Attendees by name; ``cards`` gives some of them (curious_about, can_tell_about)."""
    return [Attendee(n, *cards.get(n, ((), ()))) for n in names]


def met(out: PairOutput) -> set[frozenset[str]]:
    return {
        frozenset(pair) for group in out.groups for pair in itertools.combinations(group.members, 2)
    }


# --- reading the three formats -------------------------------------------------------------


def test_csv_json_and_yaml_files_read_the_same_attendees() -> None:
    """The same sign-ups as CSV, JSON or YAML are read identically."""
    from_csv = read_attendees(DATA / "attendees.csv")
    assert read_attendees(DATA / "attendees.json") == from_csv
    assert read_attendees(DATA / "attendees.yaml") == from_csv
    assert from_csv[0] == Attendee(
        name="Anna",
        curious_about=("Lisbon", "sailing"),
        can_tell_about=("growing up in Porto",),
        language="en",
    )
    assert from_csv[3].never_with == ("Ben",)


def test_csv_json_and_yaml_give_the_same_groups_with_the_same_seed() -> None:
    """Pairing the same sign-ups from any format with one seed prints the same groups."""
    outputs = {
        suffix: format_json(
            run_pair(read_attendees(DATA / f"attendees.{suffix}"), seed=42, language="en")
        )
        for suffix in ("csv", "json", "yaml")
    }
    assert outputs["csv"] == outputs["json"] == outputs["yaml"]


def test_csv_headers_as_a_form_exports_them_are_understood(tmp_path: Path) -> None:
    """Headers like 'Name' and 'Curious about' (a form's export) map to the fields."""
    text = "Name,Curious about,Can-tell about\nAnna,Lisbon,Porto\nBen,Porto,Lisbon\n"
    attendees = read_attendees(write(tmp_path, "form.csv", text))
    assert attendees[0] == Attendee("Anna", ("Lisbon",), ("Porto",))


def test_semicolon_separated_csv_from_german_excel_is_read(tmp_path: Path) -> None:
    """A CSV separated by ';' (German Excel) is read; lists then sit in quoted cells."""
    text = 'name;curious_about;can_tell_about\nAnna;"Lisbon;sailing";Porto\nBen;Porto;Lisbon\n'
    attendees = read_attendees(write(tmp_path, "excel.csv", text))
    assert attendees[0].curious_about == ("Lisbon", "sailing")


def test_list_cells_are_split_trimmed_and_empty_items_dropped(tmp_path: Path) -> None:
    """'Lisbon ;  ; sailing;' in a CSV cell is the list Lisbon, sailing."""
    text = CSV_HEADER + "Anna, Lisbon ;  ; sailing;,,,\nBen,,,,\n"
    assert read_attendees(write(tmp_path, "a.csv", text))[0].curious_about == (
        "Lisbon",
        "sailing",
    )


def test_blank_lines_in_a_csv_are_skipped(tmp_path: Path) -> None:
    """Empty lines and rows of empty cells a spreadsheet leaves behind are ignored."""
    text = CSV_HEADER + "Anna,,,,\n\n,,,,\nBen,,,,\n"
    assert [a.name for a in read_attendees(write(tmp_path, "a.csv", text))] == ["Anna", "Ben"]


def test_the_same_phrase_twice_on_one_list_counts_once(tmp_path: Path) -> None:
    """'Lisbon; lisbon' is one phrase, kept as first written."""
    text = CSV_HEADER + "Anna,Lisbon; lisbon,,,\nBen,,,,\n"
    assert read_attendees(write(tmp_path, "a.csv", text))[0].curious_about == ("Lisbon",)


def test_language_is_normalised(tmp_path: Path) -> None:
    """'EN', 'Deutsch' and an empty cell are read as en, de and no language."""
    text = CSV_HEADER + "Anna,,,EN,\nBen,,,Deutsch,\nCem,,,,\n"
    languages = [a.language for a in read_attendees(write(tmp_path, "a.csv", text))]
    assert languages == ["en", "de", None]


def test_yaml_values_stay_text(tmp_path: Path) -> None:
    """In YAML, a name like 'Yes' or '2024' stays text rather than becoming true or a number."""
    text = "- name: Yes\n  curious_about: [1984, no]\n- name: 2024\n"
    attendees = read_attendees(write(tmp_path, "a.yaml", text))
    assert attendees[0] == Attendee("Yes", ("1984", "no"))
    assert attendees[1].name == "2024"


# --- text survives -------------------------------------------------------------------------


def test_emoji_rtl_and_a_byte_order_mark_are_fine() -> None:
    """A UTF-8 file with a BOM, emoji and right-to-left names is read as written."""
    names = [a.name for a in read_attendees(DATA / "attendees.csv")]
    assert names == ["Anna", "Ben", "Cem 🐝", "נועה", BOBBY, "Zoë"]


def test_markdown_sql_and_emoji_survive_literally_in_every_output() -> None:
    """Names and phrases with SQL, Markdown and emoji come out exactly as written."""
    out = run_pair(read_attendees(DATA / "attendees.json"), seed=3, language="en")
    text, data = format_text(out), json.loads(format_json(out))
    rows = list(csv.DictReader(io.StringIO(format_csv(out))))
    for name in (BOBBY, "Cem 🐝", "נועה"):
        assert name in text
        assert any(name in group["members"] for group in data["groups"])
        assert any(name in row["members"].split("; ") or name in row["members"] for row in rows)


def test_invisible_and_control_characters_are_removed(tmp_path: Path) -> None:
    """NUL, zero-width spaces and bidi overrides vanish; emoji joiners stay."""
    text = "name,curious_about\nAn\x00na\u200b,Lis\u202ebon\nBen 👩\u200d💻,x\n"
    attendees = read_attendees(write(tmp_path, "a.csv", text))
    assert attendees[0] == Attendee("Anna", ("Lisbon",))
    assert attendees[1].name == "Ben 👩\u200d💻"


def test_a_csv_cell_that_a_spreadsheet_would_run_as_a_formula_is_guarded(
    tmp_path: Path,
) -> None:
    """Cells starting with = + - @ get a leading ' in CSV; --history still reads the names."""
    attendees = [Attendee("=HYPERLINK(1)"), Attendee("+Ben"), Attendee("@Cem"), Attendee("-Dana")]
    out = run_pair(attendees, seed=1, language="en")
    text = format_csv(out)
    for row in list(csv.reader(io.StringIO(text)))[1:]:
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row), row
    history = {frozenset(p) for p in read_history(write(tmp_path, "r1.csv", text))}
    assert history == met(out)
    assert "=HYPERLINK(1)" in format_text(out)


# --- bad files: each message names the file, the row and the field -------------------------


def test_too_many_phrases_names_row_name_and_field(tmp_path: Path) -> None:
    """Nine curious_about phrases on CSV line 4 are refused, naming the row, person and field."""
    nine = "; ".join(f"topic {i}" for i in range(9))
    text = CSV_HEADER + "Anna,,,,\nCem,,,,\n" + f"Ben,{nine},,,\n"
    error = error_of(tmp_path, "attendees.csv", text)
    assert str(error) == (
        f"{tmp_path / 'attendees.csv'}, row 4 (name 'Ben'): curious_about has 9 phrases; "
        "at most 8 are allowed"
    )
    assert (error.row, error.field) == ("row 4", "curious_about")


def test_a_phrase_over_60_characters_is_refused(tmp_path: Path) -> None:
    """A phrase longer than 60 characters names the item and its length."""
    text = CSV_HEADER + f"Anna,,{'x' * 61},,\nBen,,,,\n"
    message = str(error_of(tmp_path, "a.csv", text))
    assert "row 2 (name 'Anna'): can_tell_about item 1 " in message
    assert "has 61 characters; at most 60 are allowed" in message


def test_a_missing_name_names_the_row(tmp_path: Path) -> None:
    """A row without a name is refused with its row number."""
    message = str(error_of(tmp_path, "a.csv", CSV_HEADER + "Anna,,,,\n,Lisbon,,,\n"))
    assert message.endswith("a.csv, row 3: name is missing — every attendee needs a name")


def test_duplicate_names_are_listed_with_their_rows(tmp_path: Path) -> None:
    """Names are unique ignoring case; every duplicate is named with its rows."""
    text = CSV_HEADER + "Anna,,,,\nBen,,,,\nanna,,,,\nBEN,,,,\nCem,,,,\n"
    message = str(error_of(tmp_path, "a.csv", text))
    assert "'Anna' appears in row 2 and row 4" in message
    assert "'Ben' appears in row 3 and row 5" in message
    assert "add an initial" in message


def test_an_unknown_language_says_what_is_allowed(tmp_path: Path) -> None:
    """language 'fr' is refused: en or de, or empty."""
    message = str(error_of(tmp_path, "a.csv", CSV_HEADER + "Anna,,,fr,\nBen,,,,\n"))
    assert "row 2 (name 'Anna'): language must be 'en' or 'de' (or left empty), found 'fr'" in (
        message
    )


def test_never_with_an_unknown_name_suggests_the_closest(tmp_path: Path) -> None:
    """never_with 'Bne' is refused, naming the unknown name and suggesting Ben."""
    message = str(error_of(tmp_path, "a.csv", CSV_HEADER + "Anna,,,,Bne\nBen,,,,\n"))
    assert "row 2 (name 'Anna'): never_with names 'Bne', who is not in this file — did you " in (
        message
    )
    assert "mean 'Ben'?" in message


def test_never_with_oneself_is_refused(tmp_path: Path) -> None:
    """A person listing their own name in never_with is told so."""
    message = str(error_of(tmp_path, "a.csv", CSV_HEADER + "Anna,,,,anna\nBen,,,,\n"))
    assert "never_with contains their own name" in message


def test_never_with_is_matched_ignoring_case(tmp_path: Path) -> None:
    """never_with 'ben' refers to Ben and is stored as his name."""
    attendees = read_attendees(write(tmp_path, "a.csv", CSV_HEADER + "Anna,,,,ben\nBen,,,,\n"))
    assert attendees[0].never_with == ("Ben",)


def test_an_unknown_csv_column_suggests_the_closest(tmp_path: Path) -> None:
    """A misspelt column is refused on row 1 with 'did you mean'."""
    message = str(error_of(tmp_path, "a.csv", "name,curios_about\nAnna,x\nBen,y\n"))
    assert "a.csv, row 1: unknown column 'curios_about' — did you mean 'curious_about'?" in (
        message
    )


def test_empty_trailing_csv_columns_are_ignored_unless_they_hold_values(tmp_path: Path) -> None:
    """Columns without a header are fine while empty; a value in one is reported."""
    assert len(read_attendees(write(tmp_path, "a.csv", "name,,\nAnna,,\nBen,,\n"))) == 2
    message = str(error_of(tmp_path, "b.csv", "name,,\nAnna,,\nBen,,oops\n"))
    assert "row 3: column 3 has 'oops', but no header in row 1 says what it is" in message


def test_a_csv_without_a_name_column_is_refused(tmp_path: Path) -> None:
    """The header must have a name column."""
    message = str(error_of(tmp_path, "a.csv", "curious_about\nLisbon\nPorto\n"))
    assert "row 1: the header needs a 'name' column" in message


def test_a_csv_row_with_too_many_cells_is_refused(tmp_path: Path) -> None:
    """An unquoted comma that adds a cell is reported with the row and a hint."""
    text = "name,curious_about\nAnna,Lisbon\nBen,Lisbon,Porto\n"
    message = str(error_of(tmp_path, "a.csv", text))
    assert "row 3: 3 cells, but the header has 2 columns" in message


def test_an_unknown_json_key_suggests_the_closest(tmp_path: Path) -> None:
    """A misspelt key in a JSON entry is refused with the entry number and a suggestion."""
    text = json.dumps([{"name": "Anna"}, {"name": "Ben", "can_tell": ["x"]}])
    message = str(error_of(tmp_path, "a.json", text))
    assert "a.json, entry 2: unknown field 'can_tell' — did you mean 'can_tell_about'?" in message


def test_a_json_list_field_given_as_text_is_refused(tmp_path: Path) -> None:
    """curious_about: "Lisbon" (not a list) is refused with an example of a list."""
    text = json.dumps([{"name": "Anna", "curious_about": "Lisbon"}, {"name": "Ben"}])
    message = str(error_of(tmp_path, "a.json", text))
    assert "entry 1 (name 'Anna'): curious_about must be a list" in message
    assert "found the text 'Lisbon'" in message


def test_a_json_list_item_that_is_not_text_is_refused(tmp_path: Path) -> None:
    """A number inside a list is refused, naming the item."""
    text = json.dumps([{"name": "Anna", "can_tell_about": ["x", 7]}, {"name": "Ben"}])
    message = str(error_of(tmp_path, "a.json", text))
    assert "entry 1 (name 'Anna'): can_tell_about item 2 must be text, found the value 7" in (
        message
    )


def test_a_json_name_that_is_not_text_is_refused(tmp_path: Path) -> None:
    """name: 42 is refused."""
    message = str(error_of(tmp_path, "a.json", '[{"name": 42}, {"name": "Ben"}]'))
    assert "entry 1: name must be text, found the value 42" in message


def test_a_json_object_instead_of_a_list_is_refused(tmp_path: Path) -> None:
    """A JSON file must be an array of attendees."""
    message = str(error_of(tmp_path, "a.json", '{"name": "Anna"}'))
    assert "must contain an array of attendees" in message


def test_broken_json_names_line_and_column(tmp_path: Path) -> None:
    """A JSON syntax error is reported with its line and column."""
    message = str(error_of(tmp_path, "a.json", '[\n  {"name": "Anna"}\n  {"name": "Ben"}\n]'))
    assert "a.json, line 3, column 3: not valid JSON" in message


def test_a_json_key_given_twice_is_refused(tmp_path: Path) -> None:
    """A key repeated in one entry is refused instead of silently keeping the last."""
    message = str(error_of(tmp_path, "a.json", '[{"name": "A", "name": "B"}, {"name": "C"}]'))
    assert "the key 'name' appears twice" in message


def test_yaml_entries_are_named_with_their_line(tmp_path: Path) -> None:
    """A YAML problem names the entry and the line it starts on."""
    text = "- name: Anna\n\n- name: Ben\n  language: fr\n"
    message = str(error_of(tmp_path, "a.yaml", text))
    assert "a.yaml, entry 2 (line 3) (name 'Ben'): language must be" in message


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    """A YAML syntax error names its line."""
    message = str(error_of(tmp_path, "a.yaml", "- name: Anna\n- name: [Ben\n"))
    assert "a.yaml, line " in message and "not valid YAML" in message


def test_a_yaml_key_given_twice_is_refused(tmp_path: Path) -> None:
    """A key repeated in one YAML entry is refused with its line."""
    message = str(error_of(tmp_path, "a.yaml", "- name: A\n  name: B\n- name: C\n"))
    assert "a.yaml, line 2: the key 'name' appears twice" in message


@pytest.mark.parametrize(
    ("name", "text"),
    [("a.csv", ""), ("a.json", "  \n"), ("a.yaml", "\n"), ("b.yaml", "# only a comment\n")],
)
def test_an_empty_file_gets_a_friendly_message(tmp_path: Path, name: str, text: str) -> None:
    """An empty file says what it should contain."""
    message = str(error_of(tmp_path, name, text))
    assert "is empty — it needs one entry per attendee with at least a name" in message


def test_a_header_without_rows_has_no_attendees(tmp_path: Path) -> None:
    """A CSV with only a header says there are no attendees."""
    message = str(error_of(tmp_path, "a.csv", CSV_HEADER))
    assert message.endswith("has no attendees; pairing needs at least 2")


def test_a_single_attendee_cannot_be_paired(tmp_path: Path) -> None:
    """One person is refused in a friendly way: pairing needs two."""
    message = str(error_of(tmp_path, "a.json", '[{"name": "Anna"}]'))
    assert message.endswith("a.json has 1 attendee; pairing needs at least 2")


def test_a_non_utf8_file_is_refused_with_advice(tmp_path: Path) -> None:
    """A Latin-1 CSV is refused with its line and how to save it as UTF-8."""
    path = tmp_path / "a.csv"
    path.write_bytes((CSV_HEADER + "Anna,,,,\nZoë,,,,\n").encode("latin-1"))
    with pytest.raises(PairFileError) as caught:
        read_attendees(path)
    assert str(caught.value).startswith(f"{path}, line 3: the file is not UTF-8 text")
    assert "CSV UTF-8" in str(caught.value)


def test_an_unknown_file_type_is_refused(tmp_path: Path) -> None:
    """A .txt file is refused, listing the types that work."""
    message = str(error_of(tmp_path, "a.txt", "Anna\nBen\n"))
    assert "unknown file type '.txt' — use a .json, .csv, .yaml or .yml file" in message


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    """A path that does not exist is reported as such."""
    with pytest.raises(PairFileError, match="file not found: "):
        read_attendees(tmp_path / "nope.csv")


# --- pairing -------------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_output() -> None:
    """Running twice with one seed prints exactly the same groups and icebreakers."""
    attendees = read_attendees(DATA / "attendees.csv")
    first = run_pair(attendees, seed=7, language="en")
    second = run_pair(attendees, seed=7, language="en")
    assert first == second
    assert format_text(first) == format_text(second)


def test_without_a_seed_one_is_chosen_and_reported() -> None:
    """With no seed, the output shows the seed that was used, and it reproduces the groups."""
    attendees = read_attendees(DATA / "attendees.csv")
    out = run_pair(attendees, seed=None, language="en")
    assert f"--seed {out.seed}" in format_text(out)
    assert json.loads(format_json(out))["seed"] == out.seed
    assert run_pair(attendees, seed=out.seed, language="en") == out


def test_everyone_is_placed_and_an_odd_count_makes_one_trio() -> None:
    """Five people make one pair and one trio; nobody is left out."""
    attendees = people("Anna", "Ben", "Cem", "Dana", "Emil")
    for seed in range(10):
        out = run_pair(attendees, seed=seed, language="en")
        assert sorted(len(g.members) for g in out.groups) == [2, 3]
        assert sorted(m for g in out.groups for m in g.members) == [a.name for a in attendees]
        assert out.unplaced == ()


def test_never_with_is_respected() -> None:
    """Two people who asked never to meet are never in one group, whatever the seed."""
    attendees = [
        Attendee("Anna", ("Lisbon",), ("Porto",), never_with=("Ben",)),
        Attendee("Ben", ("Porto",), ("Lisbon",)),
        Attendee("Cem", ("knitting",)),
        Attendee("Dana", ("chess",)),
    ]
    for seed in range(20):
        out = run_pair(attendees, seed=seed, language="en")
        assert frozenset({"Anna", "Ben"}) not in met(out)


def test_people_who_cannot_be_placed_are_printed_not_dropped() -> None:
    """When never_with leaves someone without a partner, every output names them."""
    attendees = [
        Attendee("Anna", never_with=("Cem",)),
        Attendee("Ben", never_with=("Cem",)),
        Attendee("Cem"),
    ]
    out = run_pair(attendees, seed=1, language="en")
    assert out.unplaced == ("Cem",)
    assert [g.members for g in out.groups] in ([("Anna", "Ben")], [("Ben", "Anna")])
    assert "Not placed: Cem." in format_text(out)
    assert json.loads(format_json(out))["unplaced"] == ["Cem"]
    assert "not placed,Cem," in format_csv(out)


def test_reasons_are_sentences_naming_teller_and_asker() -> None:
    """A group is told why: a shared phrase, and who can tell about what the other wonders."""
    attendees = [
        Attendee("Anna", ("Shanghai in the 80s", "chess"), ()),
        Attendee("Ben", ("chess",), ("Shanghai in the 80s",)),
    ]
    out = run_pair(attendees, seed=1, language="en")
    reasons = set(out.groups[0].reasons)
    assert "You both put “chess” on your cards." in reasons
    assert "Ben can tell about “Shanghai in the 80s”, and Anna is curious about it." in reasons


def test_reasons_and_labels_follow_the_chosen_language() -> None:
    """--language de prints reasons, labels and icebreakers in German."""
    attendees = [Attendee("Anna", ("Schach",)), Attendee("Ben", ("Schach",))]
    out = run_pair(attendees, seed=1, language="de")
    text = format_text(out)
    assert "Gruppe 1 — " in text
    assert "Warum: Ihr habt beide „Schach“ auf eurer Karte." in text
    assert "Eisbrecher: " in text


def test_text_output_reads_like_a_printout() -> None:
    """Text output: a seed line, then 'Group 1 — A & B', 'Why:' and 'Icebreaker:' lines."""
    attendees = [Attendee("Anna", ("Lisbon",)), Attendee("Ben", ("Lisbon",))]
    lines = format_text(run_pair(attendees, seed=5, language="en")).splitlines()
    assert lines[0] == (
        "2 people in one group. Seed 5: run again with --seed 5 to get exactly this group."
    )
    assert lines[2] in ("Group 1 — Anna & Ben", "Group 1 — Ben & Anna")
    assert lines[3] == "  Why: You both put “Lisbon” on your cards."
    assert lines[4].startswith("  Icebreaker: ")
    assert "Lisbon" in lines[4]


def test_a_trio_lists_three_names_and_speaks_to_the_group() -> None:
    """A trio's heading names all three; a shared reason is addressed to the group."""
    attendees = [Attendee(n, ("Lisbon",)) for n in ("Anna", "Ben", "Cem")]
    out = run_pair(attendees, seed=2, language="en")
    text = format_text(out)
    assert ", " in text.splitlines()[2] and " & " in text.splitlines()[2]
    assert "“Lisbon” connects your group." in out.groups[0].reasons


def test_nothing_shared_is_noted_in_the_text() -> None:
    """A group with nothing in common is told so next to its general icebreaker."""
    out = run_pair([Attendee("Anna", ("chess",)), Attendee("Ben", ("tango",))], seed=1)
    text = format_text(out)
    assert "Note: your cards have nothing in common" in text
    assert "Why:" not in text


def test_no_common_language_is_noted_in_the_text() -> None:
    """Two people with different languages and nobody else are paired with a note."""
    attendees = [Attendee("Anna", language="en"), Attendee("Ben", language="de")]
    text = format_text(run_pair(attendees, seed=1, language="en"))
    assert "Note: your cards share no language" in text


def test_a_repeat_that_cannot_be_avoided_is_noted(tmp_path: Path) -> None:
    """Two people who met before and have nobody else are paired again, with a note."""
    attendees = people("Anna", "Ben")
    history = write(tmp_path, "r1.json", format_json(run_pair(attendees, seed=1)))
    out = run_pair(attendees, history=read_history(history), seed=2)
    assert "Note: you have met before" in format_text(out)


def test_json_output_has_exactly_seed_and_groups() -> None:
    """--format json prints {"seed", "groups": [{"members", "reasons", "icebreaker"}]}."""
    out = run_pair(read_attendees(DATA / "attendees.yaml"), seed=11, language="en")
    text = format_json(out)
    data = json.loads(text)
    assert set(data) == {"seed", "groups"}
    assert data["seed"] == 11
    for group in data["groups"]:
        assert set(group) == {"members", "reasons", "icebreaker"}
        assert all(isinstance(r, str) for r in group["reasons"])
    assert "Cem 🐝" in text  # not \ud83d escapes
    assert text.startswith('{\n  "seed": 11,')


def test_csv_output_has_the_documented_columns() -> None:
    """--format csv has columns group, members, reasons, icebreaker; lists joined with '; '."""
    out = run_pair(read_attendees(DATA / "attendees.json"), seed=11, language="en")
    rows = list(csv.reader(io.StringIO(format_csv(out))))
    assert rows[0] == ["group", "members", "reasons", "icebreaker"]
    assert [row[0] for row in rows[1:]] == [str(i) for i in range(1, len(out.groups) + 1)]
    assert rows[1][1] == "; ".join(out.groups[0].members)
    assert rows[1][2] == "; ".join(out.groups[0].reasons)


# --- history -------------------------------------------------------------------------------


def _four() -> list[Attendee]:
    return [Attendee(n, ("Lisbon",), ("Porto",)) for n in ("Anna", "Ben", "Cem", "Dana")]


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_chained_rounds_avoid_repeats_via_history(tmp_path: Path, fmt: str) -> None:
    """Round 1's output fed as --history to round 2, both to round 3: nobody meets twice."""
    formatter = {"json": format_json, "csv": format_csv}[fmt]
    attendees = _four()
    seen: set[frozenset[str]] = set()
    files: list[Path] = []
    for number in range(1, 4):
        history = [pair for path in files for pair in read_history(path)]
        out = run_pair(attendees, history=history, seed=number, language="en")
        assert not met(out) & seen, f"round {number} repeats an encounter"
        assert all(GroupFlag.REPEAT not in g.flags for g in out.groups)
        seen |= met(out)
        files.append(write(tmp_path, f"round{number}.{fmt}", formatter(out)))
    assert len(seen) == 6  # all possible pairs of four people, each exactly once


def test_history_reads_every_pair_of_a_group(tmp_path: Path) -> None:
    """A trio in an earlier output counts as three encounters."""
    out = json.dumps({"seed": 1, "groups": [{"members": ["A", "B", "C"], "reasons": []}]})
    assert read_history(write(tmp_path, "h.json", out)) == [("A", "B"), ("A", "C"), ("B", "C")]


def test_history_names_not_in_the_file_are_ignored(tmp_path: Path) -> None:
    """People from an earlier round who are not here tonight do not matter."""
    earlier = json.dumps({"seed": 1, "groups": [{"members": ["Zed", "Anna"]}]})
    history = read_history(write(tmp_path, "h.json", earlier))
    out = run_pair(people("Anna", "Ben"), history=history, seed=1)
    assert all(GroupFlag.REPEAT not in g.flags for g in out.groups)
    assert "met before" not in format_text(out)


def test_csv_history_reads_names_containing_the_separator(tmp_path: Path) -> None:
    """A name with '; ' in it (Bobby Tables) is still recognised in a CSV history."""
    attendees = [Attendee(BOBBY, ("Lisbon",)), Attendee("Ben", ("Lisbon",))]
    attendees += [Attendee("Cem", ("chess",)), Attendee("Dana", ("chess",))]
    first = run_pair(attendees, seed=4, language="en")
    path = write(tmp_path, "r1.csv", format_csv(first))
    history = {frozenset(p) for p in read_history(path)}
    assert met(first) <= history
    second = run_pair(attendees, history=read_history(path), seed=4, language="en")
    assert not met(second) & met(first)


def test_history_from_the_text_output_is_refused(tmp_path: Path) -> None:
    """The text output cannot be read back; the message says to use json or csv."""
    text = format_text(run_pair(people("Anna", "Ben"), seed=1))
    with pytest.raises(PairFileError, match="--format json or --format csv output"):
        read_history(write(tmp_path, "r1.txt", text))


def test_history_that_is_not_an_output_of_this_command_is_refused(tmp_path: Path) -> None:
    """A JSON file that is not a pairing output is refused with the expected shape."""
    with pytest.raises(PairFileError, match=r'expected \{"seed": ..., "groups": \[...\]\}'):
        read_history(write(tmp_path, "h.json", '[{"name": "Anna"}]'))


# --- content -------------------------------------------------------------------------------


def test_english_and_german_copy_have_the_same_keys_and_placeholders() -> None:
    """Every pairfile message exists in both languages with the same placeholders."""
    english = {k: v for k, v in catalog("en").items() if k.startswith("pairfile.")}
    german = {k: v for k, v in catalog("de").items() if k.startswith("pairfile.")}
    assert english.keys() == german.keys()
    assert len(english) >= 10
    for key, template in english.items():
        assert placeholders(template) == placeholders(german[key]), key

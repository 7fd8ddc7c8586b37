"""What the Matrix adapter reads as a command, and how a bot message looks in a client.

Pure functions of bot.adapters.matrix; the end-to-end behaviour is in tests/matrix/.
"""

from __future__ import annotations

import pytest

from bot.adapters.matrix import command_text, notice_content


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("!funkel join", "join"),
        ("!FUNKEL  card tell Lisbon ", "card tell Lisbon"),
        ("  !Funkel help", "help"),
        ("!funkel", ""),
        ("!funkelbot join", None),  # someone else's bot
        ("funkel join", None),
        ("hello !funkel join", None),
    ],
)
def test_the_prefix_is_one_word_in_any_case(body: str, expected: str | None) -> None:
    assert command_text(body, None, "!funkel") == expected


def test_a_pill_names_exactly_that_person() -> None:
    """Element puts the display name in the body and the Matrix id in a link."""
    body = "!funkel note Ann: loves <trams> --again"
    html = (
        '!funkel note <a href="https://matrix.to/#/@ann:example.org">Ann</a>: '
        "loves &lt;trams&gt; --again"
    )
    assert command_text(body, html, "!funkel") == "note @ann:example.org: loves <trams> --again"


def test_a_reply_quote_is_not_part_of_the_command() -> None:
    html = (
        '<mx-reply><blockquote><a href="https://matrix.to/#/@bob:x">Bob</a> said hi'
        "</blockquote></mx-reply>!funkel block "
        '<a href="https://matrix.to/#/@bob:x">Bob</a>'
    )
    assert command_text("> Bob said hi\n\n!funkel block Bob", html, "!funkel") == "block @bob:x"


def test_a_notice_shows_markup_literally_keeps_lines_and_pings_nobody() -> None:
    content = notice_content("Ann & <b>Ben</b> *both* like @room\nsecond line")
    assert content["msgtype"] == "m.notice"
    assert content["body"] == "Ann & <b>Ben</b> *both* like ＠room\nsecond line"
    assert content["formatted_body"] == (
        "Ann &amp; &lt;b&gt;Ben&lt;/b&gt; *both* like ＠room<br>second line"
    )
    assert content["m.mentions"] == {}
    assert "m.relates_to" not in content


def test_a_thread_reply_points_at_its_root() -> None:
    relates = notice_content("hi", thread_root="$root")["m.relates_to"]
    assert relates["rel_type"] == "m.thread" and relates["event_id"] == "$root"
    assert relates["m.in_reply_to"] == {"event_id": "$root"}

-- why: the first schema — communities, members, cards, meetups, rounds, encounters, notes, outbox.

-- Member keys are stored as one text column, "platform:user_id" (MemberRef.key), everywhere.
-- Tables keyed by member do not reference `members`: a card, a block or a note may be written
-- for someone whose profile the bot has not stored yet, and forget_member deletes explicitly.

CREATE TABLE communities (
    id TEXT PRIMARY KEY,
    language TEXT NOT NULL
);

CREATE TABLE members (
    member TEXT PRIMARY KEY,
    platform TEXT NOT NULL,
    user_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    -- display_name casefolded by the store, so that lookups ignore case in every script
    name_folded TEXT NOT NULL,
    language TEXT
);

CREATE INDEX members_by_name ON members (platform, name_folded);

CREATE TABLE cards (
    member TEXT PRIMARY KEY,
    curious_about TEXT NOT NULL,  -- JSON array of phrases
    can_tell_about TEXT NOT NULL,  -- JSON array of phrases
    updated_at TEXT NOT NULL
);

CREATE TABLE meetups (
    id INTEGER PRIMARY KEY,
    community_id TEXT NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    room TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (community_id, room)
);

-- The id orders attendees by join time, even when two joins share a timestamp.
CREATE TABLE attendance (
    id INTEGER PRIMARY KEY,
    meetup_id INTEGER NOT NULL REFERENCES meetups (id) ON DELETE CASCADE,
    member TEXT NOT NULL,
    joined_at TEXT NOT NULL,
    UNIQUE (meetup_id, member)
);

CREATE INDEX attendance_by_member ON attendance (member);

CREATE TABLE rounds (
    id INTEGER PRIMARY KEY,
    meetup_id INTEGER NOT NULL REFERENCES meetups (id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('preview', 'running', 'done')),
    created_at TEXT NOT NULL,
    UNIQUE (meetup_id, number)
);

CREATE INDEX rounds_by_state ON rounds (state, meetup_id);

CREATE TABLE round_groups (
    id INTEGER PRIMARY KEY,
    round_id INTEGER NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    group_key TEXT NOT NULL,
    reasons TEXT NOT NULL,  -- JSON array of {kind, topic, teller, asker}
    flags TEXT NOT NULL,  -- JSON array of GroupFlag values, sorted
    score REAL NOT NULL,
    icebreaker_id TEXT,
    UNIQUE (round_id, idx),
    UNIQUE (round_id, group_key)
);

-- round_id is repeated here so that "one group per member per round" is a constraint.
CREATE TABLE group_members (
    group_id INTEGER NOT NULL REFERENCES round_groups (id) ON DELETE CASCADE,
    round_id INTEGER NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    member TEXT NOT NULL,
    PRIMARY KEY (group_id, position),
    UNIQUE (round_id, member)
);

CREATE INDEX group_members_by_member ON group_members (member);

-- One row per pair and round, a < b. A forgotten member's side becomes NULL (key and name);
-- the other side keeps the row and sees "someone".
CREATE TABLE encounters (
    id INTEGER PRIMARY KEY,
    round_id INTEGER NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    meetup_id INTEGER NOT NULL REFERENCES meetups (id) ON DELETE CASCADE,
    a TEXT,
    b TEXT,
    a_name TEXT,
    b_name TEXT,
    at TEXT NOT NULL,
    topics TEXT NOT NULL,  -- JSON array of phrases the group shared
    UNIQUE (round_id, a, b)
);

CREATE INDEX encounters_by_a ON encounters (a, at);
CREATE INDEX encounters_by_b ON encounters (b, at);
CREATE INDEX encounters_by_at ON encounters (at);

CREATE TABLE icebreaker_uses (
    group_key TEXT NOT NULL,
    prompt_id TEXT NOT NULL,
    used_at TEXT NOT NULL,
    PRIMARY KEY (group_key, prompt_id)
);

CREATE TABLE blocks (
    who TEXT NOT NULL,
    whom TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (who, whom)
);

CREATE INDEX blocks_by_whom ON blocks (whom);

CREATE TABLE notes (
    id INTEGER PRIMARY KEY,
    author TEXT NOT NULL,
    about TEXT NOT NULL,
    text TEXT NOT NULL,
    again INTEGER NOT NULL CHECK (again IN (0, 1)),
    created_at TEXT NOT NULL
);

CREATE INDEX notes_by_author ON notes (author, about);
CREATE INDEX notes_by_about ON notes (about);
CREATE INDEX notes_by_created_at ON notes (created_at);

-- A mutual "talk again" that was already revealed, as a sorted pair a < b.
CREATE TABLE again_reveals (
    a TEXT NOT NULL,
    b TEXT NOT NULL,
    revealed_at TEXT NOT NULL,
    PRIMARY KEY (a, b)
);

CREATE INDEX again_reveals_by_b ON again_reveals (b);

-- Not tied to communities by a foreign key: a message, once written, must never be refused.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    community_id TEXT NOT NULL,
    target_kind TEXT NOT NULL CHECK (target_kind IN ('room', 'member')),
    target TEXT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    payload TEXT NOT NULL,  -- JSON object
    created_at TEXT NOT NULL,
    sent_at TEXT
);

CREATE INDEX outbox_pending ON outbox (id) WHERE sent_at IS NULL;
CREATE INDEX outbox_by_target ON outbox (target_kind, target);
CREATE INDEX outbox_by_sent_at ON outbox (sent_at) WHERE sent_at IS NOT NULL;

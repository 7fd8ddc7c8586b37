-- why: chat adapters must remember small things across restarts (Matrix sync token, DM rooms, the "join" message per room).

-- Keys are namespaced by the adapter ("matrix.sync_token", "matrix.dm.@ann:example.org").
-- Values are short text (ids, tokens, small JSON); never message bodies, notes or cards.
CREATE TABLE adapter_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

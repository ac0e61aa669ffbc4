-- Notes: a signed-in user's short private notes, the worked example of
-- docs/extending.md. Deleting a user deletes their notes.
CREATE TABLE notes (
    id         BIGSERIAL PRIMARY KEY,
    user_id    BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The same limit as `notes::MAX_NOTE_CHARS`, which refuses longer notes with a
    -- message first; this is the backstop.
    body       TEXT        NOT NULL CHECK (length(body) BETWEEN 1 AND 1000),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The notes page lists one user's notes, newest first.
CREATE INDEX notes_user_id_created_at_idx ON notes (user_id, created_at DESC);
